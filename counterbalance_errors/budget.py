"""Request time budgets (``TIME_BUDGET``, or the profile's own, e.g. 10 s for ``green_stack``).

What can be enforced (``docs/profiles.md``, "Time budgets"): under ASGI, with every middleware
async-capable, the middleware answers ``RequestTimeout``. An async view is cancelled when the
budget runs out and the 504 goes out on time. A sync view (every DRF view) cannot be stopped:
it runs to its end in its thread, and the 504 is answered only when it returns (its response
discarded); the storing of a logged error also waits for that thread. Under WSGI nothing inside
Django can interrupt a view: use the server's timeout (gunicorn sync workers ``--timeout``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.log import log_response

from counterbalance_errors import catalog, responses
from counterbalance_errors.exceptions import RequestTimeout
from counterbalance_errors.guard import guarded
from counterbalance_errors.profiles import get_profile


async def within_budget(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]], request: HttpRequest
) -> HttpResponseBase:
    """``await get_response(request)``, or the ``RequestTimeout`` envelope once over budget."""
    seconds = None
    # A custom profile's budget() must not fail every request, success included.
    with guarded("could not get the time budget"):
        seconds = get_profile().budget()
    if seconds is None:
        return await get_response(request)
    timeout = asyncio.timeout(seconds)
    try:
        async with timeout:
            return await get_response(request)
    except TimeoutError:
        if not timeout.expired():
            raise
    response = responses.error_response(request, catalog.from_exception(RequestTimeout()))
    log_response(
        "Request time budget (%ss) exceeded: %s",
        seconds,
        request.path,
        response=response,
        request=request,
    )
    return response
