"""One case in one variant of the benchmark project, timed by pyperf (``benchmarks/run.py``).

    python -m benchmarks.micro --case drf-404 --variant app [--db sqlite] [pyperf options]
    python -m benchmarks.micro --sample --variant dse   # every case's answer as JSON, no timing
    python -m benchmarks.micro --profile 3000 --case drf-404 --variant app   # cProfile

pyperf spawns the worker processes, calibrates the loops, collects the values and writes the
JSON; this module only says what one loop is. Each variant is a separate process with its own
settings (``benchmarks/settings.py`` reads ``CB_BENCH_VARIANT`` and ``CB_BENCH_DB``), so "with
the app" and "without it" are really two projects. Requests go through the WSGI callable a
server calls (``benchmarks.wsgi.build``), the response iterated and closed as a server does.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

#: case → (method, path, JSON body or None). Cases are the same for every variant.
CASES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "drf-success": ("GET", "/drf/widgets/", None),
    "plain-success": ("GET", "/plain/success/", None),
    "drf-404": ("GET", "/drf/widgets/999/", None),
    "drf-400": ("POST", "/drf/widgets/", {"name": "far too long", "email": "nope", "quantity": 0}),
    "plain-500": ("GET", "/plain/boom/", None),
    "drf-500": ("GET", "/drf/boom/", None),
}
#: Cases that never wait on I/O are timed in this process's CPU time, which other processes
#: on a busy machine barely move; the logged 500s (a database write) in wall time.
CPU_CASES = frozenset({"drf-success", "plain-success", "drf-404", "drf-400"})
VARIANTS = ("app", "bare", "dse")
DATABASES = ("sqlite", "postgres", "postgres-nosync")

Environ = dict[str, Any]


def configure(variant: str, db: str, sqlite_path: str, pg_name: str) -> Any:
    """Django set up as ``variant`` on ``db``; returns the project's WSGI callable."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        CB_BENCH_VARIANT=variant,
        CB_BENCH_DB=db,
        CB_BENCH_SQLITE_PATH=sqlite_path,
        CB_BENCH_PG_NAME=pg_name,
    )
    import django

    django.setup()
    from benchmarks.wsgi import build

    return build()


def environ_factory(method: str, path: str, body: dict[str, Any] | None) -> Callable[[], Environ]:
    from django.test import RequestFactory

    payload = b"" if body is None else json.dumps(body).encode()
    request = RequestFactory().generic(
        method, path, payload, content_type="application/json" if body is not None else ""
    )
    template = {k: v for k, v in request.environ.items() if k != "wsgi.input"}
    template["HTTP_ACCEPT"] = "application/json"
    if body is None:
        template.pop("CONTENT_TYPE", None)
        template.pop("CONTENT_LENGTH", None)

    def make() -> Environ:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(payload)
        return environ

    return make


def _start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
    _start_response.last = (status, headers)  # type: ignore[attr-defined]


def request(application: Any, make: Callable[[], Environ]) -> tuple[int, dict[str, str], bytes]:
    result: Iterable[bytes] = application(make(), _start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = _start_response.last  # type: ignore[attr-defined]
    return int(status.split()[0]), {k.lower(): v for k, v in headers}, body


def time_requests(loops: int, application: Any, make: Callable[[], Environ], cpu: bool) -> float:
    now = time.process_time if cpu else time.perf_counter
    gc.collect()
    started = now()
    for _ in range(loops):
        result = application(make(), _start_response)
        for _chunk in result:
            pass
        result.close()
    return now() - started


def time_commit(loops: int) -> float:
    """One committed single-row INSERT on this database: the disk's share of a logged 500."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS cb_bench_probe (x integer)")
    started = time.perf_counter()
    for _ in range(loops):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO cb_bench_probe (x) VALUES (1)")
    return time.perf_counter() - started


def flush_recorder(timeout: float = 30) -> None:
    """Wait for the background recorder (branch i8-recorder), when there is one, to write."""
    from counterbalance_errors import recorder

    flush: Callable[[float], object] | None = getattr(recorder, "flush", None)
    if flush is not None:
        flush(timeout)


def samples(application: Any) -> dict[str, Any]:
    """Every case's answer (status, headers, body) and, for logged ones, whether it was stored."""
    answers: dict[str, Any] = {}
    for case, spec in CASES.items():
        status, headers, body = request(application, environ_factory(*spec))
        answer: dict[str, Any] = {"status": status, "headers": headers, "body": body.decode()}
        logging_hash = headers.get("x-counterbalance-log-hash")
        if logging_hash:
            from counterbalance_errors.models import ErrorLog

            flush_recorder()
            answer["stored"] = ErrorLog.objects.filter(logging_hash=logging_hash).exists()
        answers[case] = answer
    return answers


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", choices=[*CASES, "commit-floor"], default="drf-success")
    parser.add_argument("--variant", choices=VARIANTS, default="app")
    parser.add_argument("--db", choices=DATABASES, default="sqlite")
    parser.add_argument("--sqlite-path", default="bench.sqlite3")
    parser.add_argument("--pg-name", default="bench_cb")


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """pyperf's hook: the worker processes get this script's own options too."""
    cmd += ["--case", args.case, "--variant", args.variant, "--db", args.db]
    cmd += ["--sqlite-path", args.sqlite_path, "--pg-name", args.pg_name]


_application: Any = None


def _bench(loops: int, args: argparse.Namespace) -> float:
    global _application
    if _application is None:
        _application = configure(args.variant, args.db, args.sqlite_path, args.pg_name)
    if args.case == "commit-floor":
        return time_commit(loops)
    make = environ_factory(*CASES[args.case])
    return time_requests(loops, _application, make, args.case in CPU_CASES)


def profile(application: Any, case: str, n: int) -> None:
    """cProfile of ``n`` requests of one case (after ``n`` to warm up), cumulative and own time."""
    import cProfile
    import pstats

    make = environ_factory(*CASES[case])
    time_requests(n, application, make, cpu=True)
    profiler = cProfile.Profile()
    profiler.runcall(time_requests, n, application, make, True)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats("counterbalance_errors", 40)


def main() -> None:
    if "--sample" in sys.argv or "--profile" in sys.argv:
        parser = argparse.ArgumentParser()
        _options(parser)
        parser.add_argument("--sample", action="store_true")
        parser.add_argument("--profile", type=int, metavar="N", help="cProfile N requests")
        args = parser.parse_args()
        application = configure(args.variant, args.db, args.sqlite_path, args.pg_name)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)
        if args.profile:
            profile(application, args.case, args.profile)
        else:
            print(json.dumps(samples(application)))
        return
    import pyperf

    runner = pyperf.Runner(add_cmdline_args=_forward, program_args=("-m", "benchmarks.micro"))
    _options(runner.argparser)
    args = runner.parse_args()
    runner.metadata["cb_clock"] = "cpu" if args.case in CPU_CASES else "wall"
    runner.bench_time_func(f"{args.case} {args.variant} {args.db}", _bench, args)


if __name__ == "__main__":
    main()
