"""A CORS-style middleware that decorates every response, errors included."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers


class CorsLikeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["Access-Control-Allow-Origin"] = "https://app.example"
        response["Access-Control-Expose-Headers"] = "X-Counterbalance-Log-Hash"
        patch_vary_headers(response, ["Origin"])
        response.set_cookie("mw_cookie", "m1", samesite="Lax")
        return response
