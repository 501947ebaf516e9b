"""Formatting of metric values in the dashboard (the same as on the charts' axes)."""

from __future__ import annotations

from django import template

from analytics import charts
from analytics.charts import NO_VALUE

register = template.Library()


@register.filter
def duration(value: float | None) -> str:
    return charts.duration(value)


@register.filter
def percent(value: float | None) -> str:
    return charts.percent(value)


@register.filter
def number(value: float | None) -> str:
    return charts.number(value)


@register.filter
def rating(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.1f}"
