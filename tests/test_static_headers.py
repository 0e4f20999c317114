"""The success path sets a profile's constant per-response headers without a render context.

``Profile.static_response_headers()`` (docs/performance.md): the default profile's
compute-node header depends on the settings alone; a profile whose headers depend on the
request, or a subclass that computes its own, keeps ``response_headers()`` on every response.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory

from counterbalance_errors.middleware import ErrorEnvelopeMiddleware
from counterbalance_errors.profiles import CounterbalanceProfile, RenderContext

NODE = "X-Counterbalance-Compute-Node"


class PerRequestHeaders(CounterbalanceProfile):
    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        return {"X-Path": ctx.path or ""}


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def test_default_profile_declares_its_compute_node_header_constant(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-7"}

    assert CounterbalanceProfile().static_response_headers() == {NODE: "node-7"}


def test_success_response_gets_the_constant_header(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-7"}

    response = ErrorEnvelopeMiddleware(ok)(RequestFactory().get("/plain/success/"))

    assert response[NODE] == "node-7"
    assert response.content == b"ok"


def test_a_subclass_computing_its_own_headers_is_called_per_response(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": f"{__name__}.PerRequestHeaders"}

    response = ErrorEnvelopeMiddleware(ok)(RequestFactory().get("/some/path/"))

    assert PerRequestHeaders().static_response_headers() is None
    assert response["X-Path"] == "/some/path/"
    assert not response.has_header(NODE)
