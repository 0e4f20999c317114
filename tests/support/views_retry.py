"""Views that *return* (not raise) a 429 or 503, with and without their own Retry-After."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def plain_status(request: HttpRequest, status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    if "retry_after" in request.GET:
        response["Retry-After"] = request.GET["retry_after"]
    return response


class DrfStatusView(APIView):
    def get(self, request: Request, status: int) -> Response:
        headers = {}
        if "retry_after" in request.GET:
            headers["Retry-After"] = request.GET["retry_after"]
        return Response({"detail": "Slow down."}, status=status, headers=headers)


urlpatterns = [
    path("plain/<int:status>/", plain_status),
    path("drf/<int:status>/", DrfStatusView.as_view()),
]
