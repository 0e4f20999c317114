from __future__ import annotations

from django.conf import settings
from django.urls import path

from benchmarks import views

urlpatterns = [
    path("drf/widgets/", views.WidgetListView.as_view()),
    path("drf/widgets/<int:pk>/", views.WidgetDetailView.as_view()),
    path("drf/boom/", views.BoomAPIView.as_view()),
    path("plain/success/", views.plain_success),
    path("plain/boom/", views.plain_boom),
    path("storm/<int:index>/", views.storm),
]

if getattr(settings, "VARIANT", "app") == "app":
    handler400 = "counterbalance_errors.views.bad_request"
    handler403 = "counterbalance_errors.views.permission_denied"
    handler404 = "counterbalance_errors.views.page_not_found"
    handler500 = "counterbalance_errors.views.server_error"
