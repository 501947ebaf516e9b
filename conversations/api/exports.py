"""Exports: one conversation's whole history (JSON, CSV, text) and a filtered list as streamed CSV.

* ``GET /api/v1/conversations/<id>/export/?format=json|csv|txt`` — the conversation, its
  messages in order (private notes included and marked, for agents; ``?notes=0`` leaves them
  out, e.g. for a transcript sent to the customer) and, in JSON, its event timeline.
* ``GET /api/v1/conversations/export.csv`` — every conversation the list would show for the
  same query parameters (filters, ``q=``, ``sort=``), one row each, streamed: rows are read
  with ``QuerySet.iterator(chunk_size=...)`` and written as they come, so memory stays flat
  however many rows match. Under ASGI (daphne) the rows are served by an async iterator, since
  Django would otherwise collect a synchronous one into a list before sending it.

A conversation the user may not see is a 404. Cells that a spreadsheet would run as a formula
(starting with ``= + - @``, tab or carriage return) get a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from conversations.api.filters import ConversationFilter, filtered_conversations
from conversations.api.serializers import ErrorSerializer
from conversations.models import Conversation, ConversationEvent, Message, Priority
from conversations.payloads import sender_name
from conversations.selectors import conversations_visible_to, is_supervisor

FORMATS = ("json", "csv", "txt")
# Rows fetched from the database per round trip, and CSV lines handed to the server per chunk.
CHUNK_SIZE = 2000
LINES_PER_CHUNK = 500
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _IgnoreFormatParameter(BaseContentNegotiation):
    """``?format=`` picks the file type here, not a DRF renderer; errors are always JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: formulas from customers' text are neutralized."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` returns what it was given, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'


def _user_name(user: Any) -> str:
    if user is None:
        return ""
    profile = getattr(user, "agent_profile", None)
    return profile.name if profile else (user.get_full_name() or user.get_username())


# --- One conversation -----------------------------------------------------------------------------


def _include_notes(request: Request) -> bool:
    user: Any = request.user
    is_agent = is_supervisor(user) or hasattr(user, "agent_profile")
    return is_agent and request.query_params.get("notes", "1").lower() not in ("0", "false", "no")


def _history(conversation: Conversation, *, notes: bool) -> list[Message]:
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("sender_user__agent_profile", "sender_contact", "inbox")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    if not notes:
        messages = messages.filter(is_private_note=False)
    return list(messages)


def _message_record(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "created_at": _iso(message.created_at),
        "direction": message.direction,
        "sender_kind": message.sender_kind,
        "sender_name": sender_name(message),
        "channel": message.inbox.kind,
        "private_note": message.is_private_note,
        "subject": message.subject,
        "body": message.body,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size} for a in message.attachments.all()
        ],
        "delivery_status": message.delivery_status,
        "confidence": message.confidence,
    }


def _conversation_record(conversation: Conversation) -> dict[str, Any]:
    contact = conversation.contact
    return {
        "id": conversation.pk,
        "subject": conversation.subject,
        "inbox": {"id": conversation.inbox_id, "name": conversation.inbox.name, "channel": conversation.inbox.kind},
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities.all()],
        },
        "status": conversation.status,
        "handler": conversation.handler,
        "priority": Priority(conversation.priority).label,
        "assignee": _user_name(conversation.assignee),
        "team": conversation.team.name if conversation.team else "",
        "tags": sorted(tag.name for tag in conversation.tags.all()),
        "topic": conversation.topic,
        "summary": conversation.summary,
        "created_at": _iso(conversation.created_at),
        "resolved_at": _iso(conversation.resolved_at),
    }


def _events(conversation: Conversation, *, notes: bool) -> list[dict[str, Any]]:
    events = ConversationEvent.objects.filter(conversation=conversation).select_related("actor__agent_profile")
    if not notes:
        events = events.exclude(kind="note")
    return [
        {
            "kind": event.kind,
            "actor_kind": event.actor_kind,
            "actor": _user_name(event.actor),
            "message_id": event.message_id,
            "data": event.data,
            "created_at": _iso(event.created_at),
        }
        for event in events.order_by("created_at", "id")
    ]


MESSAGE_COLUMNS = (
    "message_id",
    "created_at",
    "direction",
    "sender_kind",
    "sender_name",
    "channel",
    "private_note",
    "subject",
    "body",
    "attachments",
    "delivery_status",
)


def _as_csv(messages: Iterable[Message]) -> str:
    lines = _Echo()
    writer = csv.writer(lines)
    out = [writer.writerow(MESSAGE_COLUMNS)]
    for message in messages:
        record = _message_record(message)
        row = [
            record["id"],
            record["created_at"],
            record["direction"],
            record["sender_kind"],
            record["sender_name"],
            record["channel"],
            "yes" if record["private_note"] else "",
            record["subject"],
            record["body"],
            "; ".join(a["filename"] for a in record["attachments"]),
            record["delivery_status"],
        ]
        out.append(writer.writerow([safe_cell(cell) for cell in row]))
    return "".join(out)


def _as_text(conversation: Conversation, messages: Iterable[Message]) -> str:
    record = _conversation_record(conversation)
    lines = [
        f"Conversation #{conversation.pk} with {record['contact']['name'] or 'a customer'}",
        f"Inbox: {record['inbox']['name']} ({record['inbox']['channel']})",
        f"Status: {record['status']}  Priority: {record['priority']}  Assignee: {record['assignee'] or 'none'}",
    ]
    if record["subject"]:
        lines.append(f"Subject: {record['subject']}")
    if record["tags"]:
        lines.append(f"Tags: {', '.join(record['tags'])}")
    lines.append(f"Exported: {timezone.now().astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    lines.append("")
    for message in messages:
        when = f"{message.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        who = sender_name(message) or message.sender_kind
        if message.is_private_note:
            heading = f"[{when}] PRIVATE NOTE by {who} (not seen by the customer)"
        else:
            heading = f"[{when}] {who} ({message.sender_kind}, {message.inbox.kind})"
        lines.append(heading)
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        lines.append(message.body)
        files = [a.filename for a in message.attachments.all()]
        if files:
            lines.append(f"Attachments: {', '.join(files)}")
        lines.append("")
    return "\n".join(lines)


class ConversationExportView(APIView):
    """Download one conversation's history as ``json``, ``csv`` or ``txt`` (``?format=``, default json)."""

    renderer_classes = (JSONRenderer,)
    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(
        operation_id="conversations_export",
        summary="Download a conversation's history",
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), default="json", description="The file type."),
            OpenApiParameter("notes", bool, default=True, description="Include private notes (marked as such)."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="format=json"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv: one row per message"),
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="format=txt: a transcript"),
            400: OpenApiResponse(ErrorSerializer, description="An unknown format."),
        },
    )
    def get(self, request: Request, conversation_pk: str) -> HttpResponse:
        file_format = request.query_params.get("format", "json").lower()
        if file_format not in FORMATS:
            raise ValidationError({"format": [f"Use one of {', '.join(FORMATS)}."]})
        if not (str(conversation_pk).isascii() and str(conversation_pk).isdigit()):
            raise Http404
        conversation = get_object_or_404(
            conversations_visible_to(request.user)
            .select_related("inbox", "contact", "assignee__agent_profile", "team")
            .prefetch_related("tags", "contact__identities"),
            pk=int(conversation_pk),
        )
        notes = _include_notes(request)
        messages = _history(conversation, notes=notes)
        filename = f"conversation-{conversation.pk}.{file_format}"
        if file_format == "json":
            document = {
                "conversation": _conversation_record(conversation),
                "messages": [_message_record(m) for m in messages],
                "events": _events(conversation, notes=notes),
                "exported_at": timezone.now().isoformat(),
            }
            content = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
            response = HttpResponse(content, content_type="application/json; charset=utf-8")
        elif file_format == "csv":
            response = HttpResponse(_as_csv(messages), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(_as_text(conversation, messages), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = _attachment(filename)
        return response


# --- A filtered list, streamed ------------------------------------------------------------------

LIST_COLUMNS = (
    "id",
    "subject",
    "status",
    "priority",
    "handler",
    "channel",
    "inbox",
    "contact_id",
    "contact_name",
    "assignee",
    "team",
    "tags",
    "topic",
    "message_count",
    "created_at",
    "last_message_at",
    "first_response_at",
    "resolved_at",
    "last_message_preview",
)


def _list_row(conversation: Conversation) -> list[Any]:
    return [
        conversation.pk,
        conversation.subject,
        conversation.status,
        Priority(conversation.priority).label,
        conversation.handler,
        conversation.inbox.kind,
        conversation.inbox.name,
        conversation.contact_id,
        conversation.contact.name,
        _user_name(conversation.assignee),
        conversation.team.name if conversation.team else "",
        ", ".join(sorted(tag.name for tag in conversation.tags.all())),
        conversation.topic,
        conversation.message_count,
        _iso(conversation.created_at),
        _iso(conversation.last_message_at),
        _iso(conversation.first_response_at),
        _iso(conversation.resolved_at),
        conversation.last_message_preview,
    ]


def conversation_csv_chunks(conversations: QuerySet[Conversation]) -> Iterator[str]:
    """The CSV, a few hundred lines at a time; rows are read from the database in chunks as they are written."""
    writer = csv.writer(_Echo())
    yield writer.writerow(LIST_COLUMNS)
    batch: list[str] = []
    for conversation in conversations.iterator(chunk_size=CHUNK_SIZE):
        batch.append(writer.writerow([safe_cell(cell) for cell in _list_row(conversation)]))
        if len(batch) >= LINES_PER_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


async def _served_async(chunks: Iterator[str]) -> AsyncIterator[str]:
    """Hand a synchronous generator to an ASGI server chunk by chunk, in the thread that owns its cursor."""

    def take() -> str | None:
        return next(chunks, None)

    take_async = sync_to_async(take, thread_sensitive=True)
    while (chunk := await take_async()) is not None:
        yield chunk


class ConversationListExportView(APIView):
    """Every conversation the list shows for these query parameters, as CSV, streamed."""

    renderer_classes = (JSONRenderer,)
    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(
        operation_id="conversations_export_csv",
        summary="Download the filtered conversation list as CSV",
        description="Takes the conversation list's query parameters (filters, `q=`, `sort=`); all rows, streamed.",
        parameters=[
            OpenApiParameter(name, str, description=str(getattr(field, "extra", {}).get("help_text") or ""))
            for name, field in ConversationFilter.base_filters.items()
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per conversation."),
            400: OpenApiResponse(ErrorSerializer, description="A filter's value is invalid: the message says which."),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        conversations = filtered_conversations(request)  # bad filters are a 400 here, before streaming
        chunks = conversation_csv_chunks(conversations)
        content: Iterator[str] | AsyncIterator[str] = (
            _served_async(chunks) if isinstance(request._request, ASGIRequest) else chunks
        )
        response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = _attachment(f"conversations-{timezone.now():%Y%m%d-%H%M%S}.csv")
        response["Cache-Control"] = "no-store"
        return response
