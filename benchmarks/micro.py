"""One case in one variant of the benchmark project, timed by pyperf (``benchmarks/run.py``).

    python -m benchmarks.micro --case drf-404 --variant app [--timing cpu] [pyperf options]
    python -m benchmarks.micro --sample --variant dse   # every case's answer as JSON, no timing
    python -m benchmarks.micro --profile 3000 --case drf-404 --variant app   # cProfile

pyperf spawns the worker processes, calibrates the loops and computes the statistics; this
module says what one loop is, in one variant (``benchmarks/settings.py``) per process.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import select
import sys
import time
from collections.abc import Callable
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

Environ = dict[str, Any]

#: The variants of benchmarks/settings.py.
VARIANTS = ("app", "bare", "dse", "header")


def configure(variant: str, db: str, sqlite_path: str, pg_name: str) -> Any:
    """Django set up as ``variant`` on ``db``; returns the project's WSGI callable."""
    os.environ.update(DJANGO_SETTINGS_MODULE="benchmarks.settings", CB_BENCH_VARIANT=variant)
    os.environ.update(CB_BENCH_DB=db, CB_BENCH_SQLITE_PATH=sqlite_path, CB_BENCH_PG_NAME=pg_name)
    from benchmarks import wsgi  # sets Django up

    return wsgi.application


def migrate() -> None:
    """Migrate the benchmark database in this process, leaving no language active after it.

    ``migrate`` runs with translations off and then activates the language that was current
    (``settings.LANGUAGE_CODE`` when none was), which a server's process never has: without an
    active language every ``gettext`` and ``get_language`` takes asgiref's missing-attribute
    path (about 4 µs each here), as in pyperf's workers, which do not migrate.
    """
    from django.core.management import call_command
    from django.utils import translation

    call_command("migrate", verbosity=0, skip_checks=True)
    translation.deactivate()


def environ_factory(method: str, path: str, body: dict[str, Any] | None) -> Callable[[], Environ]:
    """A fresh WSGI environ for each request of one case (its body readable again each time)."""
    from django.test import RequestFactory

    payload = b"" if body is None else json.dumps(body).encode()
    kind = "" if body is None else "application/json"
    factory = RequestFactory(headers={"accept": "application/json"})
    template = factory.generic(method, path, payload, kind).environ
    return lambda: {**template, "wsgi.input": io.BytesIO(payload)}


def _start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
    _start_response.last = (status, headers)  # type: ignore[attr-defined]


def serve(app: Any, environ: Environ) -> bytes:
    """One request as a server answers it: the WSGI call, the body read, the response closed."""
    result = app(environ, _start_response)
    body = b"".join(result)
    result.close()
    return body


def request(app: Any, make: Callable[[], Environ]) -> tuple[int, dict[str, str], bytes]:
    body = serve(app, make())
    status, headers = _start_response.last  # type: ignore[attr-defined]
    return int(status.split()[0]), {k.lower(): v for k, v in headers}, body


LATENCY_GAP = 0.01  # seconds idle between two timed requests (at most 100 requests/s)


class Lockstep:
    """Turns taken with the other contenders' workers (``--lockstep IN,OUT``: two FIFOs of a
    ring, ``benchmarks/run.py``): each value waits for the token and then hands it on, so the
    contenders' values alternate every few milliseconds and see the same machine."""

    TIMEOUT = 120.0  # seconds: a contender that died must not hang the others

    def __init__(self, spec: str) -> None:
        inbound, outbound = spec.split(",")
        self.inbound, self.outbound = os.open(inbound, os.O_RDWR), os.open(outbound, os.O_RDWR)

    def timed(self, *args: Any) -> float:
        """``time_requests(*args)`` in this worker's turn."""
        if not select.select([self.inbound], [], [], self.TIMEOUT)[0]:
            raise RuntimeError(f"no turn within {self.TIMEOUT} s: another contender failed")
        os.read(self.inbound, 1)
        try:
            return time_requests(*args)
        finally:
            os.write(self.outbound, b".")


def time_requests(loops: int, app: Any, make: Callable[[], Environ], timing: str = "cpu") -> float:
    """Seconds for ``loops`` requests. ``cpu``: this process's CPU time. ``latency``: each
    request alone in wall time (WSGI call to closed response), summed; between two, untimed,
    the recorder stores what it logged and every variant idles alike (docs/performance.md).
    ``back-to-back``: the wall time of the loop and of the recorder storing it all."""
    gc.collect()
    gc.freeze()
    if timing == "latency":
        total = 0.0
        for _ in range(loops):
            environ = make()
            started = time.perf_counter()
            serve(app, environ)
            total += time.perf_counter() - started
            flush_recorder()
            time.sleep(LATENCY_GAP)
        return total
    now = time.process_time if timing == "cpu" else time.perf_counter
    started = now()
    for _ in range(loops):
        serve(app, make())
    if timing == "back-to-back":
        flush_recorder()
    return now() - started


def flush_recorder(timeout: float = 30) -> None:
    """Wait until the recorder (``app`` variant) has stored or logged everything submitted."""
    from django.apps import apps

    if apps.is_installed("counterbalance_errors"):
        from counterbalance_errors import recorder

        if not recorder.flush(timeout):
            raise RuntimeError(f"the recorder did not catch up within {timeout} s")


def samples(application: Any) -> dict[str, Any]:
    """Every case's answer (status, headers, body) and, for logged ones, whether it was stored."""
    answers: dict[str, Any] = {}
    for case, spec in CASES.items():
        status, headers, body = request(application, environ_factory(*spec))
        answer: dict[str, Any] = {"status": status, "headers": headers, "body": body.decode()}
        if logging_hash := headers.get("x-counterbalance-log-hash"):
            from counterbalance_errors.models import ErrorLog

            flush_recorder()
            answer["stored"] = ErrorLog.objects.filter(logging_hash=logging_hash).exists()
        answers[case] = answer
    return answers


def profile(application: Any, case: str, n: int) -> None:
    """cProfile of ``n`` requests of one case (after ``n`` to warm up), cumulative and own time."""
    import cProfile
    import pstats

    make = environ_factory(*CASES[case])
    time_requests(n, application, make)
    with cProfile.Profile() as profiler:
        time_requests(n, application, make)
    stats = pstats.Stats(profiler).sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats("counterbalance_errors", 40)


def _options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get  # run.py gives the databases as CB_BENCH_* (benchmarks/settings.py)
    parser.add_argument("--case", choices=CASES, default="drf-success")
    parser.add_argument("--variant", choices=VARIANTS, default="app")
    parser.add_argument("--db", choices=("sqlite", "postgres", "postgres-nosync"), default="sqlite")
    parser.add_argument("--timing", choices=("cpu", "latency", "back-to-back"), default="cpu")
    parser.add_argument("--sqlite-path", default=env("CB_BENCH_SQLITE_PATH", "bench.sqlite3"))
    parser.add_argument("--pg-name", default=env("CB_BENCH_PG_NAME", "bench_cb"))
    parser.add_argument("--lockstep", metavar="IN,OUT", help="take turns with other workers")


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """pyperf's hook: its worker processes get this script's own options too."""
    cmd += ["--case", args.case, "--variant", args.variant, "--db", args.db]
    cmd += ["--timing", args.timing, "--sqlite-path", args.sqlite_path, "--pg-name", args.pg_name]
    if args.lockstep:
        cmd += ["--lockstep", args.lockstep]


def main() -> None:
    if "--sample" in sys.argv or "--profile" in sys.argv:
        parser = argparse.ArgumentParser()
        _options(parser)
        parser.add_argument("--sample", action="store_true")
        parser.add_argument("--profile", type=int, metavar="N", help="cProfile N requests")
        args = parser.parse_args()
        application = configure(args.variant, args.db, args.sqlite_path, args.pg_name)
        migrate()
        if args.profile:
            profile(application, args.case, args.profile)
        else:
            print(json.dumps(samples(application)))
        return
    import pyperf

    runner = pyperf.Runner(add_cmdline_args=_forward, program_args=("-m", "benchmarks.micro"))
    _options(runner.argparser)
    args = runner.parse_args()
    application = make = None
    if args.worker:  # the loops run in pyperf's worker processes only
        application = configure(args.variant, args.db, args.sqlite_path, args.pg_name)
        make = environ_factory(*CASES[args.case])
    name = f"{args.case} {args.variant} {args.db} {args.timing}"
    timed = Lockstep(args.lockstep).timed if args.worker and args.lockstep else time_requests
    runner.bench_time_func(name, timed, application, make, args.timing)


if __name__ == "__main__":
    main()
