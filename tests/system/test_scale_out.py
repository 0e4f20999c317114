"""Three gunicorn servers, distinct COMPUTE_NODE, one PostgreSQL database, one Redis."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from django_ratelimit.core import _get_window

from tests.system import harness
from tests.system.harness import Server

pytestmark = pytest.mark.system

DB = "cb_system_scaleout"
N = 60  # identical logged errors, spread round-robin over the three nodes


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sequence[Server]]:
    logs = tmp_path_factory.mktemp("scale-out")
    harness.create_database(harness.SHARED_PG_PORT, DB)
    servers = [
        Server(
            port=harness.PORT_BASE + i,
            db_port=harness.SHARED_PG_PORT,
            db_name=DB,
            node=f"node-{i}",
            log=logs / f"node-{i}.jsonl",
            workers=2,
        )
        for i in (1, 2, 3)
    ]
    try:
        with harness.running(servers):
            yield servers
    finally:
        harness.drop_database(harness.SHARED_PG_PORT, DB)


def _group_counts(hashes: list[str]) -> list[int]:
    """occurrence_count of every group the rows of ``hashes`` belong to."""
    with harness.connect(harness.SHARED_PG_PORT, DB) as conn:
        rows = conn.execute(
            "SELECT DISTINCT g.id, g.occurrence_count FROM counterbalance_errors_errorgroup g"
            " JOIN counterbalance_errors_errorlog l ON l.group_id = g.id"
            " WHERE l.logging_hash = ANY(%s)",
            (hashes,),
        ).fetchall()
    return [count for _, count in rows]


def test_identical_errors_on_three_nodes_count_exactly_in_one_group(
    nodes: Sequence[Server],
) -> None:
    def send(i: int) -> tuple[str, harness.Answer]:
        node = nodes[i % len(nodes)]
        return node.node, harness.request(node.port, "/boom/")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(N)))

    assert {answer.status for _, answer in answers} == {500}
    hashes = [answer.logging_hash for _, answer in answers]
    assert all(hashes)
    assert len(set(hashes)) == N
    assert all(answer.json["logging_hash"] == answer.logging_hash for _, answer in answers)

    handed = [h for h in hashes if h]
    harness.wait_until(lambda: len(harness.stored(harness.SHARED_PG_PORT, DB, handed)) == N, 60)
    rows = harness.stored(harness.SHARED_PG_PORT, DB, handed)
    # Every hash resolves, on the node that answered it.
    assert rows == {answer.logging_hash: node for node, answer in answers}
    assert Counter(rows.values()) == {"node-1": N // 3, "node-2": N // 3, "node-3": N // 3}
    # One group, counted once per occurrence across every worker of every node.
    harness.wait_until(lambda: sum(_group_counts(handed)) >= N, 60)
    assert _group_counts(handed) == [N]
    assert harness.fallback_hashes(node.log for node in nodes) == []


def _run_key(period: int, margin: int) -> str:
    """A fresh rate-limit key whose window ends more than ``margin`` seconds from now.

    django-ratelimit ends each key's window at a key-dependent offset; with this key the
    window cannot roll over during the test, whatever the wall clock says.
    """
    while True:
        key = uuid.uuid4().hex
        if _get_window(key, period) - int(time.time()) > margin:
            return key


def test_a_rate_limit_counts_across_nodes(nodes: Sequence[Server]) -> None:
    """``10/h`` on one key: exactly 10 requests pass over all three nodes, 20 are throttled."""
    key = _run_key(period=3600, margin=600)

    def send(i: int) -> harness.Answer:
        node = nodes[i % len(nodes)]
        return harness.request(node.port, "/limited/", {"X-Cb-Run": key})

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(30)))

    # The counterbalance profile answers RequestThrottled with 503 and Retry-After.
    assert Counter(answer.status for answer in answers) == {200: 10, 503: 20}
    throttled = [answer for answer in answers if answer.status == 503]
    assert {answer.json["error"]["code"] for answer in throttled} == {"RequestThrottled"}
    assert all(int(answer.headers["Retry-After"]) > 600 for answer in throttled)
