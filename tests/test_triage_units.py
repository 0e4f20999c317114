"""The triage desk's pure parts: charts, traceback folding, search terms, times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from counterbalance_errors import charts
from counterbalance_errors.admin import (
    Search,
    chart_svg,
    is_library_file,
    parse_search,
    traceback_blocks,
    traceback_html,
    when,
)

HOUR = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_hourly_fills_missing_hours_and_ignores_others() -> None:
    rows = [(HOUR, 3), (HOUR - timedelta(hours=2), 1), (HOUR - timedelta(hours=9), 7)]
    series = charts.hourly(rows, last=HOUR, length=4)
    assert series == [
        (HOUR - timedelta(hours=3), 0),
        (HOUR - timedelta(hours=2), 1),
        (HOUR - timedelta(hours=1), 0),
        (HOUR, 3),
    ]


def test_daily_sums_hours_by_their_day_in_the_timezone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: 16:00 UTC is the next day there
    rows = [(HOUR, 2), (HOUR.replace(hour=16), 5), (HOUR - timedelta(days=1), 1)]
    series = charts.daily(rows, last=date(2026, 3, 2), length=3, tz=tokyo)
    assert series == [(date(2026, 2, 28), 1), (date(2026, 3, 1), 2), (date(2026, 3, 2), 5)]


def test_bar_chart_scales_to_the_peak_and_keeps_single_occurrences_visible() -> None:
    chart = charts.bar_chart([("a", 0), ("b", 1), ("c", 200)], width=30, height=20, title="T")
    heights = [bar.height for bar in chart.bars]
    assert heights == [0.0, 1.0, 20.0]
    assert [bar.x for bar in chart.bars] == [0.0, 10.0, 20.0]
    assert chart.bars[2].y == 0.0
    assert (chart.total, chart.peak) == (201, 200)
    assert chart.desc == "201 in all; b: 1, c: 200"


def test_an_empty_chart_has_no_bars_drawn() -> None:
    chart = charts.bar_chart([("a", 0), ("b", 0)], width=10, height=5, title="T")
    assert chart.desc == "0 in all"
    svg = render_to_string("counterbalance_errors/chart.html", {"chart": chart, "id": "x"})
    assert "<rect" not in svg
    assert "<title" in svg


def test_the_svg_uses_the_admin_theme_and_has_a_text_equivalent() -> None:
    svg = chart_svg("cb-1", [("10:00", 2), ("11:00", 0)], 40, 10, "Per hour")
    assert svg.startswith('<svg class="cb-chart"')
    assert 'role="img" aria-labelledby="cb-1-t cb-1-d"' in svg
    assert '<title id="cb-1-t">Per hour</title>' in svg
    assert '<desc id="cb-1-d">2 in all; 10:00: 2</desc>' in svg
    assert "var(--link-fg" in svg
    assert "var(--hairline-color" in svg
    assert svg.count("<rect") == 1
    assert "<script" not in svg
    assert "href" not in svg


def test_chart_labels_are_escaped() -> None:
    svg = chart_svg("cb-2", [("<script>alert(1)</script>", 1)], 10, 10, "<b>t</b>")
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: 1" in svg


TRACEBACK = """Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "/venv/lib/python3.11/site-packages/django/core/handlers/base.py", line 197, in _get
    response = wrapped_callback(request, *callback_args, **callback_kwargs)
  File "/srv/shop/views.py", line 12, in crash
    return JsonResponse({"ratio": 1 / 0})
                                  ~~^~~
  File "/srv/shop/<b>pricing</b>.py", line 3, in ratio
    return a / b
ZeroDivisionError: division by zero"""


def test_traceback_blocks_fold_library_frames_and_keep_app_frames() -> None:
    blocks = traceback_blocks(TRACEBACK)
    assert [(block.kind, block.frames) for block in blocks] == [
        ("text", 0),
        ("library", 2),
        ("app", 1),
        ("app", 1),
        ("text", 0),
    ]
    assert blocks[2].lines[-1].strip() == "~~^~~"
    assert blocks[-1].lines == ("ZeroDivisionError: division by zero",)


def test_a_frame_list_without_a_header_starts_with_its_first_frame() -> None:
    frames = TRACEBACK.splitlines()[1:-1]  # as traceback.format_tb gives them
    blocks = traceback_blocks("\n".join(frames))
    assert [(block.kind, block.frames) for block in blocks] == [
        ("library", 2),
        ("app", 1),
        ("app", 1),
    ]
    assert traceback_blocks("") == []


def test_traceback_html_marks_in_app_frames_escaped() -> None:
    html = traceback_html(TRACEBACK)
    assert html.count('class="cb-frame-app"') == 2
    assert '<details class="cb-frames-library"' in html
    assert "<summary>2 library frames</summary>" in html
    assert "&lt;b&gt;pricing&lt;/b&gt;" in html
    assert "<b>" not in html
    assert "Traceback (most recent call last):" in html
    assert traceback_html("") == "-"


@pytest.mark.parametrize(
    ("filename", "library"),
    [
        ("/usr/lib/python3/dist-packages/rest_framework/views.py", True),
        ("/x/.venv/lib/python3.11/site-packages/django/views.py", True),
        ("/x/counterbalance_errors/middleware.py", True),
        ("<frozen importlib._bootstrap>", True),
        ("/srv/shop/views.py", False),
    ],
)
def test_library_files(filename: str, library: bool) -> None:
    assert is_library_file(filename) is library


HASH = "ab" * 20


@pytest.mark.parametrize(
    ("term", "search"),
    [
        (f"  {HASH.upper()} ", Search(logging_hash=HASH)),
        ("/api/orders/", Search(path_prefix="/api/orders/")),
        ("path: /api", Search(path_prefix="/api")),
        ("user:42", Search(ids=("user_id",), value="42")),
        ("Request: abc", Search(ids=("request_id",), value="abc")),
        ("trace:4bf92f35", Search(ids=("trace_id",), value="4bf92f35")),
        ("42", Search(ids=("request_id", "user_id", "trace_id"), value="42")),
        ("a" * 39, Search(ids=("request_id", "user_id", "trace_id"), value="a" * 39)),
        ("user:", Search(ids=("request_id", "user_id", "trace_id"), value="user:")),
    ],
)
def test_parse_search(term: str, search: Search) -> None:
    assert parse_search(term) == search


def test_times_have_seconds_and_the_timezone() -> None:
    moment = datetime(2026, 3, 1, 12, 5, 9, tzinfo=UTC)
    with timezone.override(UTC):
        shown = when(moment)
    assert shown == '<time datetime="2026-03-01T12:05:09+00:00">2026-03-01 12:05:09 UTC</time>'
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert "2026-03-01 13:05:09 CET" in when(moment)
    assert when(None) == "-"
