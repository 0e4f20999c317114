from __future__ import annotations

from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import Client

from counterbalance_errors.profiles import clear_cache


@pytest.fixture
def client() -> Client:
    """A test client that returns 5xx responses instead of re-raising (Django trap 14)."""
    return Client(raise_request_exception=False)


@pytest.fixture(autouse=True)
def _fresh_profiles() -> Any:
    yield
    clear_cache()


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: pytest.FixtureRequest, settings: Any) -> bool:
    """Run a test with DEBUG off and on: Django's technical pages bypass several handlers."""
    settings.DEBUG = request.param
    return bool(request.param)


@pytest.fixture
def signals_sent() -> Any:
    """The keyword arguments of every ``got_request_exception`` sent during the test."""
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    got_request_exception.connect(receiver)
    yield sent
    got_request_exception.disconnect(receiver)
