"""A small shop API, and one endpoint per error kind of the catalog (linked from ``/``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST
from rest_framework import exceptions as drf
from rest_framework import serializers, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.versioning import URLPathVersioning
from rest_framework.views import APIView

from counterbalance_errors import exceptions
from counterbalance_errors.ratelimit import ratelimit
from example_project import demo
from example_project.models import Order, Product

# --- the shop API ---------------------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer[Product]):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price"]


class OrderSerializer(serializers.ModelSerializer[Order]):
    class Meta:
        model = Order
        fields = ["id", "product", "quantity"]


class ProductViewSet(viewsets.ModelViewSet[Product]):
    """Products: validation errors, 404s, 409 on a duplicate SKU, InUseError on delete."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer


class OrderViewSet(viewsets.ModelViewSet[Order]):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer


class V1Only(URLPathVersioning):
    allowed_versions = ("v1",)


class VersionedProducts(APIView):
    versioning_class = V1Only

    def get(self, request: Request, version: str) -> Response:
        return Response(ProductSerializer(Product.objects.all(), many=True).data)


class MeView(APIView):
    # Basic first: it offers a WWW-Authenticate challenge, so the 401 carries one.
    authentication_classes = [BasicAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})


class NobodyMayPass(BasePermission):
    message = "Only the warehouse may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


class WarehouseView(APIView):
    authentication_classes = []  # no credentials to ask for: the permission itself denies
    permission_classes = [NobodyMayPass]

    def get(self, request: Request) -> Response:
        return Response({"stock": 0})


class CheckoutView(APIView):
    """Validates an order; throttled to 3 a minute per client."""

    @method_decorator(ratelimit(key="ip", rate="3/m"))
    def get(self, request: Request) -> Response:
        serializer = OrderSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


# --- one endpoint per error kind ------------------------------------------------------------


def _product(sku: str = "DEMO-1") -> Product:
    product, _ = Product.objects.get_or_create(sku=sku, defaults={"name": "Demo", "price": 9})
    return product


def conflict(request: HttpRequest) -> HttpResponse:
    _product()
    with transaction.atomic():
        Product.objects.create(sku="DEMO-1", name="Duplicate", price=1)  # IntegrityError
    return JsonResponse({})


def in_use(request: HttpRequest) -> HttpResponse:
    product = _product("DEMO-2")
    Order.objects.get_or_create(product=product, defaults={"quantity": 1})
    product.delete()  # ProtectedError
    return JsonResponse({})


def crash(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ratio": 1 / 0})


async def async_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("async views are enveloped too")


def not_implemented(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def maintenance(request: HttpRequest) -> HttpResponse:
    raise exceptions.ServiceUnavailable(retry_after=120)


def locked(request: HttpRequest) -> HttpResponse:
    raise exceptions.AccountLocked()


def bad_host(request: HttpRequest) -> HttpResponse:
    raise DisallowedHost("Invalid HTTP_HOST header: 'evil.example'.")


def too_large(request: HttpRequest) -> HttpResponse:
    raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


def timeout(request: HttpRequest) -> HttpResponse:
    raise exceptions.RequestTimeout()


class RaiseView(APIView):
    """DRF exceptions that need a particular request to happen for real."""

    def get(self, request: Request, kind: str) -> Response:
        raise {
            "parse": drf.ParseError(),
            "not-acceptable": drf.NotAcceptable(),
            "unsupported-media-type": drf.UnsupportedMediaType("text/csv"),
        }[kind]


@require_POST
def only_post(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"posted": True})


def returns_errors(request: HttpRequest) -> HttpResponse:
    """A plain view returning an HTML error page: the middleware envelopes it too."""
    return HttpResponse("<h1>Out of stock</h1>", status=409)


@dataclass(frozen=True)
class Demo:
    code: str
    url: str
    how: str
    method: str = "GET"


DEMOS = [
    Demo("BadRequest", "/demo/raise/parse/", "DRF ParseError"),
    Demo("InvalidArgument", "/api/checkout/?product=1&quantity=-3", "serializer validation"),
    Demo("MissingParameter", "/api/checkout/", "required fields missing"),
    Demo("InvalidHeader", "/demo/bad-host/", "DisallowedHost"),
    Demo("InvalidVersion", "/api/v9/products/", "DRF URL path versioning"),
    Demo("EndpointNotFound", "/api/no-such-endpoint/", "no URL matches"),
    Demo("InvalidCredentials", "/api/me/", "IsAuthenticated, no credentials"),
    Demo("NotAuthorized", "/api/warehouse/", "a permission class denies"),
    Demo("AccountLocked", "/demo/locked/", "counterbalance_errors.exceptions.AccountLocked"),
    Demo("CsrfFailed", "/demo/only-post/", "plain POST without a CSRF token", "POST"),
    Demo("ResourceNotFound", "/api/products/999999/", "no such product"),
    Demo("MethodNotAllowed", "/demo/only-post/", "GET on a POST-only view"),
    Demo("NotAcceptable", "/demo/raise/not-acceptable/", "DRF NotAcceptable"),
    Demo("Conflict", "/demo/conflict/", "duplicate SKU (IntegrityError)"),
    Demo("InUseError", "/demo/in-use/", "delete a product with orders (ProtectedError)"),
    Demo("RequestTooLarge", "/demo/too-large/", "RequestDataTooBig"),
    Demo("UnsupportedMediaType", "/demo/raise/unsupported-media-type/", "DRF"),
    Demo("RequestThrottled", "/api/checkout/?product=1&quantity=1", "4th call in a minute"),
    Demo("InternalError", "/demo/crash/", "ZeroDivisionError in a plain view"),
    Demo("InternalError", "/demo/async-crash/", "RuntimeError in an async view"),
    Demo("NotImplemented", "/demo/not-implemented/", "NotImplementedError"),
    Demo("ServiceUnavailable", "/demo/maintenance/", "ServiceUnavailable(retry_after=120)"),
    Demo("RequestTimeout", "/demo/timeout/", "RequestTimeout"),
]


def index(request: HttpRequest) -> HttpResponse:
    context = {"demos": DEMOS, "demo_user": demo.USERNAME, "demo_password": demo.PASSWORD}
    return render(request, "example_project/index.html", context)


@require_POST
def generate_errors(request: HttpRequest) -> HttpResponse:
    """The index page's button: a realistic mix of logged errors, then the triage desk."""
    demo.generate()
    return HttpResponseRedirect(reverse("admin:counterbalance_errors_errorgroup_changelist"))
