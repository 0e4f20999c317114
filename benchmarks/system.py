"""Logged errors on real gunicorn servers: ``make bench-system`` (``python -m benchmarks.system``).

Three measurements, each bounded in requests and seconds, loopback only, on a PostgreSQL
cluster of our own (``tests/system/harness.py``: port ``CB_SYSTEM_PG_PORT``, default 15432),
serving ``tests/system/wsgi.py`` (the app configured as the README says, DEBUG off):

* ``throughput``: logged 500s per second per sync worker with 1, 2 and 4 workers, storage
  included (the clock stops when the last row is in the database), against unlogged 404s
  per second of the same DRF view path (target: >= 0.5 x), in interleaved rounds;
* ``storm``: 500 logged errors per second for a few seconds; the share of hashes whose
  ErrorLog row exists within 1 s of the response (target: 99 %), polled every 20 ms;
* ``frozen``: the cluster frozen with SIGSTOP; how much longer a logged 500 takes than with the
  database healthy (target: <= 50 ms beyond its own work). Requests time out after 5 s; after
  3 timeouts the phase stops.

Numbers are for comparison on one machine in one run, never absolute.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system import harness  # noqa: E402
from tests.system.harness import Cluster, Server  # noqa: E402

DB = "cb_system_bench"
PORT = harness.PORT_BASE + 20


def hit(port: int, path: str, timeout: float = 5.0) -> tuple[int, str | None]:
    """One request on a fresh connection (gunicorn's sync workers close it): status, hash."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    logging_hash = None
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == harness.HASH_HEADER.lower():
            logging_hash = value.strip()
    return status, logging_hash


def load(
    port: int, path: str, clients: int, count: int, seconds: float
) -> tuple[float, int, list[str]]:
    """``count`` requests (or ``seconds``, whichever ends first) from ``clients`` threads:
    the elapsed time, the responses received and the hashes handed out."""
    hashes: list[str] = []
    answered = [0]
    sent = iter(range(count))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if next(sent, None) is None:
                    return
            _, logging_hash = hit(port, path)
            with lock:
                answered[0] += 1
                if logging_hash:
                    hashes.append(logging_hash)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, answered[0], hashes


@contextmanager
def serving(cluster: Cluster, logs: Path, workers: int, app: dict[str, Any]) -> Iterator[Server]:
    harness.create_database(cluster.port, DB)
    server = Server(PORT, cluster.port, DB, "bench", logs / f"bench-{workers}.jsonl", workers, app)
    with harness.running([server]):
        for _ in range(4 * workers):  # every worker connected and warm
            hit(PORT, "/boom/")
            hit(PORT, "/missing/")
        yield server


def stored_count(cluster: Cluster, hashes: list[str]) -> int:
    return len(harness.stored(cluster.port, DB, hashes))


def throughput(cluster: Cluster, logs: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rounds of unlogged 404s then logged 500s, interleaved so that a change in the
    machine's load hits both alike; the 500s' clock runs until their last row is stored."""
    rows = []
    for workers in args.workers:
        clients = 2 * workers + 2
        count, seconds = args.requests // args.rounds, args.seconds / args.rounds
        missing_n = missing_s = boom_s = boom_lag = 0.0
        hashes: list[str] = []
        with serving(cluster, logs, workers, args.app) as server:
            for _ in range(args.rounds):
                elapsed, answered, _ = load(PORT, "/missing/", clients, count, seconds)
                missing_n, missing_s = missing_n + answered, missing_s + elapsed
                started = time.perf_counter()
                elapsed, _, handed = load(PORT, "/boom/", clients, count, seconds)
                harness.wait_until(lambda h=handed: stored_count(cluster, h) == len(h), 60, 0.01)
                boom_s += time.perf_counter() - started
                boom_lag += time.perf_counter() - started - elapsed
                hashes += handed
            lost = len(hashes) - stored_count(cluster, hashes)
            fallback = len(harness.fallback_hashes([server.log]))
        missing_rps, boom_rps = missing_n / missing_s, len(hashes) / boom_s
        rows.append(
            {
                "workers": workers,
                "unlogged_404_per_s": round(missing_rps, 1),
                "logged_500_per_s": round(boom_rps, 1),
                "per_worker_404": round(missing_rps / workers, 1),
                "per_worker_500": round(boom_rps / workers, 1),
                "ratio": round(boom_rps / missing_rps, 2),
                "logged_500s": len(hashes),
                "not_stored": lost,
                "fallback_lines": fallback,
                "rows_lag_s": round(boom_lag, 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def storm(cluster: Cluster, logs: Path, args: argparse.Namespace) -> dict[str, Any]:
    rate, seconds = args.storm_rate, args.storm_seconds
    total = int(rate * seconds)
    received: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    late = 0
    with serving(cluster, logs, args.storm_workers, args.app) as server:
        start = time.monotonic() + 0.2
        give_up = start + 2 * seconds + 5  # a server that cannot keep up: stop sending
        schedule = iter(range(total))

        def client() -> None:
            nonlocal late
            while True:
                with lock:
                    i = next(schedule, None)
                if i is None or time.monotonic() > give_up:
                    return
                due = start + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                elif pause < -0.05:
                    late += 1
                _, logging_hash = hit(PORT, "/boom/")
                now = time.monotonic()
                if logging_hash:
                    with lock:
                        received[logging_hash] = now

        done = threading.Event()

        def poll() -> None:
            with harness.connect(cluster.port, DB) as conn:
                while not done.is_set():
                    with lock:
                        pending = [h for h in received if h not in seen]
                    if pending:
                        rows = conn.execute(
                            "SELECT logging_hash FROM counterbalance_errors_errorlog"
                            " WHERE logging_hash = ANY(%s)",
                            (pending,),
                        ).fetchall()
                        now = time.monotonic()
                        for (logging_hash,) in rows:
                            seen[logging_hash] = now
                    time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        clients = [threading.Thread(target=client) for _ in range(args.storm_clients)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        ended = time.monotonic()
        harness.wait_until(lambda: len(seen) == len(received), 10)
        done.set()
        poller.join()
        fallback = len(harness.fallback_hashes([server.log]))
    delays = sorted(seen[h] - received[h] for h in seen)
    within = sum(1 for d in delays if d <= 1.0)
    result = {
        "target_rate": rate,
        "achieved_rate": round(len(received) / (ended - start), 1),
        "workers": args.storm_workers,
        "errors": len(received),
        "planned": total,
        "late_sends": late,
        "resolved_within_1s": round(100 * within / max(1, len(received)), 2),
        "delay_p50_ms": round(1000 * _pct(delays, 50), 1),
        "delay_p99_ms": round(1000 * _pct(delays, 99), 1),
        "unresolved_after_10s": len(received) - len(seen),
        "fallback_lines": fallback,
    }
    print(json.dumps(result), flush=True)
    return result


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def timed(port: int, path: str) -> float | None:
    started = time.perf_counter()
    try:
        hit(port, path)
    except OSError:
        return None
    return time.perf_counter() - started


def frozen(cluster: Cluster, logs: Path, args: argparse.Namespace) -> dict[str, Any]:
    with serving(cluster, logs, 1, args.app):
        healthy = [t for _ in range(args.frozen_requests) if (t := timed(PORT, "/boom/"))]
        cluster.freeze()
        times: list[float] = []
        timeouts = 0
        try:
            for _ in range(args.frozen_requests):
                elapsed = timed(PORT, "/boom/")
                if elapsed is None:
                    timeouts += 1
                    if timeouts >= 3:
                        break
                else:
                    times.append(elapsed)
        finally:
            cluster.thaw()
    own = statistics.median(healthy)
    times.sort()
    result = {
        "healthy_p50_ms": round(1000 * own, 2),
        "frozen_requests": len(times) + timeouts,
        "frozen_timeouts_5s": timeouts,
        "frozen_p50_ms": round(1000 * _pct(times, 50), 2) if times else None,
        "frozen_p99_ms": round(1000 * _pct(times, 99), 2) if times else None,
        "frozen_max_ms": round(1000 * times[-1], 2) if times else None,
        "wait_beyond_own_work_p99_ms": round(1000 * (_pct(times, 99) - own), 2)
        if times and not timeouts
        else "> 5000 (timeouts)",
    }
    print(json.dumps(result), flush=True)
    return result


MEASUREMENTS: dict[str, Callable[[Cluster, Path, argparse.Namespace], Any]] = {
    "throughput": throughput,
    "storm": storm,
    "frozen": frozen,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.system", description=__doc__)
    parser.add_argument("measurements", nargs="*", help=f"any of {', '.join(MEASUREMENTS)}")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=2000, help="per throughput row")
    parser.add_argument("--seconds", type=float, default=9.0, help="at most, per row and kind")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved 404/500 rounds")
    parser.add_argument("--storm-rate", type=float, default=500.0)
    parser.add_argument("--storm-seconds", type=float, default=4.0)
    parser.add_argument("--storm-workers", type=int, default=4)
    parser.add_argument("--storm-clients", type=int, default=16)
    parser.add_argument("--frozen-requests", type=int, default=100)
    parser.add_argument(
        "--app", type=json.loads, default={}, help="JSON merged into COUNTERBALANCE_ERRORS"
    )
    args = parser.parse_args(argv)
    unknown = set(args.measurements) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurements: {', '.join(sorted(unknown))}")
    cluster = Cluster()
    results: dict[str, Any] = {}
    with TemporaryDirectory(prefix="cb-bench-system-") as logs:
        try:
            cluster.init()
            cluster.stop()
            cluster.start()
            for name in args.measurements or list(MEASUREMENTS):
                results[name] = MEASUREMENTS[name](cluster, Path(logs), args)
        finally:
            cluster.remove()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
