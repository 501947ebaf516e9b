"""Analytics REST API under /api/v1/analytics/: supervisors only, every report with the same filters.

Filters (all optional): ``start`` and ``end`` (YYYY-MM-DD, inclusive; the last 30 days by
default), ``team``, ``inbox`` (ids) and ``channel`` (webchat, sms, whatsapp, email, voice, api).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from conversations.api.exports import _IgnoreFormatParameter, safe_cell
from conversations.api.permissions import IsSupervisor
from conversations.api.serializers import ErrorSerializer
from conversations.models import ChannelKind

FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (inclusive); default 29 days before end."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (inclusive); default today."),
    OpenApiParameter("team", int, description="Only this team's conversations (the team at the time)."),
    OpenApiParameter("inbox", int, description="Only this inbox."),
    OpenApiParameter("channel", str, enum=list(ChannelKind.values), description="Only this channel."),
]
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A filter is invalid: the message says which."),
    403: OpenApiResponse(ErrorSerializer, description="Not a supervisor."),
}
BREAKDOWNS = ("agent", "team", "inbox", "channel")
EXPORT_GROUPS = ("day", *BREAKDOWNS)


def _filters(request: Request) -> selectors.Filters:
    try:
        return selectors.parse_filters(request.query_params)
    except selectors.FilterError as exc:
        raise ValidationError(str(exc)) from None


class _AnalyticsView(APIView):
    permission_classes = [IsSupervisor]
    content_negotiation_class = _IgnoreFormatParameter


class SummaryView(_AnalyticsView):
    @extend_schema(
        operation_id="analytics_summary",
        summary="Every metric over the period, and the live counts",
        parameters=FILTER_PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request)
        return Response({**selectors.summary(filters), "live": selectors.live_counts(filters)})


class TimeseriesView(_AnalyticsView):
    @extend_schema(
        operation_id="analytics_timeseries",
        summary="Every metric per day, with the backlog at the end of each day",
        parameters=FILTER_PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request)
        return Response({"filters": selectors.filters_payload(filters), "days": selectors.timeseries(filters)})


class BreakdownView(_AnalyticsView):
    by = "agent"

    @extend_schema(
        summary="Every metric per agent, team, inbox or channel",
        parameters=FILTER_PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request)
        return Response({"filters": selectors.filters_payload(filters), "rows": selectors.breakdown(filters, self.by)})


class MetricListView(_AnalyticsView):
    @extend_schema(
        operation_id="analytics_metrics",
        summary="The metrics (name, label, unit) with their value over the period",
        parameters=FILTER_PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request)
        values = selectors.metric_values(selectors.totals(filters))
        metrics = [
            {"name": m.name, "label": m.label, "unit": m.unit, "value": values[m.name]}
            for m in selectors.METRICS.values()
        ]
        return Response({"filters": selectors.filters_payload(filters), "metrics": metrics})


class MetricDetailView(_AnalyticsView):
    @extend_schema(
        operation_id="analytics_metric",
        summary="One metric: its value over the period and per day",
        parameters=FILTER_PARAMETERS,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            404: OpenApiResponse(ErrorSerializer, description="No such metric."),
            **ERRORS,
        },
    )
    def get(self, request: Request, name: str) -> Response:
        metric = selectors.METRICS.get(name)
        if metric is None and name != "backlog":
            raise NotFound(f"No metric {name!r}; GET /api/v1/analytics/metrics/ lists them.")
        filters = _filters(request)
        days = selectors.timeseries(filters)
        series = [{"day": day["day"], "value": day[name]} for day in days]
        if metric is None:
            value: float | None = series[-1]["value"] if series else None
            label, unit = "Backlog (open at the end of the day)", "count"
        else:
            value = metric.compute(selectors.totals(filters))
            label, unit = metric.label, metric.unit
        return Response(
            {
                "filters": selectors.filters_payload(filters),
                "name": name,
                "label": label,
                "unit": unit,
                "value": value,
                "days": series,
            }
        )


class ExportView(_AnalyticsView):
    @extend_schema(
        operation_id="analytics_export_csv",
        summary="Download a report as CSV: one row per day, agent, team, inbox or channel",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("group", str, enum=list(EXPORT_GROUPS), default="day", description="One row per ..."),
        ],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        group = request.query_params.get("group") or "day"
        if group not in EXPORT_GROUPS:
            raise ValidationError(f"group must be one of {', '.join(EXPORT_GROUPS)}, got {group!r}.")
        filters = _filters(request)
        body = export_csv(filters, group)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"analytics-{group}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def export_csv(filters: selectors.Filters, group: str) -> str:
    rows: list[dict[str, Any]]
    if group == "day":
        rows = selectors.timeseries(filters)
        head = ["day", "backlog"]
    else:
        rows = selectors.breakdown(filters, group)
        head = ["id", "name"]
    columns = [*head, *selectors.METRICS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return safe_cell(value)
