"""Views that meet hostile input (issue 9), mounted under ``/bad-input/``."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

COLOURS = ["red", "green"]


class ColourSerializer(serializers.Serializer[dict[str, object]]):
    colour = serializers.ChoiceField(choices=COLOURS)


class ColourView(APIView):
    """A ChoiceField echoes the submitted value in its message."""

    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        serializer = ColourSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)

    put = patch = post

    def get(self, request: Request) -> Response:
        return Response(
            {"query": {k: request.query_params.getlist(k) for k in request.query_params}}
        )


class CardSerializer(serializers.Serializer[dict[str, object]]):
    cc = serializers.ChoiceField(choices=["4000-0000"])
    pin = serializers.ChoiceField(choices=["0000"])
    note = serializers.ChoiceField(choices=["ok"], required=False)


@method_decorator(sensitive_post_parameters("cc", "pin"), name="dispatch")
class CardView(APIView):
    """``sensitive_post_parameters`` on a DRF view whose validation echoes the values."""

    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        CardSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


@method_decorator(sensitive_post_parameters("cc", "pin"), name="dispatch")
class CardCrashView(APIView):
    """Keeps the parsed body in a local, then fails (for ``CAPTURE_LOCALS``)."""

    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        data = request.data
        everything = dict(data)
        raise RuntimeError(f"card view failed after {len(data) + len(everything)} keys")


@method_decorator(sensitive_post_parameters(), name="dispatch")
class AllSensitiveCrashView(APIView):
    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        data = request.data
        raise RuntimeError(f"failed after {len(data)} keys")


@csrf_exempt
def plain_json(request: HttpRequest) -> HttpResponse:
    """Parses its JSON body itself; fails on ``{"crash": ...}``."""
    data = json.loads(request.body or b"null")
    if isinstance(data, dict) and "crash" in data:
        raise RuntimeError("plain JSON view failed")
    return JsonResponse({"type": type(data).__name__})


@csrf_exempt
async def async_json(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body or b"null")
    if isinstance(data, dict) and "crash" in data:
        raise RuntimeError("async JSON view failed")
    return JsonResponse({"type": type(data).__name__})


@csrf_exempt
def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("crashed")


# A value the client chose, placed where each database's error text quotes it.
_DATABASE_ERRORS = {
    "postgresql": {
        "unique": [
            "CREATE TEMPORARY TABLE IF NOT EXISTS cb_bad (secret text UNIQUE)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
        ],
        "functional-unique": [
            "CREATE TEMPORARY TABLE IF NOT EXISTS cb_bad (email text)",
            "CREATE UNIQUE INDEX IF NOT EXISTS cb_bad_email ON cb_bad (lower(email))",
            "INSERT INTO cb_bad VALUES (%(v)s)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
        ],
        "failing-row": [
            "CREATE TEMPORARY TABLE IF NOT EXISTS cb_bad (note text, n int NOT NULL)",
            "INSERT INTO cb_bad VALUES (%(v)s, NULL)",
        ],
        "input-syntax": ["SELECT 1 WHERE 1 = %(v)s::text::int"],
        "literal": ["SELECT 1 WHERE 1 = 'x' || %(v)s || 'x'::int"],
    },
    "mysql": {
        "unique": [
            "CREATE TEMPORARY TABLE IF NOT EXISTS cb_bad (secret varchar(190) UNIQUE)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
        ],
        "incorrect-value": [
            "CREATE TEMPORARY TABLE IF NOT EXISTS cb_bad (n int NOT NULL)",
            "INSERT INTO cb_bad VALUES (%(v)s)",
        ],
    },
}


def database_error(request: HttpRequest, shape: str) -> HttpResponse:
    """Runs statements that fail with a message quoting the ``X-Value`` header (whose value
    is never stored: only the database's message can leak it)."""
    value = request.headers.get("X-Value", "")
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _DATABASE_ERRORS[connection.vendor][shape]:
            if connection.vendor == "mysql":
                cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
            cursor.execute(
                statement.replace("cb_bad", f"cb_bad_{shape.replace('-', '_')}"), {"v": value}
            )
    return HttpResponse("unreachable")


urlpatterns = [
    path("colour/", ColourView.as_view()),
    path("card/", CardView.as_view()),
    path("card-crash/", CardCrashView.as_view()),
    path("all-sensitive-crash/", AllSensitiveCrashView.as_view()),
    path("plain-json/", plain_json),
    path("plain-json/<str:anything>/", plain_json),
    path("async-json/", async_json),
    path("crash/", crash),
    path("crash/<str:anything>/", crash),
    path("database-error/<str:shape>/", database_error),
]


def _recurse(depth: int) -> int:
    return _recurse(depth + 1) + 1


def recursion(request: HttpRequest) -> HttpResponse:
    """A RecursionError in the application's own code: a bug, not bad input."""
    return HttpResponse(str(_recurse(0)))


urlpatterns.append(path("recursion/", recursion))
