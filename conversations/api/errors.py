"""One error shape for the whole API: ``{"error": {"code": ..., "message": ..., "fields": {...}}}``.

``message`` is a sentence a developer can act on; ``fields`` (only for invalid input) maps each
offending field to its messages. A refused change from a service (ServiceError) is a 400 with the
service's own message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This is still in use."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


class UnsupportedAttachmentType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "This type of file cannot be attached."
    default_code = "unsupported_attachment_type"


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    return {}


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            messages = _flatten(value)
            if messages:
                return messages[0] if key in ("non_field_errors", "detail") else f"{key}: {messages[0]}"
    messages = _flatten(detail)
    return messages[0] if messages else "Invalid input."


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # ServiceError and model clean(): the message is meant for the person who asked.
        fields = exc.message_dict if hasattr(exc, "error_dict") else None
        exc = exceptions.ValidationError(fields or {"non_field_errors": exc.messages})
    elif isinstance(exc, ProtectedError | RestrictedError):
        used_by = sorted({type(obj)._meta.verbose_name_plural for obj in exc.args[1]}) if len(exc.args) > 1 else []
        exc = Conflict(f"This is still used by {', '.join(map(str, used_by)) or 'other records'}; remove those first.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", _first_message(detail), _fields(detail) or None)
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body("malformed_request", _first_message(detail))
    else:
        response.data = error_body(_code(exc), _first_message(detail))
    return response
