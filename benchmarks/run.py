"""The benchmark coordinator: ``python -m benchmarks`` (``make bench``).

Timing, worker processes, calibration, statistics and metadata are pyperf's
(``benchmarks/micro.py`` is a pyperf script: one case in one variant of the project). What
pyperf lacks is kept here: the rows compare contenders in *interleaved rounds* (each round runs
one pyperf worker process of every contender in turn, the order alternating), and the table
gives each row's ratio as the median of the per-round ratios with their min-max, so a burst of
load from another agent on this shared machine hits one round of every contender alike.
``--sequential`` runs every round of one contender before the next instead, to see whether the
interleaving matters. Each contender's values are kept as a pyperf JSON file (``--out``), for
``python -m pyperf stats/hist/compare_to``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.micro import CPU_CASES

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Contender:
    name: str
    variant: str
    case: str
    db: str = "sqlite"


@dataclass(frozen=True)
class Ratio:
    label: str
    ours: str
    theirs: str
    target: str = ""  # "<= 1.03", ">= 0.97" or "" (shown, no verdict)
    note: str = ""


@dataclass(frozen=True)
class Group:
    """Contenders measured in the same interleaved rounds, and the ratios shown from them."""

    contenders: tuple[Contender, ...]
    ratios: tuple[Ratio, ...]


def _client_errors(case: str, label: str) -> Group:
    return Group(
        (
            Contender("app", "app", case),
            Contender("DRF", "bare", case),
            Contender("dse", "dse", case),
        ),
        (
            Ratio(f"{label} vs DRF default", "app", "DRF", "<= 1.05"),
            Ratio(f"{label} vs drf-standardized-errors", "app", "dse", "<= 0.95"),
        ),
    )


def _logged(db: str, label: str, target: str) -> Group:
    return Group(
        (
            Contender("app", "app", "plain-500", db),
            Contender("Django 500", "bare", "plain-500", db),
            Contender("one INSERT", "app", "commit-floor", db),
        ),
        (
            Ratio(f"logged 500 vs Django's HTML 500, {label}", "app", "Django 500", target),
            Ratio(
                f"one committed INSERT vs Django's HTML 500, {label}", "one INSERT", "Django 500"
            ),
        ),
    )


#: Every row of ``make bench``, by the name ``--only`` takes.
GROUPS: dict[str, Group] = {
    "success-drf": Group(
        (Contender("app", "app", "drf-success"), Contender("without", "bare", "drf-success")),
        (Ratio("success, DRF view, vs without the app", "app", "without", "<= 1.03"),),
    ),
    "success-plain": Group(
        (Contender("app", "app", "plain-success"), Contender("without", "bare", "plain-success")),
        (Ratio("success, plain view, vs without the app", "app", "without", "<= 1.03"),),
    ),
    "noise": Group(
        (Contender("bare", "bare", "drf-success"), Contender("bare again", "bare", "drf-success")),
        (Ratio("noise floor: success, DRF view, bare vs bare", "bare again", "bare"),),
    ),
    "404": _client_errors("drf-404", "unlogged 404 (DRF NotFound)"),
    "400": _client_errors("drf-400", "unlogged validation 400"),
    "500-sqlite": _logged("sqlite", "SQLite", "<= 1.5"),
    "500-postgres": _logged("postgres", "PostgreSQL", "<= 1.5"),
    "500-postgres-nosync": _logged("postgres-nosync", "PostgreSQL, synchronous_commit=off", ""),
}


@dataclass
class Config:
    rounds: int = 9
    values: int = 3
    smoke: bool = False
    sequential: bool = False
    out: Path | None = None


def smoke_config() -> Config:
    return Config(rounds=1, values=2, smoke=True)


@dataclass
class Result:
    ratio: Ratio
    per_round: list[float]
    ours: Any  # pyperf.Benchmark
    theirs: Any

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)

    def met(self) -> bool | None:
        if not self.ratio.target:
            return None
        limit = float(self.ratio.target.split()[1])
        return self.median <= limit if self.ratio.target.startswith("<") else self.median >= limit


# --- running pyperf -------------------------------------------------------------------------


def micro(contender: Contender, env: dict[str, str], *options: str) -> None:
    command = [sys.executable, "-m", "benchmarks.micro", "--quiet", "--processes", "1"]
    command += ["--case", contender.case, "--variant", contender.variant, "--db", contender.db]
    command += ["--sqlite-path", env["CB_BENCH_SQLITE_PATH"], "--pg-name", env["CB_BENCH_PG_NAME"]]
    subprocess.run([*command, *options], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def calibrate(contender: Contender, env: dict[str, str], workdir: Path) -> int:
    """pyperf's own calibration, once per group: every contender then runs the same loops."""
    import pyperf

    path = workdir / "calibration.json"
    path.unlink(missing_ok=True)
    micro(contender, env, "--values", "1", "--output", str(path))
    return int(pyperf.Benchmark.load(str(path)).get_loops())


def schedule(contenders: Sequence[Contender], rounds: int, sequential: bool) -> list[Contender]:
    """One pyperf worker per contender per round: A B, B A, A B, ... (or A A A, B B B)."""
    order = [
        contender
        for index in range(rounds)
        for contender in (contenders if index % 2 == 0 else contenders[::-1])
    ]
    return sorted(order, key=list(contenders).index) if sequential else order


def measure(group: Group, config: Config, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """One pyperf benchmark per contender, its runs appended round by round."""
    import pyperf

    loops = 2 if config.smoke else calibrate(group.contenders[0], env, workdir)
    files = {
        c.name: workdir / f"{c.case}-{c.variant}-{c.db}-{c.name}.json" for c in group.contenders
    }
    for path in files.values():
        path.unlink(missing_ok=True)
    options = ["--loops", str(loops), "--values", str(config.values)]
    options += ["--warmups", "0" if config.smoke else "1"]
    for contender in schedule(group.contenders, config.rounds, config.sequential):
        micro(contender, env, *options, "--append", str(files[contender.name]))
    return {name: pyperf.Benchmark.load(str(path)) for name, path in files.items()}


def per_round(benchmark: Any) -> list[float]:
    """The median value of each round (one worker process each), in the order they ran."""
    return [statistics.median(run.values) for run in benchmark.get_runs() if run.values]


def results(group: Group, benches: dict[str, Any]) -> list[Result]:
    found = []
    for ratio in group.ratios:
        ours, theirs = benches[ratio.ours], benches[ratio.theirs]
        rounds = [a / b for a, b in zip(per_round(ours), per_round(theirs), strict=True)]
        found.append(Result(ratio, rounds, ours, theirs))
    return found


# --- databases ------------------------------------------------------------------------------


def _postgres_admin(sql: str) -> None:
    import psycopg

    user = os.environ.get("CB_PG_USER", "postgres")
    with psycopg.connect(
        host="127.0.0.1", port=5432, user=user, dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(sql)  # type: ignore[arg-type,unused-ignore]


def environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        CB_BENCH_SQLITE_PATH=str(workdir / "bench.sqlite3"),
        CB_BENCH_PG_NAME=os.environ.get("CB_BENCH_PG_NAME", f"bench_cb_{os.getpid()}"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def migrate(env: dict[str, str], db: str) -> None:
    command = [sys.executable, "-m", "django", "migrate", "--noinput", "--skip-checks", "-v", "0"]
    env = {**env, "CB_BENCH_DB": db, "CB_BENCH_VARIANT": "app"}
    subprocess.run(command, cwd=ROOT, env=env, check=True)


@contextlib.contextmanager
def databases(env: dict[str, str], postgres: bool) -> Iterator[None]:
    """A fresh SQLite file and, when asked, a fresh PostgreSQL database, both migrated."""
    migrate(env, "sqlite")
    name = env["CB_BENCH_PG_NAME"]
    if postgres:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}"')
        _postgres_admin(f'CREATE DATABASE "{name}"')
        migrate(env, "postgres")
    try:
        yield
    finally:
        if postgres:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the table ------------------------------------------------------------------------------


def table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def _cell(name: str, bench: Any) -> str:
    return f"{name}: {bench.format_value(bench.median())} ± {bench.format_value(bench.stdev())}"


def render(found: Sequence[Result], config: Config, rerun: dict[str, str]) -> str:
    rows = []
    for result in found:
        met = result.met()
        verdict = "" if config.smoke or met is None else ("met" if met else "MISSED")
        case = result.ours.get_name().split()[0]
        clock = "CPU" if case in CPU_CASES else "wall"
        spread = f"{min(result.per_round):.3f}-{max(result.per_round):.3f}"
        rows.append(
            [
                result.ratio.label,
                _cell(result.ratio.ours, result.ours),
                _cell(result.ratio.theirs, result.theirs),
                f"{result.median:.3f} ({spread})",
                result.ratio.target.replace("<=", "≤").replace(">=", "≥"),
                verdict,
                f"{clock} time, {len(result.per_round)} rounds",
                rerun[result.ratio.label],
            ]
        )
    header = ["row", "this app", "compared with", "ratio (min-max)", "target", "", "note", "rerun"]
    return ("SMOKE RUN: the numbers mean nothing.\n" if config.smoke else "") + table(header, rows)


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run(names: Sequence[str], config: Config) -> tuple[list[Result], dict[str, str]]:
    found: list[Result] = []
    rerun: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp:
        workdir = config.out or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        env = environment(Path(tmp))
        wants_postgres = any(GROUPS[n].contenders[0].db != "sqlite" for n in names)
        with databases(env, wants_postgres):
            for name in names:
                group_results = results(GROUPS[name], measure(GROUPS[name], config, env, workdir))
                found += group_results
                for result in group_results:
                    rerun[result.ratio.label] = f'make bench BENCH_ARGS="--only {name}"'
    return found, rerun


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", action="append", choices=list(GROUPS), help="repeatable")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--values", type=int, default=3, help="pyperf values per round")
    parser.add_argument("--sequential", action="store_true", help="no interleaving")
    parser.add_argument("--smoke", action="store_true", help="every row once, a few loops")
    parser.add_argument("--out", type=Path, help="keep the pyperf JSON files in this folder")
    parser.add_argument("--json", type=Path, help="write the table's numbers as JSON")
    args = parser.parse_args(argv)
    config = smoke_config() if args.smoke else Config(args.rounds, args.values)
    config.sequential, config.out = args.sequential, args.out
    names = args.only or [n for n in GROUPS if not (args.no_postgres and "postgres" in n)]
    print(f"load average before: {machine_load()}", flush=True)
    found, rerun = run(names, config)
    print(render(found, config, rerun))
    print(f"load average after: {machine_load()}")
    if args.json:
        rows = [{"row": r.ratio.label, "median": r.median, "rounds": r.per_round} for r in found]
        args.json.write_text(json.dumps(rows, indent=2))
    return 0
