"""The background writer's own cost per batch: statements, transactions and CPU per record.

    python -m benchmarks.writer [--db postgres|sqlite] [--batch 6] [--batches 200] [--profile]
    python -m benchmarks.writer --db sqlite --batches 5    # make bench-smoke: it still runs
    valgrind --tool=callgrind --callgrind-out-file=/tmp/w.out \\
        python -m benchmarks.writer --callgrind --batches 50    # instructions, load-independent

Records are real ones: logged 500s of the benchmark project (``benchmarks/settings.py``,
variant ``app``) captured on the request thread and kept instead of submitted; each batch of
``--batch`` identical errors (the storm's: 500/s over 4 workers and a 50 ms linger is about
6 a batch) is then built and written as the writer thread does (``recorder.build`` and
``recorder.write_batch``), after ``--warm`` batches that create the group and its hour. The
writer-thread rules apply (``recorder._thread.bounded``: the statement and lock timeouts).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import tempfile
import time
from typing import Any

from benchmarks import micro


def pending(application: Any, n: int) -> list[Any]:
    """``n`` captured logged 500s, not yet built (what the request thread queues)."""
    from counterbalance_errors import recorder

    kept: list[Any] = []
    submit = recorder.submit
    recorder.submit = kept.append  # type: ignore[assignment]
    try:
        make = micro.environ_factory(*micro.CASES["drf-500"])
        for _ in range(n):
            micro.request(application, make)
    finally:
        recorder.submit = submit  # type: ignore[assignment]
    return kept


def _admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
        conn.autocommit = True
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def write(batches: list[list[Any]], alias: str) -> None:
    from counterbalance_errors import recorder

    for items in batches:
        recorder.write_batch([recorder.build(i) for i in items], alias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--pg-name", default="bench_cb_writer")
    parser.add_argument(
        "--sqlite-path", default=os.path.join(tempfile.gettempdir(), "cb-bench-writer.sqlite3")
    )
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile of the measured batches")
    parser.add_argument("--callgrind", action="store_true", help="zero/dump callgrind around it")
    args = parser.parse_args()
    drop = f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)'
    if args.db == "postgres":
        _admin(drop, f'CREATE DATABASE "{args.pg_name}"')
    elif os.path.exists(args.sqlite_path):
        os.remove(args.sqlite_path)
    application = micro.configure("app", args.db, args.sqlite_path, args.pg_name)
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from counterbalance_errors import recorder
    from counterbalance_errors.models import ErrorGroup, ErrorLog

    call_command("migrate", verbosity=0, skip_checks=True)
    items = pending(application, args.batch * (args.warm + args.batches))
    chunks = [items[i : i + args.batch] for i in range(0, len(items), args.batch)]
    warm, measured = chunks[: args.warm], chunks[args.warm :]
    recorder._thread.bounded = True  # the writer thread's rules
    write(warm, "default")
    connection = connections["default"]
    if args.callgrind:
        subprocess.run(["callgrind_control", "-z", str(os.getpid())], check=True)
    profiler = cProfile.Profile() if args.profile else None
    commits = [0]
    commit = connection._commit

    def counted() -> None:
        commits[0] += 1
        commit()

    connection._commit = counted  # type: ignore[method-assign]
    with CaptureQueriesContext(connection) as queries:
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        write(measured, "default")
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    connection._commit = commit  # type: ignore[method-assign]
    if args.callgrind:
        subprocess.run(["callgrind_control", "-d", str(os.getpid())], check=True)
    records = args.batch * len(measured)
    kinds: dict[str, int] = {}
    for query in queries:
        sql = query["sql"].lstrip()
        kind = sql.split(None, 1)[0].upper() if sql else "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    group = ErrorGroup.objects.get()
    assert group.occurrence_count == ErrorLog.objects.count() == len(items), "counts"
    print(
        json.dumps(
            {
                "db": args.db,
                "batch": args.batch,
                "batches": len(measured),
                "statements_per_batch": round(len(queries) / len(measured), 2),
                "commits_per_batch": round(commits[0] / len(measured), 2),
                "by_kind_per_batch": {k: round(v / len(measured), 2) for k, v in kinds.items()},
                "cpu_us_per_record": round(1e6 * cpu / records, 1),
                "cpu_us_per_batch": round(1e6 * cpu / len(measured), 1),
                "wall_ms_per_batch": round(1e3 * wall / len(measured), 3),
            }
        )
    )
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
    connections.close_all()
    if args.db == "postgres":
        _admin(drop)


if __name__ == "__main__":
    main()
