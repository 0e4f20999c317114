"""One variant of the benchmark project, driven by ``benchmarks.run`` over a pipe.

Each worker is a separate process with its own settings (``benchmarks/settings.py`` reads
``CB_BENCH_VARIANT`` and ``CB_BENCH_DB``), so that "with the app" and "without it" are really
two projects, not one project patched at run time. The coordinator sends one JSON command per
line on stdin and reads one JSON answer per line; every timing is taken here, around the
request loop only, so the pipe costs nothing.

Requests go through the same WSGI callable a server calls (``benchmarks.wsgi.build``), with
the response iterated and closed as a server does, so ``request_started``/``request_finished``
and the middleware's work after the view are all measured.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
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

Environ = dict[str, Any]

#: "wall": elapsed time, for rows that wait on a database server. "cpu": this process's CPU
#: time, for rows that never wait: other processes on a busy machine then barely move it.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _environ_factory(method: str, path: str, body: dict[str, Any] | None) -> Callable[[], Environ]:
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


class Worker:
    def __init__(self) -> None:
        import django

        django.setup()
        from benchmarks.wsgi import build

        self.application = build()
        self.environs = {case: _environ_factory(*spec) for case, spec in CASES.items()}
        self.last_status = ""
        self.last_headers: list[tuple[str, str]] = []

    def _start_response(self, status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        self.last_status = status
        self.last_headers = headers

    def _request(self, environ: Environ) -> bytes:
        result: Iterable[bytes] = self.application(environ, self._start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _loop(self, make: Callable[[], Environ], n: int, clock: str = "wall") -> float:
        application, start_response = self.application, self._start_response
        now = CLOCKS[clock]
        gc.collect()
        started = now()
        for _ in range(n):
            result = application(make(), start_response)
            for _chunk in result:
                pass
            result.close()
        return now() - started

    # --- commands -----------------------------------------------------------------------

    def op_sample(self, case: str) -> dict[str, Any]:
        """One request, for the coordinator's sanity checks on what each variant answers."""
        body = self._request(self.environs[case]())
        return {
            "status": int(self.last_status.split()[0]),
            "headers": {k.lower(): v for k, v in self.last_headers},
            "body": body[:2000].decode("utf-8", "replace"),
        }

    def op_time(self, case: str, n: int, clock: str = "wall") -> dict[str, Any]:
        return {"seconds": self._loop(self.environs[case], n, clock)}

    def op_profile(self, case: str, n: int) -> dict[str, Any]:
        make = self.environs[case]
        self._loop(make, max(1, n // 10))
        profiler = cProfile.Profile()
        profiler.enable()
        self._loop(make, n)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        return {"text": out.getvalue()}

    def op_storm(self, kind: str, n: int, settings: dict[str, Any]) -> dict[str, Any]:
        from benchmarks import storage

        return storage.storm(self, kind, n, settings)

    def op_middleware_cost(self, case: str, n: int, rounds: int) -> dict[str, Any]:
        """CPU seconds per request with ErrorEnvelopeMiddleware's ``__call__`` as it is and
        replaced by a bare pass-through, on alternate rounds in this one process."""
        from counterbalance_errors.middleware import ErrorEnvelopeMiddleware

        real = ErrorEnvelopeMiddleware.__call__

        def passthrough(self: Any, request: Any) -> Any:
            return self.get_response(request)

        make = self.environs[case]
        self._loop(make, n)
        timings: dict[str, list[float]] = {"real": [], "passthrough": []}
        try:
            for index in range(rounds):
                order = ("real", "passthrough") if index % 2 == 0 else ("passthrough", "real")
                for name in order:
                    ErrorEnvelopeMiddleware.__call__ = real if name == "real" else passthrough  # type: ignore[method-assign]
                    timings[name].append(self._loop(make, n, "cpu") / n)
        finally:
            ErrorEnvelopeMiddleware.__call__ = real  # type: ignore[method-assign]
        return timings

    def op_commit_floor(self, n: int) -> dict[str, Any]:
        from benchmarks import storage

        return storage.commit_floor(n)

    def op_stored(self, logging_hash: str) -> dict[str, Any]:
        from benchmarks import storage

        return storage.stored(logging_hash)


def serve() -> None:
    # stdout carries the protocol only: anything the project prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        worker: Worker | None = Worker()
        answer: dict[str, Any] = {"ok": True}
    except Exception as exc:
        worker, answer = None, {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    protocol.write(json.dumps(answer) + "\n")
    if worker is None:
        return
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            break
        try:
            answer = {"ok": True, **getattr(worker, f"op_{op}")(**command)}
        except Exception as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    serve()
