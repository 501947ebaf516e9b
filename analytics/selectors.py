"""Reports: sums of daily rollups, turned into the metrics of docs/ANALYTICS.md.

Every report reads ``DailyRollup`` only (plus one live count of open conversations), so its
cost grows with days, inboxes, teams and agents, not with the number of conversations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet, Sum
from django.utils import timezone

from analytics.models import DailyRollup, FactKind, MetricFact
from conversations.models import ChannelKind, Conversation, Inbox, Status, Team

MAX_RANGE_DAYS = 400

SUM_FIELDS = (
    "new",
    "assistant_started",
    "handoffs",
    "assistant_resolved",
    "reopened",
    "backlog_in",
    "backlog_out",
    "handled",
    "first_responses",
    "first_response_seconds",
    "first_response_business_seconds",
    "next_responses",
    "next_response_seconds",
    "next_response_business_seconds",
    "resolutions",
    "resolution_seconds",
    "resolution_business_seconds",
    "resolution_messages",
    "resolution_active_seconds",
    "sla_measured",
    "sla_met",
    "csat_responses",
    "csat_total",
    "csat_satisfied",
)

Sums = Mapping[str, float]


class FilterError(ValueError):
    """A filter that cannot be applied, with a message for the person who sent it."""


@dataclasses.dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    team_id: int | None = None
    inbox_id: int | None = None
    channel: str | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date as YYYY-MM-DD, got {value!r}.") from None


def _parse_id(name: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise FilterError(f"{name} must be an id (a whole number), got {value!r}.")
    return int(value)


def parse_filters(params: Mapping[str, str], *, default_days: int = 30) -> Filters:
    """Filters from query parameters: start, end (YYYY-MM-DD, inclusive), team, inbox, channel."""
    today = timezone.localdate()
    end = _parse_date("end", params["end"]) if params.get("end") else today
    start = _parse_date("start", params["start"]) if params.get("start") else end - timedelta(days=default_days - 1)
    if start > end:
        raise FilterError("start must not be after end.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise FilterError(f"A report covers at most {MAX_RANGE_DAYS} days.")
    team = _parse_id("team", params["team"]) if params.get("team") else None
    inbox = _parse_id("inbox", params["inbox"]) if params.get("inbox") else None
    channel = params.get("channel") or None
    if channel is not None and channel not in ChannelKind.values:
        raise FilterError(f"Unknown channel {channel!r}; use one of {', '.join(ChannelKind.values)}.")
    if team is not None and not Team.objects.filter(pk=team).exists():
        raise FilterError(f"There is no team {team}.")
    if inbox is not None and not Inbox.objects.filter(pk=inbox).exists():
        raise FilterError(f"There is no inbox {inbox}.")
    return Filters(start=start, end=end, team_id=team, inbox_id=inbox, channel=channel)


def _dimensions(queryset: QuerySet[Any], filters: Filters) -> QuerySet[Any]:
    if filters.team_id is not None:
        queryset = queryset.filter(team_id=filters.team_id)
    if filters.inbox_id is not None:
        queryset = queryset.filter(inbox_id=filters.inbox_id)
    if filters.channel is not None:
        queryset = queryset.filter(channel=filters.channel)
    return queryset


def rollups(filters: Filters) -> QuerySet[DailyRollup]:
    return _dimensions(DailyRollup.objects.filter(day__gte=filters.start, day__lte=filters.end), filters)


def _sums(row: Mapping[str, Any]) -> dict[str, float]:
    return {name: row.get(name) or 0 for name in SUM_FIELDS}


_AGGREGATES = {name: Sum(name) for name in SUM_FIELDS}


def totals(filters: Filters) -> dict[str, float]:
    return _sums(rollups(filters).aggregate(**_AGGREGATES))


GROUP_FIELDS = ("day", "agent_id", "team_id", "inbox_id", "channel")


def grouped(filters: Filters, by: str) -> dict[Any, dict[str, float]]:
    """Sums per day, agent_id, team_id, inbox_id or channel."""
    rows = rollups(filters).values(by).annotate(**_AGGREGATES).order_by(by)
    return {row[by]: _sums(row) for row in rows}


def grouped_many(filters: Filters, fields: Sequence[str]) -> dict[str, dict[Any, dict[str, float]]]:
    """Sums grouped several ways at once. On PostgreSQL one scan with GROUPING SETS; elsewhere a query each."""
    if connection.vendor != "postgresql" or len(fields) < 2:
        return {field: grouped(filters, field) for field in fields}
    assert set(fields) <= set(GROUP_FIELDS)
    where: list[str] = ["day >= %s", "day <= %s"]
    params: list[Any] = [filters.start, filters.end]
    for column, value in (("team_id", filters.team_id), ("inbox_id", filters.inbox_id), ("channel", filters.channel)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    sums = ", ".join(f"SUM({name})" for name in SUM_FIELDS)
    sets = ", ".join(f"({field})" for field in fields)
    sql = (
        f"SELECT {', '.join(fields)}, GROUPING({', '.join(fields)}), {sums} "  # noqa: S608 - names are ours
        f"FROM {DailyRollup._meta.db_table} WHERE {' AND '.join(where)} GROUP BY GROUPING SETS ({sets})"
    )
    # GROUPING() has a bit per field, the first the most significant, set when the field is not grouped.
    width = len(fields)
    bit_of = {(1 << width) - 1 - (1 << (width - 1 - index)): field for index, field in enumerate(fields)}
    result: dict[str, dict[Any, dict[str, float]]] = {field: {} for field in fields}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            field = bit_of[row[width]]
            key = row[fields.index(field)]
            result[field][key] = _sums(dict(zip(SUM_FIELDS, row[width + 1 :], strict=True)))
    return result


# --- Metrics from sums ------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str  # seconds, count, ratio, rating, messages
    compute: Callable[[Sums], float | None]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("first_response_time", "First response time", "seconds",
               lambda s: _ratio(s["first_response_seconds"], s["first_responses"])),
        Metric("first_response_time_business", "First response time (business hours)", "seconds",
               lambda s: _ratio(s["first_response_business_seconds"], s["first_responses"])),
        Metric("next_response_time", "Next response time", "seconds",
               lambda s: _ratio(s["next_response_seconds"], s["next_responses"])),
        Metric("next_response_time_business", "Next response time (business hours)", "seconds",
               lambda s: _ratio(s["next_response_business_seconds"], s["next_responses"])),
        Metric("response_time", "Average response time", "seconds",
               lambda s: _ratio(s["first_response_seconds"] + s["next_response_seconds"],
                                s["first_responses"] + s["next_responses"])),
        Metric("resolution_time", "Resolution time", "seconds",
               lambda s: _ratio(s["resolution_seconds"], s["resolutions"])),
        Metric("resolution_time_business", "Resolution time (business hours)", "seconds",
               lambda s: _ratio(s["resolution_business_seconds"], s["resolutions"])),
        Metric("messages_per_conversation", "Messages per conversation", "messages",
               lambda s: _ratio(s["resolution_messages"], s["resolutions"])),
        Metric("active_time", "Active conversation time", "seconds",
               lambda s: _ratio(s["resolution_active_seconds"], s["resolutions"])),
        Metric("new_conversations", "New conversations", "count", lambda s: s["new"]),
        Metric("resolved", "Resolved", "count", lambda s: s["resolutions"]),
        Metric("reopened", "Reopened", "count", lambda s: s["reopened"]),
        Metric("handled", "Conversations handled", "count", lambda s: s["handled"]),
        Metric("first_responses", "First responses", "count", lambda s: s["first_responses"]),
        Metric("resolution_rate", "Resolution rate", "ratio", lambda s: _ratio(s["resolutions"], s["handled"])),
        Metric("handoffs", "Handoffs", "count", lambda s: s["handoffs"]),
        Metric("handoff_rate", "Handoff rate", "ratio", lambda s: _ratio(s["handoffs"], s["assistant_started"])),
        Metric("assistant_resolved", "Resolved by the assistant", "count", lambda s: s["assistant_resolved"]),
        Metric("assistant_resolved_rate", "Assistant-resolved rate", "ratio",
               lambda s: _ratio(s["assistant_resolved"], s["assistant_started"])),
        Metric("sla_compliance", "SLA compliance", "ratio", lambda s: _ratio(s["sla_met"], s["sla_measured"])),
        Metric("csat_average", "CSAT (average rating)", "rating",
               lambda s: _ratio(s["csat_total"], s["csat_responses"])),
        Metric("csat_score", "CSAT (share of 4 and 5)", "ratio",
               lambda s: _ratio(s["csat_satisfied"], s["csat_responses"])),
        Metric("csat_responses", "CSAT responses", "count", lambda s: s["csat_responses"]),
    )
}  # fmt: skip

# Metrics that are sums of one day's rows and so also make sense per team or agent.
BACKLOG_METRIC = "backlog"
LIVE_METRICS = ("active_now", "open_now", "resolved_today")


def metric_values(sums: Sums) -> dict[str, float | None]:
    return {name: metric.compute(sums) for name, metric in METRICS.items()}


def backlog_series(filters: Filters, per_day: dict[Any, dict[str, float]] | None = None) -> dict[date, int]:
    """Open conversations (active or pending) at the end of each day of the range."""
    before = _dimensions(DailyRollup.objects.filter(day__lt=filters.start), filters).aggregate(
        entered=Sum("backlog_in"), left=Sum("backlog_out")
    )
    level = (before["entered"] or 0) - (before["left"] or 0)
    per_day = grouped(filters, "day") if per_day is None else per_day
    series = {}
    for day in filters.days:
        sums = per_day.get(day)
        if sums:
            level += int(sums["backlog_in"] - sums["backlog_out"])
        series[day] = level
    return series


def live_counts(filters: Filters) -> dict[str, int]:
    """Counts of right now, read from the conversations themselves (they are not history)."""
    conversations = Conversation.objects.all()
    if filters.team_id is not None:
        conversations = conversations.filter(team_id=filters.team_id)
    if filters.inbox_id is not None:
        conversations = conversations.filter(inbox_id=filters.inbox_id)
    if filters.channel is not None:
        conversations = conversations.filter(inbox__kind=filters.channel)
    facts = _dimensions(MetricFact.objects.filter(day=timezone.localdate(), kind=FactKind.RESOLUTION), filters)
    return {
        "active_now": conversations.filter(status=Status.ACTIVE).count(),
        "open_now": conversations.filter(status__in=[Status.ACTIVE, Status.PENDING]).count(),
        # From the facts, not the rollups: today's rollup may be a few minutes behind.
        "resolved_today": facts.count(),
    }


# --- Whole reports ----------------------------------------------------------------------------


def _names(model: Any, ids: set[Any], label: Callable[[Any], str]) -> dict[Any, str]:
    return {obj.pk: label(obj) for obj in model.objects.filter(pk__in=[i for i in ids if i is not None])}


def _agent_label(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def summary(filters: Filters) -> dict[str, Any]:
    sums = totals(filters)
    return {"filters": filters_payload(filters), "metrics": metric_values(sums), "totals": sums}


def timeseries(filters: Filters, per_day: dict[Any, dict[str, float]] | None = None) -> list[dict[str, Any]]:
    per_day = grouped(filters, "day") if per_day is None else per_day
    backlog = backlog_series(filters, per_day)
    empty = _sums({})
    return [
        {"day": day.isoformat(), "backlog": backlog[day], **metric_values(per_day.get(day, empty))}
        for day in filters.days
    ]


def report(filters: Filters) -> dict[str, Any]:
    """What the dashboard shows: the period's metrics, every day's, and per agent and channel.

    The per-day sums are read once and added up for the period's totals (sums add up).
    """
    groups = grouped_many(filters, ["day", "agent_id", "channel"])
    per_day = groups["day"]
    totals = _sums({name: sum(day[name] for day in per_day.values()) for name in SUM_FIELDS})
    return {
        "metrics": metric_values(totals),
        "days": timeseries(filters, per_day),
        "agents": breakdown(filters, "agent", groups["agent_id"]),
        "channels": breakdown(filters, "channel", groups["channel"]),
    }


def breakdown(filters: Filters, by: str, groups: dict[Any, dict[str, float]] | None = None) -> list[dict[str, Any]]:
    """One row per agent, team, inbox or channel with its metrics."""
    field = {"agent": "agent_id", "team": "team_id", "inbox": "inbox_id", "channel": "channel"}[by]
    groups = grouped(filters, field) if groups is None else groups
    if by == "agent":
        names = _names(get_user_model(), set(groups), _agent_label)
    elif by == "team":
        names = _names(Team, set(groups), str)
    elif by == "inbox":
        names = _names(Inbox, set(groups), lambda inbox: inbox.name)
    else:
        names = {value: ChannelKind(value).label for value in groups if value in ChannelKind.values}
    rows = []
    for key, sums in groups.items():
        if by == "agent" and key is None:
            continue  # facts of no agent (new conversations, the assistant's) are not a person's
        name = names.get(key, "No team" if key is None else f"#{key}")
        rows.append({"id": key, "name": name, **metric_values(sums)})
    return sorted(rows, key=lambda row: str(row["name"]).lower())


def filters_payload(filters: Filters) -> dict[str, Any]:
    return {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "team": filters.team_id,
        "inbox": filters.inbox_id,
        "channel": filters.channel,
    }
