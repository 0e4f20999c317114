"""Fixtures of the system tests: real gunicorn servers on real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.harness import Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Our own PostgreSQL cluster (never the shared one): the tests freeze and stop it."""
    cluster = Cluster()
    try:
        cluster.init()
        cluster.stop()  # a cluster left running by an interrupted run
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
