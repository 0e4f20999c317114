"""Views and a URLconf for the integration tests (tests/test_integrations.py, test_logs.py)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.support.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

logger = logging.getLogger("tests.integrations")


def log_then_crash(request: HttpRequest) -> HttpResponse:
    logger.warning("about to fail")
    raise KeyError("boom")


def log_and_succeed(request: HttpRequest) -> HttpResponse:
    logger.warning("all good")
    return HttpResponse("ok")


def structlog_view(request: HttpRequest) -> HttpResponse:
    import structlog

    structlog.get_logger().warning("in the view")
    return HttpResponse("ok")


def capture_then_crash(request: HttpRequest) -> HttpResponse:
    import sentry_sdk

    try:
        raise ValueError("handled, but reported")
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    raise KeyError("boom")


urlpatterns = [
    *urlpatterns,
    path("integrations/log-then-crash/", log_then_crash),
    path("integrations/log-and-succeed/", log_and_succeed),
    path("integrations/capture-then-crash/", capture_then_crash),
    path("integrations/structlog/", structlog_view),
]
