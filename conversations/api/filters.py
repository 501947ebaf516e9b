"""Filtering and search of conversations: the list, bulk actions and exports all use these.

``filtered_conversations(request)`` is the one entry point: what the user may see, narrowed by the
list's query parameters and ``q=`` (conversations/api/search.py), in the requested sort order.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Exists, Expression, OuterRef, Q, QuerySet
from django.db.models.fields import BooleanField
from django.http import QueryDict
from django_filters.utils import translate_validation
from rest_framework.exceptions import ValidationError

from conversations.api import search
from conversations.api.selectors import VIEW_NAMES, conversation_queryset, view_conditions
from conversations.models import (
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    Handler,
    IdentityKind,
    Message,
    Priority,
    Status,
)

SORTS: dict[str, tuple[str, ...]] = {
    "newest": ("-last_message_at", "-id"),
    "oldest": ("last_message_at", "id"),
    "priority": ("-priority", "-last_message_at", "-id"),
    "channel": ("inbox__kind", "-last_message_at", "-id"),
    # Unassigned first, then grouped by assignee, most recent first within each.
    "assignment": ("assignee_key", "-last_message_at", "-id"),
}
DEFAULT_SORT = "newest"


def sort_of(params: Any) -> tuple[str, tuple[str, ...]]:
    name = params.get("sort") or DEFAULT_SORT
    if name not in SORTS:
        raise ValidationError({"sort": [f"Unknown sort {name!r}; use one of {', '.join(SORTS)}."]})
    return name, SORTS[name]


# --- Form fields that parse and validate, so bad input is a 400 naming the parameter ---------------


class ChoiceListField(forms.CharField):
    """A comma-separated list of allowed values (``status=active,pending``)."""

    def __init__(self, *, allowed: tuple[str, ...], **kwargs: Any) -> None:
        self.allowed = allowed
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        if not text:
            return []
        items = [item.strip().lower() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in self.allowed]
        if unknown:
            # Through params, never formatted in: the value is the client's text and may contain "%".
            raise forms.ValidationError(
                "Unknown value %(value)s; use one of %(allowed)s.",
                params={"value": repr(unknown[0]), "allowed": ", ".join(self.allowed)},
            )
        return items


class AssigneeField(forms.CharField):
    def clean(self, value: Any) -> str | int | None:
        text = (super().clean(value) or "").strip().lower()
        if not text:
            return None
        if text in ("me", "none"):
            return text
        if text.isascii() and text.isdigit() and len(text) < 19:
            return int(text)
        raise forms.ValidationError("Use me, none or an agent's id.")


class SearchField(forms.CharField):
    def clean(self, value: Any) -> search.ParsedSearch | None:
        text = super().clean(value)
        if not text or not text.strip():
            return None
        try:
            return search.parse(text)
        except search.SearchSyntaxError as exc:
            raise forms.ValidationError("%(problem)s", params={"problem": str(exc)}) from None


class ViewField(forms.CharField):
    """One of the inbox's views (``mine``, ``mine.needs_my_attention``, ``channel.sms``, ...)."""

    def clean(self, value: Any) -> str | None:
        text = (super().clean(value) or "").strip().lower()
        if not text:
            return None
        if text not in VIEW_NAMES:
            raise forms.ValidationError(
                "Unknown view %(value)s; use one of %(allowed)s.",
                params={"value": repr(text), "allowed": ", ".join(VIEW_NAMES)},
            )
        return text


class ViewFilter(django_filters.Filter):
    field_class = ViewField


class ChoiceListFilter(django_filters.Filter):
    field_class = ChoiceListField


class AssigneeFilter(django_filters.Filter):
    field_class = AssigneeField


class SearchFilter(django_filters.Filter):
    field_class = SearchField


PRIORITY_NAMES = tuple(p.label for p in sorted(Priority, reverse=True))


class ConversationFilter(django_filters.FilterSet):
    status = ChoiceListFilter(
        method="filter_status", allowed=tuple(Status.values), help_text="Comma-separated statuses."
    )
    handler = django_filters.ChoiceFilter(choices=Handler.choices)
    assignee = AssigneeFilter(method="filter_assignee", help_text="`me`, `none` or an agent's id.")
    team = django_filters.NumberFilter(field_name="team_id", help_text="A team's id.")
    inbox = django_filters.NumberFilter(field_name="inbox_id", help_text="An inbox's id.")
    channel = ChoiceListFilter(
        method="filter_channel", allowed=tuple(ChannelKind.values), help_text="Comma-separated channel kinds."
    )
    priority = ChoiceListFilter(
        method="filter_priority", allowed=PRIORITY_NAMES, help_text="Comma-separated priority names."
    )
    tag = django_filters.CharFilter(method="filter_tag", help_text="A tag name.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="For a reconnecting client: everything changed since."
    )
    view = ViewFilter(
        method="filter_view", help_text="An inbox view, the same as its count: all, mine.needs_my_attention, ..."
    )
    q = SearchFilter(method="filter_q", help_text='Search: words, "phrases" and key:value filters (see SPEC).')
    sort = django_filters.ChoiceFilter(
        choices=[(name, name) for name in SORTS], method="filter_sort", help_text="Order of the results."
    )

    class Meta:
        model = Conversation
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Conversation], name: str, value: list[str]) -> QuerySet[Conversation]:
        return queryset.filter(status__in=value) if value else queryset

    def filter_channel(self, queryset: QuerySet[Conversation], name: str, value: list[str]) -> QuerySet[Conversation]:
        return queryset.filter(inbox__kind__in=value) if value else queryset

    def filter_priority(self, queryset: QuerySet[Conversation], name: str, value: list[str]) -> QuerySet[Conversation]:
        return queryset.filter(priority__in=[Priority.from_name(v) for v in value]) if value else queryset

    def filter_assignee(
        self, queryset: QuerySet[Conversation], name: str, value: str | int | None
    ) -> QuerySet[Conversation]:
        if value is None:
            return queryset
        if value == "me":
            return queryset.filter(assignee=self.request.user if self.request else None)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value))

    def filter_view(self, queryset: QuerySet[Conversation], name: str, value: str | None) -> QuerySet[Conversation]:
        if value is None:
            return queryset
        user = self.request.user if self.request else None
        return queryset.filter(view_conditions(user)[value])

    def filter_tag(self, queryset: QuerySet[Conversation], name: str, value: str) -> QuerySet[Conversation]:
        return queryset.filter(_has_tags([value])) if value else queryset

    def filter_q(
        self, queryset: QuerySet[Conversation], name: str, value: search.ParsedSearch | None
    ) -> QuerySet[Conversation]:
        if value is None:
            return queryset
        return apply_search(queryset, value, user=self.request.user if self.request else None)

    def filter_sort(self, queryset: QuerySet[Conversation], name: str, value: str) -> QuerySet[Conversation]:
        return queryset  # ordering is the paginator's (keyset) job; see sort_of()


def _has_tags(names: list[str] | tuple[str, ...]) -> Q:
    through = Conversation.tags.through.objects.filter(tag__name__in=[n.strip().lower() for n in names])
    return Q(pk__in=through.values("conversation_id"))


# --- Search ------------------------------------------------------------------------------------


class TextSearchMatch(Expression):
    """``<table>.search_vector @@ plainto_tsquery('simple', %s)`` on the query's own table.

    The tsvector columns are maintained by triggers (migration 0003) and are not model fields; the
    table alias is taken at compile time, so this also works inside subqueries (aliased U0, ...).
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, text: str, *, phrase: bool) -> None:
        super().__init__()
        self.text = text
        self.phrase = phrase

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        alias = compiler.query.get_initial_alias()
        column = f"{compiler.quote_name_unless_alias(alias)}.{connection.ops.quote_name('search_vector')}"
        function = "phraseto_tsquery" if self.phrase else "plainto_tsquery"
        return f"{column} @@ {function}('simple', %s)", (self.text,)


# Up to this many conversations matching a search word are fetched and passed as a list of ids.
FEW_MATCHES = 1000


def _term_q(term: search.Term) -> Q:
    text = term.text
    if settings.IS_POSTGRES:
        contacts = Contact.objects.filter(TextSearchMatch(text, phrase=term.phrase)).values("pk")
        messages = (
            Message.objects.filter(TextSearchMatch(text, phrase=term.phrase)).order_by().values("conversation_id")
        )
    else:
        contacts = Contact.objects.filter(Q(name__icontains=text) | Q(identities__value__icontains=text)).values("pk")
        messages = Message.objects.filter(Q(body__icontains=text) | Q(subject__icontains=text)).values(
            "conversation_id"
        )
    # A rare word: its few matching conversations are fetched first and given as a list of ids, so the
    # page is a handful of primary-key lookups. (As a subquery, the planner's fixed guess of thousands
    # of full-text matches makes it hash-join the whole table; as an OR of two subqueries, it tests
    # every conversation against hashed sets: a full scan at a million rows.) UNION ALL lets the
    # probe stop at FEW_MATCHES + 1 rows instead of collecting every match of a common word.
    matches = messages.order_by().union(Conversation.objects.filter(contact_id__in=contacts).values("pk"), all=True)
    digits = text.lstrip("#")
    if digits.isascii() and digits.isdigit() and len(digits) < 19:
        matches = matches.union(Conversation.objects.filter(pk=int(digits)).values("pk"), all=True)
    few = list(matches[: FEW_MATCHES + 1])
    if len(few) <= FEW_MATCHES:
        return Q(pk__in=[row["conversation_id"] if isinstance(row, dict) else row for row in few])
    # A common word: walk the conversations in list order and check each one's own messages (the
    # thread index), which stops as soon as the page is full, instead of collecting the word's
    # hundreds of thousands of matches among millions of messages first.
    in_thread = messages.filter(conversation_id=OuterRef("pk"))
    condition = Q(Exists(in_thread)) | Q(contact_id__in=contacts)
    if digits.isascii() and digits.isdigit() and len(digits) < 19:
        condition |= Q(pk=int(digits))
    return condition


def apply_search(queryset: QuerySet[Conversation], parsed: search.ParsedSearch, *, user: Any) -> QuerySet[Conversation]:
    filters = parsed.filters
    for term in parsed.terms:
        queryset = queryset.filter(_term_q(term))
    if "phone" in filters:
        owners = ChannelIdentity.objects.filter(
            kind__in=[IdentityKind.PHONE, IdentityKind.WHATSAPP], value__in=filters["phone"]
        ).values("contact_id")
        queryset = queryset.filter(contact_id__in=owners)
    if "email" in filters:
        owners = ChannelIdentity.objects.filter(kind=IdentityKind.EMAIL, value__in=filters["email"]).values(
            "contact_id"
        )
        queryset = queryset.filter(contact_id__in=owners)
    if "assigned" in filters:
        assigned = Q()
        for value in filters["assigned"]:
            if value == "me":
                assigned |= Q(assignee=user)
            elif value == "none":
                assigned |= Q(assignee__isnull=True)
            elif "@" in value:
                assigned |= Q(assignee__email__iexact=value)
            else:
                assigned |= Q(assignee__username__iexact=value)
        queryset = queryset.filter(assigned)
    if "status" in filters:
        queryset = queryset.filter(status__in=filters["status"])
    if "channel" in filters:
        queryset = queryset.filter(inbox__kind__in=filters["channel"])
    if "priority" in filters:
        queryset = queryset.filter(priority__in=[Priority.from_name(v) for v in filters["priority"]])
    if "tag" in filters:
        queryset = queryset.filter(_has_tags(filters["tag"]))
    if "team" in filters:
        teams = Q()
        for value in filters["team"]:
            teams |= Q(team_id=int(value)) if value.isascii() and value.isdigit() else Q(team__name__iexact=value)
        queryset = queryset.filter(teams)
    if "id" in filters:
        queryset = queryset.filter(pk__in=[int(v) for v in filters["id"]])
    return queryset


# --- The entry points -------------------------------------------------------------------------


def conversations_matching(request: Any, params: QueryDict | dict[str, Any]) -> QuerySet[Conversation]:
    """What ``request.user`` may see, filtered by ``params`` (the list's query parameters), sorted."""
    if not isinstance(params, QueryDict):
        data = QueryDict(mutable=True)
        for key, value in params.items():
            if isinstance(value, list):
                data.setlist(key, [str(v) for v in value])
            elif value is not None:
                data[key] = value if isinstance(value, str) else str(value)
        params = data
    filterset = ConversationFilter(params, queryset=conversation_queryset(request.user), request=request)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    _name, ordering = sort_of(params)
    return filterset.qs.order_by(*ordering)


def filtered_conversations(request: Any) -> QuerySet[Conversation]:
    """Visibility + the list's filters + ``q=``, in the requested sort: for the list, bulk and exports."""
    return conversations_matching(request, request.query_params if hasattr(request, "query_params") else request.GET)
