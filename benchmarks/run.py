"""The benchmark coordinator: ``python -m benchmarks`` (``make bench``).

pyperf times (``benchmarks/micro.py``). This runs a group's contenders in interleaved rounds
(one pyperf worker of each per round, the order alternating) and shows each row's ratio as the
median of the per-round ratios with their min-max: a burst of load hits every contender alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Contender(NamedTuple):
    name: str  # as the table shows it
    variant: str
    case: str
    db: str = "sqlite"
    timing: str = "cpu"  # see benchmarks.micro.time_requests


class Row(NamedTuple):
    label: str
    ours: Contender
    theirs: Contender
    target: str = ""  # "≤ 1.03", "≥ 0.97" or "" (shown, no verdict)


def _success(case: str, label: str) -> tuple[Row, ...]:
    app, without = Contender("app", "app", case), Contender("without", "bare", case)
    header = Contender("header only", "header", case)
    return (
        Row(f"success, {label} view, vs without the app", app, without, "≤ 1.03"),
        # The floor of the row above: a middleware that only sets the profile's header.
        Row(f"success, {label} view: a header-setting middleware vs without", header, without),
    )


def _client_error(case: str, label: str) -> tuple[Row, ...]:
    app, drf = Contender("app", "app", case), Contender("DRF", "bare", case)
    dse = Contender("dse", "dse", case)
    return (
        Row(f"{label} vs DRF default", app, drf, "≤ 1.05"),
        Row(f"{label} vs drf-standardized-errors", app, dse, "≤ 0.95"),
        # The floor of the row above: DRF's own handler, which formats nothing (no target).
        Row(f"{label}: DRF default vs drf-standardized-errors", drf, dse),
    )


def _logged(db: str, label: str) -> tuple[Row, ...]:
    app = Contender("app", "app", "plain-500", db, "latency")
    django = Contender("Django 500", "bare", "plain-500", db, "latency")
    app_b2b = Contender("app, back to back", "app", "plain-500", db, "back-to-back")
    django_b2b = Contender("Django 500, back to back", "bare", "plain-500", db, "back-to-back")
    b2b = f"logged 500s back to back, the recorder's work included, vs Django's 500, {label}"
    return (
        Row(f"logged 500's latency vs Django's HTML 500, {label}", app, django, "≤ 1.5"),
        Row(b2b, app_b2b, django_b2b),
    )


_BARE = Contender("bare", "bare", "drf-success")
_BARE_AGAIN = _BARE._replace(name="bare again")

#: Every row of ``make bench``, grouped by the name ``--only`` takes; the contenders of a group
#: run in the same interleaved rounds.
GROUPS: dict[str, tuple[Row, ...]] = {
    "success-drf": _success("drf-success", "DRF"),
    "success-plain": _success("plain-success", "plain"),
    "noise": (Row("noise floor: success, DRF view, bare vs bare", _BARE_AGAIN, _BARE),),
    "404": _client_error("drf-404", "unlogged 404 (DRF NotFound)"),
    "400": _client_error("drf-400", "unlogged validation 400"),
    "500-sqlite": _logged("sqlite", "SQLite"),
    "500-postgres": _logged("postgres", "PostgreSQL"),
}
NOTES = {"cpu": "CPU time", "latency": "latency", "back-to-back": "wall time, back to back"}


def schedule(contenders: Sequence[Contender], rounds: int) -> list[Contender]:
    """One pyperf worker per contender per round, the order alternating: A B C, C B A, ..."""
    return [c for i in range(rounds) for c in (contenders if i % 2 == 0 else contenders[::-1])]


def micro(contender: Contender, env: dict[str, str], *options: str) -> None:
    command = [sys.executable, "-m", "benchmarks.micro", "--quiet", "--processes", "1"]
    command += ["--case", contender.case, "--variant", contender.variant, "--db", contender.db]
    command += ["--timing", contender.timing, *options]  # the databases: env's CB_BENCH_*
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def measure(name: str, args: argparse.Namespace, env: dict[str, str], workdir: Path) -> Any:
    """A pyperf benchmark per contender, all on the loops pyperf calibrates for the first."""
    import pyperf

    group = list(dict.fromkeys(c for row in GROUPS[name] for c in (row.ours, row.theirs)))
    files = {contender: workdir / f"{name}-{i}.json" for i, contender in enumerate(group)}
    loops = 2
    if not args.smoke:
        calibration = workdir / f"{name}-calibration.json"
        micro(group[0], env, "--values", "1", "--output", str(calibration))
        loops = pyperf.Benchmark.load(str(calibration)).get_loops()
    options = ["--loops", str(loops), "--values", str(args.values)]
    options += ["--warmups", "0" if args.smoke else "1"]
    for contender in schedule(group, args.rounds):
        micro(contender, env, *options, "--append", str(files[contender]))
    return {contender: pyperf.Benchmark.load(str(path)) for contender, path in files.items()}


def per_round(benchmark: Any) -> list[float]:
    """The median value of each round (one worker process each), in the order they ran."""
    return [statistics.median(run.values) for run in benchmark.get_runs() if run.values]


def verdict(target: str, ratio: float) -> str:
    if not target:
        return ""
    limit = float(target.split()[1])
    return "met" if (ratio <= limit if target.startswith("≤") else ratio >= limit) else "MISSED"


def _cell(contender: Contender, bench: Any) -> str:
    median, stdev = (bench.format_value(value) for value in (bench.median(), bench.stdev()))
    return f"{contender.name}: {median} ± {stdev}"


def lines(name: str, benches: dict[Contender, Any], smoke: bool = False) -> list[list[str]]:
    """The table's lines of one group: per-round ratios, their median and min-max, verdict."""
    found = []
    for row in GROUPS[name]:
        rounds = zip(per_round(benches[row.ours]), per_round(benches[row.theirs]), strict=True)
        ratios = [ours / theirs for ours, theirs in rounds]
        median = statistics.median(ratios)
        ours, theirs = (_cell(c, benches[c]) for c in (row.ours, row.theirs))
        spread = f"{median:.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        met = "" if smoke else verdict(row.target, median)
        note = f"{NOTES[row.ours.timing]}, {len(ratios)} rounds"
        rerun = f'make bench BENCH_ARGS="--only {name}"'
        found.append([row.label, ours, theirs, spread, row.target, met, note, rerun])
    return found


def table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    rows = [header, ["-" * width for width in widths], *body]
    return "\n".join("| " + " | ".join(map(str.ljust, row, widths)) + " |" for row in rows)


def environment(workdir: Path) -> dict[str, str]:
    """The project's processes' environment (also for benchmarks/servers.py and storage.py)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "CB_BENCH_SQLITE_PATH": str(workdir / "bench.sqlite3"),
        "CB_BENCH_PG_NAME": os.environ.get("CB_BENCH_PG_NAME", f"bench_cb_{os.getpid()}"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _postgres(*statements: str) -> None:
    import psycopg

    user = os.environ.get("CB_PG_USER", "postgres")
    with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres", autocommit=True) as db:
        for statement in statements:
            db.execute(statement)  # type: ignore[arg-type,unused-ignore]


@contextlib.contextmanager
def databases(env: dict[str, str], postgres: bool) -> Iterator[None]:
    """A fresh SQLite file and, when asked, a fresh PostgreSQL database, both migrated."""
    name = env["CB_BENCH_PG_NAME"]
    if postgres:
        _postgres(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    migrate = [sys.executable, "-m", "django", "migrate", "--noinput", "--skip-checks", "-v", "0"]
    for db in ["sqlite", "postgres"] if postgres else ["sqlite"]:
        app_env = {**env, "CB_BENCH_DB": db, "CB_BENCH_VARIANT": "app"}  # the app's tables too
        subprocess.run(migrate, cwd=ROOT, env=app_env, check=True)
    try:
        yield
    finally:
        if postgres:
            _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", action="append", choices=list(GROUPS), help="repeatable")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--values", type=int, default=3, help="pyperf values per round")
    parser.add_argument("--smoke", action="store_true", help="every row once, a few loops")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.values = 1, 2
    names = args.only or [n for n in GROUPS if not (args.no_postgres and "postgres" in n)]
    print(f"load average before: {machine_load()}", flush=True)
    body: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp:
        env = environment(Path(tmp))
        with databases(env, any("postgres" in name for name in names)):
            for name in names:
                body += lines(name, measure(name, args, env, Path(tmp)), args.smoke)
    header = ["row", "this app", "compared with", "ratio (min-max)", "target", "", "note", "rerun"]
    print(("SMOKE RUN: the numbers mean nothing.\n" if args.smoke else "") + table(header, body))
    print(f"load average after: {machine_load()}")
    return 0
