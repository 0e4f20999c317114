"""Request time budgets: enforced for async views under ASGI, documented limits elsewhere."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from counterbalance_errors.profiles import get_profile
from tests.settings import MIDDLEWARE
from tests.support.profiletools import HASH, call, use_profile
from tests.support.views_profiles import CANCELLED, SYNC_FINISHED


@pytest.fixture(autouse=True)
def _async_capable_chain(settings: Any) -> None:
    # tests.middleware.BoomMiddleware is sync-only, which delays any answer until the view
    # returns (error-paths T3): the budget needs every middleware to be async-capable.
    settings.MIDDLEWARE = [m for m in MIDDLEWARE if m != "tests.middleware.BoomMiddleware"]


def timed(transport: str, url: str) -> tuple[Any, float]:
    started = time.perf_counter()
    response = call(transport, "GET", url)
    return response, time.perf_counter() - started


@pytest.fixture
def cancelled() -> Any:
    """The slow_async requests cancelled during the test (not a wall-clock measure: a budget
    that waited for the view instead of cancelling it would leave this empty)."""
    CANCELLED.clear()
    yield CANCELLED
    CANCELLED.clear()


@pytest.mark.django_db
def test_async_view_over_budget_answers_request_timeout_on_time(
    settings: Any, cancelled: list[str]
) -> None:
    use_profile(settings, "counterbalance", TIME_BUDGET=0.2)
    response, elapsed = timed("asgi", "/profiles/slow-async/?s=2")
    assert elapsed >= 0.2  # not before the budget (a lower bound holds under any load)
    assert cancelled == ["s=2"]  # the view was stopped, not waited for
    assert response.status_code == 504
    body = json.loads(response.content)
    assert body["error"]["code"] == "RequestTimeout"
    assert HASH.match(body["logging_hash"])
    assert response["X-Counterbalance-Compute-Node"]


@pytest.mark.django_db
def test_t3_a_sync_only_middleware_turns_the_budget_off(settings: Any) -> None:
    """T3 (a documented limit): with a sync-only middleware below it, the middleware gets a
    synchronous ``get_response`` and runs in sync mode, where nothing can time the request;
    the view's own answer comes back."""
    settings.MIDDLEWARE = MIDDLEWARE  # with tests.middleware.BoomMiddleware, sync-only
    use_profile(settings, "counterbalance", TIME_BUDGET=0.1)
    response = call("asgi", "GET", "/profiles/slow-async/?s=0.3")
    assert response.status_code == 200


@pytest.mark.django_db
def test_green_stack_budget_in_its_own_shape(settings: Any, cancelled: list[str]) -> None:
    use_profile(settings, "green_stack", TIME_BUDGET=0.2)
    response = call("asgi", "GET", "/profiles/slow-async/?s=2")
    assert cancelled == ["s=2"]
    assert response.status_code == 504
    body = json.loads(response.content)
    assert body["error"]["code"] == "RequestTimeout"
    assert response["X-Green-Stack-Error-Trace"] == body["trace"]
    assert response["X-Green-Stack-Request-ID"]


def test_within_budget_answers_normally(settings: Any) -> None:
    use_profile(settings, "green_stack")  # 10 s
    response = call("asgi", "GET", "/profiles/slow-async/?s=0.05")
    assert (response.status_code, json.loads(response.content)) == (200, {"slept": True})


def test_zero_turns_the_budget_off(settings: Any) -> None:
    use_profile(settings, "green_stack", TIME_BUDGET=0)
    assert get_profile().budget() is None
    response, _ = timed("asgi", "/profiles/slow-async/?s=0.3")
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_views_own_timeout_error_is_an_internal_error(settings: Any) -> None:
    use_profile(settings, "counterbalance", TIME_BUDGET=5)
    response = call("asgi", "GET", "/profiles/own-timeout/")
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "InternalError"


def test_sync_view_under_wsgi_cannot_be_interrupted(settings: Any) -> None:
    """Documented limit: nothing inside Django can stop a sync view under WSGI."""
    use_profile(settings, "counterbalance", TIME_BUDGET=0.1)
    response, elapsed = timed("wsgi", "/profiles/slow-sync/?s=0.3")
    assert elapsed >= 0.3
    assert response.status_code == 200


@pytest.mark.django_db
def test_sync_view_under_asgi_is_not_interrupted(settings: Any) -> None:
    """Documented limit: a sync view's thread cannot be stopped; it runs to its end (its work
    is done) and the client is answered RequestTimeout. (Whether the answer waits for the
    thread depends on asgiref's scheduling, so nothing here depends on when it comes.)"""
    use_profile(settings, "counterbalance", TIME_BUDGET=0.2)
    SYNC_FINISHED.clear()
    response = call("asgi", "GET", "/profiles/slow-sync/?s=0.6")
    assert SYNC_FINISHED.wait(30)  # the view's thread ran to its end
    assert response.status_code == 504
    assert json.loads(response.content)["error"]["code"] == "RequestTimeout"


@pytest.mark.parametrize(
    ("profile", "budget", "expected"),
    [
        ("counterbalance", None, None),
        ("green_stack", None, 10.0),
        ("green_stack", 2.5, 2.5),
        ("counterbalance", 3, 3.0),
        ("green_stack", 0, None),
        ("green_stack", -1, 10.0),
        ("green_stack", "soon", 10.0),
        ("cloudapi", None, None),
        ("reason_phrase", None, None),
        ("numeric", None, None),
        ("problem_details", None, None),
    ],
)
def test_budget_setting(settings: Any, profile: str, budget: Any, expected: float | None) -> None:
    use_profile(settings, profile, TIME_BUDGET=budget)
    assert get_profile().budget() == expected


def test_a_timeout_error_that_is_not_the_budgets_propagates(settings: Any) -> None:
    from asgiref.sync import async_to_sync
    from django.test import RequestFactory

    from counterbalance_errors.budget import within_budget

    use_profile(settings, "green_stack")

    async def get_response(request: Any) -> Any:
        raise TimeoutError("from below")

    with pytest.raises(TimeoutError, match="from below"):
        async_to_sync(within_budget)(get_response, RequestFactory().get("/"))
