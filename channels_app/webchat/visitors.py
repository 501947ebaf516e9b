"""Who a widget visitor is: their token, their (optionally verified) identity, their conversation.

The widget keeps a signed visitor token in the browser's localStorage. The token names a
random visitor id and the inbox it was issued for; nothing else. A visitor's conversation is
never named by the client: it is always derived here from the identity the request proves,
so guessing ids gets nobody anything.

Identity verification: the host site signs its user id with the inbox's widget secret
(``hex(HMAC-SHA256(widget_secret, user_id))``). A verified visitor is the contact owning the
identity ``api`` ``webchat:<inbox id>:<user id>``; when the user id is itself an email address,
or the host also signs the email (``email_hash``), the visitor is the contact owning that email,
with their history from every channel. An email that is not signed joins nothing (anyone could type
anyone's address): the agents see it as a private note, with the contact that owns it, to merge by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

from conversations import identities
from conversations.channel_config import WebchatConfig
from conversations.models import ChannelIdentity, Conversation, IdentityKind, Inbox
from core import counters

VISITOR_SALT = "channels_app.webchat.visitor"
TICKET_SALT = "channels_app.webchat.socket-ticket"
# A visitor token outlives any browsing session; a socket ticket is used at once.
VISITOR_TOKEN_MAX_AGE = 400 * 24 * 3600
TICKET_MAX_AGE = 300


class WidgetRefused(Exception):
    """A widget request refused, with the HTTP status and a message the integrator can act on."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


# --- Origins ------------------------------------------------------------------------------------


def normalize_origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(inbox: Inbox) -> set[str]:
    """The inbox's configured origins, and our own (for a preview page served by this server)."""
    config = inbox.typed_config
    origins = set(config.allowed_origins) if isinstance(config, WebchatConfig) else set()
    own = normalize_origin(settings.PUBLIC_BASE_URL)
    if own:
        origins.add(own)
    return {normalize_origin(origin) for origin in origins} - {""}


def origin_allowed(inbox: Inbox, origin: str | None) -> bool:
    return bool(origin) and normalize_origin(origin or "") in allowed_origins(inbox)


# --- Tokens ---------------------------------------------------------------------------------------


def issue_visitor_token(inbox: Inbox) -> tuple[str, str]:
    """A new visitor: (token, visitor id)."""
    visitor_id = secrets.token_urlsafe(18)
    return signing.dumps({"i": inbox.pk, "v": visitor_id}, salt=VISITOR_SALT), visitor_id


def read_visitor_token(inbox: Inbox, token: str) -> str | None:
    """The visitor id in ``token`` when it is ours, untampered and for this inbox; else None."""
    if not token or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=VISITOR_SALT, max_age=VISITOR_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("i") != inbox.pk or not isinstance(data.get("v"), str):
        return None
    return str(data["v"])


def issue_socket_ticket(*, inbox: Inbox, conversation: Conversation, sender_name: str) -> str:
    return signing.dumps({"i": inbox.pk, "c": conversation.pk, "n": sender_name[:100]}, salt=TICKET_SALT)


@dataclasses.dataclass(frozen=True)
class SocketTicket:
    inbox_id: int
    conversation_id: int
    sender_name: str


def read_socket_ticket(ticket: str) -> SocketTicket | None:
    if not ticket or len(ticket) > 500:
        return None
    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("c"), int):
        return None
    return SocketTicket(inbox_id=data["i"], conversation_id=data["c"], sender_name=str(data.get("n") or ""))


# --- Identity -------------------------------------------------------------------------------------


def identity_hash(inbox: Inbox, value: str) -> str:
    """What the host site sends beside a value it vouches for (documented for integrators)."""
    return hmac.new(inbox.widget_secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def _signed(inbox: Inbox, value: str, signature: str) -> bool:
    return bool(value) and bool(signature) and hmac.compare_digest(identity_hash(inbox, value), signature.lower())


@dataclasses.dataclass(frozen=True)
class Visitor:
    """One widget visitor, as proven by this request."""

    visitor_id: str
    identity_kind: str
    identity_value: str
    verified: bool
    name: str
    # Further identities a verified visitor proved, attached to their contact.
    extra_identities: tuple[tuple[str, str], ...] = ()
    # An email the page passed without the site's signature: shown to agents, never joined on.
    claimed_email: str = ""

    def channel_message_id(self, client_id: str) -> str:
        # The visitor id keeps one visitor's client ids apart from everyone else's.
        return f"web:{self.visitor_id}:{client_id}"

    def client_id_of(self, channel_message_id: str | None) -> str | None:
        prefix = f"web:{self.visitor_id}:"
        if channel_message_id and channel_message_id.startswith(prefix):
            return channel_message_id[len(prefix) :]
        return None


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise WidgetRefused(400, "invalid", f"{key} must be a string.")
    text = str(value).strip()
    if len(text) > limit:
        raise WidgetRefused(400, "invalid", f"{key} is longer than {limit} characters.")
    return text


def resolve_visitor(inbox: Inbox, visitor_id: str, data: dict[str, Any]) -> Visitor:
    """The visitor this request proves to be; raises WidgetRefused for a bad or missing proof."""
    user_id = _text(data, "user_id", 255)
    user_hash = _text(data, "user_hash", 128)
    email = _text(data, "email", 320)
    email_hash = _text(data, "email_hash", 128)
    name = _text(data, "name", 200)
    config = inbox.typed_config
    required = isinstance(config, WebchatConfig) and config.require_identity_verification
    if not user_id:
        if required:
            raise WidgetRefused(403, "identity_required", "This chat needs the site to identify the visitor first.")
        return Visitor(visitor_id, IdentityKind.WEB_VISITOR, visitor_id, verified=False, name=name, claimed_email=email)
    if not _signed(inbox, user_id, user_hash):
        raise WidgetRefused(403, "identity_invalid", "The visitor's identity could not be verified.")
    user_identity = (IdentityKind.API.value, f"webchat:{inbox.pk}:{user_id}")
    verified_email = ""
    try:
        if "@" in user_id:
            verified_email = identities.normalize_email(user_id)
        elif email and _signed(inbox, email, email_hash):
            verified_email = identities.normalize_email(email)
    except identities.InvalidIdentity:
        verified_email = ""
    if verified_email:
        return Visitor(
            visitor_id,
            IdentityKind.EMAIL,
            verified_email,
            verified=True,
            name=name,
            extra_identities=(user_identity,),
        )
    return Visitor(visitor_id, user_identity[0], user_identity[1], verified=True, name=name, claimed_email=email)


def visitor_conversation(inbox: Inbox, visitor: Visitor) -> Conversation | None:
    """The conversation a message from this visitor would join (the same choice the inbound service makes)."""
    identity = (
        ChannelIdentity.objects.filter(kind=visitor.identity_kind, value=visitor.identity_value)
        .select_related("contact")
        .first()
    )
    if identity is None:
        return None
    return (
        Conversation.objects.filter(contact_id=identity.contact_id, inbox=inbox)
        .select_related("contact")
        .order_by("-last_message_at")
        .first()
    )


# --- Rate limits ----------------------------------------------------------------------------------

DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    # scope: (requests, per seconds)
    "ip": (300, 60),
    "session": (30, 60),
    "message": (20, 60),
    "attachment": (10, 300),
}


def _limit(scope: str) -> tuple[int, int]:
    configured = getattr(settings, "WEBCHAT_RATE_LIMITS", {}) or {}
    limit, window = configured.get(scope, DEFAULT_RATE_LIMITS[scope])
    return int(limit), int(window)


def hit(scope: str, key: str, *, limit_scope: str | None = None) -> None:
    """Count one request against ``scope`` for ``key``; over the limit raises a 429 with Retry-After."""
    limit, window = _limit(limit_scope or scope)
    now = time.time()
    bucket = int(now // window)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"webchat:rl:{scope}:{digest}:{bucket}"
    count = counters.hit(cache_key, window + 5)
    if count > limit:
        retry_after = max(1, int((bucket + 1) * window - now) + 1)
        raise WidgetRefused(
            429, "rate_limited", f"Too many requests; try again in {retry_after} s.", retry_after=retry_after
        )
