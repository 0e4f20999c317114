"""Views behind counterbalance_errors.ratelimit, for tests/test_ratelimit.py (under ``/rl/``).

Each flavour has its own group so tests can peek at its window with ``get_usage``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit as stock_ratelimit
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from counterbalance_errors.ratelimit import ratelimit

RATE = "2/h"


@ratelimit(group="rl.plain", key="ip", rate=RATE)
def plain(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


class DRFView(APIView):
    @method_decorator(ratelimit(group="rl.drf", key="ip", rate=RATE))
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


@ratelimit(group="rl.async", key="ip", rate=RATE)
async def async_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@ratelimit(group="rl.plain-noblock", key="ip", rate=RATE, block=False)
def plain_noblock(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"limited": request.limited})  # type: ignore[attr-defined]


class DRFNoBlockView(APIView):
    @method_decorator(ratelimit(group="rl.drf-noblock", key="ip", rate=RATE, block=False))
    def get(self, request: Request) -> Response:
        return Response({"limited": request.limited})  # type: ignore[attr-defined]


@ratelimit(group="rl.async-noblock", key="ip", rate=RATE, block=False)
async def async_noblock(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"limited": request.limited})  # type: ignore[attr-defined]


@ratelimit(group="rl.per-second", key="ip", rate="1/s")
def per_second(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@ratelimit(group="rl.unsafe", key="ip", rate="1/h", method=ratelimit.UNSAFE)
def unsafe_only(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@stock_ratelimit(group="rl.stock", key="ip", rate=RATE)
def stock(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("plain/", plain),
    path("drf/", DRFView.as_view()),
    path("async/", async_view),
    path("plain-noblock/", plain_noblock),
    path("drf-noblock/", DRFNoBlockView.as_view()),
    path("async-noblock/", async_noblock),
    path("per-second/", per_second),
    path("unsafe-only/", unsafe_only),
    path("stock/", stock),
]
