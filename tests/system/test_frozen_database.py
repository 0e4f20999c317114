"""The error database frozen with SIGSTOP, then stopped, then back: no request waits on it,
and every hash handed out is stored or in a fallback line, exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.system import harness
from tests.system.harness import Cluster, Server

pytestmark = pytest.mark.system

DB = "cb_system_frozen"
M = 20  # logged errors answered while the database is frozen


def _try(port: int) -> harness.Answer | None:
    try:
        # A request blocked on the frozen database would never complete: 10 s is "never".
        return harness.request(port, "/boom/", timeout=10)
    except OSError:
        return None


#: The recorder's bounds: the defaults (a queue far above M), and a queue of 4 with batches
#: of 2, which M requests overflow while the database is frozen.
BOUNDS = {
    "within the bound": {},
    "over the bound": {"RECORDER_QUEUE_SIZE": 4, "RECORDER_BATCH_SIZE": 2},
}


@pytest.mark.parametrize("bound", BOUNDS)
def test_frozen_then_stopped_database(cluster: Cluster, tmp_path: Path, bound: str) -> None:
    harness.create_database(cluster.port, DB)
    log = tmp_path / "frozen.jsonl"
    server = Server(
        port=harness.PORT_BASE + 4,
        db_port=cluster.port,
        db_name=DB,
        node="frozen",
        log=log,
        app=BOUNDS[bound],
    )
    with harness.running([server]):
        first = harness.request(server.port, "/boom/")  # the worker's connection is open
        assert first.logging_hash
        assert harness.wait_until(
            lambda: first.logging_hash in harness.stored(cluster.port, DB, [first.logging_hash]),
            30,
        )
        try:
            cluster.freeze()
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda _: _try(server.port), range(M)))
            still_frozen = cluster.is_frozen()
        finally:
            cluster.thaw()
        cluster.stop()  # pg_ctl stop -m fast
        cluster.start()
        assert server.terminate() == 0  # a graceful shutdown flushes what is queued

    assert still_frozen
    completed = [answer for answer in answers if answer is not None]
    assert len(completed) == M, f"{M - len(completed)} requests waited on the frozen database"
    assert {answer.status for answer in completed} == {500}
    handed = {first.logging_hash} | {answer.logging_hash for answer in completed}
    assert None not in handed
    assert len(handed) == M + 1

    rows = set(harness.stored(cluster.port, DB))
    lines = harness.fallback_hashes([log])
    assert len(lines) == len(set(lines)), "a hash in two fallback lines"
    assert not rows & set(lines), "a hash both stored and in a fallback line"
    assert len(rows) + len(lines) == len(handed)
    assert rows | set(lines) == handed
    if bound == "within the bound":
        # The queue's bound is far above M and the outage shorter than the recorder's
        # deadline: every record queued meanwhile is stored once the database is back.
        assert rows == handed
    else:
        # At most one batch in the writer and a full queue wait; the rest overflowed.
        assert len(lines) >= M - 4 - 2
