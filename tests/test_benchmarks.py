"""The benchmark harness's own logic: rows, interleaving, per-round ratios, verdicts.

No timing and no benchmark run here (``make bench-smoke`` runs every row in CI; the numbers
are in docs/performance.md): the pyperf benchmarks below are built from given values.
"""

from __future__ import annotations

import pyperf
import pytest

from benchmarks import run
from benchmarks.run import GROUPS, Config, Contender


def bench(name: str, rounds: list[list[float]]) -> pyperf.Benchmark:
    metadata = {"name": name, "loops": 10, "unit": "second"}
    return pyperf.Benchmark(
        [pyperf.Run(values, metadata=metadata, collect_metadata=False) for values in rounds]
    )


#: Every row issue 11 asks for, with its target (the gunicorn row is benchmarks/servers.py).
ISSUE_ROWS = {
    "success, DRF view, vs without the app": "<= 1.03",
    "success, plain view, vs without the app": "<= 1.03",
    "unlogged 404 (DRF NotFound) vs DRF default": "<= 1.05",
    "unlogged 404 (DRF NotFound) vs drf-standardized-errors": "<= 0.95",
    "unlogged validation 400 vs DRF default": "<= 1.05",
    "unlogged validation 400 vs drf-standardized-errors": "<= 0.95",
    "logged 500 vs Django's HTML 500, SQLite": "<= 1.5",
    "logged 500 vs Django's HTML 500, PostgreSQL": "<= 1.5",
}


def test_every_issue_row_is_measured_with_its_target() -> None:
    targets = {ratio.label: ratio.target for group in GROUPS.values() for ratio in group.ratios}

    assert {label: targets.get(label) for label in ISSUE_ROWS} == ISSUE_ROWS


def test_every_ratio_compares_contenders_of_its_own_group() -> None:
    for group in GROUPS.values():
        names = {contender.name for contender in group.contenders}
        for ratio in group.ratios:
            assert {ratio.ours, ratio.theirs} <= names, ratio


def test_rounds_alternate_the_order_of_contenders() -> None:
    a, b, c = (Contender(name, "app", "drf-404") for name in "abc")

    assert run.schedule([a, b, c], 3, sequential=False) == [a, b, c, c, b, a, a, b, c]
    assert run.schedule([a, b], 2, sequential=True) == [a, a, b, b]


def test_ratio_is_the_median_of_per_round_ratios_with_its_spread() -> None:
    group = GROUPS["404"]
    benches = {
        "app": bench("drf-404 app sqlite", [[1.0, 3.0, 2.0], [4.0, 4.0, 4.0], [2.0, 2.0, 2.0]]),
        "DRF": bench("drf-404 bare sqlite", [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]),
        "dse": bench("drf-404 dse sqlite", [[4.0], [4.0], [4.0]]),
    }

    vs_drf, vs_dse = run.results(group, benches)

    assert vs_drf.per_round == [1.0, 2.0, 1.0]
    assert vs_drf.median == 1.0
    assert vs_drf.met() is True  # <= 1.05
    assert vs_dse.per_round == [0.5, 1.0, 0.5]
    assert vs_dse.met() is True  # <= 0.95


@pytest.mark.parametrize(
    ("target", "ratio", "met"),
    [("<= 1.03", 1.03, True), ("<= 1.03", 1.031, False), (">= 0.97", 0.96, False), ("", 9.0, None)],
)
def test_verdicts(target: str, ratio: float, met: bool | None) -> None:
    result = run.Result(run.Ratio("row", "a", "b", target), [ratio], None, None)

    assert result.met() is met


def test_table_shows_spread_verdict_clock_and_rerun_command() -> None:
    group = GROUPS["success-drf"]
    benches = {
        "app": bench("drf-success app sqlite", [[1.1, 1.1], [0.9, 0.9], [1.0, 1.0]]),
        "without": bench("drf-success bare sqlite", [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
    }
    found = run.results(group, benches)
    rerun = {found[0].ratio.label: 'make bench BENCH_ARGS="--only success-drf"'}

    line = run.render(found, Config(), rerun).splitlines()[2]

    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[0] == "success, DRF view, vs without the app"
    assert cells[3] == "1.000 (0.900-1.100)"
    assert cells[4:7] == ["≤ 1.03", "met", "CPU time, 3 rounds"]
    assert cells[7] == 'make bench BENCH_ARGS="--only success-drf"'
    assert run.render(found, run.smoke_config(), rerun).startswith("SMOKE RUN")
