"""A middleware that fails on demand (``X-Boom`` header), for the middleware-phase paths."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from tests.views import RAISES


class BoomMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        phase, _, kind = request.headers.get("X-Boom", "").partition(":")
        if phase == "request":
            raise RAISES[kind or "unhandled"]()
        response = self.get_response(request)
        if phase == "response":
            raise RAISES[kind or "unhandled"]()
        return response

    def process_template_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.headers.get("X-Boom") == "template":
            raise RAISES["unhandled"]()
        return response
