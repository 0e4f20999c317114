"""The benchmark coordinator: ``python -m benchmarks`` (``make bench``).

pyperf times (``benchmarks/micro.py``). This runs a group's contenders in rounds, a round's
workers at once on one CPU taking turns value by value, and shows each row's ratio as the
median of the rounds' ratios of the values that took turns, with their min-max: a slow
stretch of a shared host hits every contender alike.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
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


#: pyperf calibrates the loops so that one value lasts this long: short enough that the
#: contenders' values alternate faster than a shared host's load changes, long enough that
#: the caches the other contenders' turns cooled cost little of it (docs/performance.md).
VALUE_SECONDS = 0.02
#: Values per contender per round; a logged 500's value also idles LATENCY_GAP per request.
VALUES = {"cpu": 150, "latency": 20}


def schedule(contenders: Sequence[Contender], rounds: int) -> list[list[Contender]]:
    """Each round's turn order, alternating: A B C, C B A, ..."""
    return [list(contenders[:: -1 if i % 2 else 1]) for i in range(rounds)]


def micro(contender: Contender, env: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "benchmarks.micro", "--quiet", "--processes", "1"]
    command += ["--case", contender.case, "--variant", contender.variant, "--db", contender.db]
    command += ["--timing", contender.timing, *options]  # the databases: env's CB_BENCH_*
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def finish(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Wait for every process; if one fails, kill the others (they would wait for its turn)."""
    try:
        while None in (codes := [p.poll() for p in processes]) and not any(codes):
            time.sleep(0.05)
        if any(codes):
            raise RuntimeError(f"a benchmark worker failed: {codes}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def measure(name: str, args: argparse.Namespace, env: dict[str, str], workdir: Path) -> Any:
    """A pyperf benchmark per contender, one run per round: a round's workers start at once,
    pinned to one CPU, and take turns value by value (``micro.Lockstep``) through a ring of
    FIFOs, all on the loops pyperf calibrates for the first contender."""
    import pyperf

    group = list(dict.fromkeys(c for row in GROUPS[name] for c in (row.ours, row.theirs)))
    files = {contender: workdir / f"{name}-{i}.json" for i, contender in enumerate(group)}
    loops = values = 2
    if not args.smoke:
        calibration = str(workdir / f"{name}-calibration.json")
        once = ["--values", "1", "--min-time", str(VALUE_SECONDS), "-o", calibration]
        finish([micro(group[0], env, *once)])
        loops = pyperf.Benchmark.load(calibration).get_loops()
        values = args.values or VALUES.get(group[0].timing, VALUES["latency"])
    options = ["--loops", str(loops), "--values", str(values), "--warmups", str(1 - args.smoke)]
    cpus = sorted(os.sched_getaffinity(0))
    for i, order in enumerate(schedule(group, args.rounds)):
        fifos = [workdir / f"{name}-turn-{i}-{k}" for k in range(len(order))]
        for fifo in fifos:
            os.mkfifo(fifo)
        token = os.open(fifos[0], os.O_RDWR)  # held open: the FIFO keeps the token till read
        os.write(token, b".")
        pinned = [*options, "--affinity", str(cpus[i % len(cpus)])]
        rings = [f"{fifo},{fifos[(k + 1) % len(fifos)]}" for k, fifo in enumerate(fifos)]
        try:
            finish(
                [
                    micro(c, env, *pinned, "--append", str(files[c]), "--lockstep", r)
                    for c, r in zip(order, rings, strict=True)
                ]
            )
        finally:
            os.close(token)
    return {contender: pyperf.Benchmark.load(str(path)) for contender, path in files.items()}


def paired(ours: Any, theirs: Any) -> list[float]:
    """Each round's ratio: the median of the ratios of the values that took turns."""
    rounds = zip(ours.get_runs(), theirs.get_runs(), strict=True)
    return [
        statistics.median(x / y for x, y in zip(a.values, b.values, strict=True)) for a, b in rounds
    ]


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
        ratios = paired(benches[row.ours], benches[row.theirs])
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
    parser.add_argument(
        "--values", type=int, help="values per contender per round (150; 20 for logged 500s)"
    )
    parser.add_argument("--smoke", action="store_true", help="every row once, a few loops")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = 1
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
