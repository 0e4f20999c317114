"""The views every variant of the benchmark project serves (``benchmarks/urls.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

#: A small but realistic success payload, the same for the DRF and the plain view.
PAYLOAD = {
    "id": 42,
    "name": "widget",
    "tags": ["red", "blue", "green"],
    "owner": {"id": 7, "username": "ada"},
    "price": "12.50",
}


class WidgetSerializer(serializers.Serializer[dict[str, object]]):
    name = serializers.CharField(max_length=5)
    email = serializers.EmailField()
    quantity = serializers.IntegerField(min_value=1)


class WidgetListView(APIView):
    def get(self, request: Request) -> Response:
        return Response(PAYLOAD)

    def post(self, request: Request) -> Response:
        serializer = WidgetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class WidgetDetailView(APIView):
    def get(self, request: Request, pk: int) -> Response:
        raise NotFound()


class BoomAPIView(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("the database said no")


def plain_success(request: HttpRequest) -> HttpResponse:
    return JsonResponse(PAYLOAD)


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the database said no")


#: One exception class per storm index, so that every index has its own fingerprint.
_STORM_CLASSES: dict[int, type[Exception]] = {}


def storm(request: HttpRequest, index: int) -> HttpResponse:
    """Raise the same error for index 0, a distinct error class for every other index."""
    cls = _STORM_CLASSES.get(index)
    if cls is None:
        cls = _STORM_CLASSES[index] = type(f"StormError{index}", (RuntimeError,), {})
    raise cls(f"storm {index}")


def node_header(get_response: Callable[[HttpRequest], HttpResponseBase]) -> Any:
    """The ``header`` variant's middleware: the app's success-path work, and nothing else."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        response.headers["X-Counterbalance-Compute-Node"] = "bench-node-1"
        return response

    return middleware
