"""The benchmark coordinator: ``python -m benchmarks`` (``make bench``).

Every ratio is measured in one run of this command, with interleaved rounds: each round times
N requests of every contender in turn, the order alternating from round to round, and the
reported ratio is the median of the per-round ratios. A burst of noise from another process
then hits one round of every contender alike instead of one contender's whole measurement.
The table also shows the spread (min-max of the per-round ratios) and a noise-floor row that
compares the project with itself in two processes, so a reader can see how far to trust a
difference of a few percent.

``--smoke`` runs every row with a handful of requests and no verdicts: it only proves the
harness, the sanity checks on each variant's answers and the table still work (CI runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# --- configuration ------------------------------------------------------------------------


@dataclass
class Config:
    smoke: bool = False
    rounds: int = 9
    batch_seconds: float = 0.3
    warmup: int = 300
    storm_errors: int = 10_000
    server_seconds: float = 3.0
    server_rounds: int = 7
    postgres: bool = True
    server: bool = True
    only: frozenset[str] = frozenset()

    @classmethod
    def smoke_config(cls, **kwargs: Any) -> Config:
        return cls(
            smoke=True,
            rounds=2,
            batch_seconds=0.0,
            warmup=2,
            storm_errors=20,
            server_seconds=1.0,
            server_rounds=1,
            **kwargs,
        )

    def wants(self, section: str) -> bool:
        return not self.only or section in self.only


# --- results ----------------------------------------------------------------------------


@dataclass
class Row:
    section: str
    label: str
    ours: str = ""
    theirs: str = ""
    ratio: float | None = None
    spread: tuple[float, float] | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    def cells(self, smoke: bool) -> list[str]:
        if self.ratio is None:
            ratio = "n/a"
        else:
            ratio = f"{self.ratio:.3f}"
            if self.spread is not None:
                ratio += f" ({self.spread[0]:.2f}-{self.spread[1]:.2f})"
        verdict = "" if smoke or self.met is None else ("met" if self.met else "MISSED")
        return [self.label, self.ours, self.theirs, ratio, self.target, verdict, self.note]


@dataclass
class StormRow:
    label: str
    errors: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    logical_bytes: int = 0
    physical_bytes: int | None = None
    tracebacks: int = 0
    traceback_bytes: int = 0
    note: str = ""

    HEADER = (
        "error storm",
        "errors",
        "time/error",
        "rows stored",
        "bytes/error",
        "on disk/error",
        "tracebacks stored (bytes/error)",
        "note",
    )

    def cells(self) -> list[str]:
        if not self.errors:
            return [self.label, "n/a", "", "", "", "", "", self.note]
        per = self.errors
        rows = ", ".join(f"{name} {count:,}" for name, count in sorted(self.rows.items()))
        physical = "n/a" if self.physical_bytes is None else f"{self.physical_bytes / per:,.0f}"
        return [
            self.label,
            f"{self.errors:,}",
            f"{self.seconds / per * 1e3:.2f} ms",
            rows,
            f"{self.logical_bytes / per:,.0f}",
            physical,
            f"{self.tracebacks:,} ({self.traceback_bytes / per:,.0f})",
            self.note,
        ]


@dataclass
class Report:
    config: Config
    rows: list[Row] = field(default_factory=list)
    storms: list[StormRow] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    def labels(self) -> list[str]:
        return [row.label for row in self.rows] + [storm.label for storm in self.storms]

    def render(self) -> str:
        smoke = self.config.smoke
        lines = []
        if smoke:
            lines.append("SMOKE RUN: a handful of requests per row, the numbers mean nothing.\n")
        lines.append(
            _table(
                ["row", "this app", "compared with", "ratio (min-max)", "target", "", "note"],
                [row.cells(smoke) for row in self.rows],
            )
        )
        lines.append("")
        lines.append(_table(list(StormRow.HEADER), [storm.cells() for storm in self.storms]))
        lines.append("")
        lines.append(
            "Machine: " + ", ".join(f"{key} {value}" for key, value in self.machine.items())
        )
        return "\n".join(lines)


def _table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            + " |"
        )

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)])


def _median_ratio(ours: Sequence[float], theirs: Sequence[float]) -> tuple[float, float, float]:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


# --- workers ----------------------------------------------------------------------------


class BenchError(RuntimeError):
    pass


class WorkerProcess:
    """One variant of the benchmark project in its own interpreter (benchmarks/worker.py)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise BenchError(f"worker {self.name} exited (code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.pop("ok"):
            raise BenchError(f"worker {self.name}: {answer['error']}")
        return answer

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        return self._read()

    def time(self, case: str, n: int, clock: str = "wall") -> float:
        return float(self.call("time", case=case, n=n, clock=clock)["seconds"])

    def sample(self, case: str) -> dict[str, Any]:
        return self.call("sample", case=case)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Contender:
    name: str
    worker: WorkerProcess
    case: str
    #: "cpu" for rows that never wait on I/O, "wall" for rows that do (benchmarks/worker.py).
    clock: str = "cpu"


def interleave(
    contenders: Sequence[Contender],
    config: Config,
    *,
    n: int | None = None,
    each_round: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds per request of every contender, one value per round, rounds interleaved.

    ``each_round`` runs once per round too, so that what it measures sees the same moments
    of the machine's load as the contenders."""
    for contender in contenders:
        contender.worker.time(contender.case, max(1, config.warmup))
    if n is None:
        n = 2
        if config.batch_seconds > 0:
            probe = max(contender.worker.time(contender.case, 50) / 50 for contender in contenders)
            n = max(20, int(config.batch_seconds / probe))
    per_request: dict[str, list[float]] = {contender.name: [] for contender in contenders}
    for index in range(config.rounds):
        order = contenders if index % 2 == 0 else list(reversed(contenders))
        for contender in order:
            seconds = contender.worker.time(contender.case, n, contender.clock)
            per_request[contender.name].append(seconds / n)
        if each_round is not None:
            each_round()
    return per_request


def ratio_row(
    section: str,
    label: str,
    timings: dict[str, list[float]],
    ours: str,
    theirs: str,
    *,
    target: float | None,
    target_text: str,
    note: str = "CPU time",
) -> Row:
    ratio, low, high = _median_ratio(timings[ours], timings[theirs])
    return Row(
        section=section,
        label=label,
        ours=_us(statistics.median(timings[ours])),
        theirs=f"{theirs}: {_us(statistics.median(timings[theirs]))}",
        ratio=ratio,
        spread=(low, high),
        target=target_text,
        met=None if target is None else ratio <= target,
        note=note,
    )


# --- sanity checks: each variant must answer what the row claims to measure --------------


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(f"sanity check failed: {message}")


def check_sample(worker: WorkerProcess, case: str, variant: str) -> dict[str, Any]:
    sample = worker.sample(case)
    status, headers, body = sample["status"], sample["headers"], sample["body"]
    node_header = "x-counterbalance-compute-node"
    where = f"{variant} {case}: {status} {headers.get('content-type')} {body[:200]!r}"
    if case.endswith("success"):
        expect(status == 200, where)
        expect((node_header in headers) == (variant == "app"), where)
        expect('"widget"' in body, where)
    elif case == "drf-404":
        expect(status == 404, where)
        expect(
            {
                "app": '"ResourceNotFound"' in body and "logging_hash" not in body,
                "bare": '"detail"' in body,
                "dse": '"client_error"' in body,
            }[variant],
            where,
        )
    elif case == "drf-400":
        expect(status == 400, where)
        expect(
            {
                "app": '"InvalidArgument"' in body and "logging_hash" not in body,
                "bare": '"email"' in body and '"error"' not in body,
                "dse": '"validation_error"' in body,
            }[variant],
            where,
        )
    elif case.endswith("500"):
        expect(status == 500, where)
        if variant == "app":
            expect('"logging_hash"' in body and '"InternalError"' in body, where)
        else:
            expect(headers.get("content-type", "").startswith("text/html"), where)
    return sample


# --- databases ----------------------------------------------------------------------------


@dataclass
class Database:
    kind: str  # "sqlite", "postgres" or "postgres-nosync"
    env: dict[str, str]
    label: str


@dataclass
class Databases:
    sqlite: Database
    postgres: Database | None = None
    #: The same PostgreSQL database with synchronous_commit=off (not durable).
    postgres_nosync: Database | None = None
    #: Why there is no PostgreSQL, when there is none.
    why: str = ""

    def storage(self, config: Config) -> list[Database]:
        """Where the storms run: PostgreSQL when there is one (SQLite's default journal
        fsyncs ~15 ms per commit here, which would make 10 000 errors take minutes)."""
        if config.smoke or self.postgres is None:
            return [db for db in (self.sqlite, self.postgres) if db is not None]
        return [self.postgres]


def _postgres_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=5432,
        user=os.environ.get("CB_PG_USER", "postgres"),
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    ) as connection:
        connection.execute(sql)  # type: ignore[arg-type,unused-ignore]


@contextlib.contextmanager
def databases(config: Config, workdir: Path) -> Iterator[Databases]:
    """A fresh SQLite file and, when reachable, a fresh PostgreSQL database, both migrated."""
    found = Databases(
        Database(
            "sqlite",
            {"CB_BENCH_DB": "sqlite", "CB_BENCH_SQLITE_PATH": str(workdir / "bench.sqlite3")},
            "SQLite",
        )
    )
    migrate(found.sqlite)
    # A database of its own per run, so that concurrent runs never collide.
    name = os.environ.get("CB_BENCH_PG_NAME", f"bench_cb_{os.getpid()}")
    if config.postgres:
        try:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}"')
            _postgres_admin(f'CREATE DATABASE "{name}"')
            found.postgres = Database(
                "postgres", {"CB_BENCH_DB": "postgres", "CB_BENCH_PG_NAME": name}, "PostgreSQL"
            )
            found.postgres_nosync = Database(
                "postgres-nosync",
                {"CB_BENCH_DB": "postgres-nosync", "CB_BENCH_PG_NAME": name},
                "PostgreSQL, synchronous_commit=off",
            )
        except Exception as exc:
            found.why = f"PostgreSQL unavailable ({type(exc).__name__})"
    else:
        found.why = "PostgreSQL rows skipped (--no-postgres)"
    try:
        if found.postgres is not None:
            migrate(found.postgres)
        yield found
    finally:
        if found.postgres is not None:
            with contextlib.suppress(Exception):
                _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def project_env(variant: str, database: Database) -> dict[str, str]:
    env = dict(os.environ)
    env.update(database.env)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "CB_BENCH_VARIANT": variant,
            # The same string hashing in every process: one less source of bias.
            "PYTHONHASHSEED": "0",
        }
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def migrate(database: Database) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=project_env("app", database),
        check=True,
    )


# --- the rows -------------------------------------------------------------------------------


def micro_rows(config: Config, report: Report, dbs: Databases) -> None:
    workers: list[WorkerProcess] = []

    def start(name: str, variant: str, database: Database) -> WorkerProcess:
        worker = WorkerProcess(name, project_env(variant, database))
        workers.append(worker)
        return worker

    try:
        app = start("app", "app", dbs.sqlite)
        bare = start("bare", "bare", dbs.sqlite)
        if config.wants("success"):
            bare2 = start("bare (2nd process)", "bare", dbs.sqlite)
            success_rows(config, report, app, bare, bare2)
        if config.wants("4xx"):
            dse = _dse_worker(start, dbs.sqlite)
            client_error_rows(config, report, app, bare, dse)
        if config.wants("5xx"):
            server_error_row(config, report, app, bare, dbs.sqlite)
            for database in (dbs.postgres, dbs.postgres_nosync):
                if database is not None:
                    server_error_row(
                        config,
                        report,
                        start(f"app-{database.kind}", "app", database),
                        start(f"bare-{database.kind}", "bare", database),
                        database,
                    )
            if dbs.postgres is None:
                report.rows.append(
                    Row("5xx", "logged 5xx incl. durable write, PostgreSQL", note=dbs.why)
                )
    finally:
        for worker in workers:
            worker.close()


def _dse_worker(
    start: Callable[[str, str, Database], WorkerProcess], sqlite: Database
) -> WorkerProcess | None:
    try:
        import drf_standardized_errors  # noqa: F401
    except ImportError:
        return None
    return start("dse", "dse", sqlite)


def success_rows(
    config: Config, report: Report, app: WorkerProcess, bare: WorkerProcess, bare2: WorkerProcess
) -> None:
    for case, label in (
        ("drf-success", "success, DRF view"),
        ("plain-success", "success, plain view"),
    ):
        check_sample(app, case, "app")
        check_sample(bare, case, "bare")
        timings = interleave(
            [Contender("app", app, case), Contender("without", bare, case)], config
        )
        report.rows.append(
            ratio_row(
                "success",
                label,
                timings,
                "app",
                "without",
                target=1.03,
                target_text="≤ 1.03",
            )
        )
    check_sample(bare2, "drf-success", "bare")
    timings = interleave(
        [
            Contender("without", bare, "drf-success"),
            Contender("same, 2nd process", bare2, "drf-success"),
        ],
        config,
    )
    report.rows.append(
        ratio_row(
            "success",
            "noise floor: success, DRF view, bare vs bare",
            timings,
            "same, 2nd process",
            "without",
            target=None,
            target_text="≈ 1.00",
            note="CPU time; the same project in two processes",
        )
    )


def client_error_rows(
    config: Config,
    report: Report,
    app: WorkerProcess,
    bare: WorkerProcess,
    dse: WorkerProcess | None,
) -> None:
    for case, label in (
        ("drf-404", "unlogged 404, DRF NotFound"),
        ("drf-400", "unlogged 400, DRF validation"),
    ):
        check_sample(app, case, "app")
        check_sample(bare, case, "bare")
        contenders = [Contender("app", app, case), Contender("DRF default", bare, case)]
        if dse is not None:
            check_sample(dse, case, "dse")
            contenders.append(Contender("drf-standardized-errors", dse, case))
        timings = interleave(contenders, config)
        report.rows.append(
            ratio_row(
                "4xx",
                f"{label} vs DRF default",
                timings,
                "app",
                "DRF default",
                target=1.05,
                target_text="≤ 1.05",
            )
        )
        if dse is None:
            report.rows.append(
                Row("4xx", f"{label} vs drf-standardized-errors", note="not installed: make bench")
            )
        else:
            report.rows.append(
                ratio_row(
                    "4xx",
                    f"{label} vs drf-standardized-errors",
                    timings,
                    "app",
                    "drf-standardized-errors",
                    target=1.0,
                    target_text="< 1.00",
                )
            )


def server_error_row(
    config: Config, report: Report, app: WorkerProcess, bare: WorkerProcess, database: Database
) -> None:
    from benchmarks import storage

    case = "plain-500"
    sample = check_sample(app, case, "app")
    check_sample(bare, case, "bare")
    stored = app.call("stored", logging_hash=storage.hash_of(sample))
    expect(stored["stored"], f"the logged 500 was not stored on {database.label}: {stored}")
    floors: list[float] = []

    def commit_floor() -> None:
        floors.append(app.call("commit_floor", n=2 if config.smoke else 30)["seconds"])

    timings = interleave(
        [Contender("app", app, case, "wall"), Contender("Django 500", bare, case, "wall")],
        config,
        each_round=commit_floor,
    )
    floor = statistics.median(floors)
    durable = database.kind != "postgres-nosync"
    report.rows.append(
        ratio_row(
            "5xx",
            f"logged 5xx incl. {'durable ' if durable else ''}write, {database.label}",
            timings,
            "app",
            "Django 500",
            target=1.5 if durable else None,
            target_text="≤ 1.5" if durable else "(not durable)",
            note=f"wall time; one committed INSERT alone: {_us(floor)}",
        )
    )


def storm_rows(config: Config, report: Report, databases_: Sequence[Database]) -> None:
    from benchmarks import storage

    for database in databases_:
        worker = WorkerProcess(f"storm-{database.kind}", project_env("app", database))
        try:
            for kind, flood, label in storage.STORMS:
                answer = worker.call(
                    "storm",
                    kind=kind,
                    n=config.storm_errors,
                    settings=storage.flood_settings(flood),
                )
                report.storms.append(
                    StormRow(
                        label=f"{label}, {database.label}",
                        errors=answer["errors"],
                        seconds=answer["seconds"],
                        rows=answer["rows"],
                        logical_bytes=answer["logical_bytes"],
                        physical_bytes=answer["physical_bytes"],
                        tracebacks=answer["tracebacks"],
                        traceback_bytes=answer["traceback_bytes"],
                    )
                )
        finally:
            worker.close()


# --- a real server -------------------------------------------------------------------------


SERVER_ROWS = (
    "server: success, DRF view, requests/s",
    "server: logged 500 vs unlogged 404, requests/s",
    "server: example project, logged 500 vs unlogged 404, requests/s",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(wsgi: str, env: dict[str, str], probe: str) -> Iterator[str]:
    """A project under gunicorn, one sync worker, on a free loopback port; yields its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", wsgi,
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
            "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(base + probe)
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"gunicorn {wsgi} did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def load(url: str, seconds: float) -> float:
    """Requests per second against ``url`` for a fixed time, 2 connections (bounded)."""
    wrk = shutil.which("wrk")
    if wrk is not None and seconds >= 1:
        out = subprocess.run(
            [wrk, "-t1", "-c2", f"-d{int(seconds)}s", "--timeout", "5s", url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
        raise BenchError(f"unexpected wrk output: {out}")
    return _python_load(url, seconds)


def _python_load(url: str, seconds: float) -> float:
    """A small bounded load generator for machines without wrk."""
    import http.client
    import threading
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    counts = [0, 0]
    deadline = time.monotonic() + seconds

    def run(slot: int) -> None:
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection(host, parts.port, timeout=5)
            connection.request("GET", parts.path)
            connection.getresponse().read()
            connection.close()
            counts[slot] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def interleave_load(targets: dict[str, str], config: Config) -> dict[str, list[float]]:
    rps: dict[str, list[float]] = {name: [] for name in targets}
    names = list(targets)
    if not config.smoke:
        for name in names:
            load(targets[name], 1.0)  # warm up
    for index in range(config.server_rounds):
        for name in names if index % 2 == 0 else reversed(names):
            rps[name].append(load(targets[name], config.server_seconds))
    return rps


def server_rows(config: Config, report: Report, database: Database, workdir: Path) -> None:
    generator = "wrk -t1 -c2" if shutil.which("wrk") else "Python generator, 2 connections"
    note = f"gunicorn 1 sync worker, {generator}, {database.label}"
    with (
        gunicorn("benchmarks.wsgi:application", project_env("app", database), "/") as app,
        gunicorn("benchmarks.wsgi:application", project_env("bare", database), "/") as bare,
    ):
        status, headers, _ = fetch(app + "/drf/widgets/")
        expect(status == 200 and "X-Counterbalance-Compute-Node" in headers, "gunicorn app")
        status, headers, _ = fetch(bare + "/drf/widgets/")
        expect(status == 200 and "X-Counterbalance-Compute-Node" not in headers, "gunicorn bare")
        status, _, body = fetch(app + "/plain/boom/")
        expect(status == 500 and b"logging_hash" in body, "gunicorn logged 500")
        status, _, body = fetch(app + "/drf/widgets/999/")
        expect(status == 404 and b"logging_hash" not in body, "gunicorn unlogged 404")

        rps = interleave_load(
            {"app": app + "/drf/widgets/", "without": bare + "/drf/widgets/"}, config
        )
        report.rows.append(_rps_row(SERVER_ROWS[0], rps, "app", "without", note, target=0.97))
        rps = interleave_load(
            {"logged 500": app + "/plain/boom/", "unlogged 404": app + "/drf/widgets/999/"}, config
        )
        report.rows.append(
            _rps_row(
                "server: logged 500 vs unlogged 404, requests/s",
                rps,
                "logged 500",
                "unlogged 404",
                note,
            )
        )
    example_rows(config, report, workdir, generator)


def example_rows(config: Config, report: Report, workdir: Path, generator: str) -> None:
    """The example project as ``make demo`` ships it (SQLite), with DEBUG off."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DJANGO_DEBUG": "0",
            "DEMO_DB": str(workdir / "example.sqlite3"),
            "PYTHONHASHSEED": "0",
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    crash, missing = "/demo/crash/", "/api/products/999999/"
    with gunicorn("example_project.wsgi:application", env, "/") as example:
        status, _, body = fetch(example + crash)
        expect(status == 500 and b"logging_hash" in body, f"example project {crash}: {body!r}")
        status, _, body = fetch(example + missing)
        expect(status == 404 and b"logging_hash" not in body, f"example {missing}: {body!r}")
        rps = interleave_load(
            {"logged 500": example + crash, "unlogged 404": example + missing}, config
        )
    report.rows.append(
        _rps_row(
            SERVER_ROWS[2],
            rps,
            "logged 500",
            "unlogged 404",
            f"gunicorn 1 sync worker, {generator}, SQLite as make demo ships it",
        )
    )


def _rps_row(
    label: str,
    rps: dict[str, list[float]],
    ours: str,
    theirs: str,
    note: str,
    *,
    target: float | None = None,
) -> Row:
    ratio, low, high = _median_ratio(rps[ours], rps[theirs])
    return Row(
        section="server",
        label=label,
        ours=f"{ours}: {statistics.median(rps[ours]):,.0f}/s",
        theirs=f"{theirs}: {statistics.median(rps[theirs]):,.0f}/s",
        ratio=ratio,
        spread=(low, high),
        target="" if target is None else f"≥ {target:.2f}",
        met=None if target is None else ratio >= target,
        note=note,
    )


# --- entry point ------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import django
    import rest_framework

    info = {
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "DRF": rest_framework.VERSION,
    }
    with contextlib.suppress(ImportError):
        import drf_standardized_errors

        info["drf-standardized-errors"] = getattr(drf_standardized_errors, "__version__", "?")
    with contextlib.suppress(OSError):
        info["load avg at start"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return info


def run(config: Config) -> Report:
    report = Report(config=config, machine=machine())
    with (
        tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp,
        databases(config, Path(tmp)) as dbs,
    ):
        micro_rows(config, report, dbs)
        if config.wants("storm"):
            storm_rows(config, report, dbs.storage(config))
            if dbs.postgres is None:
                report.storms.append(StormRow(label="error storm, PostgreSQL", note=dbs.why))
        if config.wants("server"):
            if config.server:
                server_rows(config, report, dbs.postgres or dbs.sqlite, Path(tmp))
            else:
                for label in SERVER_ROWS:
                    report.rows.append(Row("server", label, note="skipped (--no-server)"))
    return report


def profile(case: str, variant: str, n: int) -> str:
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp:
        database = Database(
            "sqlite",
            {"CB_BENCH_DB": "sqlite", "CB_BENCH_SQLITE_PATH": f"{tmp}/p.sqlite3"},
            "SQLite",
        )
        migrate(database)
        worker = WorkerProcess(variant, project_env(variant, database))
        try:
            return str(worker.call("profile", case=case, n=n)["text"])
        finally:
            worker.close()


def middleware_cost(rounds: int, n: int = 2000) -> str:
    """The middleware's own cost on the success path, A/B in one process (no process bias)."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp:
        database = Database(
            "sqlite",
            {"CB_BENCH_DB": "sqlite", "CB_BENCH_SQLITE_PATH": f"{tmp}/m.sqlite3"},
            "SQLite",
        )
        worker = WorkerProcess("app", project_env("app", database))
        try:
            for case in ("plain-success", "drf-success"):
                timings = worker.call("middleware_cost", case=case, n=n, rounds=rounds)
                real, bare = timings["real"], timings["passthrough"]
                cost = statistics.median([a - b for a, b in zip(real, bare, strict=True)])
                ratio, low, high = _median_ratio(real, bare)
                lines.append(
                    f"{case}: the middleware costs {cost * 1e6:.1f} µs of"
                    f" {_us(statistics.median(real))}"
                    f", ratio {ratio:.3f} ({low:.2f}-{high:.2f}), {rounds} rounds, CPU time"
                )
        finally:
            worker.close()
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="a few requests per row, no verdicts")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per row (default 9, min 7)")
    parser.add_argument("--storm-errors", type=int, help="errors per storm (default 10 000)")
    parser.add_argument(
        "--only",
        action="append",
        choices=["success", "4xx", "5xx", "storm", "server"],
        help="run only these sections (repeatable)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn rows")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--profile",
        metavar="CASE[:VARIANT]",
        help="print a cProfile of one case (drf-success, plain-success, drf-404, drf-400, "
        "plain-500, drf-500) in one variant (app, bare, dse) instead of benchmarking",
    )
    parser.add_argument(
        "--middleware-cost",
        action="store_true",
        help="measure only the middleware's cost on the success path, A/B in one process",
    )
    args = parser.parse_args(argv)
    if args.middleware_cost:
        print(middleware_cost(max(7, args.rounds or 25)))
        return 0
    if args.profile:
        case, _, variant = args.profile.partition(":")
        print(profile(case, variant or "app", 3000))
        return 0
    options: dict[str, Any] = {
        "postgres": not args.no_postgres,
        "server": not args.no_server,
        "only": frozenset(args.only or ()),
    }
    config = Config.smoke_config(**options) if args.smoke else Config(**options)
    if args.rounds:
        config.rounds = args.rounds if args.smoke else max(7, args.rounds)
    if args.storm_errors:
        config.storm_errors = args.storm_errors
    report = run(config)
    print(report.render())
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": report.machine,
                    "rows": [row.__dict__ for row in report.rows],
                    "storms": [storm.__dict__ for storm in report.storms],
                },
                indent=2,
                default=str,
            )
        )
    return 0
