"""Views and middleware for the logged-error tests (mounted under ``/errorlog/``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from counterbalance_errors.exceptions import Conflict
from tests.models import Widget


class ReadThenFailView(APIView):
    """Reads ``request.data`` (so the raw body is gone), then fails as asked."""

    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        keys = sorted(request.data)
        if request.query_params.get("then") == "conflict":
            raise Conflict()
        raise RuntimeError(f"failed after reading {len(keys)} keys")


@csrf_exempt
def plain_json_fail(request: HttpRequest) -> HttpResponse:
    """Never reads the body: the recorder reads and parses it itself."""
    raise RuntimeError("plain view failed")


@csrf_exempt
@sensitive_post_parameters("card_number", "pin")
def form_fail(request: HttpRequest) -> HttpResponse:
    if request.content_type == "application/json":
        json.loads(request.body)
    else:
        request.POST.get("name")
    raise RuntimeError("form view failed")


@csrf_exempt
@sensitive_post_parameters()
def all_sensitive_fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("every parameter is sensitive")


@csrf_exempt
def stream_fail(request: HttpRequest) -> HttpResponse:
    request.read()  # the body is consumed as a stream: request.body can no longer be read
    raise RuntimeError("read as a stream")


@csrf_exempt
@sensitive_variables("pin_code")
def locals_fail(request: HttpRequest) -> HttpResponse:
    pin_code = request.headers.get("X-Pin", "")
    user_token = request.headers.get("X-Token", "")
    harmless = "visible-local-value"
    raise RuntimeError(f"locals view failed {len(pin_code + user_token + harmless)}")


@csrf_exempt
def message_fail(request: HttpRequest) -> HttpResponse:
    raise ValueError(request.GET.get("message", ""))


def validation_echo(request: HttpRequest) -> HttpResponse:
    """A validator that echoes the submitted value in its message, as many do."""
    value = request.GET.get("api_token", "")
    raise ValidationError({"api_token": [f"“{value}” is not a valid token."], "name": ["Bad."]})


@csrf_exempt
def broken_atomic(request: HttpRequest) -> HttpResponse:
    """An IntegrityError breaks the atomic block (no savepoint); then the view fails."""
    with transaction.atomic():
        Widget.objects.create(name=request.GET.get("name", "broken"))
        with contextlib.suppress(IntegrityError):  # the block is now marked for rollback
            Widget.objects.create(name=request.GET.get("name", "broken"))
        if request.GET.get("then") == "conflict":
            raise Conflict()
        raise RuntimeError("failed inside a broken atomic block")


@csrf_exempt
def markup_fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError('<script>alert("exception")</script>')


@method_decorator(csrf_exempt, name="dispatch")
class ReturnsConflictView(APIView):
    def post(self, request: Request) -> Response:
        Widget.objects.create(name=str(request.data.get("name", "returned")))
        return Response({"detail": "Taken."}, status=409)


def ok(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


class RollbackOnErrorMiddleware:
    """Wraps the whole request in ``atomic()`` and rolls back error responses, as
    django-reversion < 4 did: put it BEFORE ErrorEnvelopeMiddleware to wrap ours too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with transaction.atomic():
            response = self.get_response(request)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response


urlpatterns = [
    path("read-then-fail/", ReadThenFailView.as_view()),
    path("plain-json-fail/", plain_json_fail),
    path("form-fail/", form_fail),
    path("all-sensitive-fail/", all_sensitive_fail),
    path("stream-fail/", stream_fail),
    path("locals-fail/", locals_fail),
    path("message-fail/", message_fail),
    path("broken-atomic/", broken_atomic),
    path("validation-echo/", validation_echo),
    path("markup-fail/", markup_fail),
    path("returns-conflict/", ReturnsConflictView.as_view()),
    path("ok/", ok),
]
