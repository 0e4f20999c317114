"""A django-ratelimit decorator that knows the remaining window, for sync and async views.

Same arguments as ``django_ratelimit.decorators.ratelimit``. When the limit is exceeded (and
``block=True``) it raises :class:`~counterbalance_errors.exceptions.RateLimited`, a
``Ratelimited`` carrying ``wait``, so the answer is ``RequestThrottled`` with a
``Retry-After`` equal to the real remaining window (never below 1 s).

* plain views: ``@ratelimit(key="ip", rate="5/m")``
* DRF views: ``@method_decorator(ratelimit(key="ip", rate="5/m"))`` on the handler method
* async views: the same decorator; the cache is consulted in a worker thread
  (django-ratelimit's own decorator breaks async views, jsocol/django-ratelimit#293).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_ratelimit import ALL, UNSAFE
from django_ratelimit.core import get_usage

from counterbalance_errors.exceptions import RateLimited

logger = logging.getLogger("counterbalance_errors")

F = TypeVar("F", bound=Callable[..., Any])


def ratelimit(
    group: str | None = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    block: bool = True,
) -> Callable[[F], F]:
    def decorator(fn: F) -> F:
        def check(request: Any) -> None:
            usage = _usage(request, group, fn, key, rate, method)
            limited = usage is not None and bool(usage["should_limit"])
            request.limited = limited or getattr(request, "limited", False)
            if limited and block:
                assert usage is not None
                raise RateLimited(wait=usage["time_left"])

        if iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def _async_wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
                await sync_to_async(check)(request)
                return await fn(request, *args, **kwargs)

            return _documented(_async_wrapped, block)  # type: ignore[return-value]

        @functools.wraps(fn)
        def _wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            check(request)
            return fn(request, *args, **kwargs)

        return _documented(_wrapped, block)  # type: ignore[return-value]

    return decorator


def _documented(wrapper: Callable[..., Any], block: bool) -> Callable[..., Any]:
    """Let ``counterbalance_errors.openapi`` document ``RequestThrottled`` for the view.

    The attribute survives ``method_decorator``, which copies the wrapper's ``__dict__``.
    """
    if block:
        wrapper.counterbalance_error_codes = ("RequestThrottled",)  # type: ignore[attr-defined]
    return wrapper


# As on django_ratelimit.decorators.ratelimit: ``@ratelimit(method=ratelimit.UNSAFE)``.
ratelimit.ALL = ALL  # type: ignore[attr-defined]
ratelimit.UNSAFE = UNSAFE  # type: ignore[attr-defined]


def _usage(
    request: Any, group: str | None, fn: Callable[..., Any], key: Any, rate: Any, method: Any
) -> dict[str, Any] | None:
    try:
        return get_usage(  # type: ignore[no-any-return]
            request, group=group, fn=fn, key=key, rate=rate, method=method, increment=True
        )
    except Exception as exc:
        # A cache outage is django-ratelimit's "count is None" case: honour RATELIMIT_FAIL_OPEN.
        if isinstance(exc, ImproperlyConfigured):
            raise
        logger.warning("rate-limit cache unavailable: %s", exc.__class__.__name__)
        if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
            return None
        return {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}
