"""The small API that docs/profiles.md's examples are run against."""

from __future__ import annotations

from django.urls import path
from rest_framework import exceptions, serializers, throttling
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.support.urls import handler400, handler403, handler404, handler500  # noqa: F401


class OrderSerializer(serializers.Serializer[dict[str, int]]):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1)


class Orders(APIView):
    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        serializer = OrderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class Order(APIView):
    authentication_classes: list[type] = []

    def get(self, request: Request, pk: int) -> Response:
        raise exceptions.NotFound()


class ThirtySeconds(throttling.BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False

    def wait(self) -> float:
        return 30


class Search(APIView):
    authentication_classes: list[type] = []
    throttle_classes = [ThirtySeconds]

    def get(self, request: Request) -> Response:
        return Response([])


class Reports(APIView):
    authentication_classes: list[type] = []

    def get(self, request: Request) -> Response:
        return Response({"total": {}["missing"]})


urlpatterns = [
    path("orders/", Orders.as_view()),
    path("orders/<int:pk>/", Order.as_view()),
    path("search/", Search.as_view()),
    path("reports/", Reports.as_view()),
]
