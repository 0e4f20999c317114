"""Plain Django views for the J and B rows of error-paths.md, and for header integrity.

Mounted under ``/dj/`` by ``tests/support/urls_django_paths.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.core.exceptions import SuspiciousOperation
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.multipartparser import SuspiciousMultipartForm
from django.shortcuts import get_object_or_404
from django.utils.text import get_valid_filename
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit as stock_ratelimit
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.models import Part, Widget


def widget(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse({"name": get_object_or_404(Widget, pk=pk).name})


def query(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"keys": sorted(request.GET)})


def suspicious_file(request: HttpRequest) -> HttpResponse:
    # A real SuspiciousFileOperation: ".." cannot become a file name.
    return HttpResponse(get_valid_filename(request.GET.get("name", "..")))


def suspicious_multipart(request: HttpRequest) -> HttpResponse:
    raise SuspiciousMultipartForm("The multipart parser got stuck.")


def suspicious_secret(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("secret-suspicious-text")


async def async_returns_none(request: HttpRequest) -> HttpResponse:
    return None  # type: ignore[return-value]


# --- database rows (B1-B6) -------------------------------------------------------------------


def create_widget(request: HttpRequest) -> HttpResponse:
    created = Widget.objects.create(name=request.GET["name"])
    return JsonResponse({"id": created.pk}, status=201)


def delete_widget(request: HttpRequest, pk: int) -> HttpResponse:
    Widget.objects.get(pk=pk).delete()
    return HttpResponse(status=204)


def get_widget(request: HttpRequest) -> HttpResponse:
    found = Widget.objects.get(name__startswith=request.GET["prefix"])
    return JsonResponse({"id": found.pk})


def unreachable_database(request: HttpRequest) -> HttpResponse:
    """Open a real connection, same backend, to a server (or file) that is not there."""
    connection = connections[DEFAULT_DB_ALIAS]
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": "1"}
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-counterbalance-dir/db.sqlite3"
    elif connection.vendor == "postgresql":
        settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 2}
    broken = type(connection)(settings_dict, alias="unreachable")
    try:
        with broken.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        broken.close()
    return HttpResponse("unreachable database answered")


def write_then_fail(request: HttpRequest) -> HttpResponse:
    Part.objects.create(widget=Widget.objects.create(name=request.GET.get("name", "doomed")))
    raise KeyError("secret-after-write")


# --- responses whose headers and bodies must survive the rewrite ------------------------------


def error_with_headers(request: HttpRequest) -> HttpResponse:
    status = int(request.GET.get("status", "409"))
    response = HttpResponse("<h1>" + "x" * 400 + "</h1>", status=status)
    response["WWW-Authenticate"] = 'Basic realm="api"'
    response["Retry-After"] = "17"
    response["Allow"] = "GET, HEAD"
    response["ETag"] = '"abc"'
    response.set_cookie("view_cookie", "v1", httponly=True)
    return response


def reason_with_crlf(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no", status=409, reason="Gone\r\nX-Evil: 1 é")


def _chunks() -> Iterator[bytes]:
    yield b"<h1>partial "
    yield b"error page</h1>"


async def _achunks() -> AsyncIterator[bytes]:
    yield b"<h1>partial "
    yield b"async error page</h1>"


def streaming_error(request: HttpRequest) -> HttpResponse:
    return StreamingHttpResponse(_chunks(), status=503)  # type: ignore[return-value]


async def async_streaming_error(request: HttpRequest) -> HttpResponse:
    return StreamingHttpResponse(_achunks(), status=503)  # type: ignore[return-value]


def streaming_success(request: HttpRequest) -> HttpResponse:
    return StreamingHttpResponse(_chunks())  # type: ignore[return-value]


@csrf_exempt
def form_without_csrf(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"keys": sorted(request.POST)})


def streaming_then_raises(request: HttpRequest) -> HttpResponse:
    """J21: the status line and headers are sent before the body fails."""

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("secret while streaming")

    return StreamingHttpResponse(chunks())  # type: ignore[return-value]


def login_required_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def statement_timeout(request: HttpRequest) -> HttpResponse:
    """T7: a query the database itself cancels for running over its time limit."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = 1")  # this transaction only
            cursor.execute("SELECT pg_sleep(1)")
        else:  # MariaDB
            # MariaDB ends a SLEEP() early without an error; a SELECT over rows that runs
            # over max_statement_time raises ER_STATEMENT_TIMEOUT.
            cursor.execute(
                "SET STATEMENT max_statement_time = 0.001 FOR SELECT COUNT(*) FROM"
                " information_schema.columns a, information_schema.columns b"
            )
    return HttpResponse("the database did not cancel the query")


class _SuccessAPIView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


#: R4: django-ratelimit's own decorator around a DRF view, outside DRF's dispatch.
ratelimited_api_view = stock_ratelimit(group="r4", key="ip", rate="1/m")(_SuccessAPIView.as_view())


@stock_ratelimit(group="r6", key="ip", rate="1/m")
def stock_ratelimited(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def error_without_content_type(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=409)
    del response["Content-Type"]
    return response
