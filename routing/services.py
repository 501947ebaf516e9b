"""The assistant's changes of state: replies, handoffs, topic and priority, drafts, resolutions.

Like ``conversations.services``, each function runs in one transaction, locks the
conversation, writes, records a ConversationEvent and queues live events and sends on
commit, with the same helpers. :func:`assistant_process_message` is the one entry point for
an inbound customer message: it claims the message, decides (calling the backend outside
any transaction) and writes through the others.

Every customer-visible message the assistant writes for a customer message carries the
channel id ``assistant:<message id>``, unique per inbox: whatever retries or races happen,
one customer message gets at most one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.email.automated import is_automated
from conversations.models import (
    AssistantMode,
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventKind,
    Handler,
    Message,
    Priority,
    SenderKind,
    Status,
)
from conversations.realtime import inbox_group, send_event_on_commit
from conversations.services import (
    ServiceError,
    _append_message,
    _broadcast_conversation,
    _broadcast_message,
    _check_assignable,
    _enqueue_send,
    _lock,
    _record,
    _save,
    _set_status,
    conversation_set_priority,
    conversation_set_tags,
    message_send_reply,
)
from routing.assistant import get_backend, hooks, knowledge, summary, triage, triggers
from routing.assistant.types import AssistantContext, AssistantResult, Backend, Turn

logger = logging.getLogger(__name__)

HANDOFF_NOTICE = (
    "Thanks for your patience. I'm passing you to a member of our team, and someone will reply here as soon as "
    "they can."
)
HISTORY_TURNS = 10
DRAFT_PENDING, DRAFT_SENT, DRAFT_DISCARDED = "pending", "sent", "discarded"


def answer_key(message_id: int) -> str:
    """The channel id of the assistant's one answer to a customer message."""
    return f"assistant:{message_id}"


def _claim_lease() -> timedelta:
    # Longer than the slowest backend call (every retry timing out), so a live claim is never taken twice.
    attempts = settings.ANTHROPIC_MAX_RETRIES + 1
    return timedelta(seconds=settings.ANTHROPIC_TIMEOUT_SECONDS * attempts + 8 * attempts + 30)


def _state(conversation: Conversation) -> dict[str, Any]:
    return dict(conversation.assistant_state) if isinstance(conversation.assistant_state, dict) else {}


def _answered(state: dict[str, Any], message_id: int, *, updates: dict[str, Any] | None = None) -> dict[str, Any]:
    state = {**state, **(updates or {})}
    state["answered_up_to"] = max(int(state.get("answered_up_to") or 0), message_id)
    state.pop("claim", None)
    return state


def _assistant_message(
    conversation: Conversation,
    *,
    body: str,
    for_message_id: int | None,
    now: datetime,
    confidence: float | None = None,
    draft: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Message | None:
    """A message from the assistant, keyed on the customer message it answers; None when one exists already."""
    try:
        with transaction.atomic():
            return Message.objects.create(
                conversation=conversation,
                inbox_id=conversation.inbox_id,
                direction=Direction.OUTBOUND,
                sender_kind=SenderKind.ASSISTANT,
                is_private_note=draft,
                body=body,
                channel_message_id=answer_key(for_message_id) if for_message_id is not None else None,
                delivery_status="" if draft else DeliveryStatus.QUEUED,
                confidence=confidence,
                metadata=metadata or {},
                created_at=now,
            )
    except IntegrityError:
        return None


# --- Claiming a customer message ----------------------------------------------------------------


def assistant_claim(*, message: Message) -> bool:
    """Take the right to answer ``message``, with a conditional write under the conversation's lock.

    Refused when the conversation is not the assistant's, when this message (or a later one) was
    answered, when another run holds a live claim on it, or when a later customer message has
    arrived (its own run answers both).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(message.conversation)
        if conversation.handler != Handler.BOT:
            return False
        state = _state(conversation)
        if int(state.get("answered_up_to") or 0) >= message.pk:
            return False
        claim = state.get("claim") if isinstance(state.get("claim"), dict) else None
        if claim and int(claim.get("message_id") or 0) >= message.pk:
            claimed_at = parse_datetime(str(claim.get("at", "")))
            if claimed_at is not None and now - claimed_at < _claim_lease():
                return False
        later = Message.objects.filter(
            conversation=conversation, direction=Direction.INBOUND, pk__gt=message.pk
        ).exists()
        if later:
            return False
        state["claim"] = {"message_id": message.pk, "at": now.isoformat()}
        conversation.assistant_state = state
        conversation.save(update_fields=["assistant_state"])
    return True


def assistant_claim_wait(*, message: Message) -> float | None:
    """Seconds until another run's live claim on ``message`` runs out; None when nobody holds one.

    A run refused because of such a claim must not end there: the claim may belong to a run whose
    worker was killed, and then nobody else would ever answer the message.
    """
    state = _state(Conversation.objects.only("assistant_state").get(pk=message.conversation_id))
    if int(state.get("answered_up_to") or 0) >= message.pk:
        return None
    claim = state.get("claim") if isinstance(state.get("claim"), dict) else None
    if not claim or int(claim.get("message_id") or 0) != message.pk:
        return None
    claimed_at = parse_datetime(str(claim.get("at", "")))
    if claimed_at is None:
        return None
    left = (claimed_at + _claim_lease() - timezone.now()).total_seconds()
    return left if left > 0 else None


# --- Replies, drafts and handoffs ---------------------------------------------------------------


def assistant_reply(
    *,
    conversation: Conversation,
    for_message: Message,
    body: str,
    confidence: float | None,
    state_updates: dict[str, Any] | None = None,
    article_ids: Sequence[int] = (),
) -> Message | None:
    """The assistant answers the customer. None when the conversation is no longer the assistant's,
    or when ``for_message`` already has its answer."""
    body = body.strip()
    if not body:
        raise ServiceError("An assistant reply needs text.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.handler != Handler.BOT:
            return None
        message = _assistant_message(
            conversation,
            body=body,
            for_message_id=for_message.pk,
            now=now,
            confidence=confidence,
            metadata={"articles": list(article_ids)} if article_ids else None,
        )
        if message is None:
            return None
        changed = _append_message(conversation, message, now=now)
        if conversation.waiting_since is not None:
            conversation.waiting_since = None
            changed.append("waiting_since")
        conversation.assistant_state = _answered(_state(conversation), for_message.pk, updates=state_updates)
        changed.append("assistant_state")
        _record(
            conversation,
            EventKind.MESSAGE_OUT,
            actor_kind=SenderKind.ASSISTANT,
            message=message,
            data={"confidence": confidence, "articles": list(article_ids)},
            at=now,
        )
        _save(conversation, changed, now=now)
        _broadcast_message(message, conversation)
        _broadcast_conversation(conversation, changes=changed)
        _enqueue_send(message)
    return message


def assistant_draft_create(
    *,
    conversation: Conversation,
    for_message: Message,
    body: str,
    confidence: float | None,
    state_updates: dict[str, Any] | None = None,
    article_ids: Sequence[int] = (),
) -> Message | None:
    """A draft answer for an agent to review (email draft mode).

    It is a private note from the assistant, flagged ``metadata["assistant_draft"] == "pending"``:
    notes are never queued for sending, so a draft cannot reach the customer by accident; only
    :func:`assistant_draft_send` sends its text, as the agent's own reply.
    """
    body = body.strip()
    if not body:
        raise ServiceError("A draft needs text.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.handler != Handler.BOT:
            return None
        draft = _assistant_message(
            conversation,
            body=body,
            for_message_id=for_message.pk,
            now=now,
            confidence=confidence,
            draft=True,
            metadata={"assistant_draft": DRAFT_PENDING, "for_message": for_message.pk, "articles": list(article_ids)},
        )
        if draft is None:
            return None
        conversation.assistant_state = _answered(
            _state(conversation), for_message.pk, updates={**(state_updates or {}), "draft_id": draft.pk}
        )
        _record(
            conversation,
            EventKind.NOTE,
            actor_kind=SenderKind.ASSISTANT,
            message=draft,
            data={"draft": True, "confidence": confidence},
            at=now,
        )
        _save(conversation, ["assistant_state"], now=now)
        _broadcast_message(draft, conversation)
        _broadcast_draft(draft, conversation)
    return draft


class DraftAlreadyReviewed(ServiceError):
    """The draft was sent or discarded before (a second click, or another agent first)."""


def draft_status(message: Message) -> str:
    """pending, sent or discarded; "" for a message that is not an assistant draft."""
    metadata = message.metadata if isinstance(message.metadata, dict) else {}
    status = metadata.get("assistant_draft")
    return status if status in (DRAFT_PENDING, DRAFT_SENT, DRAFT_DISCARDED) else ""


def draft_payload(draft: Message) -> dict[str, Any]:
    metadata = draft.metadata if isinstance(draft.metadata, dict) else {}
    reviewed_by = metadata.get("reviewed_by")
    sent_as = metadata.get("sent_as")
    return {
        "id": draft.pk,
        "conversation_id": draft.conversation_id,
        "status": draft_status(draft),
        "body": draft.body,
        "confidence": draft.confidence,
        "for_message_id": metadata.get("for_message") if isinstance(metadata.get("for_message"), int) else None,
        "sent_message_id": sent_as if isinstance(sent_as, int) else None,
        "reviewed_by_id": reviewed_by if isinstance(reviewed_by, int) else None,
        "edited": bool(metadata.get("edited", False)),
    }


def _broadcast_draft(draft: Message, conversation: Conversation) -> None:
    # Agents only: a draft is a private note until an agent sends it, so never the visitor's group.
    send_event_on_commit(
        {"type": "draft.updated", "draft": draft_payload(draft)}, groups=[inbox_group(conversation.inbox_id)]
    )


def _lock_pending_draft(conversation: Conversation, draft: Message) -> Message:
    """The draft, locked after its conversation (the order every service takes), if it is still pending."""
    locked = Message.objects.select_for_update().filter(pk=draft.pk, conversation=conversation).first()
    if locked is None or not draft_status(locked):
        raise ServiceError("This message is not a draft of this conversation.")
    if draft_status(locked) != DRAFT_PENDING:
        raise DraftAlreadyReviewed(f"This draft was already {draft_status(locked)}.")
    return locked


def assistant_draft_send(*, draft: Message, agent: Any, body: str | None = None) -> Message:
    """An agent sends the assistant's draft, edited or as it is, as her own reply.

    The reply goes through :func:`message_send_reply` (queued, handed to the channel after
    commit). The draft is locked and checked in the same transaction, so a second click, or a
    second agent at the same moment, is refused rather than sending the text twice.
    """
    with transaction.atomic():
        conversation = _lock(draft.conversation)
        draft = _lock_pending_draft(conversation, draft)
        text = (draft.body if body is None else body).strip()
        if not text:
            raise ServiceError("A reply needs text.")
        reply = message_send_reply(conversation=conversation, author=agent, body=text)
        draft.metadata = {
            **draft.metadata,
            "assistant_draft": DRAFT_SENT,
            "sent_as": reply.pk,
            "edited": text != draft.body.strip(),
            "reviewed_by": agent.pk,
        }
        draft.save(update_fields=["metadata"])
        _record(conversation, EventKind.NOTE, actor=agent, message=draft, data={"draft": DRAFT_SENT, "reply": reply.pk})
        _broadcast_draft(draft, conversation)
    return reply


def assistant_draft_discard(*, draft: Message, actor: Any) -> Message:
    """An agent throws the assistant's draft away; it stays in the thread as a discarded note."""
    with transaction.atomic():
        conversation = _lock(draft.conversation)
        _check_assignable(conversation, actor)
        draft = _lock_pending_draft(conversation, draft)
        draft.metadata = {**draft.metadata, "assistant_draft": DRAFT_DISCARDED, "reviewed_by": actor.pk}
        draft.save(update_fields=["metadata"])
        _record(conversation, EventKind.NOTE, actor=actor, message=draft, data={"draft": DRAFT_DISCARDED})
        _broadcast_draft(draft, conversation)
    return draft


def _customer_texts(conversation: Conversation, *, limit: int = 20) -> list[str]:
    bodies = (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)[:limit]
    )
    return [b for b in reversed(list(bodies)) if b and b.strip()]


def assistant_handoff(
    *,
    conversation: Conversation,
    reason: str,
    for_message: Message | None = None,
    detail: str = "",
    notify_customer: bool = True,
    intake_answers: Sequence[tuple[str, str]] = (),
) -> bool:
    """Hand the conversation to a person: tell the customer, write a summary, record the reason.

    Returns False when it is no longer the assistant's (an agent or a rule took it meanwhile).
    Routing and notifications hear of it through ``routing.assistant.hooks.on_handoff`` after commit.
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.handler != Handler.BOT:
            return False
        conversation.handler = Handler.HUMAN
        conversation.handed_off_at = now
        conversation.summary = summary.summarize(
            _customer_texts(conversation), topic=conversation.topic, reason=reason, intake=intake_answers
        )
        changed = ["handler", "handed_off_at", "summary"]
        _record(
            conversation,
            EventKind.HANDOFF,
            actor_kind=SenderKind.ASSISTANT,
            message=for_message,
            data={"reason": reason, "detail": detail[:200]},
            at=now,
        )
        if notify_customer:
            notice = _assistant_message(
                conversation, body=HANDOFF_NOTICE, for_message_id=for_message.pk if for_message else None, now=now
            )
            if notice is not None:
                changed += _append_message(conversation, notice, now=now)
                _record(conversation, EventKind.MESSAGE_OUT, actor_kind=SenderKind.ASSISTANT, message=notice, at=now)
                _broadcast_message(notice, conversation)
                _enqueue_send(notice)
        if conversation.waiting_since is None and conversation.status in (Status.ACTIVE, Status.PENDING):
            # The customer now waits for a person, from the message that led here.
            conversation.waiting_since = for_message.created_at if for_message else now
            changed.append("waiting_since")
        state = _state(conversation)
        if for_message is not None:
            state = _answered(state, for_message.pk)
        state["handoff_reason"] = reason
        conversation.assistant_state = state
        changed.append("assistant_state")
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
        conversation_id = conversation.pk
        transaction.on_commit(lambda: hooks.on_handoff(conversation_id))
    return True


# --- Triage -------------------------------------------------------------------------------------


def assistant_set_topic(*, conversation: Conversation, topic: str) -> Conversation:
    """Set the conversation's topic and tag it with the topic's name (the previous topic tag goes)."""
    topic = topic.strip().lower()[:50]
    if not topic:
        raise ServiceError("A topic needs a name.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.topic
        if previous == topic:
            return conversation
        conversation.topic = topic
        _record(conversation, EventKind.TOPIC, actor_kind=SenderKind.ASSISTANT, data={"from": previous, "to": topic})
        _save(conversation, ["topic"], now=now)
        _broadcast_conversation(conversation, changes=["topic"])
        conversation = conversation_set_tags(
            conversation=conversation, actor=None, add=[topic], remove=[previous] if previous else []
        )
    return conversation


def assistant_set_summary(*, conversation: Conversation, text: str) -> Conversation:
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.summary == text:
            return conversation
        conversation.summary = text[:2000]
        _save(conversation, ["summary"])
        _broadcast_conversation(conversation, changes=["summary"])
    return conversation


def assistant_raise_priority(*, conversation: Conversation, priority: Priority, reason: str) -> bool:
    """Raise the priority from triage; never lowers it, and never touches one that a person set."""
    with transaction.atomic():
        conversation = _lock(conversation)
        if priority <= conversation.priority:
            return False
        last = (
            ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.PRIORITY)
            .order_by("-created_at", "-id")
            .first()
        )
        if last is not None and last.actor_id is not None:
            return False
        conversation_set_priority(conversation=conversation, priority=int(priority), actor=None, reason=reason)
    return True


def assistant_resolve(*, conversation: Conversation) -> bool:
    """Resolve a conversation the assistant handled to the end, without a handoff (for the timers).

    Records ASSISTANT_RESOLVED besides the status change; False when a person was involved or it
    is already closed.
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.handler != Handler.BOT or conversation.status not in (Status.ACTIVE, Status.PENDING):
            return False
        if ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.HANDOFF).exists():
            return False
        changed = _set_status(conversation, Status.RESOLVED, actor=None, now=now, reason="assistant_resolved")
        _record(conversation, EventKind.ASSISTANT_RESOLVED, actor_kind=SenderKind.ASSISTANT, at=now)
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
    return True


# --- The assistant's turn -----------------------------------------------------------------------


def _pending_customer_messages(conversation: Conversation, message: Message) -> list[Message]:
    """The customer messages up to ``message`` that the assistant has not answered yet."""
    answered = int(_state(conversation).get("answered_up_to") or 0)
    return list(
        Message.objects.filter(
            conversation=conversation, direction=Direction.INBOUND, pk__gt=answered, pk__lte=message.pk
        ).order_by("pk")
    )


def _history(conversation: Conversation, before_id: int) -> tuple[Turn, ...]:
    rows = list(
        Message.objects.filter(conversation=conversation, is_private_note=False, pk__lt=before_id)
        .order_by("-pk")
        .only("direction", "sender_kind", "body")[:HISTORY_TURNS]
    )
    turns = []
    for row in reversed(rows):
        if not row.body.strip():
            continue
        if row.direction == Direction.INBOUND:
            turns.append(Turn("customer", row.body))
        else:
            turns.append(Turn("assistant" if row.sender_kind == SenderKind.ASSISTANT else "agent", row.body))
    return tuple(turns)


def _link_hosts(articles: Sequence[knowledge.ScoredArticle]) -> frozenset[str]:
    own = [urlsplit(settings.PUBLIC_BASE_URL).hostname or "", getattr(settings, "COMPANY_DOMAIN", "")]
    return frozenset(knowledge.allowed_link_hosts([s.article for s in articles], own))


def _triage(conversation: Conversation, text: str, articles: Sequence[knowledge.ScoredArticle]) -> None:
    result = triage.triage(text, articles)
    if result.topic and (not conversation.topic or conversation.topic == triage.GENERAL):
        assistant_set_topic(conversation=conversation, topic=result.topic)
    vip = conversation.contact.is_vip
    wanted = triage.priority_for(urgency_level=result.urgency, sentiment_score=result.sentiment, vip=vip)
    if wanted > conversation.priority:
        reasons = [f"urgency {result.urgency}"] if result.urgency != "normal" else []
        if result.sentiment <= -0.5:
            reasons.append("unhappy customer")
        if vip:
            reasons.append("VIP contact")
        assistant_raise_priority(
            conversation=conversation, priority=wanted, reason="assistant triage: " + ", ".join(reasons)
        )


def _intake_step(
    conversation: Conversation, message: Message, answer: str, questions: list[str], notify: bool
) -> str | None:
    """Ask the next intake question, or hand off with the answers once all are in; None when done before."""
    state = _state(conversation)
    raw_intake = state.get("intake")
    intake: dict[str, Any] = raw_intake if isinstance(raw_intake, dict) else {}
    if intake.get("done"):
        return None
    answers: list[str] = [a for a in intake.get("answers", []) if isinstance(a, str)]
    asked = intake.get("asked")
    if isinstance(asked, int) and 0 <= asked < len(questions) and len(answers) == asked:
        answers.append(answer.strip()[:1000])
    next_index = len(answers)
    if next_index < len(questions):
        updates = {"intake": {"asked": next_index, "answers": answers}}
        if notify:
            assistant_reply(
                conversation=conversation,
                for_message=message,
                body=questions[next_index],
                confidence=None,
                state_updates=updates,
            )
        else:
            assistant_draft_create(
                conversation=conversation,
                for_message=message,
                body=questions[next_index],
                confidence=None,
                state_updates=updates,
            )
        return "intake_question"
    _set_state(conversation, {"intake": {"asked": intake.get("asked"), "answers": answers, "done": True}})
    assistant_handoff(
        conversation=conversation,
        reason="intake_complete",
        for_message=message,
        notify_customer=notify,
        intake_answers=list(zip(questions, answers, strict=False)),
    )
    return "handoff:intake_complete"


def _set_state(conversation: Conversation, updates: dict[str, Any]) -> None:
    with transaction.atomic():
        locked = _lock(conversation)
        locked.assistant_state = {**_state(locked), **updates}
        locked.save(update_fields=["assistant_state"])


def assistant_process_message(*, message: Message, backend: Backend | None = None) -> str:
    """The assistant's turn after a customer message: triage, then answer, draft or hand off.

    Returns what happened, for logs and tests ("reply", "draft", "handoff:<reason>", or why it
    stayed silent). Safe to run twice for the same message: the second run finds it answered.
    """
    message = Message.objects.select_related("conversation__inbox", "conversation__contact").get(pk=message.pk)
    conversation = message.conversation
    inbox = conversation.inbox
    if message.direction != Direction.INBOUND or message.sender_kind != SenderKind.CONTACT:
        return "skipped:not_customer"
    if not inbox.assistant_enabled:
        return "skipped:disabled"
    if is_automated(message):
        return "skipped:automated"

    pending = _pending_customer_messages(conversation, message) or [message]
    text = "\n".join(m.body or m.subject for m in pending).strip()
    if not text:
        return "skipped:empty"
    articles = knowledge.search_articles(text, inbox_id=inbox.pk, limit=3)
    _triage(conversation, text, articles)
    if conversation.handler != Handler.BOT:
        return "skipped:human"
    if not assistant_claim(message=message):
        return "skipped:claimed"
    conversation.refresh_from_db()
    notify = inbox.assistant_mode != AssistantMode.DRAFT

    trigger = triggers.customer_trigger(text, keywords=triggers.handoff_keywords(inbox.handoff_keywords))
    if trigger is not None:
        assistant_handoff(
            conversation=conversation,
            reason=trigger.reason,
            detail=trigger.detail,
            for_message=message,
            notify_customer=notify,
        )
        return f"handoff:{trigger.reason}"

    questions = [q for q in (inbox.intake_questions or []) if isinstance(q, str) and q.strip()]
    if questions:
        outcome = _intake_step(conversation, message, text, questions, notify)
        if outcome is not None:
            return outcome

    context = AssistantContext(
        message=text,
        history=_history(conversation, pending[0].pk),
        articles=tuple(articles),
        channel=inbox.kind,
        company_name=settings.COMPANY_NAME,
        topics=tuple(triage.topics()),
        allowed_link_hosts=_link_hosts(articles),
    )
    result: AssistantResult = (backend or get_backend()).answer(context)
    return _apply(conversation, message, result, notify=notify, link_hosts=context.allowed_link_hosts)


def _apply(
    conversation: Conversation,
    message: Message,
    result: AssistantResult,
    *,
    notify: bool,
    link_hosts: frozenset[str] = frozenset(),
) -> str:
    inbox = conversation.inbox
    if result.topic and conversation.topic in ("", triage.GENERAL) and result.topic != conversation.topic:
        assistant_set_topic(conversation=conversation, topic=result.topic)
    if result.is_handoff:
        assistant_handoff(
            conversation=conversation,
            reason=result.handoff_reason or "assistant_decided",
            for_message=message,
            notify_customer=notify,
        )
        return f"handoff:{result.handoff_reason or 'assistant_decided'}"
    fallbacks = int(_state(conversation).get("fallbacks") or 0)
    if result.confidence < inbox.confidence_threshold:
        fallbacks += 1
        if inbox.fallback_handoff_after and fallbacks >= inbox.fallback_handoff_after:
            assistant_handoff(
                conversation=conversation,
                reason="repeated_fallback",
                detail=f"{fallbacks} low-confidence answers in a row",
                for_message=message,
                notify_customer=notify,
            )
            return "handoff:repeated_fallback"
    else:
        fallbacks = 0
    write = assistant_reply if notify else assistant_draft_create
    written = write(
        conversation=conversation,
        for_message=message,
        # Whatever the backend: links only to the knowledge base's hosts and the company's own.
        body=knowledge.strip_disallowed_links(result.reply, set(link_hosts)),
        confidence=result.confidence,
        state_updates={"fallbacks": fallbacks},
        article_ids=result.article_ids,
    )
    if written is None:
        return "skipped:answered"
    return "reply" if notify else "draft"
