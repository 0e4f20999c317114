"""The ASGI wrapper stores the errors it answers without blocking the event loop (review 5).

Storing is slowed down for real by a receiver of ``error_group_created``; meanwhile a
ticker on the event loop must keep running. A wrapper that wrote on the loop thread (or
joined a storing thread from it) would freeze the ticker for the whole write.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.asgi import get_asgi_application

from counterbalance_errors.asgi import ErrorEnvelopeASGI
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.signals import error_group_created
from tests.test_wsgi_asgi import run_asgi, scope_for

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = 0.4


@pytest.fixture
def slow_store() -> Iterator[list[int]]:
    """Storing a group's first row takes SLOW seconds more (a receiver of the signal the
    recorder sends after the batch); yields the ids of the threads that stored."""
    threads: list[int] = []

    def slow(sender: Any, **kwargs: Any) -> None:
        threads.append(threading.get_ident())
        time.sleep(SLOW)

    error_group_created.connect(slow, dispatch_uid="tests.slow_store")
    yield threads
    error_group_created.disconnect(dispatch_uid="tests.slow_store")


async def _request_with_ticker(app: Any, scope: dict[str, Any]) -> tuple[Any, int, int]:
    ticks = 0
    loop_thread = threading.get_ident()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await run_asgi(app, scope)
    finally:
        task.cancel()
    return result, ticks, loop_thread


def test_the_wrappers_own_400_is_stored_off_the_event_loop(slow_store: list[int]) -> None:
    app = ErrorEnvelopeASGI(get_asgi_application())
    started = time.perf_counter()
    (status, headers, _, _), ticks, loop_thread = async_to_sync(_request_with_ticker)(
        app, scope_for("/plain/success/", b"q=\xff\xfe")
    )
    elapsed = time.perf_counter() - started
    assert status == 400
    assert ErrorLog.objects.filter(logging_hash=headers["X-Counterbalance-Log-Hash"]).exists()
    assert slow_store
    assert loop_thread not in slow_store
    assert elapsed >= SLOW
    # The loop ran the ticker while the row was being written (about SLOW / 0.01 ticks).
    assert ticks >= SLOW / 0.01 / 4


def test_an_escaped_exception_is_stored_off_the_event_loop(slow_store: list[int]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("escaped before the response")

    (status, headers, _, _), ticks, loop_thread = async_to_sync(_request_with_ticker)(
        ErrorEnvelopeASGI(app), scope_for("/")
    )
    assert status == 500
    assert ErrorLog.objects.filter(logging_hash=headers["X-Counterbalance-Log-Hash"]).exists()
    assert slow_store
    assert loop_thread not in slow_store
    assert ticks >= SLOW / 0.01 / 4
