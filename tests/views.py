"""Views that raise each kind of error, in DRF, plain sync and plain async flavours."""

from __future__ import annotations

from collections.abc import Callable

from django.core import exceptions as dj
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views import View
from django_ratelimit.decorators import ratelimit as stock_ratelimit
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework import serializers, throttling
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.decorators import api_view
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from counterbalance_errors import exceptions as cb
from counterbalance_errors.ratelimit import ratelimit
from tests.models import Part, Widget

#: kind → a factory for the exception a view raises.
RAISES: dict[str, Callable[[], BaseException]] = {
    "parse-error": lambda: drf.ParseError(),
    "bad-request": lambda: dj.BadRequest("bad"),
    "suspicious": lambda: dj.SuspiciousOperation("sus"),
    "multipart": lambda: MultiPartParserError("broken multipart"),
    "drf-validation": lambda: drf.ValidationError({"name": ["Too long."]}),
    "drf-required": lambda: drf.ValidationError(
        {"name": [drf.ErrorDetail("This field is required.", code="required")]}
    ),
    "django-validation": lambda: dj.ValidationError({"name": ["Too long."]}),
    "disallowed-host": lambda: dj.DisallowedHost("evil.example"),
    "not-authenticated": lambda: drf.NotAuthenticated(),
    "authentication-failed": lambda: drf.AuthenticationFailed(),
    "drf-permission": lambda: drf.PermissionDenied(),
    "django-permission": lambda: dj.PermissionDenied("secret reason 42"),
    "account-locked": lambda: cb.AccountLocked(),
    "drf-csrf": lambda: drf.PermissionDenied("CSRF Failed: CSRF cookie not set."),
    "http404": lambda: Http404("No Secret matches the given query."),
    "drf-not-found": lambda: drf.NotFound(),
    "does-not-exist": lambda: Widget.DoesNotExist("Widget matching query does not exist."),
    "method-not-allowed": lambda: drf.MethodNotAllowed("PATCH"),
    "not-acceptable": lambda: drf.NotAcceptable(),
    "integrity": lambda: IntegrityError("UNIQUE constraint failed: secret_table.email"),
    "conflict": lambda: cb.Conflict(),
    "protected": lambda: ProtectedError("protected", set()),
    "restricted": lambda: RestrictedError("restricted", set()),
    "in-use": lambda: cb.InUse(),
    "too-big": lambda: dj.RequestDataTooBig("too big"),
    "too-many-fields": lambda: dj.TooManyFieldsSent("too many fields"),
    "too-many-files": lambda: dj.TooManyFilesSent("too many files"),
    "unsupported-media-type": lambda: drf.UnsupportedMediaType("text/x-secret"),
    "throttled": lambda: drf.Throttled(wait=12),
    "ratelimited": lambda: Ratelimited(),
    "unhandled": lambda: KeyError("secret-key-text"),
    "drf-apiexception": lambda: drf.APIException("secret api text"),
    "not-implemented": lambda: NotImplementedError("secret todo"),
    "not-implemented-yet": lambda: cb.NotImplementedYet(),
    "operational": lambda: OperationalError("db password=hunter2"),
    "interface": lambda: InterfaceError("connection already closed"),
    "service-unavailable": lambda: cb.ServiceUnavailable(retry_after=120),
    "timeout": lambda: cb.RequestTimeout(),
    "invalid-version": lambda: cb.InvalidVersion(),
}


class RaiseAPIView(APIView):
    def get(self, request: Request, kind: str) -> Response:
        raise RAISES[kind]()

    post = get


def raise_plain(request: HttpRequest, kind: str) -> HttpResponse:
    raise RAISES[kind]()


async def raise_async(request: HttpRequest, kind: str) -> HttpResponse:
    raise RAISES[kind]()


# --- DRF specifics -------------------------------------------------------------------------


class ItemSerializer(serializers.Serializer[dict[str, object]]):
    name = serializers.CharField(max_length=5)
    email = serializers.EmailField()


class AddressSerializer(serializers.Serializer[dict[str, object]]):
    zipcode = serializers.CharField(max_length=3)


class PayloadSerializer(serializers.Serializer[dict[str, object]]):
    name = serializers.CharField(max_length=5)
    password = serializers.CharField(min_length=8)
    address = AddressSerializer()
    items = ItemSerializer(many=True)
    tags = serializers.ListField(child=serializers.IntegerField())
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), required=False
    )

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if attrs.get("name") == "clash":
            raise serializers.ValidationError("Name clashes with another payload.")
        return attrs


class PayloadView(APIView):
    def post(self, request: Request) -> Response:
        serializer = PayloadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"ok": True}, status=201)


class ManyItemsView(APIView):
    def post(self, request: Request) -> Response:
        serializer = ItemSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        return Response({"ok": True})


class EchoView(APIView):
    """Reads request.data, so parse errors and size limits surface."""

    def get(self, request: Request) -> Response:
        return Response({"query": dict(request.query_params)})

    def post(self, request: Request) -> Response:
        return Response({"keys": sorted(request.data)})


class WidgetView(APIView):
    def get(self, request: Request, pk: int) -> Response:
        widget = get_object_or_404(Widget, pk=pk)
        return Response({"id": widget.pk, "name": widget.name})

    def delete(self, request: Request, pk: int) -> Response:
        Widget.objects.get(pk=pk).delete()
        return Response(status=204)


class WidgetCreateView(APIView):
    """Creates a widget, then fails as asked: for rollback tests."""

    def post(self, request: Request) -> Response:
        Widget.objects.create(name=request.data["name"])
        then = request.data.get("then")
        if then:
            raise RAISES[then]()
        return Response({"ok": True}, status=201)


class BasicAuthView(APIView):
    authentication_classes = [BasicAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.get_username()})


class SessionAuthView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


class AlwaysThrottle(throttling.BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False

    def wait(self) -> float:
        return 7.2


class ThrottledView(APIView):
    throttle_classes = [AlwaysThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class StockRatelimitedView(APIView):
    @method_decorator(stock_ratelimit(key="ip", rate="1/m"))
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class RatelimitedAPIView(APIView):
    @method_decorator(ratelimit(key="ip", rate="1/m"))
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ReturnsNoneView(APIView):
    def get(self, request: Request) -> Response:
        return None  # type: ignore[return-value]


class UnrenderableView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"value": object()})


class ReturnsErrorsView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"name": ["This field is required."]}, status=400)

    def post(self, request: Request) -> Response:
        return Response({"detail": "Quota exhausted for this key."}, status=403)


class SuccessView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"hello": "world", "items": [1, 2, 3]})


@api_view(["GET"])
def success_function_view(request: Request) -> Response:
    return Response({"hello": "function"})


# --- plain Django specifics ----------------------------------------------------------------


def plain_success(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"hello": "plain"})


async def async_success(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"hello": "async"})


def plain_post_form(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"keys": sorted(request.POST), "files": len(request.FILES)})


def plain_returns_none(request: HttpRequest) -> HttpResponse:
    return None  # type: ignore[return-value]


def plain_bad_header(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok")
    response["X-Injected"] = "a\r\nSet-Cookie: evil=1"
    return response


def plain_disallowed_redirect(request: HttpRequest) -> HttpResponse:
    from django.http import HttpResponseRedirect

    return HttpResponseRedirect("javascript:alert(1)")


class OnlyPostView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"ok": True})


def plain_returns_error(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>Gone fishing</h1>", status=409)


@ratelimit(key="ip", rate="2/m")
def plain_ratelimited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@ratelimit(key="ip", rate="2/m")
async def async_ratelimited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@stock_ratelimit(key="ip", rate="1/m")
def plain_stock_ratelimited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def create_part(request: HttpRequest) -> HttpResponse:
    widget = Widget.objects.create(name=request.GET.get("name", "w"))
    Part.objects.create(widget=widget)
    return JsonResponse({"widget": widget.pk})


def plain_create_then_fail(request: HttpRequest) -> HttpResponse:
    Widget.objects.create(name=request.GET.get("name", "doomed"))
    raise RAISES[request.GET.get("then", "unhandled")]()
