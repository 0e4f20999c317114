"""SIGTERM to a gunicorn master while logged errors are in flight."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from tests.system import harness
from tests.system.harness import Cluster, Server

pytestmark = pytest.mark.system

DB = "cb_system_sigterm"
CLIENTS = 8  # concurrent requests in flight at most
PER_CLIENT = 40  # requests per client at most
BEFORE_SIGTERM = 40  # responses received before the signal


def test_sigterm_under_load_loses_no_hash(cluster: Cluster, tmp_path: Path) -> None:
    harness.create_database(cluster.port, DB)
    log = tmp_path / "sigterm.jsonl"
    server = Server(
        port=harness.PORT_BASE + 5,
        db_port=cluster.port,
        db_name=DB,
        node="sigterm",
        log=log,
        workers=2,
    )
    handed: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client() -> None:
        for _ in range(PER_CLIENT):
            try:
                answer = harness.request(server.port, "/boom/", timeout=30)
            except OSError:
                return  # the server stopped listening
            with lock:
                if answer.logging_hash:
                    handed.append(answer.logging_hash)
                if len(handed) >= BEFORE_SIGTERM:
                    enough.set()

    with harness.running([server]):
        assert server.process is not None
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            assert enough.wait(60)
            server.process.send_signal(signal.SIGTERM)
            returncode = server.process.wait(60)
        finally:
            for thread in threads:
                thread.join(60)
    assert returncode == 0
    assert len(handed) >= BEFORE_SIGTERM
    assert len(set(handed)) == len(handed)

    rows = set(harness.stored(cluster.port, DB))
    lines = harness.fallback_hashes([log])
    assert not rows & set(lines)
    missing = set(handed) - rows - set(lines)
    assert not missing, f"{len(missing)} of {len(handed)} hashes neither stored nor logged"
