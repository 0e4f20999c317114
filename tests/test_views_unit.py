"""The URLconf error handlers and the CSRF view called directly: they always answer with an
envelope, even when the machinery behind them fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import DisallowedHost, PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponseNotFound
from django.test import RequestFactory
from django.urls import Resolver404

from counterbalance_errors import catalog, context, responses, views
from counterbalance_errors.testing import assert_error


@pytest.fixture
def broken_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("error_response broke")

    monkeypatch.setattr(responses, "error_response", broken)


def test_handlers_map_the_exception_they_receive(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    request = RequestFactory().get("/x/")
    assert_error(views.bad_request(request, DisallowedHost("h")), "InvalidHeader", status=400)
    assert_error(views.bad_request(request, RequestDataTooBig()), "RequestTooLarge", status=413)
    assert_error(views.bad_request(request), "BadRequest", status=400)
    assert_error(views.permission_denied(request, PermissionDenied()), "NotAuthorized")
    assert_error(views.page_not_found(request, Http404("x")), "ResourceNotFound")
    assert_error(views.page_not_found(request, Resolver404({})), "EndpointNotFound", status=404)
    assert_error(views.page_not_found(request), "EndpointNotFound")


def test_page_not_found_leaves_a_bare_404_to_the_middleware() -> None:
    """Inner middleware acting on 404s (APPEND_SLASH) must see a 404; the middleware
    envelopes it on the way out."""
    request = RequestFactory().get("/x")
    context.of(request).seen = True
    response = views.page_not_found(request, Resolver404({}))
    assert isinstance(response, HttpResponseNotFound)
    assert not responses.is_envelope(response)
    # An Http404 raised by code is answered right away.
    assert_error(views.page_not_found(request, Http404()), "ResourceNotFound")


def test_server_error_uses_the_remembered_error() -> None:
    request = RequestFactory().get("/x/")
    context.attach(request, catalog.make("ServiceUnavailable", retry_after=5))
    response = views.server_error(request)
    assert_error(response, "ServiceUnavailable", status=503, logged=True)
    assert response["Retry-After"] == "5"


def test_csrf_failure_gives_django_s_reason() -> None:
    response = views.csrf_failure(RequestFactory().post("/x/"), reason="CSRF cookie not set.")
    error = assert_error(response, "CsrfFailed", status=403, logged=False)
    assert error["message"] == "CSRF verification failed. CSRF cookie not set."


@pytest.mark.usefixtures("broken_responses")
@pytest.mark.parametrize(
    ("handler", "code", "status"),
    [
        (lambda r: views.bad_request(r, RequestDataTooBig()), "BadRequest", 400),
        (lambda r: views.permission_denied(r, PermissionDenied()), "NotAuthorized", 403),
        (lambda r: views.page_not_found(r, Http404()), "ResourceNotFound", 404),
        (views.server_error, "InternalError", 500),
        (views.csrf_failure, "CsrfFailed", 403),
    ],
)
def test_handlers_never_fail(handler: Any, code: str, status: int) -> None:
    response = handler(RequestFactory().get("/x/"))
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {"code": code, "message": str(catalog.CATALOG[code].message)}
    }


@pytest.mark.usefixtures("broken_responses")
def test_server_error_never_fails_with_a_remembered_error() -> None:
    request = RequestFactory().get("/x/")
    context.attach(request, catalog.make("InternalError"))
    response = views.server_error(request)
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "InternalError"
