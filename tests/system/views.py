"""The views the system servers answer (``tests/system/urls.py``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from counterbalance_errors.ratelimit import ratelimit


class SystemBoom(RuntimeError):
    """The one logged error every node raises: one fingerprint, one group."""


class BoomView(APIView):
    """A logged 500 (storage included)."""

    def get(self, request: Request) -> Response:
        raise SystemBoom("the system test's error")


class MissingView(APIView):
    """An unlogged 404: the same DRF path without storage."""

    def get(self, request: Request) -> Response:
        raise NotFound()


def _run_key(group: str, request: HttpRequest) -> str:
    # The test picks a fresh key per run, one whose window cannot roll over during the test.
    return request.headers.get("X-Cb-Run", "")


@ratelimit(key=_run_key, rate="10/h")
def limited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"passed": True})


def ready(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ready": True})
