"""The supervisors' analytics dashboard at /analytics/: server-rendered, charts as inline SVG."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from analytics import charts, selectors
from analytics.charts import NO_VALUE, Series
from conversations.models import ChannelKind, Inbox, Team
from conversations.selectors import is_supervisor


def supervisor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the back-office login; signed-in agents who are not staff get a 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not is_supervisor(request.user):
            raise PermissionDenied("Analytics are for supervisors.")
        return view(request, *args, **kwargs)

    return wrapper


def _charts(filters: selectors.Filters, days: list[dict[str, Any]]) -> list[Any]:
    dates = filters.days

    def values(name: str, scale: float = 1.0) -> list[float | None]:
        return [None if day[name] is None else day[name] * scale for day in days]

    hours = [None if v is None else v / 3600 for v in values("resolution_time")]
    return [
        charts.bar_chart(
            "Volume per day",
            dates,
            [Series("New", values("new_conversations")), Series("Resolved", values("resolved"))],
            fmt=charts.number,
        ),
        charts.line_chart(
            "Backlog (open at the end of the day)",
            dates,
            [Series("Open", [float(day["backlog"]) for day in days], "#64748b")],
            fmt=charts.number,
        ),
        charts.line_chart(
            "Response times",
            dates,
            [
                Series("First response", values("first_response_time")),
                Series("Next response", values("next_response_time")),
            ],
            fmt=charts.duration,
            nice=charts.nice_duration,
        ),
        charts.line_chart(
            "Resolution time (hours)", dates, [Series("Resolution", hours, "#d97706")], fmt=charts.number
        ),
        charts.line_chart(
            "SLA compliance",
            dates,
            [Series("Targets met", values("sla_compliance"), "#16a34a")],
            fmt=charts.percent,
            top=1.0,
        ),
        charts.line_chart(
            "Assistant",
            dates,
            [
                Series("Handoff rate", values("handoff_rate"), "#9333ea"),
                Series("Resolved by the assistant", values("assistant_resolved_rate"), "#2563eb"),
            ],
            fmt=charts.percent,
            top=1.0,
        ),
    ]


def _tiles(metrics: dict[str, Any], live: dict[str, int]) -> list[dict[str, str]]:
    csat = metrics["csat_average"]
    return [
        {"label": "Average response time", "value": charts.duration(metrics["response_time"]),
         "note": f"first response {charts.duration(metrics['first_response_time'])}"},
        {"label": "Active conversations", "value": charts.number(live["active_now"]),
         "note": f"{charts.number(live['open_now'])} open (active or pending)"},
        {"label": "CSAT", "value": NO_VALUE if csat is None else f"{csat:.1f} / 5",
         "note": f"{charts.percent(metrics['csat_score'])} satisfied, "
                 f"{charts.number(metrics['csat_responses'])} ratings"},
        {"label": "Resolved today", "value": charts.number(live["resolved_today"]),
         "note": f"{charts.number(metrics['resolved'])} in the period"},
        {"label": "Resolution time", "value": charts.duration(metrics["resolution_time"]),
         "note": f"business hours {charts.duration(metrics['resolution_time_business'])}"},
        {"label": "SLA compliance", "value": charts.percent(metrics["sla_compliance"]), "note": "targets met"},
        {"label": "Handoff rate", "value": charts.percent(metrics["handoff_rate"]),
         "note": f"assistant resolved {charts.percent(metrics['assistant_resolved_rate'])}"},
        {"label": "New conversations", "value": charts.number(metrics["new_conversations"]),
         "note": f"{charts.number(metrics['messages_per_conversation'])} messages per conversation"},
    ]  # fmt: skip


@supervisor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        filters = selectors.parse_filters(request.GET)
    except selectors.FilterError as exc:
        error = str(exc)
        filters = selectors.parse_filters({})
    else:
        error = ""
    report = selectors.report(filters)
    metrics, days = report["metrics"], report["days"]
    query = urlencode({k: v for k, v in selectors.filters_payload(filters).items() if v is not None})
    context = {
        "company_name": settings.COMPANY_NAME,
        "filters": filters,
        "error": error,
        "tiles": _tiles(metrics, selectors.live_counts(filters)),
        "charts": _charts(filters, days),
        "agents": report["agents"],
        "channels": report["channels"],
        "teams": Team.objects.order_by("name"),
        "inboxes": Inbox.objects.order_by("name"),
        "channel_choices": ChannelKind.choices,
        "query": query,
        "exports": [("day", "Per day"), ("agent", "Per agent"), ("channel", "Per channel"), ("team", "Per team")],
    }
    return render(request, "analytics/dashboard.html", context, status=400 if error else 200)


def csat_page(request: HttpRequest, token: str) -> HttpResponse:
    """The page a survey email links to: a 1-5 rating and an optional comment, no login (the link is signed)."""
    from analytics import csat
    from conversations.services import ServiceError

    survey = csat.survey_from_link(token)
    context: dict[str, Any] = {"company_name": settings.COMPANY_NAME, "survey": survey, "ratings": range(1, 6)}
    if survey is None:
        context["error"] = "This link is not valid or has expired."
        return render(request, "analytics/csat.html", context, status=404)
    if survey.answered_at is not None:
        return render(request, "analytics/csat.html", {**context, "done": True})
    if request.method == "POST":
        try:
            csat.survey_answer(
                survey=survey,
                rating=request.POST.get("rating", ""),
                comment=request.POST.get("comment", ""),
                via="email",
            )
        except ServiceError as exc:
            context.update(error=" ".join(exc.messages), comment=request.POST.get("comment", ""))
            return render(request, "analytics/csat.html", context, status=400)
        return render(request, "analytics/csat.html", {**context, "done": True})
    return render(request, "analytics/csat.html", context)
