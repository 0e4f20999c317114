"""Requests per second under gunicorn (``make bench-servers``).

    python -m benchmarks.servers [--rounds 7] [--seconds 3] [--db postgres|sqlite] [--smoke]

Each configuration runs in its own gunicorn (one sync worker) on 127.0.0.1, ports 8140-8159;
the load comes from ``wrk -t1 -c2`` when it is installed (Debian: ``apt-get install wrk``), else
from a bounded Python client (two connections). The contenders of a row are loaded in
alternation, round by round, and the ratio is the median of the per-round ratios (min-max).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks import run

PORTS = iter(range(8140, 8160))


@contextlib.contextmanager
def gunicorn(wsgi: str, env: dict[str, str]) -> Iterator[str]:
    port = next(PORTS)
    command = [sys.executable, "-m", "gunicorn", wsgi, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--worker-class", "sync", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=run.ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                fetch(base + "/")
                break
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn {wsgi} exited")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def load(url: str, seconds: float) -> float:
    """Requests per second against ``url`` for ``seconds``, two connections."""
    wrk = shutil.which("wrk")
    if wrk and seconds >= 1:
        command = [wrk, "-t1", "-c2", f"-d{int(seconds)}s", "--timeout", "5s", url]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
        return float(
            next(ln for ln in out.splitlines() if ln.startswith("Requests/sec:")).split()[1]
        )
    host, port = url.split("/")[2].split(":")
    path = "/" + url.split("/", 3)[3]
    counts = [0, 0]
    deadline = time.monotonic() + seconds

    def client(slot: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        while time.monotonic() < deadline:
            connection.request("GET", path)
            connection.getresponse().read()
            counts[slot] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def row(label: str, urls: dict[str, str], args: argparse.Namespace, target: str = "") -> list[str]:
    names = list(urls)
    rps: dict[str, list[float]] = {name: [] for name in names}
    for url in urls.values():
        load(url, 1.0)  # warm up
    for index in range(args.rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            rps[name].append(load(urls[name], args.seconds))
    ours, theirs = names
    ratios = [a / b for a, b in zip(rps[ours], rps[theirs], strict=True)]
    ratio = statistics.median(ratios)
    met = "" if not target or args.smoke else ("met" if ratio >= float(target) else "MISSED")
    return [
        label,
        f"{ours}: {statistics.median(rps[ours]):,.0f}/s",
        f"{theirs}: {statistics.median(rps[theirs]):,.0f}/s",
        f"{ratio:.3f} ({min(ratios):.3f}-{max(ratios):.3f})",
        f"≥ {target}" if target else "",
        met,
    ]


def check(url: str, status: int, marker: bytes) -> None:
    answer = fetch(url)
    if answer[0] != status or marker not in answer[1]:
        raise RuntimeError(f"{url} answered {answer}, expected {status} with {marker!r}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--smoke", action="store_true", help="one short round per row")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.seconds = 1, 0.3
    print(f"load average before: {run.machine_load()}", flush=True)
    body = []
    with tempfile.TemporaryDirectory(prefix="cb-servers-") as tmp:
        env = {**run.environment(Path(tmp)), "CB_BENCH_DB": args.db}
        with (
            run.databases(env, args.db == "postgres"),
            gunicorn("benchmarks.wsgi:application", {**env, "CB_BENCH_VARIANT": "app"}) as app,
            gunicorn("benchmarks.wsgi:application", {**env, "CB_BENCH_VARIANT": "bare"}) as bare,
        ):
            check(app + "/drf/widgets/", 200, b"widget")
            check(app + "/plain/boom/", 500, b"logging_hash")
            check(app + "/drf/widgets/999/", 404, b"ResourceNotFound")
            success = {"app": app + "/drf/widgets/", "without": bare + "/drf/widgets/"}
            body.append(row("success, DRF view, requests/s", success, args, "0.97"))
            errors = {"logged 500": app + "/plain/boom/", "unlogged 404": app + "/drf/widgets/999/"}
            body.append(row(f"logged 500 vs unlogged 404, requests/s, {args.db}", errors, args))
        example = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings"}
        example.update(DJANGO_DEBUG="0", DEMO_DB=f"{tmp}/example.sqlite3")
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, cwd=run.ROOT, env=example, check=True)
        with gunicorn("example_project.wsgi:application", example) as demo:
            crash, missing = demo + "/demo/crash/", demo + "/api/products/999999/"
            check(crash, 500, b"logging_hash")
            check(missing, 404, b"ResourceNotFound")
            urls = {"logged 500": crash, "unlogged 404": missing}
            body.append(row("example project (SQLite), logged 500 vs 404, requests/s", urls, args))
    generator = "wrk -t1 -c2" if shutil.which("wrk") else "Python client, 2 connections"
    print(
        f"gunicorn, 1 sync worker each; load: {generator}; {args.rounds} rounds of {args.seconds} s"
    )
    header = ["row", "this app", "compared with", "ratio (min-max)", "target", ""]
    print(run.table(header, body))
    print(f"load average after: {run.machine_load()}")


if __name__ == "__main__":
    main()
