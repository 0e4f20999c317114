"""Occurrence charts of the admin (pure: no ORM, no request).

:func:`hourly` and :func:`daily` turn sparse ``(hour, count)`` rows into a full series (missing
buckets counted 0); :func:`bar_chart` lays a series out as bars. The admin's template
``counterbalance_errors/chart.html`` draws the result as inline SVG, coloured with the admin's
CSS variables (light and dark themes), with a ``<title>``/``<desc>`` text equivalent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from django.utils.translation import gettext


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart laid out in a ``width`` by ``height`` SVG viewport."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    title: str
    desc: str
    total: int
    peak: int


def hourly(
    rows: Iterable[tuple[datetime, int]], *, last: datetime, length: int
) -> list[tuple[datetime, int]]:
    """``length`` hours ending with the one starting at ``last`` (missing hours count 0).

    ``rows`` are (hour start, count); hours outside the range are ignored.
    """
    counts: dict[datetime, int] = {}
    for hour, count in rows:
        counts[hour] = counts.get(hour, 0) + count
    starts = [last - timedelta(hours=length - 1 - index) for index in range(length)]
    return [(start, counts.get(start, 0)) for start in starts]


def daily(
    rows: Iterable[tuple[datetime, int]], *, last: date, length: int, tz: tzinfo
) -> list[tuple[date, int]]:
    """``length`` days ending with ``last``: hourly ``rows`` summed by their day in ``tz``."""
    counts: dict[date, int] = {}
    for hour, count in rows:
        day = hour.astimezone(tz).date()
        counts[day] = counts.get(day, 0) + count
    days = [last - timedelta(days=length - 1 - index) for index in range(length)]
    return [(day, counts.get(day, 0)) for day in days]


def bar_chart(
    series: list[tuple[str, int]],
    *,
    width: int,
    height: int,
    title: str,
    gap: float = 1.0,
) -> Chart:
    """Bars for ``series`` (label, count), scaled so the highest fills ``height``.

    A count above zero is at least one unit high, so a single occurrence stays visible.
    The ``desc`` lists every non-empty bucket, as a text equivalent for screen readers.
    """
    peak = max((count for _, count in series), default=0)
    total = sum(count for _, count in series)
    slot = width / len(series) if series else float(width)
    bars = []
    for index, (label, count) in enumerate(series):
        bar_height = 0.0 if count == 0 else max(1.0, height * count / peak)
        bars.append(
            Bar(
                x=round(index * slot, 2),
                y=round(height - bar_height, 2),
                width=round(max(slot - gap, 1.0), 2),
                height=round(bar_height, 2),
                label=label,
                count=count,
            )
        )
    busy = [f"{label}: {count}" for label, count in series if count]
    desc = gettext("%(total)s in all") % {"total": total} + (f"; {', '.join(busy)}" if busy else "")
    return Chart(width, height, tuple(bars), title, desc, total, peak)
