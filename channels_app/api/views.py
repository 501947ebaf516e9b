"""The API channel's inbound endpoint: a developer posts a customer's message for a custom channel.

``POST /channels/api/<inbox_id>/messages/`` with ``Authorization: Bearer <inbox webhook token>``
and a JSON body::

    {
      "message_id": "m-123",            # optional: your id; a retry with the same id stores nothing new
      "external_id": "ticket-9",        # optional: your thread id; messages with one id share a conversation
      "contact": {"id": "cust-42", "name": "Carol", "email": "carol@example.com", "phone": "+14155550100"},
      "body": "Where is my order?"
    }

``contact.id`` is your id for the customer, unique within this inbox. An email address or phone
number joins the contact who already has it on another channel (so the team sees one history);
one that belongs to nobody yet is added to the contact. Answers 201 with the stored ids (200 for
a repeated ``message_id``). Bad input is a 400 that says what is wrong; a missing or wrong token
is a 401, and nothing is stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversations import identities, services
from conversations.api.errors import error_body
from conversations.models import ChannelIdentity, ChannelKind, Contact, Conversation, IdentityKind, Inbox, Message

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 50_000
MAX_ID_CHARS = 200
# Compared against when the inbox does not exist, so that a wrong id costs as long as a wrong token.
_NO_TOKEN = "x" * 32


class BadRequest(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class InboundApiMessage:
    contact_id: str
    body: str
    message_id: str | None
    external_id: str | None
    name: str
    email: str | None
    phone: str | None


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def api_identity_value(inbox: Inbox, contact_id: str) -> str:
    """The contact's API identity: the developer's id, namespaced by the inbox that reported it."""
    return f"{inbox.pk}:{contact_id}"


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _optional_str(data: dict[str, Any], key: str, *, label: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadRequest(f"{label} must be a string.")
    value = value.strip()
    if len(value) > limit:
        raise BadRequest(f"{label} is longer than {limit} characters.")
    return value or None


def parse_message(raw: bytes) -> InboundApiMessage:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    contact = data.get("contact")
    if not isinstance(contact, dict):
        raise BadRequest('contact is required: an object with at least an "id".')
    contact_id = _optional_str(contact, "id", label="contact.id", limit=MAX_ID_CHARS)
    if contact_id is None:
        raise BadRequest("contact.id is required: your id for this customer.")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise BadRequest("body is required: the message text.")
    if len(body) > MAX_BODY_CHARS:
        raise BadRequest(f"body is longer than {MAX_BODY_CHARS} characters.")
    email = _optional_str(contact, "email", label="contact.email", limit=320)
    phone = _optional_str(contact, "phone", label="contact.phone", limit=40)
    try:
        email = identities.normalize_email(email) if email else None
    except identities.InvalidIdentity as exc:
        raise BadRequest(f"contact.email: {exc}.") from None
    try:
        phone = identities.normalize_phone(phone) if phone else None
    except identities.InvalidIdentity as exc:
        raise BadRequest(f"contact.phone: {exc}; use the E.164 format, e.g. +14155550100.") from None
    return InboundApiMessage(
        contact_id=contact_id,
        body=body,
        message_id=_optional_str(data, "message_id", label="message_id", limit=MAX_ID_CHARS),
        external_id=_optional_str(data, "external_id", label="external_id", limit=MAX_ID_CHARS),
        name=_optional_str(contact, "name", label="contact.name", limit=200) or "",
        email=email,
        phone=phone,
    )


def _owner(kind: str, value: str | None) -> Contact | None:
    if value is None:
        return None
    identity = ChannelIdentity.objects.select_related("contact__merged_into").filter(kind=kind, value=value).first()
    if identity is None:
        return None
    contact = identity.contact
    return contact.merged_into or contact


def _join_known_contact(inbox: Inbox, message: InboundApiMessage) -> None:
    """Before the first message of a new API contact: attach it to whoever already has its email or phone."""
    api_value = api_identity_value(inbox, message.contact_id)
    if ChannelIdentity.objects.filter(kind=IdentityKind.API, value=api_value).exists():
        return
    owner = _owner(IdentityKind.EMAIL, message.email) or _owner(IdentityKind.PHONE, message.phone)
    if owner is not None:
        # A concurrent first message may attach it first; then it already is where it belongs.
        with contextlib.suppress(services.ServiceError, IntegrityError):
            services.contact_add_identity(contact=owner, kind=IdentityKind.API, value=api_value)


def _add_unclaimed_identities(contact: Contact, message: InboundApiMessage) -> None:
    """Remember the contact's email and phone, unless they already belong to someone else."""
    for kind, value in ((IdentityKind.EMAIL, message.email), (IdentityKind.PHONE, message.phone)):
        if value is None or ChannelIdentity.objects.filter(kind=kind, value=value).exists():
            continue
        with contextlib.suppress(services.ServiceError, IntegrityError):
            services.contact_add_identity(contact=contact, kind=kind, value=value)


def _thread(inbox: Inbox, message: InboundApiMessage) -> tuple[Conversation | None, bool]:
    """The conversation an ``external_id`` names (and whether to start one), else the default threading."""
    if message.external_id is None:
        return None, False
    contact = _owner(IdentityKind.API, api_identity_value(inbox, message.contact_id))
    if contact is None:
        return None, True
    earlier = (
        Message.objects.filter(
            conversation__contact=contact, conversation__inbox=inbox, metadata__api__external_id=message.external_id
        )
        .select_related("conversation")
        .order_by("-created_at", "-id")
        .first()
    )
    return (earlier.conversation, False) if earlier is not None else (None, True)


@csrf_exempt  # authenticated by the inbox's bearer token instead of a session
@require_POST
def inbound_message(request: HttpRequest, inbox_id: int) -> JsonResponse:
    token = _bearer_token(request)
    if token is None:
        return _error(401, "not_authenticated", "Send the inbox's webhook token: 'Authorization: Bearer <token>'.")
    inbox = Inbox.objects.filter(pk=inbox_id).first()
    expected = inbox.webhook_token if inbox is not None else _NO_TOKEN
    if not hmac.compare_digest(token.encode(), expected.encode()) or inbox is None:
        return _error(401, "authentication_failed", "Invalid inbox id or token.")
    if inbox.kind != ChannelKind.API:
        return _error(404, "not_found", "This inbox is not an API channel inbox.")
    if not inbox.is_active:
        return _error(403, "inbox_disabled", "This inbox is disabled.")
    try:
        raw = request.body
    except RequestDataTooBig:
        return _error(413, "too_large", "The request is too large.")
    try:
        message = parse_message(raw)
    except BadRequest as exc:
        return _error(400, "invalid", str(exc))

    _join_known_contact(inbox, message)
    thread, start_new = _thread(inbox, message)
    metadata: dict[str, Any] = {"api": {"contact_id": message.contact_id}}
    if message.external_id is not None:
        metadata["api"]["external_id"] = message.external_id
    try:
        result = services.message_receive_inbound(
            inbox=inbox,
            identity_kind=IdentityKind.API,
            identity_value=api_identity_value(inbox, message.contact_id),
            body=message.body,
            channel_message_id=message.message_id,
            contact_name=message.name,
            metadata=metadata,
            conversation=thread,
            start_new_conversation=start_new,
        )
    except services.ServiceError as exc:
        return _error(400, "invalid", "; ".join(exc.messages))
    stored = result.message
    contact = stored.sender_contact
    if contact is not None:
        _add_unclaimed_identities(contact, message)
    return JsonResponse(
        {
            "id": stored.pk,
            "message_id": stored.channel_message_id,
            "conversation_id": stored.conversation_id,
            "contact_id": stored.sender_contact_id,
            "created": result.created,
        },
        status=201 if result.created else 200,
    )
