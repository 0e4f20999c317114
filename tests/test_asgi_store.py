"""The ASGI wrapper stores the errors it answers without blocking the event loop (review 5).

Storing is held up for real by a receiver of ``error_group_created`` (which the recorder sends
on the thread that wrote the batch): it waits until a ticker on the event loop has run while
the error is being stored. A wrapper that wrote on the
loop thread (or joined a storing thread from it) would starve the ticker, and the receiver
would give up waiting. No duration is measured: the proof is the order of events.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.asgi import get_asgi_application

from counterbalance_errors.asgi import ErrorEnvelopeASGI
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.signals import error_group_created
from tests.support.servers import run_asgi, scope_for

pytestmark = pytest.mark.django_db(transaction=True)

#: How long the receiver waits for the loop before concluding it is blocked (a failure bound,
#: never reached when the wrapper is right, whatever the machine's load).
GIVE_UP = 30.0


@dataclass
class Store:
    threads: list[int] = field(default_factory=list)  # the threads that stored a row
    storing: threading.Event = field(default_factory=threading.Event)
    loop_ran: threading.Event = field(default_factory=threading.Event)
    loop_ran_while_storing: list[bool] = field(default_factory=list)


@pytest.fixture
def slow_store() -> Iterator[Store]:
    """Storing a new group waits until the event loop has run meanwhile."""
    store = Store()

    def slow(sender: Any, **kwargs: Any) -> None:
        store.threads.append(threading.get_ident())
        store.storing.set()
        store.loop_ran_while_storing.append(store.loop_ran.wait(GIVE_UP))

    error_group_created.connect(slow, dispatch_uid="tests.slow_store")
    yield store
    error_group_created.disconnect(dispatch_uid="tests.slow_store")


async def _request_with_ticker(app: Any, scope: dict[str, Any], store: Store) -> tuple[Any, int]:
    loop_thread = threading.get_ident()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.01)
            if store.storing.is_set():
                store.loop_ran.set()

    task = asyncio.create_task(ticker())
    try:
        result = await run_asgi(app, scope)
    finally:
        task.cancel()
    return result, loop_thread


def test_the_wrappers_own_400_is_stored_off_the_event_loop(slow_store: Store) -> None:
    app = ErrorEnvelopeASGI(get_asgi_application())
    (status, headers, _, _), loop_thread = async_to_sync(_request_with_ticker)(
        app, scope_for("/plain/success/", b"q=\xff\xfe"), slow_store
    )
    assert status == 400
    assert ErrorLog.objects.filter(logging_hash=headers["X-Counterbalance-Log-Hash"]).exists()
    assert slow_store.threads
    assert loop_thread not in slow_store.threads
    # The loop ran the ticker while the row was being written.
    assert slow_store.loop_ran_while_storing == [True]


def test_an_escaped_exception_is_stored_off_the_event_loop(slow_store: Store) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("escaped before the response")

    (status, headers, _, _), loop_thread = async_to_sync(_request_with_ticker)(
        ErrorEnvelopeASGI(app), scope_for("/"), slow_store
    )
    assert status == 500
    assert ErrorLog.objects.filter(logging_hash=headers["X-Counterbalance-Log-Hash"]).exists()
    assert slow_store.threads
    assert loop_thread not in slow_store.threads
    assert slow_store.loop_ran_while_storing == [True]
