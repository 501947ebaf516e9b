"""Reads the API shares: visibility first, then what each list needs in a constant number of queries."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.models import (
    OPEN_STATUSES,
    CannedResponse,
    ChannelKind,
    Contact,
    Conversation,
    ConversationRead,
    Handler,
    Inbox,
    Message,
    Priority,
    Status,
    Team,
)
from conversations.selectors import conversations_visible_to, is_supervisor
from routing.models import KnowledgeArticle, RoutingRule


def conversation_queryset(user: Any) -> QuerySet[Conversation]:
    """Conversations ``user`` may see, with everything the list and detail show, and her unread mark."""
    read_since_last = ConversationRead.objects.filter(
        conversation=OuterRef("pk"), user=user, last_read_at__gte=OuterRef("last_message_at")
    )
    return (
        conversations_visible_to(user)
        # The contact in the same query; the inbox, team and assignee (a handful of rows per page)
        # fetched after it by id: joined, they made planning the list's query take 10 ms at any
        # scale, longer than running it.
        .select_related("contact")
        .prefetch_related("tags", "inbox", "team", "assignee__agent_profile")
        .annotate(is_unread=~Exists(read_since_last), assignee_key=Coalesce("assignee_id", Value(0)))
    )


def message_queryset(conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("inbox", "sender_user__agent_profile", "sender_contact")
        .prefetch_related("attachments")
    )


def contacts_visible_to(user: Any) -> QuerySet[Contact]:
    """Supervisors see every contact; an agent sees those with a conversation in one of her inboxes."""
    contacts = Contact.objects.filter(merged_into__isnull=True)
    if not (user.is_authenticated and user.is_active):
        return contacts.none()
    if not is_supervisor(user):
        contacts = contacts.filter(Exists(Conversation.objects.filter(contact=OuterRef("pk"), inbox__members=user)))
    return contacts.prefetch_related("identities").annotate(
        conversation_count=Coalesce(
            _count_subquery(conversations_visible_to(user).filter(contact=OuterRef("pk"))), Value(0)
        )
    )


def _count_subquery(queryset: QuerySet[Any]) -> Subquery:
    counted = queryset.order_by().values("contact").annotate(n=Count("pk")).values("n")
    return Subquery(counted, output_field=IntegerField())


def inboxes_visible_to(user: Any) -> QuerySet[Inbox]:
    inboxes = Inbox.objects.all() if is_supervisor(user) else Inbox.objects.filter(members=user)
    return inboxes.prefetch_related("members")


def agents_visible_to(user: Any) -> QuerySet[Any]:
    """Supervisors see every agent; an agent sees herself and those who share an inbox with her."""
    users = get_user_model().objects.filter(agent_profile__isnull=False)
    if not is_supervisor(user):
        shared = Inbox.objects.filter(members=user).values("pk")
        users = users.filter(Q(pk=user.pk) | Q(inboxes__in=shared)).distinct()
    return users.select_related("agent_profile").prefetch_related("agent_profile__teams")


def canned_responses_for(user: Any) -> QuerySet[CannedResponse]:
    responses = CannedResponse.objects.select_related("team")
    if is_supervisor(user):
        return responses
    return responses.filter(Q(team__isnull=True) | Q(team__agents__user=user)).distinct()


def knowledge_articles_for(user: Any) -> QuerySet[KnowledgeArticle]:
    articles = KnowledgeArticle.objects.all()
    if is_supervisor(user):
        return articles
    return articles.filter(Q(inbox__isnull=True) | Q(inbox__members=user), is_published=True).distinct()


def routing_rules_for(user: Any) -> QuerySet[RoutingRule]:
    rules = RoutingRule.objects.all()
    if is_supervisor(user):
        return rules
    return rules.filter(Q(inbox__isnull=True) | Q(inbox__members=user)).distinct()


def teams_of(user: Any) -> QuerySet[Team]:
    return Team.objects.filter(Q(agents__user=user) | Q(supervisors=user)).distinct()


VIEW_NAMES = (
    "all",
    "all.active",
    "all.pending",
    "all.resolved_today",
    "mine",
    "mine.needs_my_attention",
    "mine.waiting_for_customer",
    "mine.ready_to_close",
    "team",
    "team.unassigned",
    "team.in_progress",
    "team.needs_review",
    "bot_handled",
    *(f"channel.{kind}" for kind in ChannelKind.values),
)


def view_conditions(user: Any, *, now: Any = None) -> dict[str, Q]:
    """The inbox views and their sub-views as conditions, shared by the counts and the list (``?view=``).

    - All: active, pending, resolved today (since midnight in TIME_ZONE).
    - Mine (assigned to ``user``): needs my attention (active, the customer spoke last), waiting for
      customer (active, we spoke last), ready to close (pending: idle since our last reply).
    - Team (conversations of ``user``'s teams, open): unassigned, in progress (assigned), needs review
      (an SLA deadline has passed or it is urgent).
    - By channel: open conversations per channel kind (``channel.<kind>``).
    - Bot-handled: open conversations the assistant is still handling.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    is_open = Q(status__in=OPEN_STATUSES)
    mine = Q(assignee=user)
    my_teams = Q(team__in=teams_of(user).values("pk"))
    overdue = (
        Q(first_response_due_at__lt=now, first_response_at__isnull=True)
        | Q(next_response_due_at__lt=now)
        | Q(resolution_due_at__lt=now)
        | Q(priority=Priority.URGENT)
    )
    conditions = {
        "all": is_open,
        "all.active": Q(status=Status.ACTIVE),
        "all.pending": Q(status=Status.PENDING),
        "all.resolved_today": Q(status=Status.RESOLVED, resolved_at__gte=today),
        "mine": mine & is_open,
        "mine.needs_my_attention": mine & Q(status=Status.ACTIVE, last_message_direction="in"),
        "mine.waiting_for_customer": mine & Q(status=Status.ACTIVE) & ~Q(last_message_direction="in"),
        "mine.ready_to_close": mine & Q(status=Status.PENDING),
        "team": my_teams & is_open,
        "team.unassigned": my_teams & is_open & Q(assignee__isnull=True),
        "team.in_progress": my_teams & is_open & Q(assignee__isnull=False),
        "team.needs_review": my_teams & is_open & overdue,
        "bot_handled": is_open & Q(handler=Handler.BOT),
    }
    for kind in ChannelKind.values:
        conditions[f"channel.{kind}"] = is_open & Q(inbox__kind=kind)
    return conditions


COUNTED_VIEWS = tuple(name for name in VIEW_NAMES if name not in ("all", "mine", "team"))


def conversation_counts(user: Any) -> dict[str, Any]:
    """The inbox views' counts in ONE query.

    Each count means the same as the list's ``?view=`` (see view_conditions), so a view's count and
    its list always agree. On PostgreSQL they are sums of the maintained counters
    (OpenConversationCount) plus the two counts that move with the clock, each read off an index
    that holds only its rows: today's resolutions and the open conversations past an SLA due time.
    Elsewhere, one conditional aggregation over the open conversations.
    """
    counted = _counts_from_counters(user) if settings.IS_POSTGRES else _counts_by_aggregation(user)

    def n(name: str) -> int:
        return int(counted[name] or 0)

    return {
        "all": {
            "active": n("all.active"),
            "pending": n("all.pending"),
            "resolved_today": n("all.resolved_today"),
        },
        "mine": {
            "needs_my_attention": n("mine.needs_my_attention"),
            "waiting_for_customer": n("mine.waiting_for_customer"),
            "ready_to_close": n("mine.ready_to_close"),
        },
        "team": {
            "unassigned": n("team.unassigned"),
            "in_progress": n("team.in_progress"),
            "needs_review": n("team.needs_review"),
        },
        "by_channel": {kind: n(f"channel.{kind}") for kind in ChannelKind.values},
        "bot_handled": n("bot_handled"),
    }


def _counts_by_aggregation(user: Any, *, now: Any = None) -> dict[str, int]:
    conditions = view_conditions(user, now=now)
    # Every count but "resolved today" is of open conversations: reading only those rows (and today's
    # resolutions) lets the partial indexes of open conversations answer, instead of every conversation ever held.
    row = (
        conversations_visible_to(user)
        .filter(conditions["all"] | conditions["all.resolved_today"])
        .order_by()
        .aggregate(**{name.replace(".", "__"): Count("pk", filter=conditions[name]) for name in COUNTED_VIEWS})
    )
    return {name: int(row[name.replace(".", "__")]) for name in COUNTED_VIEWS}


# The earliest running SLA due time of a conversation, written exactly as conv_open_overdue_idx
# (migration 0007) indexes it: "overdue" in view_conditions is this being in the past.
_OVERDUE_AT = (
    "LEAST(CASE WHEN first_response_at IS NULL THEN first_response_due_at END, next_response_due_at, resolution_due_at)"
)


def _counts_from_counters(user: Any, *, now: Any = None) -> dict[str, int]:
    if not user.is_authenticated or not user.is_active:
        return dict.fromkeys(COUNTED_VIEWS, 0)
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    inboxes = Inbox.objects.all() if is_supervisor(user) else Inbox.objects.filter(members=user)
    inboxes_sql, inboxes_params = inboxes.order_by().values("pk").query.sql_with_params()
    teams_sql, teams_params = teams_of(user).order_by().values("pk").query.sql_with_params()
    # (condition, its parameters) per counter sum; the counters hold only open conversations.
    mine = ("c.assignee_key = %s", [user.pk])
    my_team = "c.team_key IN (SELECT * FROM my_teams)"
    sums: dict[str, tuple[str, list[Any]]] = {
        "all.active": ("c.status = 'active'", []),
        "all.pending": ("c.status = 'pending'", []),
        "mine.needs_my_attention": (f"{mine[0]} AND c.status = 'active' AND c.customer_spoke_last", mine[1]),
        "mine.waiting_for_customer": (f"{mine[0]} AND c.status = 'active' AND NOT c.customer_spoke_last", mine[1]),
        "mine.ready_to_close": (f"{mine[0]} AND c.status = 'pending'", mine[1]),
        "team.unassigned": (f"{my_team} AND c.assignee_key = 0", []),
        "team.in_progress": (f"{my_team} AND c.assignee_key <> 0", []),
        "team.needs_review": (f"{my_team} AND c.urgent", []),  # + the overdue ones, counted below
        "bot_handled": ("c.handler = 'bot'", []),
        **{f"channel.{kind}": ("i.kind = %s", [kind]) for kind in ChannelKind.values},
    }
    columns = ", ".join(f"sum(c.n) FILTER (WHERE {condition})" for condition, _params in sums.values())
    sql = f"""
        WITH my_inboxes AS MATERIALIZED ({inboxes_sql}), my_teams AS MATERIALIZED ({teams_sql})
        SELECT {columns},
            (SELECT count(*) FROM conversations_conversation r
             WHERE r.status = 'resolved' AND r.resolved_at >= %s
               AND r.inbox_id IN (SELECT * FROM my_inboxes)),
            (SELECT count(*) FROM conversations_conversation o
             WHERE o.status IN ('active', 'pending') AND o.priority <> {Priority.URGENT.value}
               AND {_OVERDUE_AT} < %s
               AND o.team_id IN (SELECT * FROM my_teams) AND o.inbox_id IN (SELECT * FROM my_inboxes))
        FROM conversations_openconversationcount c JOIN conversations_inbox i ON i.id = c.inbox_id
        WHERE c.inbox_id IN (SELECT * FROM my_inboxes)
    """  # noqa: S608 (only fixed text and Django's own SQL are formatted in; every value is a parameter)
    params = [*inboxes_params, *teams_params, *(p for _c, ps in sums.values() for p in ps), today, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    counted = dict(zip(sums, row[: len(sums)], strict=True))
    resolved_today, overdue_not_urgent = row[len(sums) :]
    counted["all.resolved_today"] = resolved_today
    counted["team.needs_review"] = (counted["team.needs_review"] or 0) + overdue_not_urgent
    return {name: int(counted[name] or 0) for name in COUNTED_VIEWS}


def recent_conversations_of(contact: Contact, user: Any, *, limit: int = 50) -> list[Conversation]:
    return list(
        conversations_visible_to(user)
        .filter(contact=contact)
        .select_related("inbox")
        .order_by("-last_message_at", "-id")[:limit]
    )
