"""Plain Django views for the J and B rows of error-paths.md, and for header integrity.

Mounted under ``/dj/`` by ``tests/urls_django_paths.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.core.exceptions import SuspiciousOperation
from django.db import DEFAULT_DB_ALIAS, connections
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
