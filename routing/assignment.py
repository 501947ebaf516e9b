"""Who gets a conversation: the assignment strategies, the team queue, and the capacity-safe claim.

Decisions, so that everyone reads them the same way:

- **Strategy**: the inbox's ``assignment_strategy`` when set, else the team's. ``manual`` never
  assigns automatically (a rule's explicit agent aside): conversations wait in the team queue.
- **Who can be picked**: active users with an agent profile in the conversation's team, who may be
  assigned in its inbox (members, or supervisors), whose availability is ``online`` and whose
  **load** is below their capacity. The load is the number of conversations assigned to them with
  status ``active``: pending ones wait for the customer (or are snoozed) and take no attention.
- **Order among those**: round-robin and channel-based take the team's least recently assigned
  agent (the rotation is ``AgentRotation`` in the database, shared by every worker); capacity-based
  takes the fewest active conversations (then the rotation); skill-based takes the most tags
  matching the agent's skills (then the fewest active, then the rotation).
- **Requirements**: skill-based requires the conversation's topic among the agent's skills and its
  language among the agent's languages; channel-based requires its channel among the agent's
  channels. A requirement that no member of the team can ever meet is dropped, so a conversation
  is never stuck in a queue that nobody is able to take.
- **Queue**: unassigned, human-handled, active conversations with a team. Served highest priority
  first, then longest waiting (since the handoff, or creation for conversations that began with a
  human), then by id.
- **Race safety**: the caller holds the conversation's row lock; ``claim_agent`` then locks the
  candidates' ``AgentProfile`` rows in id order (``SELECT ... FOR UPDATE``) before counting loads, so
  two workers can never both see the last free slot of an agent, and lock order never deadlocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce

from conversations.models import (
    AgentProfile,
    AssignmentStrategy,
    Availability,
    Conversation,
    Handler,
    Inbox,
    Status,
)
from routing.models import AgentRotation


def effective_strategy(conversation: Conversation) -> str:
    if conversation.inbox.assignment_strategy:
        return conversation.inbox.assignment_strategy
    if conversation.team is not None:
        return conversation.team.assignment_strategy
    return AssignmentStrategy.MANUAL


def active_loads(user_ids: Iterable[int]) -> dict[int, int]:
    """How many active conversations each of these users has assigned (missing: none)."""
    rows = (
        Conversation.objects.filter(assignee_id__in=list(user_ids), status=Status.ACTIVE)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["assignee_id"]: row["n"] for row in rows}


def queued_conversations(team_id: int) -> QuerySet[Conversation]:
    """The team's queue, in the order it is served."""
    return (
        Conversation.objects.filter(team_id=team_id, assignee__isnull=True, handler=Handler.HUMAN, status=Status.ACTIVE)
        .annotate(queued_since=Coalesce("handed_off_at", "created_at"))
        .order_by("-priority", "queued_since", "id")
    )


def teams_with_queue() -> list[int]:
    return list(
        Conversation.objects.filter(
            team__isnull=False, assignee__isnull=True, handler=Handler.HUMAN, status=Status.ACTIVE
        )
        .values_list("team_id", flat=True)
        .distinct()
        .order_by("team_id")
    )


def _assignable_here(conversation: Conversation) -> Q:
    """Profiles whose user may be assigned in this conversation's inbox (as ``conversation_assign`` checks)."""
    return Q(user__is_active=True) & (
        Q(user__inboxes=conversation.inbox_id) | Q(user__is_staff=True) | Q(user__is_superuser=True)
    )


def team_has_free_agent(team_id: int) -> bool:
    """A cheap, unlocked look: is any online member of the team below capacity? (``claim_agent`` decides.)"""
    return bool(_free_profiles(team_id))


def takeable_queue(team_id: int, *, scan: int = 1000) -> list[int]:
    """The ids of queued conversations, in queue order, that some free member of the team could take now.

    An unlocked first pass, so that a drain does not open a transaction for every conversation that
    waits for a skill nobody available has; ``claim_agent`` still decides under the locks.
    """
    free = _free_profiles(team_id)
    if not free:
        return []
    team_profiles = list(AgentProfile.objects.filter(teams=team_id, user__is_active=True))
    queue = list(queued_conversations(team_id).select_related("inbox", "contact", "team")[:scan])
    inbox_ids = {conversation.inbox_id for conversation in queue}
    members: dict[int, set[int]] = {inbox_id: set() for inbox_id in inbox_ids}
    for inbox_id, user_id in Inbox.members.through.objects.filter(inbox_id__in=inbox_ids).values_list(
        "inbox_id", "user_id"
    ):
        members[inbox_id].add(user_id)
    takeable = []
    for conversation in queue:
        strategy = effective_strategy(conversation)
        if strategy == AssignmentStrategy.MANUAL:
            continue
        checks = _requirements(conversation, strategy, team_profiles)
        if any(
            (profile.user.is_staff or profile.user.is_superuser or profile.user_id in members[conversation.inbox_id])
            and all(check(profile) for check in checks)
            for profile in free
        ):
            takeable.append(conversation.pk)
    return takeable


def _free_profiles(team_id: int) -> list[AgentProfile]:
    """Online, active members of the team below capacity (unlocked)."""
    profiles = list(
        AgentProfile.objects.filter(teams=team_id, availability=Availability.ONLINE, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    )
    loads = active_loads(p.user_id for p in profiles)
    return [p for p in profiles if loads.get(p.user_id, 0) < p.capacity]


def _lang(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-", 1)[0]


def _lower_set(values: Any) -> set[str]:
    return {str(v).strip().lower() for v in values} if isinstance(values, list) else set()


@dataclasses.dataclass
class _Candidate:
    profile: AgentProfile
    load: int
    last_assigned_at: datetime | None

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    def rotation_key(self) -> tuple[int, float, int]:
        # Never assigned comes first; ties go to the lower id so the order is total and deterministic.
        when = self.last_assigned_at.timestamp() if self.last_assigned_at else 0.0
        return (0 if self.last_assigned_at is None else 1, when, self.user_id)


def _requirements(conversation: Conversation, strategy: str, team_profiles: list[AgentProfile]) -> list[Any]:
    """Predicates a candidate must meet, each kept only when some member of the team can meet it."""
    checks: list[Any] = []
    if strategy == AssignmentStrategy.SKILL:
        topic = conversation.topic.strip().lower()
        if topic:
            checks.append(lambda p: topic in _lower_set(p.skills))
        language = _lang(conversation.language or conversation.contact.language or "")
        if language:
            checks.append(lambda p: language in {_lang(code) for code in _lower_set(p.languages)})
    elif strategy == AssignmentStrategy.CHANNEL:
        channel = conversation.inbox.kind
        checks.append(lambda p: channel in _lower_set(p.channels))
    return [check for check in checks if any(check(p) for p in team_profiles)]


# The profile's JSON columns each strategy's requirements read; the strategies not listed have none.
_REQUIREMENT_COLUMNS: dict[str, set[str]] = {
    AssignmentStrategy.SKILL: {"skills", "languages"},
    AssignmentStrategy.CHANNEL: {"channels"},
}


def _unread_columns(strategy: str) -> tuple[str, ...]:
    """The profile's JSON columns that choosing by ``strategy`` never looks at."""
    used = _REQUIREMENT_COLUMNS.get(strategy, set())
    return tuple(name for name in ("skills", "languages", "channels", "notification_preferences") if name not in used)


def claim_agent(
    conversation: Conversation,
    *,
    preferred_agent_id: int | None = None,
    exclude_agent_ids: Collection[int] = (),
) -> int | None:
    """Choose the agent who gets ``conversation`` now, or None when nobody can take it.

    Call inside the transaction that holds the conversation's row lock and that then assigns the
    conversation: the chosen agent's profile stays locked until that transaction ends, so her load
    cannot change under it. A preferred agent (a rule's action) wins when she is available and under
    capacity; otherwise the strategy picks among the team.
    """
    strategy = effective_strategy(conversation)
    team_id = conversation.team_id
    pool = Q(pk__in=[])
    if team_id is not None and strategy != AssignmentStrategy.MANUAL:
        pool |= Q(teams=team_id)
    if preferred_agent_id is not None:
        pool |= Q(user_id=preferred_agent_id)
    eligible_ids = (
        AgentProfile.objects.filter(pool)
        .filter(_assignable_here(conversation), availability=Availability.ONLINE)
        .exclude(user_id__in=list(exclude_agent_ids))
        .values("pk")
    )
    # No joins in the locking query: only the profile rows are locked, in id order. Only the
    # strategy's own JSON columns are read: decoding every member's preferences, skills and
    # languages was a tenth of routing a new conversation in a 200-agent team (bench.live, py-spy).
    unread = _unread_columns(strategy)
    locked = list(AgentProfile.objects.select_for_update().filter(pk__in=eligible_ids).defer(*unread).order_by("pk"))
    if not locked:
        return None
    loads = active_loads(p.user_id for p in locked)
    free = [p for p in locked if loads.get(p.user_id, 0) < p.capacity]
    if not free:
        return None
    if preferred_agent_id is not None:
        for profile in free:
            if profile.user_id == preferred_agent_id:
                return profile.user_id
        if team_id is None or strategy == AssignmentStrategy.MANUAL:
            return None
    assert team_id is not None
    team = AgentProfile.objects.filter(teams=team_id, user__is_active=True)
    team_pks = set(team.values_list("pk", flat=True))
    free = [p for p in free if p.pk in team_pks]
    if strategy in _REQUIREMENT_COLUMNS:
        # Whether anyone in the team can meet a requirement at all needs the whole team's columns;
        # the other strategies have no requirements, and read the team as ids.
        for check in _requirements(conversation, strategy, list(team.defer(*unread))):
            free = [p for p in free if check(p)]
    if not free:
        return None
    rotation = dict(
        AgentRotation.objects.filter(team_id=team_id, agent_id__in=[p.user_id for p in free]).values_list(
            "agent_id", "last_assigned_at"
        )
    )
    candidates = [_Candidate(p, loads.get(p.user_id, 0), rotation.get(p.user_id)) for p in free]
    if strategy == AssignmentStrategy.CAPACITY:
        chosen = min(candidates, key=lambda c: (c.load, *c.rotation_key()))
    elif strategy == AssignmentStrategy.SKILL:
        tags = {tag.name.lower() for tag in conversation.tags.all()}
        chosen = min(
            candidates,
            key=lambda c: (-len(tags & _lower_set(c.profile.skills)), c.load, *c.rotation_key()),
        )
    else:  # round-robin, channel-based
        chosen = min(candidates, key=lambda c: c.rotation_key())
    return chosen.user_id


def record_rotation(*, team_id: int, agent_id: int, at: datetime) -> None:
    """Move the agent to the back of the team's rotation. Runs while her profile row is locked."""
    updated = AgentRotation.objects.filter(team_id=team_id, agent_id=agent_id).update(
        last_assigned_at=at, assigned_count=F("assigned_count") + 1
    )
    if not updated:
        AgentRotation.objects.create(team_id=team_id, agent_id=agent_id, last_assigned_at=at, assigned_count=1)
