"""The widget's HTTP endpoints, called cross-origin from customers' websites.

Every endpoint answers only the origins the inbox allows (CORS, 403 for the rest), is
rate-limited per client IP and per visitor token, and learns who the visitor is from the
signed visitor token plus an optional host-signed identity (see ``visitors``). State changes
go through ``conversations.services``; these views only check, translate and answer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from analytics import csat
from channels_app.webchat import visitors
from channels_app.webchat.visitors import Visitor, WidgetRefused
from conversations import services
from conversations.api.errors import error_body
from conversations.channel_config import WebchatConfig
from conversations.models import Attachment, ChannelKind, Conversation, IdentityKind, Inbox, Message
from conversations.payloads import sender_name

HISTORY_LENGTH = 100
MAX_BODY_CHARS = 5000
MAX_FILES_PER_MESSAGE = 3
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CSAT_QUESTION = "How did we do? Rate this conversation from 1 (poor) to 5 (excellent)."
# What a visitor may attach, with the bytes such a file starts with (None: plain text, not checked).
ATTACHMENT_TYPES: dict[str, tuple[bytes, ...] | None] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
    "text/plain": None,
}
_DEFAULT_COLOR = "#2563eb"

View = Callable[..., HttpResponseBase]


def _max_attachment_bytes() -> int:
    limit = int(getattr(settings, "WEBCHAT_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
    return min(limit, settings.MAX_ATTACHMENT_BYTES)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _cors(response: HttpResponseBase, origin: str) -> HttpResponseBase:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = "Retry-After"
    response["Vary"] = "Origin"
    return response


def widget_endpoint(view: View) -> Callable[..., HttpResponseBase]:
    """Finds the inbox, enforces its allowed origins and the per-IP limit, answers preflights, maps refusals."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, inbox_token: str, **kwargs: Any) -> HttpResponseBase:
        inbox = Inbox.objects.filter(webhook_token=inbox_token, kind=ChannelKind.WEBCHAT, is_active=True).first()
        if inbox is None:
            return _error(404, "not_found", "No active web chat inbox has this id.")
        origin = request.headers.get("Origin", "")
        if not visitors.origin_allowed(inbox, origin):
            shown = origin or "(no Origin header)"
            return _error(403, "origin_not_allowed", f"{shown} is not an allowed origin of this chat widget.")
        if request.method == "OPTIONS":
            preflight = HttpResponse(status=204)
            preflight["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            preflight["Access-Control-Allow-Headers"] = "Content-Type"
            preflight["Access-Control-Max-Age"] = "600"
            return _cors(preflight, origin)
        if request.method != "POST":
            wrong_method = _error(405, "method_not_allowed", "Use POST.")
            wrong_method["Allow"] = "POST, OPTIONS"
            return _cors(wrong_method, origin)
        response: HttpResponseBase
        try:
            visitors.hit("ip", request.META.get("REMOTE_ADDR", ""))
            response = view(request, inbox, **kwargs)
        except WidgetRefused as refused:
            refusal = _error(refused.status, refused.code, refused.message)
            if refused.retry_after is not None:
                refusal["Retry-After"] = str(refused.retry_after)
            response = refusal
        return _cors(response, origin)

    return wrapper


def _request_data(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise WidgetRefused(400, "malformed_request", "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise WidgetRefused(400, "malformed_request", "The request body must be a JSON object.")
        return data
    return {key: request.POST.get(key) for key in request.POST}


def _visitor(request: HttpRequest, inbox: Inbox, data: dict[str, Any], scope: str) -> Visitor:
    token = data.get("token")
    visitor_id = visitors.read_visitor_token(inbox, token) if isinstance(token, str) else None
    if visitor_id is None:
        raise WidgetRefused(401, "invalid_token", "The visitor token is missing or invalid; start a new session.")
    visitors.hit(scope, visitor_id)
    return visitors.resolve_visitor(inbox, visitor_id, data)


def _attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


def visitor_message_payload(message: Message, visitor: Visitor | None = None) -> dict[str, Any]:
    """A message as the customer sees it: no notes, no confidence, no internal ids of other visitors."""
    return {
        "id": message.pk,
        "client_id": visitor.client_id_of(message.channel_message_id) if visitor else None,
        "direction": message.direction,
        "sender_kind": message.sender_kind,
        "sender_name": sender_name(message),
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "attachments": [_attachment_payload(a) for a in message.attachments.all()],
    }


def _history(conversation: Conversation, visitor: Visitor) -> list[dict[str, Any]]:
    messages = list(
        Message.objects.filter(conversation=conversation, is_private_note=False)
        .select_related("sender_user__agent_profile", "sender_contact")
        .prefetch_related("attachments")
        .order_by("-created_at", "-id")[:HISTORY_LENGTH]
    )
    return [visitor_message_payload(message, visitor) for message in reversed(messages)]


def _widget_config(inbox: Inbox) -> dict[str, Any]:
    config = inbox.typed_config
    assert isinstance(config, WebchatConfig)
    color = config.color if re.fullmatch(r"#[0-9a-fA-F]{3,8}", config.color) else _DEFAULT_COLOR
    return {
        "title": inbox.name,
        "greeting": config.greeting,
        "color": color,
        "require_identity_verification": config.require_identity_verification,
        "max_attachment_bytes": _max_attachment_bytes(),
        "attachment_types": sorted(ATTACHMENT_TYPES),
    }


def _ticket(inbox: Inbox, conversation: Conversation | None, visitor: Visitor) -> str | None:
    if conversation is None:
        return None
    name = visitor.name or conversation.contact.name or "Visitor"
    return visitors.issue_socket_ticket(inbox=inbox, conversation=conversation, sender_name=name)


@widget_endpoint
def session(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """Start or resume a visitor: their token, the widget's settings, their history and a socket ticket.

    A missing, tampered or foreign token gets a fresh visitor (an empty history), never someone else's.
    """
    data = _request_data(request)
    token = data.get("token")
    visitor_id = visitors.read_visitor_token(inbox, token) if isinstance(token, str) else None
    reset = visitor_id is None
    if visitor_id is None:
        token, visitor_id = visitors.issue_visitor_token(inbox)
    visitors.hit("session", visitor_id)
    visitor = visitors.resolve_visitor(inbox, visitor_id, data)
    conversation = visitors.visitor_conversation(inbox, visitor)
    return JsonResponse(
        {
            "token": token,
            "token_reset": reset and bool(data.get("token")),
            "verified": visitor.verified,
            "config": _widget_config(inbox),
            "conversation_id": conversation.pk if conversation else None,
            "messages": _history(conversation, visitor) if conversation else [],
            "ticket": _ticket(inbox, conversation, visitor),
        }
    )


def _clean_attachments(files: list[UploadedFile]) -> list[services.InboundAttachment]:
    if len(files) > MAX_FILES_PER_MESSAGE:
        raise WidgetRefused(400, "too_many_files", f"Attach at most {MAX_FILES_PER_MESSAGE} files to one message.")
    limit = _max_attachment_bytes()
    cleaned = []
    for upload in files:
        name = upload.name or "attachment"
        if upload.size is None or upload.size > limit:
            raise WidgetRefused(413, "too_large", f"{name} is larger than {limit // (1024 * 1024)} MB.")
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type not in ATTACHMENT_TYPES:
            allowed = ", ".join(sorted(ATTACHMENT_TYPES))
            raise WidgetRefused(415, "unsupported_attachment_type", f"{name}: only {allowed} can be attached.")
        content = upload.read()
        signatures = ATTACHMENT_TYPES[content_type]
        if signatures is not None and not content.startswith(signatures):
            raise WidgetRefused(415, "unsupported_attachment_type", f"{name} is not really {content_type}.")
        if signatures is None and b"\x00" in content:
            raise WidgetRefused(415, "unsupported_attachment_type", f"{name} is not plain text.")
        cleaned.append(services.InboundAttachment(filename=name, content_type=content_type, content=content))
    return cleaned


def _metadata(request: HttpRequest, data: dict[str, Any], visitor: Visitor) -> dict[str, Any]:
    def url(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not re.match(r"^https?://", value):
            return ""
        return value[:2000]

    return {
        "page_url": url("page_url"),
        "referrer": url("referrer"),
        "user_agent": request.headers.get("User-Agent", "")[:500],
        "identity_verified": visitor.verified,
    }


@widget_endpoint
def messages(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """The visitor sends a message (JSON, or multipart with attachments).

    ``client_id`` (made by the widget, kept with the message while it waits offline) makes a
    resend after a lost response return the message stored the first time.
    """
    data = _request_data(request)
    visitor = _visitor(request, inbox, data, "message")
    body = data.get("body") or ""
    if not isinstance(body, str):
        raise WidgetRefused(400, "invalid", "body must be a string.")
    if len(body) > MAX_BODY_CHARS:
        raise WidgetRefused(400, "invalid", f"A message is at most {MAX_BODY_CHARS} characters.")
    client_id = data.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID.match(client_id)):
        raise WidgetRefused(400, "invalid", "client_id must be 8 to 64 letters, digits, - or _.")
    files = request.FILES.getlist("attachments")
    if files:
        visitors.hit("attachment", visitor.visitor_id)
    attachments = _clean_attachments(files)
    try:
        result = services.message_receive_inbound(
            inbox=inbox,
            identity_kind=visitor.identity_kind,
            identity_value=visitor.identity_value,
            body=body,
            channel_message_id=visitor.channel_message_id(client_id) if client_id else None,
            contact_name=visitor.name,
            attachments=attachments,
            metadata=_metadata(request, data, visitor),
        )
    except ValidationError as exc:
        raise WidgetRefused(400, "invalid", " ".join(exc.messages)) from None
    message = Message.objects.select_related("conversation__contact").get(pk=result.message.pk)
    conversation = message.conversation
    if result.created:
        for kind, value in visitor.extra_identities:
            # An id already someone else's stays theirs: the verified email decides who this visitor is.
            with contextlib.suppress(ValidationError):
                services.contact_add_identity(contact=conversation.contact, kind=kind, value=value, verified=True)
    if result.created and visitor.claimed_email:
        services.conversation_note_identity_claim(
            conversation=conversation, kind=IdentityKind.EMAIL, value=visitor.claimed_email
        )
    return JsonResponse(
        {
            "message": visitor_message_payload(message, visitor),
            "created": result.created,
            "conversation_id": conversation.pk,
            "ticket": _ticket(inbox, conversation, visitor),
        },
        status=201 if result.created else 200,
    )


@widget_endpoint
def survey(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """The visitor's waiting satisfaction survey (``{"survey": null}`` when none); with ``rating``, their answer."""
    data = _request_data(request)
    visitor = _visitor(request, inbox, data, "session")
    conversation = visitors.visitor_conversation(inbox, visitor)
    pending = csat.pending_survey_for(conversation) if conversation is not None else None
    if data.get("rating") is None:
        return JsonResponse({"survey": {"id": pending.pk, "question": CSAT_QUESTION} if pending else None})
    if pending is None or data.get("survey") != pending.pk:
        raise WidgetRefused(404, "not_found", "There is no survey waiting for an answer.")
    try:
        csat.survey_answer(survey=pending, rating=data.get("rating"), comment=data.get("comment") or "", via="webchat")
    except ValidationError as exc:
        raise WidgetRefused(400, "invalid", " ".join(exc.messages)) from None
    return JsonResponse({"survey": None, "answered": True})


@widget_endpoint
def attachment(request: HttpRequest, inbox: Inbox, attachment_id: int) -> HttpResponseBase:
    """One attachment of the visitor's own conversation (never of a private note)."""
    data = _request_data(request)
    visitor = _visitor(request, inbox, data, "session")
    conversation = visitors.visitor_conversation(inbox, visitor)
    found = (
        Attachment.objects.filter(
            pk=attachment_id, message__conversation=conversation, message__is_private_note=False
        ).first()
        if conversation is not None
        else None
    )
    if found is None:
        raise WidgetRefused(404, "not_found", "No such attachment in this conversation.")
    inline = found.content_type in ATTACHMENT_TYPES and found.content_type.startswith("image/")
    response = FileResponse(found.file.open("rb"), as_attachment=not inline, filename=found.filename)
    response["Content-Type"] = found.content_type if inline else "application/octet-stream"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
