"""``make bench`` cannot rot: its smoke mode runs every row with a handful of requests.

No timing is asserted here (docs/performance.md has the numbers); only that every row the
issue asks for is measured, and that each variant answered what its row claims to compare
(the harness's own sanity checks raise otherwise).
"""

from __future__ import annotations

from benchmarks.run import Config, middleware_cost, run

ROWS = [
    "success, DRF view",
    "success, plain view",
    "noise floor: success, DRF view, bare vs bare",
    "unlogged 404, DRF NotFound vs DRF default",
    "unlogged 404, DRF NotFound vs drf-standardized-errors",
    "unlogged 400, DRF validation vs DRF default",
    "unlogged 400, DRF validation vs drf-standardized-errors",
    "logged 5xx incl. durable write, SQLite",
    "logged 5xx incl. durable write, PostgreSQL",
    "server: success, DRF view, requests/s",
    "server: logged 500 vs unlogged 404, requests/s",
    "server: example project, logged 500 vs unlogged 404, requests/s",
]

STORMS = [
    "identical errors, flood control on (default), SQLite",
    "identical errors, flood control off, SQLite",
    "distinct errors, SQLite",
]


def test_smoke_run_measures_every_row() -> None:
    report = run(Config.smoke_config())
    table = report.render()

    assert set(ROWS + STORMS) <= set(report.labels())
    for label in ROWS + STORMS:
        assert label in table
    # Every SQLite row really ran; PostgreSQL ones may say why they could not.
    for row in report.rows:
        if "PostgreSQL" not in row.label:
            assert row.ratio is not None, row
    for storm in report.storms:
        if "PostgreSQL" not in storm.label:
            assert storm.errors == Config.smoke_config().storm_errors, storm
            assert storm.rows, storm
    assert "SMOKE RUN" in table


def test_middleware_cost_runs() -> None:
    out = middleware_cost(rounds=1, n=3)

    assert "plain-success: the middleware costs" in out
    assert "drf-success: the middleware costs" in out
