"""The benchmark harness's own logic: rows, interleaving, per-round ratios, verdicts, timings.

No benchmark run here (``make bench-smoke`` runs every row in CI; the numbers are in
docs/performance.md): the pyperf benchmarks below are built from given values, and the
timing test counts clock readings and recorder waits with fakes instead of measuring.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyperf
import pytest
from django.utils import translation
from django.utils.translation import trans_real

from benchmarks import micro, run
from benchmarks.run import GROUPS, Contender


def bench(name: str, rounds: list[list[float]]) -> pyperf.Benchmark:
    metadata = {"name": name, "loops": 10, "unit": "second"}
    return pyperf.Benchmark(
        [pyperf.Run(values, metadata=metadata, collect_metadata=False) for values in rounds]
    )


#: Every row issue 11 asks for, with its target (the gunicorn row is benchmarks/servers.py).
ISSUE_ROWS = {
    "success, DRF view, vs without the app": "≤ 1.03",
    "success, plain view, vs without the app": "≤ 1.03",
    "unlogged 404 (DRF NotFound) vs DRF default": "≤ 1.05",
    "unlogged 404 (DRF NotFound) vs drf-standardized-errors": "≤ 0.95",
    "unlogged validation 400 vs DRF default": "≤ 1.05",
    "unlogged validation 400 vs drf-standardized-errors": "≤ 0.95",
    "logged 500's latency vs Django's HTML 500, SQLite": "≤ 1.5",
    "logged 500's latency vs Django's HTML 500, PostgreSQL": "≤ 1.5",
}


def test_every_issue_row_is_measured_with_its_target() -> None:
    targets = {row.label: row.target for rows in GROUPS.values() for row in rows}

    assert {label: targets.get(label) for label in ISSUE_ROWS} == ISSUE_ROWS


def test_the_rows_against_drf_standardized_errors_show_their_floor_in_the_same_run() -> None:
    for name in ("404", "400"):
        versus_dse, floor = [row for row in GROUPS[name] if row.theirs.variant == "dse"]

        assert (floor.ours.variant, floor.target) == ("bare", "")
        assert floor.theirs == versus_dse.theirs


def test_the_success_rows_show_their_floor_in_the_same_run() -> None:
    for name in ("success-drf", "success-plain"):
        ours, floor = GROUPS[name]

        assert (floor.ours.variant, floor.target) == ("header", "")
        assert floor.theirs == ours.theirs


def test_each_row_compares_one_case_on_one_database_timed_one_way() -> None:
    for rows in GROUPS.values():
        for row in rows:
            ours, theirs = row.ours, row.theirs
            assert ours != theirs, row
            assert (ours.case, ours.db, ours.timing) == (theirs.case, theirs.db, theirs.timing)


def test_logged_500s_are_timed_as_latency_with_a_back_to_back_row_beside_them() -> None:
    for name in ("500-sqlite", "500-postgres"):
        latency, back_to_back = GROUPS[name]

        assert (latency.ours.variant, latency.theirs.variant) == ("app", "bare")
        assert latency.ours.timing == "latency"
        assert latency.target
        assert back_to_back.ours.timing == "back-to-back"
        assert "back to back" in back_to_back.label
        assert not back_to_back.target


def test_rounds_alternate_the_order_of_contenders() -> None:
    a, b, c = (Contender(name, "app", "drf-404") for name in "abc")

    assert run.schedule([a, b, c], 3) == [[a, b, c], [c, b, a], [a, b, c]]


def test_ratio_is_the_median_of_the_rounds_ratios_of_values_that_took_turns() -> None:
    app, drf = GROUPS["404"][0].ours, GROUPS["404"][0].theirs
    dse = GROUPS["404"][1].theirs
    benches = {  # a round's values pair by index: the ones that took turns
        app: bench("drf-404 app", [[1.0, 3.0, 2.0], [4.0, 8.0, 4.0], [2.0, 2.0, 2.0]]),
        drf: bench("drf-404 bare", [[2.0, 2.0, 4.0], [2.0, 4.0, 2.0], [2.0, 2.0, 2.0]]),
        dse: bench("drf-404 dse", [[4.0, 4.0, 8.0], [4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]),
    }

    vs_drf, vs_dse, floor = run.lines("404", benches)

    # Round medians 0.5, 2 and 1 (the round's medians, 2 and 2, would say 1 for the first).
    assert vs_drf[3] == "1.000 (0.500-2.000)"
    assert vs_drf[4:6] == ["≤ 1.05", "met"]
    assert vs_dse[3] == "0.500 (0.250-1.000)"  # round medians 0.25, 1 and 0.5
    assert vs_dse[4:6] == ["≤ 0.95", "met"]
    assert floor[3:6] == ["0.500 (0.500-0.500)", "", ""]  # DRF's own handler: no verdict


def test_rounds_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        run.paired(bench("a", [[1.0, 1.0]]), bench("b", [[1.0]]))


@pytest.fixture
def ring(tmp_path: Path) -> tuple[micro.Lockstep, micro.Lockstep]:
    """Two contenders' turns, as run.measure() sets them up, the first holding the token."""
    first, second = tmp_path / "first", tmp_path / "second"
    for fifo in (first, second):
        os.mkfifo(fifo)
    a, b = micro.Lockstep(f"{first},{second}"), micro.Lockstep(f"{second},{first}")
    os.write(a.inbound, b".")
    return a, b


def test_contenders_take_turns_value_by_value(
    ring: tuple[micro.Lockstep, micro.Lockstep], fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = ring
    monkeypatch.setattr(micro.Lockstep, "TIMEOUT", 0.0)  # a turn not given fails at once

    a.timed(1, fakes.app, dict, "cpu")
    with pytest.raises(RuntimeError, match="no turn"):
        a.timed(1, fakes.app, dict, "cpu")  # the token went to b
    b.timed(1, fakes.app, dict, "cpu")
    a.timed(1, fakes.app, dict, "cpu")

    assert fakes.events == ["clock", "request", "clock"] * 3


def test_a_failed_worker_stops_the_round() -> None:
    waiting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    failed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    with pytest.raises(RuntimeError, match="failed"):
        run.finish([waiting, failed])
    assert waiting.returncode == -signal.SIGKILL  # stopped, not waited for


@pytest.mark.parametrize(
    ("target", "ratio", "verdict"),
    [("≤ 1.03", 1.03, "met"), ("≤ 1.03", 1.031, "MISSED"), ("≥ 0.97", 0.96, "MISSED"), ("", 9, "")],
)
def test_verdicts(target: str, ratio: float, verdict: str) -> None:
    assert run.verdict(target, ratio) == verdict


def test_table_shows_spread_verdict_timing_and_rerun_command() -> None:
    row, floor = GROUPS["success-drf"]
    benches = {
        row.ours: bench("drf-success app", [[1.1, 1.1], [0.9, 0.9], [1.0, 1.0]]),
        row.theirs: bench("drf-success bare", [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
        floor.ours: bench("drf-success header", [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
    }

    cells, _ = run.lines("success-drf", benches)
    smoke = run.lines("success-drf", benches, smoke=True)
    line = run.table(["a"] * 8, [cells]).splitlines()[2]

    assert cells[0] == "success, DRF view, vs without the app"
    assert cells[1].startswith("app: 1.00 sec ± ")
    assert cells[2].startswith("without: 1.00 sec ± ")
    assert cells[3:7] == ["1.000 (0.900-1.100)", "≤ 1.03", "met", "CPU time, 3 rounds"]
    assert cells[7] == 'make bench BENCH_ARGS="--only success-drf"'
    assert smoke[0][5] == ""  # no verdict on a smoke run
    assert line == "| " + " | ".join(cells) + " |"


class Body(list[bytes]):
    def close(self) -> None:
        pass


class Fakes:
    """A clock that ticks one second per reading, an application and a recorder to wait for,
    all logging what happens in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.events: list[str] = []

    def clock(self) -> float:
        self.events.append("clock")
        self.now += 1.0
        return self.now

    def app(self, environ: dict[str, Any], start_response: Any) -> Body:
        self.events.append("request")
        start_response("500 Internal Server Error", [])
        return Body([b"{}"])

    def flush_recorder(self, timeout: float = 30) -> None:
        self.events.append("wait")

    def sleep(self, seconds: float) -> None:
        self.events.append(f"idle {seconds}")


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    fakes = Fakes()
    clocks = SimpleNamespace(perf_counter=fakes.clock, process_time=fakes.clock, sleep=fakes.sleep)
    monkeypatch.setattr(micro, "time", clocks)
    monkeypatch.setattr(micro, "flush_recorder", fakes.flush_recorder)
    return fakes


def test_latency_times_each_request_alone_and_waits_for_the_recorder_outside(
    fakes: Fakes,
) -> None:
    seconds = micro.time_requests(3, fakes.app, dict, "latency")

    idle = f"idle {micro.LATENCY_GAP}"  # every variant idles alike between two requests
    assert fakes.events == ["clock", "request", "clock", "wait", idle] * 3
    assert seconds == 3.0  # one tick per request: the waits are outside


def test_back_to_back_times_the_loop_and_the_recorder_catching_up(fakes: Fakes) -> None:
    seconds = micro.time_requests(3, fakes.app, dict, "back-to-back")

    assert fakes.events == ["clock", "request", "request", "request", "wait", "clock"]
    assert seconds == 1.0


def test_cpu_time_never_waits_for_the_recorder(fakes: Fakes) -> None:
    micro.time_requests(2, fakes.app, dict, "cpu")

    assert fakes.events == ["clock", "request", "request", "clock"]


@pytest.mark.django_db
def test_a_benchmark_process_migrates_and_keeps_no_language_active() -> None:
    # migrate() activates again the language that was active before it; a server never has one.
    translation.activate("de")
    micro.migrate()
    assert getattr(trans_real._active, "value", None) is None
