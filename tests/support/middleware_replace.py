"""A middleware that *returns* a new 500 in place of the response it gets (X-Replace: 500)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase


class ReplaceWith500Middleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.headers.get("X-Replace") == "500":
            return HttpResponse("replaced", status=500)
        return response
