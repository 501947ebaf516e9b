"""One raw mail into the inbox: parse it, decide its thread and flags, store it through the service."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings

from channels_app.email.automated import automated_reason
from channels_app.email.parsing import ParsedEmail, parse_email
from channels_app.email.threads import conversation_for_references
from conversations.identities import InvalidIdentity, normalize_email
from conversations.models import ChannelKind, Inbox, Message
from conversations.services import InboundAttachment, ServiceError, message_receive_inbound
from conversations.uploads import safe_filename

logger = logging.getLogger(__name__)

ORIGINAL_FILENAME = "original.eml"


@dataclasses.dataclass(frozen=True)
class EmailOutcome:
    """What became of one mail: "stored", "duplicate", "own-mail" (a loop, not stored) or "rejected"."""

    status: str
    message: Message | None = None
    reason: str = ""


def own_addresses() -> frozenset[str]:
    """Every address we send from: mail from one of them is our own, come back."""
    addresses = {settings.DEFAULT_FROM_EMAIL.lower()}
    for config in Inbox.objects.filter(kind=ChannelKind.EMAIL).values_list("config", flat=True):
        if isinstance(config, dict) and isinstance(config.get("address"), str) and config["address"]:
            addresses.add(config["address"].lower())
    return frozenset(addresses)


def _attachments(parsed: ParsedEmail, raw: bytes) -> tuple[list[InboundAttachment], dict[str, Any]]:
    limit = settings.MAX_ATTACHMENT_BYTES
    kept: list[InboundAttachment] = []
    dropped: list[dict[str, Any]] = []
    inline: dict[str, str] = {}
    for item in parsed.attachments:
        name = safe_filename(item.filename)
        if len(item.content) > limit:
            dropped.append({"filename": name, "size": len(item.content), "reason": f"larger than {limit} bytes"})
            continue
        kept.append(InboundAttachment(filename=name, content_type=item.content_type, content=item.content))
        if item.content_id:
            inline[item.content_id] = name
    if len(raw) <= limit:
        kept.append(InboundAttachment(filename=ORIGINAL_FILENAME, content_type="message/rfc822", content=raw))
    else:
        dropped.append({"filename": ORIGINAL_FILENAME, "size": len(raw), "reason": f"larger than {limit} bytes"})
    extra: dict[str, Any] = {}
    if dropped:
        extra["dropped_attachments"] = dropped
    if inline:
        extra["inline_images"] = inline  # cid -> attachment filename, for showing <img src="cid:...">
    return kept, extra


def receive_email(*, inbox: Inbox, raw: bytes, source: dict[str, Any] | None = None) -> EmailOutcome:
    """Store one mail from ``inbox``'s mailbox. Never raises for bad mail; the outcome says what happened.

    ``source`` (e.g. the IMAP UID) is kept in the message's metadata for tracing.
    """
    parsed = parse_email(raw)
    if parsed.errors:
        logger.info("email %s in inbox %s parsed with problems: %s", parsed.message_id, inbox.pk, parsed.errors)
    try:
        sender = normalize_email(parsed.from_address)
    except InvalidIdentity:
        reason = f"no usable sender address ({parsed.from_address!r})"
        logger.warning("email %s in inbox %s not stored: %s", parsed.message_id, inbox.pk, reason)
        return EmailOutcome("rejected", reason=reason)

    ours = own_addresses()
    if sender in ours:
        # Our own mail come back (a forwarding loop, a copy to ourselves): storing it would make
        # us a contact of ourselves and invite an answer to our own answer.
        logger.info("email %s in inbox %s is from our own address %s: not stored", parsed.message_id, inbox.pk, sender)
        return EmailOutcome("own-mail", reason=f"sent from our own address {sender}")

    attachments, extra = _attachments(parsed, raw)
    metadata: dict[str, Any] = {
        "email": {
            "message_id": parsed.message_id,
            "message_id_synthetic": parsed.message_id_synthetic,
            "from": sender,
            "to": parsed.to[:50],
            "cc": parsed.cc[:50],
            "date": parsed.date,
            "in_reply_to": parsed.in_reply_to[:5],
            "references": parsed.references[-30:],
            **({"source": source} if source else {}),
        },
        **extra,
    }
    reason = automated_reason(
        headers=parsed.headers, from_address=sender, content_type=parsed.content_type, own_addresses=ours
    )
    if reason:
        metadata["automated"] = reason
    if parsed.errors:
        metadata["parse_errors"] = parsed.errors[:20]

    thread = conversation_for_references(inbox, parsed.thread_references)
    try:
        result = message_receive_inbound(
            inbox=inbox,
            identity_kind="email",
            identity_value=sender,
            contact_name=parsed.from_name,
            body=parsed.body,
            html=parsed.html,
            subject=parsed.subject,
            channel_message_id=parsed.message_id,
            attachments=attachments,
            metadata=metadata,
            conversation=thread,
            # Without a known reference a mail is a new request (see channels_app.email.threads).
            start_new_conversation=True,
        )
    except ServiceError as exc:
        reason = "; ".join(exc.messages)
        logger.warning("email %s in inbox %s not stored: %s", parsed.message_id, inbox.pk, reason)
        return EmailOutcome("rejected", reason=reason)
    return EmailOutcome("stored" if result.created else "duplicate", message=result.message)
