"""Twilio's inbound messages, in two steps: accepted by the webhook, stored by the inbound worker.

The webhook (``views.inbound_message``) checks the signature and the fields, writes the fields to
the task outbox in one INSERT and answers Twilio at once: the message is durable from that commit
(Twilio retries only when it gets no 2xx, so nothing may be lost after it). The ``inbound`` queue's
worker then runs :func:`receive_message`: the retry check, a survey answer by digit, the media
downloads (network, before any transaction), and the service that stores, routes and broadcasts.

Why not all of it in the request: daphne runs every sync view of a process on one thread, and
storing a message is a dozen queries plus the new conversation's fan-out, so a burst of SMS
queued behind itself there (bench.live: 8 webhooks a second against 218 for a view doing one
INSERT). The worker runs the same work with its own connections, and a database hiccup there is
retried instead of being a 5xx that makes Twilio send the message again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from analytics import csat
from channels_app.twilio import media
from conversations import identities, services
from conversations.models import ChannelIdentity, Inbox, Message

MAX_MEDIA = 10  # Twilio sends at most 10 media per message
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")

# The same number reached on another channel is the same person.
_SAME_NUMBER_KINDS: dict[str, tuple[str, ...]] = {"phone": ("whatsapp",), "whatsapp": ("phone",)}

# What the worker needs of a message webhook's parameters (the rest are Twilio's geography and ids).
_KEPT = (
    "MessageSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "NumSegments",
    "MessagingServiceSid",
    "WaId",
    "ProfileName",
    "Latitude",
    "Longitude",
    "Label",
    "Address",
)


def required(data: Any, *names: str) -> dict[str, str]:
    values = {name: (data.get(name) or "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise services.ServiceError(f"Missing {', '.join(missing)}: this does not look like a Twilio request.")
    return values


def sid(data: Any, name: str) -> str:
    value = required(data, name)[name]
    if not _SID.match(value):
        raise services.ServiceError(f"{name} {value[:80]!r} is not a Twilio id.")
    return value


def number(raw: str, *, field: str, kind: str) -> str:
    if kind == "whatsapp" and not raw.lower().startswith("whatsapp:"):
        raise services.ServiceError(f"{field} {raw!r} is not a WhatsApp address (whatsapp:+E164).")
    if kind == "phone" and raw.lower().startswith("whatsapp:"):
        raise services.ServiceError(f"{field} {raw!r} is a WhatsApp address but this inbox is not a WhatsApp inbox.")
    try:
        return identities.normalize(kind, raw)
    except identities.InvalidIdentity as exc:
        raise services.ServiceError(f"{field}: {exc}.") from None


def identity_kind(inbox: Inbox) -> str:
    return "whatsapp" if inbox.kind == "whatsapp" else "phone"


def join_same_number(*, kind: str, value: str) -> None:
    """Attach a new identity to the contact who already has the same number on another channel.

    Done before the voice services, which would otherwise create a second contact (a message's
    ``message_receive_inbound`` joins by itself, given ``same_person_kinds``).
    """
    if ChannelIdentity.objects.filter(kind=kind, value=value).exists():
        return
    services.contact_join_same_value(kind=kind, value=value, other_kinds=_SAME_NUMBER_KINDS.get(kind, ()))


def already_stored(inbox: Inbox, channel_message_id: str) -> bool:
    return Message.objects.filter(inbox=inbox, channel_message_id=channel_message_id).exists()


def _media_count(data: Mapping[str, str]) -> int:
    raw = (data.get("NumMedia") or "0").strip()
    if not (raw.isascii() and raw.isdigit()):
        raise services.ServiceError(f"NumMedia {raw[:20]!r} is not a whole number.")
    return min(int(raw), MAX_MEDIA)


def _location(data: Mapping[str, str]) -> str:
    latitude, longitude = data.get("Latitude"), data.get("Longitude")
    if not (latitude and longitude):
        return ""
    label = " ".join(part for part in (data.get("Label"), data.get("Address")) if part)
    return f"Location: {latitude}, {longitude}" + (f" ({label})" if label else "")


def accepted_fields(inbox: Inbox, data: Any) -> dict[str, str]:
    """The webhook's parameters the worker needs, checked: a ServiceError says what is wrong (a 400).

    Everything that can refuse a message without the database or the network is checked here, so
    Twilio hears of it: a message accepted is one the worker can store.
    """
    sid(data, "MessageSid")
    number(required(data, "From")["From"], field="From", kind=identity_kind(inbox))
    media_count = _media_count(data)
    fields = {name: str(data.get(name)) for name in _KEPT if data.get(name)}
    for index in range(media_count):
        for name in (f"MediaUrl{index}", f"MediaContentType{index}"):
            if data.get(name):
                fields[name] = str(data.get(name))
    if (
        not (fields.get("Body") or "").strip()
        and not _location(fields)
        and not any(key.startswith("MediaUrl") for key in fields)
    ):
        raise services.ServiceError("The message is empty: no Body, media or location.")
    return fields


def _media(data: Mapping[str, str]) -> tuple[list[services.InboundAttachment], list[dict[str, Any]]]:
    attachments: list[services.InboundAttachment] = []
    described: list[dict[str, Any]] = []
    for index in range(_media_count(data)):
        url = (data.get(f"MediaUrl{index}") or "").strip()
        content_type = (data.get(f"MediaContentType{index}") or "").strip()
        if not url:
            continue
        result = media.download_or_log(url, content_type=content_type, default_stem=f"media{index}")
        entry: dict[str, Any] = {"url": url[:500], "content_type": content_type[:150]}
        if isinstance(result, str):
            entry["error"] = result
        else:
            attachments.append(result)
        described.append(entry)
    return attachments, described


def receive_message(inbox: Inbox, data: Mapping[str, str]) -> str:
    """Store an accepted SMS, MMS or WhatsApp message once per MessageSid; what happened, for the log.

    Run by the inbound worker, outside any transaction: the media are downloaded before the
    service's transaction opens.
    """
    message_sid = sid(data, "MessageSid")
    kind = identity_kind(inbox)
    sender = number(required(data, "From")["From"], field="From", kind=kind)
    media_count = _media_count(data)
    if media_count and already_stored(inbox, message_sid):
        return "duplicate"  # a retry: do not download the media again (the service knows retries too)
    body = data.get("Body") or ""
    if media_count == 0 and csat.answer_by_reply(
        inbox=inbox, identity_kind=kind, identity_value=sender, body=body, channel_message_id=message_sid
    ):
        return "survey-answer"  # a digit answering the satisfaction survey, not a new question

    attachments, described = _media(data)  # network: before any transaction
    location = _location(data)
    if location and not body.strip():
        body = location
    if not body.strip() and not attachments and described:
        body = f"[{len(described)} attachment(s) could not be downloaded from Twilio]"
    metadata: dict[str, Any] = {
        "twilio": {
            key: value
            for key, value in {
                "from": data.get("From", ""),
                "to": data.get("To", ""),
                "messaging_service_sid": data.get("MessagingServiceSid", ""),
                "num_segments": data.get("NumSegments", ""),
                "wa_id": data.get("WaId", ""),
                "profile_name": data.get("ProfileName", ""),
                "media": described,
                "location": location,
            }.items()
            if value
        }
    }
    result = services.message_receive_inbound(
        inbox=inbox,
        identity_kind=kind,
        identity_value=sender,
        body=body,
        channel_message_id=message_sid,
        contact_name=(data.get("ProfileName") or "").strip(),
        attachments=attachments,
        metadata=metadata,
        same_person_kinds=_SAME_NUMBER_KINDS.get(kind, ()),
    )
    return "stored" if result.created else "duplicate"
