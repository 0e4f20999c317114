from __future__ import annotations

from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import Client

from counterbalance_errors.profiles import clear_cache


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``system`` tests (tests/system/) start real servers: only with ``-m system``."""
    if "system" in (config.option.markexpr or ""):
        return
    selected = [item for item in items if item.get_closest_marker("system") is None]
    if len(selected) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in selected])
        items[:] = selected


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
