"""Every change of state to a conversation, its messages or its contact: one function each.

Each runs in one transaction, locks what it changes, writes it, records a
ConversationEvent, and queues live events and background work with
``transaction.on_commit``. Views, the API, the admin, Celery tasks, webhooks and bulk
actions all call these, so the audit trail, the live updates and the analytics always
agree with the data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics import csat as analytics_csat
from analytics import recorder as analytics_recorder
from conversations import identities, notifications, sla, webhooks
from conversations.models import (
    CLOSED_STATUSES,
    DELIVERY_RANK,
    OPEN_STATUSES,
    Attachment,
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationRead,
    DeliveryStatus,
    Direction,
    EventKind,
    Handler,
    IdentityKind,
    Inbox,
    Message,
    Priority,
    SenderKind,
    Status,
    Tag,
    Team,
)
from conversations.payloads import contact_payload, conversation_payload, message_payload
from conversations.realtime import inbox_group, send_event_on_commit, visitor_group
from conversations.selectors import is_supervisor
from core import outbox

logger = logging.getLogger(__name__)

PREVIEW_LENGTH = 200


class ServiceError(ValidationError):
    """A change that is refused, with a message that can be shown to the person who asked."""


@dataclasses.dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclasses.dataclass(frozen=True)
class InboundResult:
    message: Message
    created: bool


# --- Internals shared by the services ---------------------------------------------------------


def _actor_kind(actor: Any) -> str:
    return SenderKind.AGENT if actor is not None else SenderKind.SYSTEM


def _record(
    conversation: Conversation,
    kind: str,
    *,
    actor: Any = None,
    actor_kind: str | None = None,
    message: Message | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        actor=actor,
        actor_kind=actor_kind or _actor_kind(actor),
        message=message,
        data=data or {},
        created_at=at or timezone.now(),
    )
    analytics_recorder.record_event(event)  # metric facts, in the same transaction
    return event


def _lock(conversation: Conversation) -> Conversation:
    """Lock the conversation's row and read it afresh (callers may hold a stale copy)."""
    return (
        Conversation.objects.select_for_update(of=("self",)).select_related("inbox", "contact").get(pk=conversation.pk)
    )


def _broadcast_conversation(conversation: Conversation, *, changes: Sequence[str], created: bool = False) -> None:
    payload = conversation_payload(conversation)
    changes = ["sla" if change in sla.COLUMNS else change for change in changes]
    event: dict[str, Any] = (
        {"type": "conversation.created", "conversation": payload}
        if created
        else {"type": "conversation.updated", "conversation": payload, "changes": sorted(set(changes))}
    )
    send_event_on_commit(event, groups=[inbox_group(conversation.inbox_id)])
    webhooks.emit(event["type"], {"conversation": payload, **({} if created else {"changes": event["changes"]})})
    if not created and "status" in changes:
        webhooks.emit("conversation.status_changed", {"conversation": payload})


def _broadcast_message(message: Message, conversation: Conversation) -> None:
    event = {"type": "message.created", "message": message_payload(message)}
    groups = [inbox_group(conversation.inbox_id)]
    if message.is_customer_visible and conversation.inbox.kind == "webchat":
        groups.append(visitor_group(conversation.pk))
    send_event_on_commit(event, groups=groups)
    webhooks.emit("message.created", {"message": event["message"]})


def _save(conversation: Conversation, fields: Iterable[str], *, now: datetime | None = None) -> None:
    conversation.updated_at = now or timezone.now()
    conversation.save(update_fields=sorted({*fields, "updated_at"}))


def _set_status(conversation: Conversation, status: str, *, actor: Any, now: datetime, reason: str) -> list[str]:
    """Move to ``status`` and record it; return the changed fields (nothing when unchanged)."""
    previous = conversation.status
    if previous == status:
        return []
    conversation.status = status
    conversation.status_changed_at = now
    changed = ["status", "status_changed_at"]
    if status != Status.PENDING and conversation.snoozed_until is not None:
        conversation.snoozed_until = None
        changed.append("snoozed_until")
    if status == Status.RESOLVED:
        conversation.resolved_at = now
        conversation.resolved_by = actor
        changed += ["resolved_at", "resolved_by"]
    if status in CLOSED_STATUSES:
        changed += sla.close_all(conversation, now=now)
    elif status in (Status.ACTIVE, Status.PENDING) and previous in (Status.RESOLVED, Status.ARCHIVED):
        conversation.resolved_at = None
        conversation.resolved_by = None
        changed += ["resolved_at", "resolved_by"]
    event = _record(
        conversation, EventKind.STATUS, actor=actor, data={"from": previous, "to": status, "reason": reason}, at=now
    )
    if status == Status.RESOLVED:
        analytics_csat.request_survey_on_commit(event)  # one survey per resolution, asked after commit
    return changed


def _check_assignable(conversation: Conversation, user: Any) -> None:
    if not user.is_active:
        raise ServiceError(f"{user.get_username()} is deactivated and cannot be assigned.")
    if not is_supervisor(user) and not conversation.inbox.members.filter(pk=user.pk).exists():
        raise ServiceError(f"{user.get_username()} is not a member of the inbox {conversation.inbox.name}.")


def _hand_to_human(conversation: Conversation, *, actor: Any, now: datetime, reason: str) -> list[str]:
    if conversation.handler == Handler.HUMAN:
        return []
    conversation.handler = Handler.HUMAN
    conversation.handed_off_at = now
    _record(conversation, EventKind.HANDOFF, actor=actor, data={"reason": reason}, at=now)
    return ["handler", "handed_off_at", *sla.track(conversation, now=now)]


def _set_assignee(conversation: Conversation, assignee: Any, *, actor: Any, now: datetime) -> list[str]:
    previous_id = conversation.assignee_id
    new_id = assignee.pk if assignee is not None else None
    if previous_id == new_id:
        return []
    if conversation.status == Status.ACTIVE:
        _capacity_freed(previous_id)
    conversation.assignee = assignee
    conversation.assigned_at = now if assignee is not None else None
    if assignee is None:
        _record(conversation, EventKind.UNASSIGNED, actor=actor, data={"from": previous_id}, at=now)
    else:
        _record(conversation, EventKind.ASSIGNED, actor=actor, data={"from": previous_id, "to": new_id}, at=now)
        notifications.on_assigned(conversation, actor=actor)
    return ["assignee", "assigned_at"]


def _append_message(conversation: Conversation, message: Message, *, now: datetime) -> list[str]:
    """Update the conversation's denormalized last-message fields for a new message."""
    if message.is_private_note:
        return []
    conversation.last_message_at = now
    conversation.last_message_preview = (message.body or message.subject or "").strip()[:PREVIEW_LENGTH]
    conversation.last_message_direction = message.direction
    conversation.last_message_sender_kind = message.sender_kind
    # Callers hold the row's lock and read it afresh (``_lock``): the count is exact without
    # an F() expression and a second read of the row to learn its result.
    conversation.message_count += 1
    return [
        "last_message_at",
        "last_message_preview",
        "last_message_direction",
        "last_message_sender_kind",
        "message_count",
    ]


def _store_attachments(message: Message, attachments: Sequence[InboundAttachment]) -> None:
    from django.conf import settings

    from conversations.uploads import safe_filename

    stored = []
    for item in attachments:
        if len(item.content) > settings.MAX_ATTACHMENT_BYTES:
            raise ServiceError(f"{item.filename} is larger than {settings.MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.")
        name = safe_filename(item.filename)
        attachment = Attachment(
            message=message, filename=name, content_type=item.content_type[:150], size=len(item.content)
        )
        attachment.file.save(name, ContentFile(item.content), save=False)
        attachment.save()
        stored.append(attachment)
    # A new message's attachments are these: its payload lists them without reading them back. Stored
    # as prefetch_related() stores what it read, so message.attachments.all() returns them.
    known = message.attachments.all()
    known._result_cache = stored
    known._prefetch_done = True  # type: ignore[attr-defined]
    message._prefetched_objects_cache = {  # type: ignore[attr-defined]
        **getattr(message, "_prefetched_objects_cache", {}),
        "attachments": known,
    }


# --- Contacts ---------------------------------------------------------------------------------


_NAMED_BY_VALUE = {IdentityKind.PHONE, IdentityKind.EMAIL, IdentityKind.WHATSAPP}


def _named_by_identity(contact: Contact) -> bool:
    """Whether the contact's name is only one of their numbers or addresses (a real name may replace it)."""
    name = contact.name
    return (name.startswith("+") or "@" in name) and contact.identities.filter(value=name).exists()


def _contact_for_identity(*, kind: str, value: str, name: str) -> Contact:
    """The contact who owns this identity, created with it on first contact."""
    existing = ChannelIdentity.objects.select_related("contact").filter(kind=kind, value=value).first()
    if existing is not None:
        return existing.contact
    # A number or an address is how agents know someone who has not said their name (the list shows it).
    shown = name.strip() or (value if kind in _NAMED_BY_VALUE else "")
    try:
        with transaction.atomic():
            contact = Contact.objects.create(name=shown[:200])
            ChannelIdentity.objects.create(contact=contact, kind=kind, value=value)
            webhooks.emit("contact.created", {"contact": contact_payload(contact)})
            return contact
    except IntegrityError:
        # Someone else created this identity at the same moment: theirs wins.
        return ChannelIdentity.objects.select_related("contact").get(kind=kind, value=value).contact


def _locked_contact_for_identity(*, kind: str, value: str, name: str, same_person_kinds: Sequence[str] = ()) -> Contact:
    """``_contact_for_identity``, locked: one query when the identity is known (the usual case).

    A new identity whose value another of ``same_person_kinds`` already has (a number known by SMS
    writing on WhatsApp) joins that identity's contact instead of making a new one.
    """
    contact = (
        Contact.objects.select_for_update(of=("self",)).filter(identities__kind=kind, identities__value=value).first()
    )
    if contact is not None:
        return contact
    if same_person_kinds:
        contact_join_same_value(kind=kind, value=value, other_kinds=same_person_kinds)
    contact = _contact_for_identity(kind=kind, value=value, name=name)
    return Contact.objects.select_for_update().get(pk=contact.pk)


def contact_join_same_value(*, kind: str, value: str, other_kinds: Sequence[str]) -> None:
    """Attach a new identity (normalized) to the contact who has the same value under one of ``other_kinds``.

    The earliest such identity's contact (or the one it was merged into). Nothing when none has it,
    or when a concurrent delivery attached it first (to whomever: the caller looks it up after).
    """
    other = (
        ChannelIdentity.objects.select_related("contact")
        .filter(kind__in=other_kinds, value=value)
        .order_by("created_at", "pk")
        .first()
    )
    if other is None:
        return
    contact = other.contact
    if contact.merged_into_id is not None:
        contact = contact.merged_into  # type: ignore[assignment]
    with contextlib.suppress(ServiceError, IntegrityError):
        contact_add_identity(contact=contact, kind=kind, value=value)


def contact_add_identity(*, contact: Contact, kind: str, value: str, verified: bool = False) -> ChannelIdentity:
    """Attach an identity to a contact; an identity already owned by someone else is refused."""
    try:
        normalized = identities.normalize(kind, value)
    except identities.InvalidIdentity as exc:
        raise ServiceError(str(exc)) from None
    with transaction.atomic():
        identity = ChannelIdentity.objects.select_for_update().filter(kind=kind, value=normalized).first()
        if identity is not None:
            if identity.contact_id != contact.pk:
                raise ServiceError(f"{normalized} already belongs to another contact; merge the two instead.")
            return identity
        return ChannelIdentity.objects.create(contact=contact, kind=kind, value=normalized, verified=verified)


def conversation_note_identity_claim(*, conversation: Conversation, kind: str, value: str) -> Message | None:
    """A customer said who they are without proof (an unsigned email given in the widget).

    Joining on an unproven claim would let anyone read another person's history, so nothing is
    joined: the agents get a private note naming the claim, and the contact that already owns it,
    to add or merge by hand. Noted once per conversation and value; None when there is nothing new.
    """
    try:
        normalized = identities.normalize(kind, value)
    except identities.InvalidIdentity:
        return None
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        owner = ChannelIdentity.objects.select_related("contact").filter(kind=kind, value=normalized).first()
        if owner is not None and owner.contact_id == conversation.contact_id:
            return None
        claim = {"identity_claim": {"kind": kind, "value": normalized}}
        noted = conversation.messages.filter(
            is_private_note=True, metadata__identity_claim__kind=kind, metadata__identity_claim__value=normalized
        )
        if noted.exists():
            return None
        if owner is None:
            body = (
                f"The customer says their {kind} is {normalized}; the site did not verify it. "
                "Add it to this contact if you trust it."
            )
        else:
            body = (
                f"The customer says their {kind} is {normalized}, which belongs to {owner.contact} "
                f"(contact #{owner.contact_id}). The site did not verify it, so the two were not joined: "
                "merge the contacts if they are the same person."
            )
        message = _new_outbound(
            conversation, body=body, sender_kind=SenderKind.SYSTEM, author=None, private=True, now=now, metadata=claim
        )
        _record(conversation, EventKind.NOTE, actor_kind=SenderKind.SYSTEM, message=message, at=now)
        _save(conversation, [], now=now)
        _broadcast_message(message, conversation)
    return message


def contact_merge(*, source: Contact, target: Contact, actor: Any) -> Contact:
    """Fold ``source`` into ``target``: identities, conversations and missing details move over."""
    if source.pk == target.pk:
        raise ServiceError("A contact cannot be merged into itself.")
    now = timezone.now()
    with transaction.atomic():
        # Lock both in id order so two opposite merges cannot deadlock.
        locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[source.pk, target.pk])}
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None:
            raise ServiceError(f"{source} was already merged into another contact.")
        ChannelIdentity.objects.filter(contact=source).update(contact=target)
        moved = list(
            Conversation.objects.select_for_update(of=("self",)).select_related("inbox").filter(contact=source)
        )
        Conversation.objects.filter(pk__in=[c.pk for c in moved]).update(contact=target, updated_at=now)
        for field in ("name", "language", "location", "segment"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        target.custom_attributes = {**source.custom_attributes, **target.custom_attributes}
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        for conversation in moved:
            conversation.contact = target
            _record(
                conversation,
                EventKind.CONTACT_MERGED,
                actor=actor,
                data={"from_contact": source.pk, "to_contact": target.pk},
                at=now,
            )
            conversation.updated_at = now
            _broadcast_conversation(conversation, changes=["contact"])
        inbox_ids = set(Conversation.objects.filter(contact=target).values_list("inbox_id", flat=True).distinct())
        event = {"type": "contact.updated", "contact": {"id": target.pk, "name": target.name}, "merged_from": source.pk}
        send_event_on_commit(event, groups=[inbox_group(i) for i in sorted(inbox_ids)])
        webhooks.emit("contact.updated", {"contact": contact_payload(target), "merged_from": source.pk})
    return target


# --- Inbound ----------------------------------------------------------------------------------


class _DuplicateDelivery(Exception):
    pass


def message_receive_inbound(
    *,
    inbox: Inbox,
    identity_kind: str,
    identity_value: str,
    body: str = "",
    channel_message_id: str | None = None,
    contact_name: str = "",
    subject: str = "",
    html: str = "",
    attachments: Sequence[InboundAttachment] = (),
    metadata: dict[str, Any] | None = None,
    conversation: Conversation | None = None,
    start_new_conversation: bool = False,
    same_person_kinds: Sequence[str] = (),
) -> InboundResult:
    """Store a customer's message: find or create the contact and the conversation, reopen it if closed.

    Idempotent on ``channel_message_id``: a retried delivery returns the message stored the
    first time (``created`` is False) and changes nothing. ``conversation`` (a thread the
    channel matched, e.g. by email headers) is used only if it belongs to the same contact
    and inbox; ``start_new_conversation`` starts a fresh thread (a new email subject).
    ``same_person_kinds``: a first message from an identity whose value one of these kinds already
    has (a number on SMS and WhatsApp) joins that contact (``contact_join_same_value``).
    """
    try:
        value = identities.normalize(identity_kind, identity_value)
    except identities.InvalidIdentity as exc:
        raise ServiceError(str(exc)) from None
    if not body.strip() and not attachments and not subject.strip():
        raise ServiceError("The message is empty.")
    # A retried delivery is recognised by its message's INSERT, under the contact's lock (no query
    # for it on a first delivery, the usual case).
    try:
        return _receive(
            inbox=inbox,
            identity_kind=identity_kind,
            value=value,
            body=body,
            channel_message_id=channel_message_id,
            contact_name=contact_name,
            subject=subject,
            html=html,
            attachments=attachments,
            metadata=metadata or {},
            thread=conversation,
            start_new_conversation=start_new_conversation,
            same_person_kinds=same_person_kinds,
        )
    except _DuplicateDelivery:
        existing = Message.objects.get(inbox=inbox, channel_message_id=channel_message_id)
        return InboundResult(existing, created=False)


def _receive(
    *,
    inbox: Inbox,
    identity_kind: str,
    value: str,
    body: str,
    channel_message_id: str | None,
    contact_name: str,
    subject: str,
    html: str,
    attachments: Sequence[InboundAttachment],
    metadata: dict[str, Any],
    thread: Conversation | None,
    start_new_conversation: bool,
    same_person_kinds: Sequence[str],
) -> InboundResult:
    with transaction.atomic(), webhooks.subscriptions_read_once():
        # The contact's lock serializes concurrent messages from one person, so they land in one conversation.
        contact = _locked_contact_for_identity(
            kind=identity_kind, value=value, name=contact_name, same_person_kinds=same_person_kinds
        )
        if contact.merged_into_id is not None:  # an identity left behind by a merge in flight
            contact = Contact.objects.select_for_update().get(pk=contact.merged_into_id)
        given = contact_name.strip()[:200]
        if given and given != contact.name and (not contact.name or _named_by_identity(contact)):
            contact.name = given
            contact.save(update_fields=["name", "updated_at"])

        now = timezone.now()
        conversation = None
        if thread is not None and thread.contact_id == contact.pk and thread.inbox_id == inbox.pk:
            conversation = _lock(thread)
        elif not start_new_conversation:
            # Found and locked in one query (the contact's lock already keeps other messages of hers out).
            conversation = (
                Conversation.objects.select_for_update(of=("self",))
                .select_related("inbox", "contact")
                .filter(contact=contact, inbox=inbox)
                .order_by("-last_message_at")
                .first()
            )
        created = conversation is None
        if conversation is None:
            handler = Handler.BOT if inbox.assistant_enabled else Handler.HUMAN
            # Written by this transaction, so no one else can see or lock it: no read back.
            conversation = Conversation.objects.create(
                inbox=inbox,
                contact=contact,
                subject=subject[:300],
                team=inbox.default_team,
                sla_policy=inbox.sla_policy,
                handler=handler,
                language=contact.language,
                created_at=now,
                updated_at=now,
                status_changed_at=now,
                last_message_at=now,
                handed_off_at=now if handler == Handler.HUMAN else None,
            )
            _record(
                conversation, EventKind.CREATED, actor_kind=SenderKind.CONTACT, data={"channel": inbox.kind}, at=now
            )

        try:
            # A retried delivery is refused here by the unique (inbox, channel_message_id): the whole
            # transaction, any conversation or name it changed included, rolls back as it leaves.
            message = Message.objects.create(
                conversation=conversation,
                inbox=inbox,
                direction=Direction.INBOUND,
                sender_kind=SenderKind.CONTACT,
                sender_contact=contact,
                subject=subject[:300],
                body=body,
                html=html,
                channel_message_id=channel_message_id,
                metadata=metadata,
                created_at=now,
            )
        except IntegrityError:
            raise _DuplicateDelivery from None
        _store_attachments(message, attachments)

        changed = _append_message(conversation, message, now=now)
        conversation.last_inbound_at = now
        changed.append("last_inbound_at")
        if conversation.waiting_since is None:
            conversation.waiting_since = now
            changed.append("waiting_since")
        if conversation.status != Status.ACTIVE:
            changed += _set_status(conversation, Status.ACTIVE, actor=None, now=now, reason="customer_message")
        changed += sla.track(conversation, now=now)
        _record(
            conversation,
            EventKind.MESSAGE_IN,
            actor_kind=SenderKind.CONTACT,
            message=message,
            data={"channel": inbox.kind},
            at=now,
        )
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed, created=created)
        _broadcast_message(message, conversation)
        _notify_inbound(conversation, created=created)
        if created:
            _route_on_commit(conversation.pk, message_id=message.pk)
        if inbox.assistant_enabled and settings.ASSISTANT_AUTORUN:
            _enqueue_assistant(message.pk)
    return InboundResult(message, created=True)


def _notify_inbound(conversation: Conversation, *, created: bool) -> None:
    preview = conversation.last_message_preview
    if created:
        notifications.on_new_conversation(conversation, preview=preview)
    else:
        notifications.on_customer_replied(conversation, preview=preview)


def _route_on_commit(conversation_id: int, *, message_id: int | None) -> None:
    from routing.assign_services import route_on_commit

    route_on_commit(conversation_id, trigger="created", message_id=message_id)


def _capacity_freed(agent_id: int | None) -> None:
    """An agent has room for one more conversation: hand her the next in her teams' queues, after commit."""
    if agent_id is None:
        return
    from routing.assign_services import capacity_freed_on_commit

    capacity_freed_on_commit(agent_id)


def _enqueue_assistant(message_id: int) -> None:
    """The assistant's turn on a customer message, promised in the current transaction (core/outbox.py)."""
    from routing.tasks import enqueue_assistant

    enqueue_assistant(message_id)


# --- Replies and notes ------------------------------------------------------------------------


def _new_outbound(
    conversation: Conversation,
    *,
    body: str,
    sender_kind: str,
    author: Any,
    private: bool,
    now: datetime,
    confidence: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Message:
    return Message.objects.create(
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        direction=Direction.OUTBOUND,
        sender_kind=sender_kind,
        sender_user=author,
        is_private_note=private,
        body=body,
        delivery_status="" if private else DeliveryStatus.QUEUED,
        confidence=confidence,
        metadata=metadata or {},
        created_at=now,
    )


def _enqueue_send(message: Message) -> None:
    # Written with the message (core/outbox.py): sent after commit, or by the sweep if the broker was down.
    outbox.enqueue("conversations.tasks.send_outbound_message", message.pk, key=f"send:{message.pk}")


def message_send_reply(
    *, conversation: Conversation, author: Any, body: str, attachments: Sequence[InboundAttachment] = ()
) -> Message:
    """An agent's reply to the customer: committed as queued, handed to the channel after commit.

    Replying to a conversation the assistant is handling takes it over, and an unassigned
    conversation is assigned to the agent who replies.
    """
    body = body.strip()
    if not body and not attachments:
        raise ServiceError("A reply needs text or an attachment.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        _check_assignable(conversation, author)
        message = _new_outbound(
            conversation, body=body, sender_kind=SenderKind.AGENT, author=author, private=False, now=now
        )
        _store_attachments(message, attachments)
        changed = _append_message(conversation, message, now=now)
        changed += _hand_to_human(conversation, actor=author, now=now, reason="agent_replied")
        if conversation.assignee_id is None:
            changed += _set_assignee(conversation, author, actor=author, now=now)
        changed += sla.track(conversation, now=now)  # the clocks a handoff just started, if any
        if conversation.first_response_at is None:
            conversation.first_response_at = now
            changed.append("first_response_at")
        if conversation.waiting_since is not None:
            conversation.waiting_since = None
            changed.append("waiting_since")
        changed += sla.close(conversation, targets=sla.RESPONSE_TARGETS, now=now)
        _record(conversation, EventKind.MESSAGE_OUT, actor=author, message=message, at=now)
        _save(conversation, changed, now=now)
        _broadcast_message(message, conversation)
        _broadcast_conversation(conversation, changes=changed)
        _enqueue_send(message)
    return message


def note_add(*, conversation: Conversation, author: Any, body: str) -> Message:
    """A private internal note: seen by agents only, never sent to the customer."""
    body = body.strip()
    if not body:
        raise ServiceError("A note needs text.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        _check_assignable(conversation, author)
        message = _new_outbound(
            conversation, body=body, sender_kind=SenderKind.AGENT, author=author, private=True, now=now
        )
        _record(conversation, EventKind.NOTE, actor=author, message=message, at=now)
        _save(conversation, [], now=now)
        _broadcast_message(message, conversation)
    return message


def message_update_delivery_status(
    *, message: Message, status: str, error: str = "", channel_message_id: str | None = None
) -> bool:
    """Record what the channel says about an outbound message. Status only moves forward.

    Returns whether anything changed: a late "sent" after "delivered" changes nothing.
    """
    if status not in DELIVERY_RANK:
        raise ServiceError(f"Unknown delivery status {status!r}.")
    behind = [s for s, rank in DELIVERY_RANK.items() if rank < DELIVERY_RANK[status]]
    now = timezone.now()
    fields: dict[str, Any] = {"delivery_status": status}
    if status == DeliveryStatus.FAILED:
        fields["delivery_error"] = error[:2000]
    if status == DeliveryStatus.SENT:
        fields["sent_at"] = now
    if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
        fields["delivered_at"] = now
    if channel_message_id:
        fields["channel_message_id"] = channel_message_id
    with transaction.atomic():
        updated = Message.objects.filter(
            pk=message.pk, delivery_status__in=behind, direction=Direction.OUTBOUND
        ).update(**fields)
        if not updated:
            return False
        message = Message.objects.select_related("conversation").get(pk=message.pk)
        _record(
            message.conversation,
            EventKind.DELIVERY,
            actor_kind=SenderKind.SYSTEM,
            message=message,
            data={"status": status, "error": error[:500]} if error else {"status": status},
            at=now,
        )
        update = {
            "id": message.pk,
            "conversation_id": message.conversation_id,
            "delivery_status": message.delivery_status,
            "delivery_error": message.delivery_error,
        }
        send_event_on_commit({"type": "message.updated", "message": update}, groups=[inbox_group(message.inbox_id)])
        webhooks.emit("message.updated", {"message": update})
    return True


# --- Assignment, status, priority, tags -------------------------------------------------------


def conversation_assign(*, conversation: Conversation, assignee: Any, actor: Any) -> Conversation:
    """Assign to an agent (or unassign with ``assignee=None``). Assigning a person hands off from the assistant."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if assignee is not None:
            _check_assignable(conversation, assignee)
        changed = _set_assignee(conversation, assignee, actor=actor, now=now)
        if assignee is not None:
            changed += _hand_to_human(conversation, actor=actor, now=now, reason="assigned")
        if changed:
            _save(conversation, changed, now=now)
            _broadcast_conversation(conversation, changes=changed)
    return conversation


def conversation_transfer(
    *, conversation: Conversation, team: Team, actor: Any, assignee: Any = None, note: str = ""
) -> Conversation:
    """Move to another team; the assignee is cleared unless one from the new team is given."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if assignee is not None:
            _check_assignable(conversation, assignee)
            if not assignee.agent_profile.teams.filter(pk=team.pk).exists():
                raise ServiceError(f"{assignee.get_username()} is not in the team {team.name}.")
        changed: list[str] = []
        previous_team = conversation.team_id
        if previous_team != team.pk:
            conversation.team = team
            changed.append("team")
        changed += _set_assignee(conversation, assignee, actor=actor, now=now)
        if not changed:
            return conversation
        changed += _hand_to_human(conversation, actor=actor, now=now, reason="transferred")
        _record(
            conversation,
            EventKind.TRANSFERRED,
            actor=actor,
            data={"from_team": previous_team, "to_team": team.pk, "note": note[:500]},
            at=now,
        )
        if note.strip() and actor is not None:
            message = _new_outbound(
                conversation, body=note.strip(), sender_kind=SenderKind.AGENT, author=actor, private=True, now=now
            )
            _record(conversation, EventKind.NOTE, actor=actor, message=message, at=now)
            _broadcast_message(message, conversation)
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
    return conversation


def conversation_set_status(*, conversation: Conversation, status: str, actor: Any, reason: str = "") -> Conversation:
    if status not in Status.values:
        raise ServiceError(f"Unknown status {status!r}; use one of {', '.join(Status.values)}.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        was_active = conversation.status == Status.ACTIVE
        changed = _set_status(
            conversation, status, actor=actor, now=now, reason=reason or ("agent" if actor else "timer")
        )
        if changed and status in OPEN_STATUSES:
            changed += sla.track(conversation, now=now)  # a reopened conversation's clocks start again
        if was_active and conversation.status != Status.ACTIVE:
            _capacity_freed(conversation.assignee_id)
        if changed:
            _save(conversation, changed, now=now)
            _broadcast_conversation(conversation, changes=changed)
    return conversation


def conversation_snooze(*, conversation: Conversation, until: datetime, actor: Any) -> Conversation:
    """Set aside until ``until``: pending now, active again when the time comes."""
    now = timezone.now()
    if until <= now:
        raise ServiceError("Snooze until a time in the future.")
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.status in (Status.RESOLVED, Status.ARCHIVED):
            raise ServiceError("A resolved conversation cannot be snoozed; reopen it first.")
        if conversation.status == Status.ACTIVE:
            _capacity_freed(conversation.assignee_id)
        changed = _set_status(conversation, Status.PENDING, actor=actor, now=now, reason="snoozed")
        conversation.snoozed_until = until
        changed.append("snoozed_until")
        _record(conversation, EventKind.SNOOZED, actor=actor, data={"until": until.isoformat()}, at=now)
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
    return conversation


def conversation_set_priority(
    *, conversation: Conversation, priority: int | str, actor: Any, reason: str = ""
) -> Conversation:
    """Set the priority. A person overriding it must say why; automatic triage passes ``actor=None``."""
    try:
        value = Priority.from_name(priority) if isinstance(priority, str) else Priority(priority)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if actor is not None and not reason.strip():
        raise ServiceError("Give a reason when changing the priority.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.priority
        if previous == value:
            return conversation
        conversation.priority = value
        _record(
            conversation,
            EventKind.PRIORITY,
            actor=actor,
            data={"from": Priority(previous).label, "to": value.label, "reason": reason.strip()[:500]},
            at=now,
        )
        _save(conversation, ["priority"], now=now)
        _broadcast_conversation(conversation, changes=["priority"])
        if value == Priority.URGENT:
            notifications.on_urgent(conversation, actor=actor)
    return conversation


def _tags_named(names: Iterable[str]) -> list[Tag]:
    tags = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        tag = Tag(name=name)
        try:
            tag.clean()
        except ValidationError as exc:
            raise ServiceError(f"{raw!r}: {'; '.join(exc.messages)}") from None
        tags.append(Tag.objects.get_or_create(name=tag.name)[0])
    return tags


def conversation_set_tags(
    *, conversation: Conversation, actor: Any, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> Conversation:
    """Add and remove tags by name; unknown tags are created."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        current = {tag.name: tag for tag in conversation.tags.all()}
        to_add = [tag for tag in _tags_named(add) if tag.name not in current]
        remove_names = {name.strip().lower() for name in remove} & set(current)
        if not to_add and not remove_names:
            return conversation
        conversation.tags.add(*to_add)
        conversation.tags.remove(*[current[name] for name in remove_names])
        _record(
            conversation,
            EventKind.TAGGED,
            actor=actor,
            data={"added": sorted(t.name for t in to_add), "removed": sorted(remove_names)},
            at=now,
        )
        _save(conversation, [], now=now)
        _broadcast_conversation(conversation, changes=["tags"])
    return conversation


def conversation_take_over(*, conversation: Conversation, agent: Any) -> Conversation:
    """An agent takes the conversation from the assistant; the customer is told who joined."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        _check_assignable(conversation, agent)
        if conversation.handler == Handler.HUMAN and conversation.assignee_id == agent.pk:
            return conversation
        changed = _hand_to_human(conversation, actor=agent, now=now, reason="taken_over")
        changed += _set_assignee(conversation, agent, actor=agent, now=now)
        _record(conversation, EventKind.TAKEN_OVER, actor=agent, data={"agent": agent.pk}, at=now)
        if "handler" in changed:
            profile = getattr(agent, "agent_profile", None)
            name = profile.name if profile else agent.get_username()
            message = _new_outbound(
                conversation,
                body=f"{name} has joined the conversation.",
                sender_kind=SenderKind.SYSTEM,
                author=None,
                private=False,
                now=now,
            )
            changed += _append_message(conversation, message, now=now)
            _record(conversation, EventKind.MESSAGE_OUT, actor_kind=SenderKind.SYSTEM, message=message, at=now)
            _broadcast_message(message, conversation)
            _enqueue_send(message)
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
    return conversation


def conversation_after_handoff(*, conversation_id: int) -> None:
    """After the assistant's handoff has committed: the SLA clocks start, and the people who take it are told."""
    with transaction.atomic():
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            return
        conversation = _lock(conversation)
        now = timezone.now()
        changed = sla.track(conversation, now=now)
        if changed:
            _save(conversation, changed, now=now)
            _broadcast_conversation(conversation, changes=changed)
        notifications.on_handoff(conversation)


def conversation_mark_read(*, conversation: Conversation, user: Any) -> None:
    """Remember that ``user`` has read the conversation up to now (the unread mark)."""
    now = timezone.now()
    ConversationRead.objects.update_or_create(conversation=conversation, user=user, defaults={"last_read_at": now})


def user_for_id(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


# --- Contacts, agents, notifications and deletion (used by the REST API) ----------------------

CONTACT_EDITABLE_FIELDS = ("name", "language", "location", "segment", "custom_attributes")


def contact_update(*, contact: Contact, actor: Any, **changes: Any) -> Contact:
    """Change a contact's details (only CONTACT_EDITABLE_FIELDS); agents in its inboxes hear of it live."""
    unknown = set(changes) - set(CONTACT_EDITABLE_FIELDS)
    if unknown:
        raise ServiceError(f"These contact fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "custom_attributes" in changes and not isinstance(changes["custom_attributes"], dict):
        raise ServiceError("custom_attributes must be an object.")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.merged_into_id is not None:
            raise ServiceError(f"{contact} was merged into another contact; change that one instead.")
        changed = [field for field, value in changes.items() if getattr(contact, field) != value]
        if not changed:
            return contact
        for field in changed:
            setattr(contact, field, changes[field])
        try:
            contact.full_clean(exclude=["merged_into"])
        except ValidationError as exc:
            raise ServiceError(exc.message_dict) from None
        contact.save(update_fields=[*changed, "updated_at"])
        inbox_ids = set(Conversation.objects.filter(contact=contact).values_list("inbox_id", flat=True).distinct())
        event = {"type": "contact.updated", "contact": {"id": contact.pk, "name": contact.name}, "merged_from": None}
        send_event_on_commit(event, groups=[inbox_group(i) for i in sorted(inbox_ids)])
        webhooks.emit("contact.updated", {"contact": contact_payload(contact), "changes": sorted(changed)})
        logger.info("contact %s updated by %s: %s", contact.pk, getattr(actor, "pk", None), sorted(changed))
    return contact


def agent_set_availability(*, agent: Any, availability: str, actor: Any) -> Any:
    """Set an agent's availability (online, busy, offline); her inboxes see her presence change."""
    from conversations.models import AgentProfile, Availability
    from conversations.realtime import user_group

    if availability not in Availability.values:
        raise ServiceError(f"Unknown availability {availability!r}; use one of {', '.join(Availability.values)}.")
    if actor.pk != agent.pk and not is_supervisor(actor):
        raise ServiceError("Only a supervisor may change another agent's availability.")
    now = timezone.now()
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().select_related("user").get(user=agent)
        if profile.availability == availability:
            return profile
        profile.availability = availability
        profile.availability_changed_at = now
        profile.save(update_fields=["availability", "availability_changed_at"])
        if availability == Availability.ONLINE:
            _capacity_freed(agent.pk)
        inbox_ids = list(Inbox.objects.filter(members=agent).values_list("pk", flat=True))
        event = {"type": "presence", "user_id": agent.pk, "name": profile.name, "availability": availability}
        send_event_on_commit(event, groups=[*(inbox_group(i) for i in inbox_ids), user_group(agent.pk)])
    return profile


def agent_update_profile(*, agent: Any, changes: dict[str, Any], teams: Sequence[Any] | None, actor: Any) -> Any:
    """A supervisor changes an agent's capacity, skills, languages, channels or teams.

    More capacity or another team can make room for waiting conversations, so the queues are
    drained after commit.
    """
    from conversations.models import AgentProfile

    if not is_supervisor(actor):
        raise ServiceError("Only supervisors may change capacity, skills, languages, channels or teams.")
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().get(user=agent)
        previous_capacity = profile.capacity
        for key, value in changes.items():
            setattr(profile, key, value)
        try:
            profile.full_clean(exclude=["user"])
        except ValidationError as exc:
            raise ServiceError(exc.message_dict) from None
        if changes:
            profile.save(update_fields=list(changes))
        if teams is not None:
            profile.teams.set(teams)
        if profile.capacity > previous_capacity or teams is not None:
            _capacity_freed(agent.pk)
    return profile


def notification_mark_read(*, user: Any, notification_ids: Sequence[int] | None = None) -> int:
    """Mark ``user``'s notifications read (all unread ones when ``notification_ids`` is None); return how many."""
    from conversations.models import Notification

    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def conversation_delete(*, conversation: Conversation, actor: Any) -> None:
    """Delete a conversation with its messages, events and ratings. Supervisors only; it cannot be undone.

    The audit trail goes with it (its events are its rows), so the deletion itself is logged.
    """
    if actor is None or not is_supervisor(actor):
        raise ServiceError("Only a supervisor may delete conversations.")
    with transaction.atomic():
        conversation = _lock(conversation)
        conversation_id, inbox_id = conversation.pk, conversation.inbox_id
        # Ratings point at the resolution events that are about to go (PROTECT): remove them first.
        conversation.csat_responses.all().delete()
        conversation.delete()
        logger.warning("conversation %s (inbox %s) deleted by user %s", conversation_id, inbox_id, actor.pk)
