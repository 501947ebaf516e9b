"""SLA targets of a conversation: when each starts, warns, is due, and how it ends.

A policy has up to three targets, each counted in wall-clock time or in its business hours:

- **first response**: from when the customer starts waiting for a person (the first message of
  a conversation a person handles, or the message that led to a handoff) to the first reply by
  an agent;
- **next response**: from each later customer message that finds no one answering, to the next
  agent reply;
- **resolution**: from when a person becomes responsible (creation, handoff, reopening) to the
  resolution.

The clocks run only while a person is to answer: a person handles the conversation, or the
assistant only drafts answers for a person to send (email draft mode). An assistant answering
by itself answers at once and has no SLA. Pending and snoozed conversations keep their clocks:
the customer is still waiting. Targets are kept in ``Conversation.sla_targets`` (one cycle per target: started,
warns at, due at, warning and breach recorded, outcome) and mirrored in indexed columns: the
``*_due_at`` of each running target, and ``sla_warn_at`` / ``sla_breach_at``, the next warning
and breach still to record. The sweeps look only at those two partial indexes, so a sweep
costs O(due); a row's own lock decides who records a warning or breach, so each is recorded
once however many workers sweep.

The functions taking a ``conversation`` change it in memory and return the fields they changed;
the conversation services call them under the conversation's lock, and save.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations.business_hours import add_business_minutes, business_minutes_between
from conversations.models import (
    OPEN_STATUSES,
    AssistantMode,
    Conversation,
    ConversationEvent,
    EventKind,
    Handler,
    NotificationKind,
    SenderKind,
    SLAPolicy,
)

logger = logging.getLogger(__name__)

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
RESPONSE_TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE)
DUE_FIELDS = {
    FIRST_RESPONSE: "first_response_due_at",
    NEXT_RESPONSE: "next_response_due_at",
    RESOLUTION: "resolution_due_at",
}
TARGET_MINUTES = {
    FIRST_RESPONSE: "first_response_minutes",
    NEXT_RESPONSE: "next_response_minutes",
    RESOLUTION: "resolution_minutes",
}
TARGET_LABELS = {FIRST_RESPONSE: "first response", NEXT_RESPONSE: "next response", RESOLUTION: "resolution"}
COLUMNS = (*DUE_FIELDS.values(), "sla_targets", "sla_warn_at", "sla_breach_at")

# What the API shows.
ON_TRACK, WARNING, BREACHED, MET = "on_track", "warning", "breached", "met"

BATCH_SIZE = 200


def _iso(value: datetime) -> str:
    return value.isoformat()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _policy(conversation: Conversation) -> SLAPolicy | None:
    policy = conversation.sla_policy
    return policy if policy is not None and policy.is_active else None


def _person_answers(conversation: Conversation) -> bool:
    """A person handles it, or the assistant only drafts answers for a person to send (email draft mode)."""
    inbox = conversation.inbox
    drafts_only = inbox.assistant_enabled and inbox.assistant_mode == AssistantMode.DRAFT
    return conversation.handler == Handler.HUMAN or drafts_only


def _running(targets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: entry for name, entry in targets.items() if entry.get("outcome") is None}


def _timed(policy: SLAPolicy, target: str, started: datetime) -> dict[str, Any] | None:
    minutes = getattr(policy, TARGET_MINUTES[target])
    if not minutes:
        return None
    hours = policy.business_hours
    return {
        "policy": policy.pk,
        "started_at": _iso(started),
        "warn_at": _iso(add_business_minutes(hours, started, minutes * policy.warning_fraction)),
        "due_at": _iso(add_business_minutes(hours, started, minutes)),
    }


def _start(targets: dict[str, Any], policy: SLAPolicy, target: str, started: datetime) -> None:
    timed = _timed(policy, target, started)
    if timed is not None:
        targets[target] = {**timed, "warned": False, "breached": False, "outcome": None, "closed_at": None}


def _apply(conversation: Conversation, targets: dict[str, Any]) -> list[str]:
    """Store ``targets`` and mirror them in the indexed columns; the fields that changed."""
    running = _running(targets)
    values: dict[str, Any] = {
        field: _at(running[target]["due_at"]) if target in running else None for target, field in DUE_FIELDS.items()
    }
    warns = [_at(e["warn_at"]) for e in running.values() if not e["warned"]]
    breaches = [_at(e["due_at"]) for e in running.values() if not e["breached"]]
    values["sla_warn_at"] = min(warns, default=None)
    values["sla_breach_at"] = min(breaches, default=None)
    values["sla_targets"] = targets
    changed = [field for field, value in values.items() if getattr(conversation, field) != value]
    for field in changed:
        setattr(conversation, field, values[field])
    return changed


def track(conversation: Conversation, *, now: datetime) -> list[str]:
    """Start the targets that should be running now, and re-time running ones for a changed policy.

    Call after anything that can start a clock: a customer message, a handoff, a reopening, a
    new policy.
    """
    policy = _policy(conversation)
    targets: dict[str, Any] = {name: dict(entry) for name, entry in (conversation.sla_targets or {}).items()}
    if policy is None:
        targets = {name: entry for name, entry in targets.items() if entry.get("outcome") is not None}
        return _apply(conversation, targets)
    for name, entry in _running(targets).items():
        if entry.get("policy") != policy.pk:
            timed = _timed(policy, name, _at(entry["started_at"]))
            if timed is None:
                del targets[name]
            else:
                entry.update(timed)
    running = _running(targets)
    if _person_answers(conversation) and conversation.status in OPEN_STATUSES:
        if RESOLUTION not in running:
            _start(targets, policy, RESOLUTION, now)
        waiting = conversation.waiting_since
        if waiting is not None:
            if conversation.first_response_at is None and FIRST_RESPONSE not in running:
                _start(targets, policy, FIRST_RESPONSE, waiting)
            elif conversation.first_response_at is not None and NEXT_RESPONSE not in running:
                _start(targets, policy, NEXT_RESPONSE, waiting)
    return _apply(conversation, targets)


def _event(conversation: Conversation, kind: str, data: dict[str, Any], *, now: datetime) -> None:
    ConversationEvent.objects.create(
        conversation=conversation, kind=kind, actor_kind=SenderKind.SYSTEM, data=data, created_at=now
    )


def _target_data(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"target": name, "started_at": entry["started_at"], "due_at": entry["due_at"], "policy": entry["policy"]}


def close(conversation: Conversation, *, targets: Iterable[str], now: datetime) -> list[str]:
    """End the running ``targets``: each is met when it ends by its due time, missed otherwise.

    A miss whose breach the sweep has not recorded yet records it now, so that every missed
    target has exactly one breach.
    """
    state: dict[str, Any] = {name: dict(entry) for name, entry in (conversation.sla_targets or {}).items()}
    running = _running(state)
    policy = _policy(conversation)
    hours = policy.business_hours if policy is not None else None
    for name in targets:
        entry = running.get(name)
        if entry is None:
            continue
        met = now <= _at(entry["due_at"])
        if not met and not entry["breached"]:
            _event(conversation, EventKind.SLA_BREACH, {**_target_data(name, entry), "late": True}, now=now)
            entry["breached"] = True
        entry["outcome"] = "met" if met else "missed"
        entry["closed_at"] = _iso(now)
        elapsed = business_minutes_between(hours, _at(entry["started_at"]), now)
        _event(
            conversation,
            EventKind.SLA_MET if met else EventKind.SLA_MISSED,
            {**_target_data(name, entry), "minutes": round(elapsed, 2)},
            now=now,
        )
    return _apply(conversation, state)


def close_all(conversation: Conversation, *, now: datetime) -> list[str]:
    return close(conversation, targets=TARGETS, now=now)


# --- What the API shows ----------------------------------------------------------------------


def summary(conversation: Conversation, *, now: datetime | None = None) -> dict[str, Any]:
    """The SLA state from the conversation's own columns (no queries): for the list and the detail.

    Each target of the current cycle is on track, warning (past its warning time), breached
    (overdue, or ended late) or met. The conversation's state is the worst of them, so a missed
    first response stays visible; ``met`` once every target has ended in time; None without
    targets. ``due_at`` is the nearest due time still running.
    """
    now = now or timezone.now()
    targets = conversation.sla_targets or {}
    detail: dict[str, Any] = {}
    for name in TARGETS:
        entry = targets.get(name)
        if entry is None:
            continue
        due = _at(entry["due_at"])
        if entry.get("outcome") is not None:
            state = MET if entry["outcome"] == "met" else BREACHED
        elif now >= due:
            state = BREACHED
        elif now >= _at(entry["warn_at"]):
            state = WARNING
        else:
            state = ON_TRACK
        detail[name] = {"state": state, "due_at": due, "outcome": entry.get("outcome")}
    states = {e["state"] for e in detail.values()}
    overall = next((s for s in (BREACHED, WARNING, ON_TRACK, MET) if s in states), None)
    pending = [e["due_at"] for e in detail.values() if e["outcome"] is None]
    return {"state": overall, "due_at": min(pending, default=None), "targets": detail}


# --- Warnings and breaches: the sweeps -------------------------------------------------------


def warnings_due(now: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(sla_warn_at__lte=now).order_by("sla_warn_at")


def breaches_due(now: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(sla_breach_at__lte=now).order_by("sla_breach_at")


def _recipients(conversation: Conversation) -> list[int]:
    ids = [conversation.assignee_id] if conversation.assignee_id else []
    if conversation.team is not None:
        ids += list(conversation.team.supervisors.values_list("pk", flat=True))
    return ids


def conversation_sla_fire(*, conversation: Conversation, now: datetime) -> list[str]:
    """Record the warnings and breaches that are due on a conversation locked by the caller.

    Returns what was recorded (e.g. ``["warning:first_response"]``). A warning whose target is
    already past due is folded into its breach.
    """
    from conversations import notifications
    from conversations.services import _broadcast_conversation, _save

    state: dict[str, Any] = {name: dict(entry) for name, entry in (conversation.sla_targets or {}).items()}
    fired: list[str] = []
    for name, entry in _running(state).items():
        due = _at(entry["due_at"])
        if not entry["warned"] and _at(entry["warn_at"]) <= now:
            entry["warned"] = True
            if due > now:
                _event(conversation, EventKind.SLA_WARNING, _target_data(name, entry), now=now)
                fired.append(f"warning:{name}")
        if not entry["breached"] and due <= now:
            entry["breached"] = True
            _event(conversation, EventKind.SLA_BREACH, _target_data(name, entry), now=now)
            fired.append(f"breach:{name}")
    changed = _apply(conversation, state)
    if changed:
        _save(conversation, changed, now=now)
    if not fired:
        return fired
    _broadcast_conversation(conversation, changes=["sla"])
    recipients = _recipients(conversation)
    who = conversation.contact.name or f"conversation #{conversation.pk}"
    for item in fired:
        kind, name = item.split(":")
        entry = state[name]
        label = TARGET_LABELS[name]
        if kind == "warning":
            notifications.notify(
                recipient_ids=recipients,
                kind=NotificationKind.SLA_WARNING,
                conversation=conversation,
                actor=None,
                title=f"SLA warning: {label} for {who}",
                body=f"The {label} is due at {entry['due_at']}.",
            )
        else:
            notifications.notify(
                recipient_ids=recipients,
                kind=NotificationKind.SLA_BREACH,
                conversation=conversation,
                actor=None,
                title=f"SLA breached: {label} for {who}",
                body=f"The {label} was due at {entry['due_at']}.",
            )
    return fired


def _sweep(due: Callable[[datetime], QuerySet[Conversation]]) -> list[str]:
    """Fire every due conversation, one bounded batch per transaction, rows claimed with SKIP LOCKED."""
    fired: list[str] = []
    while True:
        now = timezone.now()
        with transaction.atomic():
            batch = list(
                due(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("inbox", "contact", "team", "sla_policy")[:BATCH_SIZE]
            )
            for conversation in batch:
                fired += conversation_sla_fire(conversation=conversation, now=now)
        if len(batch) < BATCH_SIZE:
            return fired


def run_sla_timers() -> dict[str, int]:
    """One pass of the SLA sweeps: how many warnings and breaches were recorded."""
    fired = _sweep(warnings_due) + _sweep(breaches_due)
    result = {
        "warnings": sum(item.startswith("warning:") for item in fired),
        "breaches": sum(item.startswith("breach:") for item in fired),
    }
    if any(result.values()):
        logger.info("SLA timers recorded %s", result)
    return result
