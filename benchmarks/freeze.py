"""The recorder with its PostgreSQL server frozen (SIGSTOP): bounded, and exact.

    python -m benchmarks.freeze --datadir /tmp/pg --port 8201 [--persistent]

Needs a PostgreSQL cluster of YOUR OWN (never a shared one: its processes are stopped), running
from ``--datadir`` on 127.0.0.1:``--port`` with trust authentication. Stores 20 errors, stops
the server's processes, submits 60 (they wait past ``RECORDER_DEADLINE``, 4 s here), then 10
more (queued within the deadline), resumes the server, flushes, and prints one JSON line:
the slowest ``submit`` while frozen, and hashes handed out against rows stored + fallback lines
(exact: ``"exact": true``). ``--persistent`` keeps the writer's connection open
(``CONN_MAX_AGE``), so the freeze hits it mid-batch instead of at connect.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datadir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--persistent", action="store_true")
    args = parser.parse_args(argv)
    if args.port == 5432:
        parser.error("not the shared server: give the port of a cluster of your own")
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=args.port, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute("DROP DATABASE IF EXISTS cb_frozen")
        admin.execute("CREATE DATABASE cb_frozen")
    from django.conf import settings

    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "cb_frozen",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(args.port),
        "CONN_MAX_AGE": 600 if args.persistent else 0,
    }
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "counterbalance_errors",
        ],
        DATABASES={"default": database},
        USE_TZ=True,
        COUNTERBALANCE_ERRORS={"RECORDER_DEADLINE": 4.0, "RECORDER_STATEMENT_TIMEOUT": 1.0},
    )
    import django

    django.setup()
    quiet = logging.getLogger("counterbalance_errors")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    connections.close_all()

    from counterbalance_errors import capture, catalog, context, recorder
    from counterbalance_errors.models import ErrorLog

    hashes: list[str] = []

    def submit(n: int) -> float:
        worst = 0.0
        for _ in range(n):
            ctx = context.attach(None, catalog.make("InternalError"))
            hashes.append(str(ctx.logging_hash))
            started = time.perf_counter()
            recorder.submit(capture.snapshot(None, ctx))
            worst = max(worst, time.perf_counter() - started)
        return worst

    submit(20)
    recorder.flush(10)
    postmaster = int((args.datadir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    pids = [postmaster, *map(int, children)]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        worst = submit(60)
        time.sleep(6)  # past RECORDER_DEADLINE
        worst = max(worst, submit(10))
        time.sleep(1)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    recorder.flush(30)
    connections.close_all()
    stored = ErrorLog.objects.filter(logging_hash__in=hashes).count()
    counts = recorder.stats()
    recorder.shutdown()
    connections.close_all()
    result = {
        "worst_submit_ms_while_frozen": round(worst * 1000, 2),
        "handed_out": len(hashes),
        "stored": stored,
        "fallback": counts.get("fallback", 0),
        "unknown": counts.get("unknown", 0),
        "stats": counts,
        "exact": stored + counts.get("fallback", 0) == len(hashes),
    }
    print(json.dumps(result))
    return 0 if result["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
