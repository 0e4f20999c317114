from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import Client

from counterbalance_errors import recorder
from counterbalance_errors.profiles import clear_cache
from tests.support import client as request_helper
from tests.support.client import TRANSPORTS

# The installed plugin, loaded here (after pytest-cov starts) instead of through its pytest11
# entry point, which pyproject.toml's addopts turn off (tests/README.md, "Coverage exclusions").
pytest_plugins = ["counterbalance_errors.pytest_plugin"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``system`` tests (tests/system/) start real servers: only with ``-m system``."""
    markexpr = config.option.markexpr or ""
    if re.search(r"\bsystem\b", markexpr) and not re.search(r"\bnot\s+system\b", markexpr):
        return
    selected, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("system") else selected).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = selected


@pytest.fixture
def client() -> Client:
    """A test client that returns 5xx responses instead of re-raising (Django trap 14)."""
    return Client(raise_request_exception=False)


@pytest.fixture
def call() -> Any:
    """The one request helper: ``call(transport, method, url, **kwargs)`` → the response.

    5xx come back as responses; see ``tests/support/client.py`` for the keyword arguments.
    """
    return request_helper.call


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Run a test over WSGI and over ASGI: only where the two paths differ."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _fresh_profiles() -> Any:
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def _recorder_remembers_nothing() -> Any:
    """The groups, hour buckets and users the recorder remembers are forgotten between tests
    (a transactional test flushes the tables they were in)."""
    recorder._known.clear()
    yield
    recorder._known.clear()


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: pytest.FixtureRequest, settings: Any) -> bool:
    """Run a test with DEBUG off and on: only where Django's technical pages diverge.

    Under DEBUG, ``response_for_exception`` answers Http404 with ``technical_404_response``,
    and BadRequest, SuspiciousOperation and anything unhandled with ``technical_500_response``
    instead of handler404/400/500 (``django/core/handlers/exception.py``); handler403,
    MultiPartParserError's handler400 and CSRF_FAILURE_VIEW still run. The middleware's
    ``process_exception`` answers view exceptions before any of that, so DEBUG matters only for
    errors it cannot see: unknown URLs, the middleware phase, returned responses, handler500.

    DEBUG is already off in tests (Django's test environment), and changing it resets the
    template engines (``django.test.signals.reset_template_engines``): every admin or error
    page would then compile its templates again. So only DEBUG on is set.
    """
    if request.param:
        settings.DEBUG = True
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
