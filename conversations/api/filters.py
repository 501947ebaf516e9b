"""Filtering and search of conversations: the list, bulk actions and exports all use these.

``filtered_conversations(request)`` is the one entry point: what the user may see, narrowed by the
list's query parameters and ``q=`` (conversations/api/search.py), in the requested sort order.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db import connection
from django.db.models import Expression, Q, QuerySet
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


class DocumentMatch(Expression):
    """The conversation's search document (migration 0008) holds every lexeme of ``query``, or its id token.

    For one lexeme, ``<conversation>.id IN (SELECT conversation_id FROM
    conversations_conversationsearch WHERE document @@ ...)``: a semi-join, for which PostgreSQL
    chooses from the document column's real statistics between the GIN index and walking the list in
    its order, looking up each conversation's document (a common word: it stops when the page is
    full). For several lexemes its estimate multiplies their frequencies as if independent, far too
    low, and it would collect every match first: then a scalar subquery per row, which it can only
    evaluate while walking.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, query: tuple[str, list[Any]], *, conversation_id: int | None, per_row: bool) -> None:
        super().__init__()
        self.query = query
        self.conversation_id = conversation_id
        self.per_row = per_row

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        alias = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        query, params = _with_id_token(self.query, self.conversation_id)
        column = f"{alias}.{connection.ops.quote_name('id')}"
        if self.per_row:
            return (
                f"(SELECT s.document @@ {query} FROM conversations_conversationsearch s "  # noqa: S608 (names, fixed text)
                f"WHERE s.conversation_id = {column})",
                tuple(params),
            )
        return (
            f"{column} IN (SELECT conversation_id FROM conversations_conversationsearch WHERE document @@ {query})",  # noqa: S608 (names, fixed text)
            tuple(params),
        )


def _with_id_token(query: tuple[str, list[Any]], conversation_id: int | None) -> tuple[str, list[Any]]:
    """A document query, or the id token ``#<id>`` when the search word is a conversation id."""
    sql, params = query
    if conversation_id is None:
        return sql, list(params)
    return f"({sql} || %s::tsquery)", [*params, f"'#{conversation_id}'"]


def _words_query(text: str) -> tuple[str, list[Any]]:
    """Every lexeme of a search word, as the message and contact documents were parsed."""
    return "plainto_tsquery('simple', %s)", [text]


def _lexeme_query(lexeme: str) -> tuple[str, list[Any]]:
    """One lexeme, as a constant the planner can look up in the document column's statistics."""
    return "%s::tsquery", ["'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"]


def _deciding_lexeme(text: str) -> str | None:
    """The one lexeme that decides whether a document matches ``text`` (a word, not a phrase), if it is common.

    The parser splits some words into a whole and its parts: ``tap-to-pay`` is the lexemes
    ``tap-to-pay``, ``tap``, ``to`` and ``pay``, an address or URL its host and path. The whole only
    comes from a token that the parser splits into the same parts, so a message or contact (and the
    document) with the whole has them all: asking for it alone is exact. A word that is several
    separate words (``foo,bar``) has none. Only a lexeme among the column's most common elements
    has a real frequency: for a rarer one PostgreSQL assumes about 1% and walks the list, so the
    probe (cheap for a rare word) decides instead.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH word AS (SELECT tsvector_to_array(to_tsvector('simple', %s)) AS lexemes), "
            "whole AS (SELECT (SELECT x FROM unnest(lexemes) x ORDER BY length(x) DESC, x LIMIT 1) AS lexeme "
            "FROM word) "
            "SELECT whole.lexeme, tsvector_to_array(to_tsvector('simple', coalesce(whole.lexeme, ''))) "
            "@> word.lexemes, coalesce((SELECT whole.lexeme = ANY(most_common_elems::text::text[]) FROM pg_stats "
            "WHERE schemaname = 'public' AND tablename = 'conversations_conversationsearch' "
            "AND attname = 'document'), false) FROM word, whole",
            [text],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or not row[1] or not row[2]:
        return None
    return str(row[0])


class ThreadMatch(Expression):
    """One of the conversation's messages, or its contact, matches ``text`` (as a phrase if ``phrase``).

    What a search word means. Written as scalar subqueries on this conversation's own rows (its
    contact, its thread's index), which PostgreSQL evaluates per candidate: as EXISTS under an OR it
    may instead hash every matching message of the database first.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, text: str, *, phrase: bool) -> None:
        super().__init__()
        self.text = text
        self.phrase = phrase

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        alias = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        query = f"{'phraseto_tsquery' if self.phrase else 'plainto_tsquery'}('simple', %s)"
        quote = connection.ops.quote_name
        return (
            f"(coalesce((SELECT ct.search_vector @@ {query} FROM conversations_contact ct "  # noqa: S608 (names, fixed text)
            f"WHERE ct.id = {alias}.{quote('contact_id')}), false) "
            f"OR coalesce((SELECT true FROM conversations_message m WHERE m.conversation_id = {alias}.{quote('id')} "
            f"AND m.search_vector @@ {query} LIMIT 1), false))",
            (self.text, self.text),
        )


# Up to this many conversations whose document matches a search word are fetched and passed as a list of ids.
FEW_MATCHES = 5000


def _term_q(term: search.Term) -> Q:
    text = term.text
    digits = text.lstrip("#")
    conversation_id = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None
    if not settings.IS_POSTGRES:
        contacts = Contact.objects.filter(Q(name__icontains=text) | Q(identities__value__icontains=text)).values("pk")
        messages = Message.objects.filter(Q(body__icontains=text) | Q(subject__icontains=text)).values(
            "conversation_id"
        )
        condition = Q(pk__in=messages) | Q(contact_id__in=contacts)
        return condition | Q(pk=conversation_id) if conversation_id is not None else condition
    # A word matches a conversation whose messages or contact contain it (a phrase: in one message, in
    # order) or whose id it is. The conversation's document is the union of those words, so it answers
    # exactly for a single word and is a necessary condition otherwise: then each candidate is checked.
    if text.isalnum() and not term.phrase:
        # One lexeme: the planner's estimate comes from the document column's statistics (its most
        # common words and their frequencies), so it picks the GIN index for a rare word and the
        # walk for a common one by itself. (A probe first cost up to 80 ms for a word in 9% of
        # the documents: its LIMIT makes the planner scan the table until enough are found.)
        return Q(DocumentMatch(_words_query(text), conversation_id=conversation_id, per_row=False))
    if not term.phrase:
        # A word the parser splits (``tap-to-pay``, ``#1234567``, an address): its whole lexeme
        # decides, and is one lexeme with statistics, as above. (The probe below cost about 100 ms
        # for tap-to-pay, in 13% of the documents, and then the list was walked checking each thread.)
        lexeme = _deciding_lexeme(text)
        if lexeme is not None:
            return Q(DocumentMatch(_lexeme_query(lexeme), conversation_id=conversation_id, per_row=False))
    check = Q(ThreadMatch(text, phrase=term.phrase))
    if conversation_id is not None:
        check |= Q(pk=conversation_id)
    # Several words or a phrase: the planner would guess, so a probe decides. A rare one: its few
    # documents are fetched first and given as a list of ids, so the page is a handful of
    # primary-key lookups and checks; a common one: the list is walked, checking each conversation.
    query, params = _with_id_token(_words_query(text), conversation_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT conversation_id FROM conversations_conversationsearch WHERE document @@ {query} LIMIT %s",  # noqa: S608 (fixed text)
            [*params, FEW_MATCHES + 1],
        )
        few = [row[0] for row in cursor.fetchall()]
    if len(few) <= FEW_MATCHES:
        return Q(pk__in=few) & check
    return Q(DocumentMatch(_words_query(text), conversation_id=conversation_id, per_row=True)) & check


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
