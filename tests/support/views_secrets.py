"""Views whose failures hold secrets: in containers, in exception messages, in a failing row.

Mounted under ``/logged-fixes/`` (the path ``tests/test_errorlog_secrets.py`` requests).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def container_locals_fail(request: HttpRequest) -> HttpResponse:
    """Locals that hold secrets inside containers: a QueryDict, a dict, a list, a tuple."""
    form = request.POST
    payload = {"api_key": {"v": request.POST.get("password", "")}, "name": "visible-dict-name"}
    items = [{"secret": request.POST.get("password", "")}, "visible-list-item"]
    pair = ("token", request.POST.get("password", ""))
    raise RuntimeError(f"container locals {len(form) + len(payload) + len(items) + len(pair)}")


@csrf_exempt
def container_message_fail(request: HttpRequest) -> HttpResponse:
    """An exception message that interpolates the form (a QueryDict) and a dict."""
    options = {"session": request.POST.get("password", "").encode(), "mode": "visible-mode"}
    raise ValueError(f"cannot log in with {request.POST!r} and {options!r}")


def failing_row(request: HttpRequest) -> HttpResponse:
    """A database error whose text holds a value: PostgreSQL's NOT NULL violation lists the
    whole row (``Failing row contains``), MariaDB's strict mode quotes a value it cannot
    convert (``Incorrect integer value``)."""
    secret = request.GET.get("secret", "")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS cb_row (hash text, n int NOT NULL)")
        if connection.vendor == "mysql":
            cursor.execute("INSERT INTO cb_row (hash, n) VALUES ('x', %s)", [secret])
        cursor.execute("INSERT INTO cb_row (hash, n) VALUES (%s, NULL)", [secret])
    return HttpResponse("unreachable")


urlpatterns = [
    path("container-locals-fail/", container_locals_fail),
    path("container-message-fail/", container_message_fail),
    path("failing-row/", failing_row),
]
