"""Routing's changes of state: applying rules, assigning from the team queue, reassigning the unanswered.

Each function runs in a transaction, locks the conversation it changes, and goes through the
conversation services (``conversation_assign``, ``conversation_set_tags``, ``conversation_set_priority``)
so the audit trail, live updates and webhooks are the same as for a person doing it. The choice of
agent and its race safety live in ``routing.assignment``; rule matching in ``routing.engine``.

When to call what (the lead wires these up, after commit, through ``routing.routing_tasks``):

- a conversation is created, or handed off from the assistant: ``route_conversation``;
- an agent resolves a conversation, comes online or gets more capacity: ``on_capacity_freed``;
- every minute: ``sweep_queues`` (safety net) and ``reassign_unanswered``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations import sla
from conversations.models import (
    Conversation,
    EventKind,
    Handler,
    Message,
    SenderKind,
    SLAPolicy,
    Status,
    Team,
)
from conversations.services import (
    ServiceError,
    _broadcast_conversation,
    _lock,
    _record,
    _save,
    conversation_assign,
    conversation_set_priority,
    conversation_set_tags,
)
from core import outbox
from routing import assignment, engine
from routing.models import RoutingRule

logger = logging.getLogger(__name__)

EVENT_SLA_POLICY = EventKind.SLA_POLICY
EVENT_REASSIGNED = EventKind.REASSIGNED

TRIGGERS = ("created", "handoff", "manual")
DRAIN_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class RoutingResult:
    conversation_id: int
    applied_rule_ids: tuple[int, ...] = ()
    assignee_id: int | None = None
    queued: bool = False


# --- Small services for what rules change ----------------------------------------------------


def conversation_set_team(*, conversation: Conversation, team: Team, actor: Any, reason: str = "") -> Conversation:
    """Put the conversation in ``team``'s hands without touching its handler or assignee.

    Unlike ``conversation_transfer`` this does not hand off from the assistant: rules set the team
    of a conversation the assistant is still handling, ready for the moment it hands off.
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.team_id
        if previous == team.pk:
            return conversation
        conversation.team = team
        _record(
            conversation,
            EventKind.TRANSFERRED,
            actor=actor,
            data={"from_team": previous, "to_team": team.pk, "note": "", "reason": reason[:200]},
            at=now,
        )
        _save(conversation, ["team"], now=now)
        _broadcast_conversation(conversation, changes=["team"])
    return conversation


def conversation_set_sla_policy(
    *, conversation: Conversation, sla_policy: SLAPolicy | None, actor: Any, reason: str = ""
) -> Conversation:
    """Choose the SLA policy that the conversation's targets are measured against."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.sla_policy_id
        new = sla_policy.pk if sla_policy is not None else None
        if previous == new:
            return conversation
        conversation.sla_policy = sla_policy
        _record(conversation, EVENT_SLA_POLICY, actor=actor, data={"from": previous, "to": new, "reason": reason[:200]})
        changed = ["sla_policy", *sla.track(conversation, now=now)]  # running targets are re-timed
        _save(conversation, changed, now=now)
        _broadcast_conversation(conversation, changes=changed)
    return conversation


# --- Rules -----------------------------------------------------------------------------------


def _apply_rule(conversation: Conversation, rule: RoutingRule, *, trigger: str) -> tuple[Conversation, int | None]:
    """Apply one rule's actions; return the fresh conversation and the agent the rule prefers."""
    actions: dict[str, Any] = rule.actions if isinstance(rule.actions, dict) else {}
    reason = f"rule {rule.pk}: {rule.name}"
    skipped: dict[str, str] = {}
    preferred_agent: int | None = None
    if "team" in actions:
        team = Team.objects.filter(pk=actions["team"]).first()
        if team is None:
            skipped["team"] = "no such team"
        else:
            conversation = conversation_set_team(conversation=conversation, team=team, actor=None, reason=reason)
    if actions.get("tags"):
        try:
            conversation = conversation_set_tags(conversation=conversation, actor=None, add=actions["tags"])
        except ServiceError as exc:
            skipped["tags"] = "; ".join(exc.messages)
    if "priority" in actions:
        try:
            conversation = conversation_set_priority(
                conversation=conversation, priority=str(actions["priority"]), actor=None, reason=reason
            )
        except ServiceError as exc:
            skipped["priority"] = "; ".join(exc.messages)
    if "sla_policy" in actions:
        policy = SLAPolicy.objects.filter(pk=actions["sla_policy"], is_active=True).first()
        if policy is None:
            skipped["sla_policy"] = "no such active policy"
        else:
            conversation = conversation_set_sla_policy(
                conversation=conversation, sla_policy=policy, actor=None, reason=reason
            )
    if "agent" in actions:
        preferred_agent = int(actions["agent"])
    data: dict[str, Any] = {"rule_id": rule.pk, "rule_name": rule.name, "trigger": trigger, "actions": actions}
    if skipped:
        data["skipped"] = skipped
    _record(conversation, EventKind.RULE_APPLIED, actor_kind=SenderKind.SYSTEM, data=data)
    return conversation, preferred_agent


def route_conversation(conversation_id: int, *, trigger: str, message_id: int | None = None) -> RoutingResult:
    """Apply the matching routing rules, then assign an agent if a human should handle it now.

    ``trigger`` says why (``created``, ``handoff``); ``message_id`` is the customer message whose
    words the keyword conditions read (default: the last inbound message). A conversation that
    nobody can take stays unassigned in its team's queue.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown routing trigger {trigger!r}")
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("inbox", "contact", "team")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or conversation.status not in (Status.ACTIVE, Status.PENDING):
            return RoutingResult(conversation_id)
        message = None
        if message_id is not None:
            message = Message.objects.filter(pk=message_id, conversation_id=conversation_id).first()
        facts = engine.RoutingFacts.of(conversation, message=message)
        applied: list[int] = []
        preferred_agent: int | None = None
        for rule in engine.matching_rules(facts):
            conversation, agent = _apply_rule(conversation, rule, trigger=trigger)
            preferred_agent = agent if agent is not None else preferred_agent
            applied.append(rule.pk)
        assignee_id = _assign_if_waiting(conversation_id, preferred_agent_id=preferred_agent)
        conversation = Conversation.objects.get(pk=conversation_id)
        queued = conversation.assignee_id is None and _is_queued(conversation)
    return RoutingResult(conversation_id, tuple(applied), assignee_id, queued)


def _is_queued(conversation: Conversation) -> bool:
    return (
        conversation.team_id is not None
        and conversation.assignee_id is None
        and conversation.handler == Handler.HUMAN
        and conversation.status == Status.ACTIVE
    )


# --- Assignment ------------------------------------------------------------------------------


def _assign_if_waiting(
    conversation_id: int, *, preferred_agent_id: int | None = None, exclude_agent_ids: Collection[int] = ()
) -> int | None:
    """Assign the conversation if it waits for a human and someone can take it; return the assignee's id.

    The caller's transaction holds (or this takes) the conversation's lock; ``claim_agent`` locks the
    candidates' profiles, and both stay locked until the assignment commits.
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("inbox", "contact", "team")
            .get(pk=conversation_id)
        )
        waiting = (
            conversation.assignee_id is None
            and conversation.handler == Handler.HUMAN
            and conversation.status == Status.ACTIVE
        )
        if not waiting:
            return None
        agent_id = assignment.claim_agent(
            conversation, preferred_agent_id=preferred_agent_id, exclude_agent_ids=exclude_agent_ids
        )
        if agent_id is None:
            return None
        agent = get_user_model().objects.get(pk=agent_id)
        conversation_assign(conversation=conversation, assignee=agent, actor=None)
        if conversation.team_id is not None:
            assignment.record_rotation(team_id=conversation.team_id, agent_id=agent_id, at=now)
    return agent_id


def drain_queue(team_id: int, *, limit: int = DRAIN_LIMIT) -> int:
    """Assign the team's queued conversations, in queue order, while anyone can take them; return how many.

    Each conversation is claimed in its own short transaction with ``SKIP LOCKED``, so several
    drains (and routings) of one team run side by side without waiting on each other or
    assigning one conversation twice. A conversation nobody suitable can take is passed over,
    not allowed to hold up the ones behind it.
    """
    assigned = 0
    for conversation_id in assignment.takeable_queue(team_id)[:limit]:
        if not assignment.team_has_free_agent(team_id):
            break
        with transaction.atomic():
            conversation = (
                assignment.queued_conversations(team_id)
                .filter(pk=conversation_id)
                .select_for_update(of=("self",), skip_locked=True)
                .first()
            )
            if conversation is not None and _assign_if_waiting(conversation.pk) is not None:
                assigned += 1
    return assigned


def on_capacity_freed(agent_id: int) -> int:
    """An agent can take more (resolved one, came online, more capacity): drain the queues of her teams."""
    team_ids = Team.objects.filter(agents__user_id=agent_id).order_by("pk").values_list("pk", flat=True)
    return sum(drain_queue(team_id) for team_id in list(team_ids))


def sweep_queues() -> int:
    """The safety net: drain every team that has a queue (missed hooks, restarts)."""
    return sum(drain_queue(team_id) for team_id in assignment.teams_with_queue())


# --- Reassignment ----------------------------------------------------------------------------


def _unanswered_filter(*, cutoff: datetime) -> dict[str, Any]:
    return {
        "status": Status.ACTIVE,
        "handler": Handler.HUMAN,
        "assignee__isnull": False,
        "waiting_since__lte": cutoff,
        "assigned_at__lte": cutoff,
    }


def conversation_reassign_unanswered(*, conversation_id: int, after_minutes: int) -> int | None:
    """Take the conversation back from an assignee who has not replied in ``after_minutes`` and route it again.

    The previous assignee is left out of this one re-routing. Returns the new assignee's id (None
    when it waits in the queue, or when it no longer qualifies).
    """
    now = timezone.now()
    cutoff = now - timedelta(minutes=after_minutes)
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=conversation_id, **_unanswered_filter(cutoff=cutoff))
            .first()
        )
        if conversation is None:
            return None
        previous = conversation.assignee_id
        assert previous is not None
        waiting_since = conversation.waiting_since
        conversation = conversation_assign(conversation=conversation, assignee=None, actor=None)
        _record(
            conversation,
            EVENT_REASSIGNED,
            actor_kind=SenderKind.SYSTEM,
            data={
                "from": previous,
                "after_minutes": after_minutes,
                "waiting_since": waiting_since.isoformat() if waiting_since else None,
            },
            at=now,
        )
        return _assign_if_waiting(conversation_id, exclude_agent_ids={previous})


def reassign_unanswered() -> int:
    """Reassign, in every team that asks for it, the conversations whose assignee has not replied in time."""
    now = timezone.now()
    count = 0
    for team in Team.objects.filter(reassign_after_minutes__gt=0).order_by("pk"):
        minutes = team.reassign_after_minutes or 0
        cutoff = now - timedelta(minutes=minutes)
        due = Conversation.objects.filter(team=team, **_unanswered_filter(cutoff=cutoff)).order_by("waiting_since")
        for conversation_id in due.values_list("pk", flat=True)[:DRAIN_LIMIT]:
            conversation_reassign_unanswered(conversation_id=conversation_id, after_minutes=minutes)
            count += 1
    return count


# --- Hooks for other services: enqueue after commit ------------------------------------------


def route_on_commit(conversation_id: int, *, trigger: str, message_id: int | None = None) -> None:
    """Route the conversation once the current transaction commits (from creation and handoff)."""
    # An outbox row, written in the caller's transaction: kept even if the broker is down at commit.
    outbox.enqueue(
        "routing.routing_tasks.route_conversation",
        conversation_id,
        trigger,
        message_id,
        key=f"route:{conversation_id}:{trigger}:{message_id or ''}" if trigger == "created" else None,
        batched=True,  # one drain for many new conversations (core/outbox.py)
    )


def capacity_freed_on_commit(agent_id: int) -> None:
    """Drain the agent's team queues once the current transaction commits."""
    outbox.enqueue("routing.routing_tasks.capacity_freed", agent_id)
