"""Reads the API shares: visibility first, then what each list needs in a constant number of queries."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
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
        .select_related("contact", "inbox", "assignee__agent_profile", "team")
        .prefetch_related("tags")
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


def conversation_counts(user: Any) -> dict[str, Any]:
    """The inbox views' counts in ONE query (conditional aggregation over what ``user`` may see).

    Each count uses the same condition as the list's ``?view=`` (see view_conditions), so a
    view's count and its list always agree.
    """
    conditions = view_conditions(user)
    counted = [name for name in conditions if name not in ("all", "mine", "team")]
    # Every count but "resolved today" is of open conversations: reading only those rows (and today's
    # resolutions) lets the partial indexes of open conversations answer, instead of every conversation ever held.
    row = (
        conversations_visible_to(user)
        .filter(conditions["all"] | conditions["all.resolved_today"])
        .order_by()
        .aggregate(**{name.replace(".", "__"): Count("pk", filter=conditions[name]) for name in counted})
    )

    def n(name: str) -> int:
        return int(row[name.replace(".", "__")])

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


def recent_conversations_of(contact: Contact, user: Any, *, limit: int = 50) -> list[Conversation]:
    return list(
        conversations_visible_to(user)
        .filter(contact=contact)
        .select_related("inbox")
        .order_by("-last_message_at", "-id")[:limit]
    )
