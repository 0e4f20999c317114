"""counterbalance_errors.ratelimit against the real django-ratelimit, on LocMem and real Redis.

Retry-After must be the real remaining window (``get_usage(...)["time_left"]``), never below
1 s, for plain, DRF and async views; the cache-failure policy is django-ratelimit's own
``RATELIMIT_FAIL_OPEN``.

django-ratelimit aligns its windows to the clock (``time.time()``): every test here runs on a
frozen clock (time-machine), at a known distance from the end of the test client's window, so
no result depends on when the suite happens to run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import time_machine
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import AsyncClient, Client, RequestFactory
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from counterbalance_errors import catalog
from counterbalance_errors.exceptions import RateLimited
from counterbalance_errors.ratelimit import ratelimit
from counterbalance_errors.testing import assert_error, error_body
from tests.support.views_ratelimit import RATE

FLAVOURS = {"plain": "rl.plain", "drf": "rl.drf", "async": "rl.async"}
HOUR = 3600  # the period of RATE
#: A time on the hour (2026-01-01T00:00:00Z); windows of RATE end at a fixed offset from it.
ON_THE_HOUR = 1_767_225_600
#: Where the frozen clock stands in most tests: this many seconds before the window ends.
MID_WINDOW = 1800


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(django_settings.REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["locmem", "redis"])
def rl_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """A fresh rate-limit cache per test: LocMem, or the real Redis under a unique prefix."""
    prefix = f"cb-rl-{uuid.uuid4().hex}"
    if request.param == "locmem":
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    else:
        if not redis_available():
            pytest.skip(f"no Redis at {django_settings.REDIS_URL}")
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    settings.CACHES = {**settings.CACHES, "ratelimit": backend}
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    yield request.param
    if request.param == "redis":
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def window_end() -> int:
    """The end of the test client's RATE window that starts after ON_THE_HOUR.

    django-ratelimit offsets each key's windows from the hour by a per-key jitter; asking it at
    ON_THE_HOUR how long the window has left gives that end without re-implementing it.
    """
    with time_machine.travel(ON_THE_HOUR, tick=False):
        return ON_THE_HOUR + int(peek("rl.any")["time_left"])


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """The clock, frozen MID_WINDOW seconds before the end of the test client's window."""
    with time_machine.travel(window_end() - MID_WINDOW, tick=False) as traveller:
        yield traveller


def get(flavour: str, url: str, **extra: Any) -> Any:
    if flavour == "async":
        return async_to_sync(AsyncClient(raise_request_exception=False).get)(url, **extra)
    return Client(raise_request_exception=False).get(url, **extra)


def peek(group: str, rate: str = RATE) -> dict[str, Any]:
    """The window as django-ratelimit sees it for the test client, without counting."""
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")
    usage = get_usage(request, group=group, key="ip", rate=rate, increment=False)
    assert usage is not None
    return usage  # type: ignore[no-any-return]


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_limit_answers_request_throttled_with_the_real_window(rl_cache: str, flavour: str) -> None:
    group = FLAVOURS[flavour]
    assert get(flavour, f"/rl/{flavour}/").status_code == 200
    assert get(flavour, f"/rl/{flavour}/").status_code == 200

    response = get(flavour, f"/rl/{flavour}/")

    assert_error(response, "RequestThrottled", status=503, logged=False)
    after = peek(group)
    assert (after["count"], after["should_limit"]) == (3, True)
    # The window's real remainder, not the catalog's 60 s default.
    assert int(response["Retry-After"]) == after["time_left"] == MID_WINDOW


@pytest.mark.parametrize(
    ("offset", "retry_after"),
    [
        (-61, 61),  # a minute before the end: the remainder
        (-1, 1),  # the last second of the window
        (0, 1),  # django-ratelimit's time_left is 0 at the end itself: never below 1 s
        (1, HOUR - 1),  # a new window has begun: a full hour less the second gone
    ],
    ids=["before-61s", "before-1s", "at-the-end", "after-1s"],
)
def test_retry_after_next_to_the_window_boundary(
    rl_cache: str, clock: time_machine.Traveller, offset: int, retry_after: int
) -> None:
    clock.move_to(window_end() + offset)
    for _ in range(2):
        assert get("plain", "/rl/plain/").status_code == 200

    response = get("plain", "/rl/plain/")

    assert_error(response, "RequestThrottled", status=503, logged=False)
    assert int(response["Retry-After"]) == retry_after


def test_the_count_starts_again_after_the_window_boundary(
    rl_cache: str, clock: time_machine.Traveller
) -> None:
    clock.move_to(window_end())  # the window's last instant still counts with it
    assert [get("plain", "/rl/plain/").status_code for _ in range(3)] == [200, 200, 503]

    clock.shift(1)

    assert get("plain", "/rl/plain/").status_code == 200
    assert peek("rl.plain")["count"] == 1


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_canonical_status_is_429(rl_cache: str, settings: Any, flavour: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    for _ in range(2):
        get(flavour, f"/rl/{flavour}/")

    response = get(flavour, f"/rl/{flavour}/")

    assert_error(response, "RequestThrottled", status=429)
    assert int(response["Retry-After"]) == MID_WINDOW


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_block_false_sets_request_limited(rl_cache: str, flavour: str) -> None:
    seen = [get(flavour, f"/rl/{flavour}-noblock/").json()["limited"] for _ in range(4)]

    assert seen == [False, False, True, True]


def test_one_per_second_still_sends_retry_after_of_at_least_one(rl_cache: str) -> None:
    # django-ratelimit reports time_left == 0 for "1/s" (error-paths R9).
    assert get("plain", "/rl/per-second/").status_code == 200

    response = get("plain", "/rl/per-second/")  # the same (frozen) second

    assert_error(response, "RequestThrottled")
    assert response["Retry-After"] == "1"


def test_method_filter(rl_cache: str) -> None:
    client = Client(raise_request_exception=False)
    assert [client.get("/rl/unsafe-only/").status_code for _ in range(3)] == [200, 200, 200]
    assert client.post("/rl/unsafe-only/").status_code == 200

    assert_error(client.post("/rl/unsafe-only/"), "RequestThrottled")


def test_ratelimit_enable_false_never_limits(rl_cache: str, settings: Any) -> None:
    settings.RATELIMIT_ENABLE = False

    assert [get("plain", "/rl/plain/").status_code for _ in range(4)] == [200] * 4


def test_same_arguments_as_the_stock_decorator() -> None:
    from django_ratelimit.decorators import ratelimit as stock

    assert (ratelimit.ALL, ratelimit.UNSAFE) == (stock.ALL, stock.UNSAFE)


# --- the stock decorator and DRF throttles map to the same error ------------------------------


def test_stock_ratelimited_and_drf_throttled_have_the_same_code(rl_cache: str) -> None:
    for _ in range(2):
        get("plain", "/rl/stock/")

    stock = get("plain", "/rl/stock/")
    ours = [get("plain", "/rl/plain/") for _ in range(3)][-1]
    throttled = get("plain", "/drf/throttled/")

    for response in (stock, ours, throttled):
        assert_error(response, "RequestThrottled", status=503, logged=False)
    assert int(ours["Retry-After"]) == MID_WINDOW
    assert throttled["Retry-After"] == "8"  # AlwaysThrottle.wait() is 7.2 s, rounded up
    # The stock Ratelimited carries no window: the catalog's default is all that can be said.
    assert stock["Retry-After"] == str(catalog.DEFAULT_THROTTLE_RETRY_AFTER)


def test_catalog_treats_both_exceptions_alike() -> None:
    ours = catalog.from_exception(RateLimited(wait=30))
    stock = catalog.from_exception(Ratelimited())

    assert (ours.code, ours.status) == (stock.code, stock.status) == ("RequestThrottled", 429)
    assert isinstance(RateLimited(), Ratelimited)


def test_async_view_is_awaited(rl_cache: str) -> None:
    # django-ratelimit's own decorator returns the coroutine unawaited: a 500 on every request
    # (error-paths R5). Ours awaits the view and consults the cache in a worker thread.
    response = get("async", "/rl/async/")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert peek("rl.async")["count"] == 1


# --- cache failure: RATELIMIT_FAIL_OPEN -------------------------------------------------------


@pytest.fixture
def unreachable_cache(settings: Any) -> None:
    """A real Redis client pointed at a port nothing listens on: every call is refused."""
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATELIMIT_USE_CACHE = "ratelimit"


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_cache_failure_fails_open_when_asked(
    unreachable_cache: None, settings: Any, flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RATELIMIT_FAIL_OPEN = True

    with caplog.at_level("WARNING", logger="counterbalance_errors"):
        responses = [get(flavour, f"/rl/{flavour}/") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert any("rate-limit cache unavailable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("fail_open", [False, None], ids=["explicit", "default"])
def test_cache_failure_fails_closed_by_default(
    unreachable_cache: None, settings: Any, flavour: str, fail_open: bool | None
) -> None:
    if fail_open is not None:
        settings.RATELIMIT_FAIL_OPEN = fail_open

    response = get(flavour, f"/rl/{flavour}/")

    # django-ratelimit's fail-closed answer is time_left=-1: Retry-After falls back, >= 1.
    error = assert_error(response, "RequestThrottled", status=503, logged=False)
    assert response["Retry-After"] == str(catalog.DEFAULT_THROTTLE_RETRY_AFTER)
    assert "127.0.0.1" not in error["message"]


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_block_false_with_a_failed_cache_marks_limited(
    unreachable_cache: None, flavour: str
) -> None:
    response = get(flavour, f"/rl/{flavour}-noblock/")

    assert response.status_code == 200
    assert response.json() == {"limited": True}


def test_misconfiguration_is_not_mistaken_for_a_cache_failure(settings: Any) -> None:
    settings.RATELIMIT_FAIL_OPEN = True

    @ratelimit(group="rl.broken", rate=RATE)  # no key: ImproperlyConfigured
    def view(request: Any) -> None:
        return None

    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        view(RequestFactory().get("/"))


# --- RatelimitMiddleware (see counterbalance_errors.W009) -------------------------------------


@pytest.fixture
def ratelimit_middleware(settings: Any, rl_cache: str) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django_ratelimit.middleware.RatelimitMiddleware"]


def test_ratelimit_middleware_without_view_turns_limits_into_500(
    ratelimit_middleware: None,
) -> None:
    for _ in range(2):
        get("plain", "/rl/stock/")

    assert_error(get("plain", "/rl/stock/"), "InternalError", status=500)


def test_ratelimit_middleware_with_our_view_answers_request_throttled(
    ratelimit_middleware: None, settings: Any
) -> None:
    settings.RATELIMIT_VIEW = "counterbalance_errors.views.permission_denied"
    for _ in range(2):
        get("plain", "/rl/stock/")

    response = get("plain", "/rl/stock/")

    assert_error(response, "RequestThrottled", status=503)
    assert error_body(response)["error"]["message"] == "Too many requests; retry later."
