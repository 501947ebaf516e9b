"""Charts drawn on the server as inline SVG: no JavaScript library, nothing fetched from the internet.

Every label is escaped; numbers are formatted by the caller's ``fmt`` for the axis.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 28
NO_VALUE = "\u2013"  # an en dash: no data
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626")


@dataclasses.dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    color: str = ""


def _nice_ceiling(value: float) -> float:
    """A round number at or above ``value`` for the top of the axis (1, 2, 2.5, 5 times 10^n)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


# Tops for a duration axis whose four steps are round: 15 s, 5 min, 15 min, 1 h, 3 h, 6 h, ...
_DURATION_TOPS = [
    s * m
    for m, steps in ((1, (20, 40, 60)), (60, (2, 4, 8, 20, 40, 60)), (3600, (2, 4, 8, 12, 24, 48, 96, 192, 384)))
    for s in steps
]


def nice_duration(value: float) -> float:
    """A top for a duration axis (in seconds) at or above ``value`` that divides into round quarters."""
    return float(next((top for top in _DURATION_TOPS if top >= value), _nice_ceiling(value)))


def _x_labels(days: Sequence[date]) -> list[tuple[int, str]]:
    if not days:
        return []
    every = max(1, math.ceil(len(days) / 8))
    return [(i, f"{day:%b} {day.day}") for i, day in enumerate(days) if i % every == 0]


def _frame(days: Sequence[date], top: float, fmt: Callable[[float], str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(fmt(value))}</text>')
    step = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    for index, label in _x_labels(days):
        x = LEFT + step * (index + 0.5)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">{escape(label)}</text>')
    return parts


def _svg(title: str, parts: list[str], series: Sequence[Series]) -> SafeString:
    legend = "".join(
        f'<span class="legend-item"><i style="background:{s.color}"></i>{escape(s.label)}</span>' for s in series
    )
    body = "".join(parts)
    return mark_safe(  # noqa: S308 - every piece of text above is escaped
        f'<figure class="chart"><figcaption>{escape(title)}<span class="legend">{legend}</span></figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMidYMid meet">{body}</svg></figure>'
    )


def _colored(series: Sequence[Series]) -> list[Series]:
    return [s if s.color else dataclasses.replace(s, color=PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]


def line_chart(
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str],
    top: float | None = None,
    nice: Callable[[float], float] = _nice_ceiling,
) -> SafeString:
    """Lines over days; a missing value (no data that day) breaks the line."""
    series = _colored(series)
    highest = max((v for s in series for v in s.values if v is not None), default=0.0)
    top = top if top is not None else nice(highest)
    plot_h, step = HEIGHT - TOP - BOTTOM, (WIDTH - LEFT - RIGHT) / max(1, len(days))
    parts = _frame(days, top, fmt)
    for s in series:
        runs: list[list[str]] = [[]]
        for index, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x, y = LEFT + step * (index + 0.5), TOP + plot_h - plot_h * min(value, top) / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
            tip = escape(f"{s.label} {days[index]:%b} {days[index].day}: {fmt(value)}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{s.color}"><title>{tip}</title></circle>')
        for run in runs:
            if len(run) > 1:
                points = " ".join(run)
                parts.append(f'<polyline points="{points}" fill="none" stroke="{s.color}" stroke-width="2"/>')
    return _svg(title, parts, series)


def bar_chart(title: str, days: Sequence[date], series: Sequence[Series], *, fmt: Callable[[float], str]) -> SafeString:
    """Grouped bars per day (one bar per series)."""
    series = _colored(series)
    highest = max((v for s in series for v in s.values if v is not None), default=0.0)
    top = _nice_ceiling(highest)
    plot_h, step = HEIGHT - TOP - BOTTOM, (WIDTH - LEFT - RIGHT) / max(1, len(days))
    bar_w = max(1.0, step * 0.8 / max(1, len(series)))
    parts = _frame(days, top, fmt)
    for number, s in enumerate(series):
        for index, value in enumerate(s.values):
            if not value:
                continue
            height = plot_h * min(value, top) / top
            x = LEFT + step * index + step * 0.1 + bar_w * number
            tip = escape(f"{s.label} {days[index]:%b} {days[index].day}: {fmt(value)}")
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                f'fill="{s.color}"><title>{tip}</title></rect>'
            )
    return _svg(title, parts, series)


# --- Formatting shared by the charts and the dashboard --------------------------------------


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NO_VALUE
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def percent(ratio: float | None) -> str:
    return NO_VALUE if ratio is None else f"{ratio * 100:.0f}%"


def number(value: float | None) -> str:
    if value is None:
        return NO_VALUE
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
