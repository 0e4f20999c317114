"""DRF views that trigger errors for real (not by ``raise``), for tests/test_drf.py.

Mounted under ``/drf-real/`` by tests/support/urls.py.
"""

from __future__ import annotations

from typing import Any

from django.db.utils import ConnectionHandler
from django.http import HttpResponseRedirect
from django.urls import path
from rest_framework import throttling, versioning
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.models import Widget

#: Invalid input for tests.views.PayloadSerializer / ItemSerializer (/drf/payload/, /drf/many/)
#: and the flat ``details`` each must give, whichever ListSerializer error shape DRF uses.
INVALID_PAYLOAD = {
    "name": "toolongname",
    "password": "short",
    "address": {"zipcode": "12345"},
    "items": [{"name": "ok", "email": "bad"}, {"name": "waytoolong", "email": "ok@example.com"}],
    "tags": [1, "x", 2, "y"],
    "matrix": [[1, "a"], [2]],
}
_MAX5 = "Ensure this field has no more than 5 characters."
_NOT_INT = "A valid integer is required."
_BAD_EMAIL = "Enter a valid email address."
PAYLOAD_DETAILS = [
    {"field": "name", "code": "max_length", "message": _MAX5},
    {
        "field": "password",
        "code": "min_length",
        "message": "Ensure this field has at least 8 characters.",
    },
    {"field": "address.zipcode", "code": "max_length", "message": _MAX5.replace("5", "3")},
    {"field": "items.0.email", "code": "invalid", "message": _BAD_EMAIL},
    {"field": "items.1.name", "code": "max_length", "message": _MAX5},
    {"field": "tags.1", "code": "invalid", "message": _NOT_INT},
    {"field": "tags.3", "code": "invalid", "message": _NOT_INT},
    {"field": "matrix.0.1", "code": "invalid", "message": _NOT_INT},
]
CLASHING_PAYLOAD = {"name": "clash", "password": "long-enough", "address": {"zipcode": "1"}}
CLASHING_PAYLOAD |= {"items": [], "tags": [], "matrix": []}
INVALID_ITEMS = [
    {"name": "ok", "email": "bad"},
    {"name": "fine", "email": "ok@example.com"},
    {"email": "x"},
]
ITEMS_DETAILS = [
    {"field": "0.email", "code": "invalid", "message": _BAD_EMAIL},
    {"field": "2.name", "code": "required", "message": "This field is required."},
    {"field": "2.email", "code": "invalid", "message": _BAD_EMAIL},
]


class HeaderKeyedThrottle(throttling.SimpleRateThrottle):
    """DRF's real rate throttle, keyed by ``X-Throttle-Key`` so each test counts alone."""

    rate = "2/hour"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {
            "scope": "tests",
            "ident": request.headers.get("X-Throttle-Key", "anonymous"),
        }


class ZeroWaitThrottle(throttling.BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False

    def wait(self) -> float:
        return 0.0


class UnknownWaitThrottle(throttling.BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False


class RateThrottledView(APIView):
    throttle_classes = [HeaderKeyedThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ZeroWaitView(APIView):
    throttle_classes = [ZeroWaitThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class UnknownWaitView(APIView):
    throttle_classes = [UnknownWaitThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class URLPathVersioning(versioning.URLPathVersioning):
    allowed_versions = ["v1"]


class QueryParameterVersioning(versioning.QueryParameterVersioning):
    allowed_versions = ["1.0"]


class AcceptHeaderVersioning(versioning.AcceptHeaderVersioning):
    allowed_versions = ["1.0"]


class URLPathVersionView(APIView):
    versioning_class = URLPathVersioning

    def get(self, request: Request, version: str) -> Response:
        return Response({"version": request.version})


class QueryVersionView(APIView):
    versioning_class = QueryParameterVersioning

    def get(self, request: Request) -> Response:
        if request.query_params.get("missing"):
            raise NotFound()
        return Response({"version": request.version})


class AcceptVersionView(APIView):
    versioning_class = AcceptHeaderVersioning

    def get(self, request: Request) -> Response:
        return Response({"version": request.version})


class BrokenNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        raise KeyError("broken-negotiation")


class BrokenNegotiationView(APIView):
    content_negotiation_class = BrokenNegotiation

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ModelCleanView(APIView):
    """Django ``ValidationError`` from ``full_clean``: name is too long for the model."""

    def post(self, request: Request) -> Response:
        Widget(name="x" * 60).full_clean()
        return Response({"ok": True})


class MultipleObjectsView(APIView):
    def get(self, request: Request) -> Response:
        Widget.objects.create(name="twin-a")
        Widget.objects.create(name="twin-b")
        Widget.objects.get(name__startswith="twin")
        return Response({"ok": True})


class DisallowedRedirectView(APIView):
    def get(self, request: Request) -> Any:
        return HttpResponseRedirect("javascript:alert(1)")


class DjangoPostView(APIView):
    """Reads Django's own ``request.POST`` (e.g. legacy code): a non-UTF-8 form → BadRequest."""

    def post(self, request: Request) -> Response:
        return Response({"keys": sorted(request._request.POST)})


class UnreachableDatabaseView(APIView):
    """A real connection attempt to a database file that cannot exist → OperationalError."""

    def get(self, request: Request) -> Response:
        unopenable = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/nonexistent/dir/db"}
        handler = ConnectionHandler({"default": unopenable})
        try:
            handler["default"].ensure_connection()
        finally:
            handler.close_all()
        return Response({"ok": True})


class ProtectedDeleteView(APIView):
    def post(self, request: Request) -> Response:
        widget = Widget.objects.create(name=request.data["name"])
        widget.parts.create()
        widget.delete()
        return Response({"ok": True})


urlpatterns = [
    path("throttle/rate/", RateThrottledView.as_view()),
    path("throttle/zero/", ZeroWaitView.as_view()),
    path("throttle/unknown/", UnknownWaitView.as_view()),
    path("version/<str:version>/path/", URLPathVersionView.as_view()),
    path("version/query/", QueryVersionView.as_view()),
    path("version/accept/", AcceptVersionView.as_view()),
    path("broken-negotiation/", BrokenNegotiationView.as_view()),
    path("model-clean/", ModelCleanView.as_view()),
    path("multiple-objects/", MultipleObjectsView.as_view()),
    path("disallowed-redirect/", DisallowedRedirectView.as_view()),
    path("django-post/", DjangoPostView.as_view()),
    path("unreachable-db/", UnreachableDatabaseView.as_view()),
    path("protected-delete/", ProtectedDeleteView.as_view()),
]
