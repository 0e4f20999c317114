"""Views for the profile tests (mounted under /profiles/ by tests/support/urls.py)."""

from __future__ import annotations

import asyncio
import threading
import time

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path
from rest_framework import exceptions as drf
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

#: A developer message with everything a header or a status line must not carry.
UNSAFE_MESSAGE = "Zugriff verweigert für Bücher\r\nX-Evil: 1\x00\x7f " + "x" * 700


#: The query strings of the slow_async requests whose sleep was cancelled (by a time budget).
CANCELLED: list[str] = []


async def slow_async(request: HttpRequest) -> HttpResponse:
    try:
        await asyncio.sleep(float(request.GET.get("s", "1")))
    except asyncio.CancelledError:
        CANCELLED.append(request.META["QUERY_STRING"])
        raise
    return JsonResponse({"slept": True})


async def own_timeout(request: HttpRequest) -> HttpResponse:
    raise TimeoutError("the view's own timeout, not the budget")


#: Set when a slow_sync view has slept its whole time (its thread was not interrupted).
SYNC_FINISHED = threading.Event()


def slow_sync(request: HttpRequest) -> HttpResponse:
    time.sleep(float(request.GET.get("s", "1")))
    SYNC_FINISHED.set()
    return JsonResponse({"slept": True})


class AcceptedView(APIView):
    def post(self, request: Request) -> Response:
        return Response({"queued": True}, status=202)


class NoContentView(APIView):
    def delete(self, request: Request) -> Response:
        return Response(status=204)


class UnsafeMessageView(APIView):
    def get(self, request: Request) -> Response:
        raise drf.PermissionDenied(UNSAFE_MESSAGE)


def moved(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/drf/success/")


def own_request_id(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"ok": True})
    response["Request-Id"] = "view-chose-this"
    return response


urlpatterns = [
    path("slow-async/", slow_async),
    path("slow-sync/", slow_sync),
    path("own-timeout/", own_timeout),
    path("accepted/", AcceptedView.as_view()),
    path("no-content/", NoContentView.as_view()),
    path("unsafe-message/", UnsafeMessageView.as_view()),
    path("moved/", moved),
    path("own-request-id/", own_request_id),
]
