"""A small DRF API for the OpenAPI tests: one operation per way an error can be inferred."""

from __future__ import annotations

from django.urls import include, path
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.versioning import URLPathVersioning
from rest_framework.views import APIView

from counterbalance_errors import exceptions
from counterbalance_errors.openapi import error_codes
from counterbalance_errors.ratelimit import ratelimit
from tests.models import Widget
from tests.support.urls import handler400, handler403, handler404, handler500  # noqa: F401
from tests.views import AlwaysThrottle


class WidgetSerializer(serializers.ModelSerializer[Widget]):
    class Meta:
        model = Widget
        fields = ["id", "name"]


class WidgetViewSet(viewsets.ModelViewSet[Widget]):
    queryset = Widget.objects.all()
    serializer_class = WidgetSerializer
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class PrivateView(APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=WidgetSerializer)
    def get(self, request: Request) -> Response:
        return Response({"id": 1, "name": "secret"})


class ThrottledView(APIView):
    authentication_classes: list[type] = []
    throttle_classes = [AlwaysThrottle]

    @extend_schema(responses=WidgetSerializer)
    def get(self, request: Request) -> Response:
        return Response({"id": 1, "name": "never"})


class V1Only(URLPathVersioning):
    allowed_versions = ("v1",)


class VersionedView(APIView):
    authentication_classes: list[type] = []
    versioning_class = V1Only

    @extend_schema(responses=WidgetSerializer(many=True))
    def get(self, request: Request, version: str) -> Response:
        return Response([])


class LockedView(APIView):
    authentication_classes: list[type] = []

    @error_codes("AccountLocked")
    @extend_schema(responses=WidgetSerializer)
    def get(self, request: Request) -> Response:
        raise exceptions.AccountLocked()


class RatelimitedView(APIView):
    authentication_classes: list[type] = []

    @method_decorator(ratelimit(group="openapi", key="ip", rate="1/m"))
    @extend_schema(responses=WidgetSerializer)
    def get(self, request: Request) -> Response:
        return Response({"id": 1, "name": "once"})


class CrashView(APIView):
    authentication_classes: list[type] = []

    @extend_schema(responses=WidgetSerializer)
    def get(self, request: Request) -> Response:
        raise KeyError("boom")


router = SimpleRouter()
router.register("widgets", WidgetViewSet)

urlpatterns = [
    path("o/", include(router.urls)),
    path("o/private/", PrivateView.as_view()),
    path("o/throttled/", ThrottledView.as_view()),
    path("o/<str:version>/versioned/", VersionedView.as_view()),
    path("o/locked/", LockedView.as_view()),
    path("o/crash/", CrashView.as_view()),
    path("o/ratelimited/", RatelimitedView.as_view()),
]
