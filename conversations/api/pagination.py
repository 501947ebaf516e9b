"""Keyset (cursor) pagination that stays correct while rows arrive and ties abound.

Every ordering ends with the primary key, so it is total; the cursor carries the last row's values
of every ordering field and the next page is "rows strictly after that key" (a lexicographic
comparison). A conversation that arrives or moves while a client pages never makes a row appear
twice or be skipped among the rows that did not move, unlike offsets. DRF's CursorPagination keys
on the first field only and steps over ties with an offset; this keys on all of them.

A cursor is opaque to clients (base64 of JSON); a malformed cursor, or one made for another
sort, is a 400 that says so.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from django.db.models import F, Model, Q
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

# An ordering: (field or annotation name, descending?). The last entry is always the primary key.
Ordering = tuple[tuple[str, bool], ...]


def ordering_from(fields: tuple[str, ...]) -> Ordering:
    return tuple((name.lstrip("-"), name.startswith("-")) for name in fields)


class KeysetPagination(BasePagination):
    page_size = 25
    max_page_size = 100
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.next_cursor: str | None = None
        self.previous_cursor: str | None = None
        self.request: Request | None = None

    # --- what views tell us ---------------------------------------------------------------------

    def get_ordering(self, request: Request, view: Any) -> tuple[str, Ordering]:
        """(name of the ordering, the ordering): views may offer several (``?sort=``)."""
        if hasattr(view, "get_keyset_ordering"):
            name, fields = view.get_keyset_ordering(request)
        else:
            name, fields = "default", getattr(view, "keyset_ordering", ("-id",))
        return name, ordering_from(fields)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({self.page_size_query_param: ["Must be a whole number."]}) from None
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"Must be between 1 and {self.max_page_size}."]})
        return size

    # --- cursors --------------------------------------------------------------------------------

    @staticmethod
    def _encode(payload: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")

    def _decode(self, raw: str, sort: str, ordering: Ordering) -> tuple[list[Any], bool]:
        bad = ValidationError({self.cursor_query_param: ["Invalid cursor: use the next or previous link as given."]})
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise bad from None
        if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
            raise bad
        if payload.get("s") != sort:
            raise ValidationError(
                {self.cursor_query_param: ["This cursor was made for another sort order; start again without it."]}
            )
        keys = payload["k"]
        if len(keys) != len(ordering) or not all(isinstance(k, str | int | float) or k is None for k in keys):
            raise bad
        return keys, bool(payload.get("p"))

    @staticmethod
    def _key_value(obj: Model, name: str) -> Any:
        value: Any = obj
        for part in name.split("__"):
            value = getattr(value, part, None) if value is not None else None
        if isinstance(value, Model):
            value = value.pk
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    def _make_cursor(self, obj: Model, sort: str, ordering: Ordering, *, previous: bool) -> str:
        keys = [self._key_value(obj, name) for name, _desc in ordering]
        return self._encode({"s": sort, "k": keys, **({"p": 1} if previous else {})})

    @staticmethod
    def _after(ordering: Ordering, keys: list[Any], *, backwards: bool) -> Q:
        """Rows strictly after ``keys`` in ``ordering`` (before them when ``backwards``)."""
        condition = Q()
        for i in range(len(ordering) - 1, -1, -1):
            name, desc = ordering[i]
            value = keys[i]
            if isinstance(value, str) and name.endswith("_at"):
                value = parse_datetime(value) or value
            lookup = "lt" if desc != backwards else "gt"
            strictly = Q(**{f"{name}__{lookup}": value})
            condition = strictly if i == len(ordering) - 1 else strictly | (Q(**{name: value}) & condition)
        return condition

    # --- the page -------------------------------------------------------------------------------

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        sort, ordering = self.get_ordering(request, view)
        size = self.get_page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        backwards = False
        if raw:
            keys, backwards = self._decode(raw, sort, ordering)
            try:
                queryset = queryset.filter(self._after(ordering, keys, backwards=backwards))
            except (ValueError, TypeError):
                raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None
        order_by = [_order(name, desc != backwards) for name, desc in ordering]
        rows = list(queryset.order_by(*order_by)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.next_cursor = self.previous_cursor = None
        if rows:
            if more or backwards:
                self.next_cursor = self._make_cursor(rows[-1], sort, ordering, previous=False)
            if raw and (more or not backwards):
                self.previous_cursor = self._make_cursor(rows[0], sort, ordering, previous=True)
        return rows

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self._link(self.next_cursor)),
                    ("previous", self._link(self.previous_cursor)),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri", "description": "The next page."},
                "previous": {"type": "string", "nullable": True, "format": "uri", "description": "The page before."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (1 to {self.max_page_size}, default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def _order(name: str, desc: bool) -> Any:
    return F(name).desc() if desc else F(name).asc()
