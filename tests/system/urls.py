from __future__ import annotations

from django.urls import path

from tests.system import views

urlpatterns = [
    path("boom/", views.BoomView.as_view()),
    path("missing/", views.MissingView.as_view()),
    path("limited/", views.limited),
    path("ready/", views.ready),
]

handler400 = "counterbalance_errors.views.bad_request"
handler403 = "counterbalance_errors.views.permission_denied"
handler404 = "counterbalance_errors.views.page_not_found"
handler500 = "counterbalance_errors.views.server_error"
