"""URLs of ``views_django_paths.py``, included under ``/dj/`` by ``tests/support/urls.py``."""

from __future__ import annotations

from django.urls import path

from tests.support import views_django_paths as views

urlpatterns = [
    path("widget/<int:pk>/", views.widget),
    path("query/", views.query),
    path("suspicious-file/", views.suspicious_file),
    path("suspicious-multipart/", views.suspicious_multipart),
    path("suspicious-secret/", views.suspicious_secret),
    path("async-returns-none/", views.async_returns_none),
    path("db/create/", views.create_widget),
    path("db/delete/<int:pk>/", views.delete_widget),
    path("db/get/", views.get_widget),
    path("db/unreachable/", views.unreachable_database),
    path("db/write-then-fail/", views.write_then_fail),
    path("error-with-headers/", views.error_with_headers),
    path("reason-with-crlf/", views.reason_with_crlf),
    path("streaming-error/", views.streaming_error),
    path("async-streaming-error/", views.async_streaming_error),
    path("streaming-success/", views.streaming_success),
    path("form-without-csrf/", views.form_without_csrf),
    path("streaming-then-raises/", views.streaming_then_raises),
    path("login-required/", views.login_required_view),
    path("db/statement-timeout/", views.statement_timeout),
    path("ratelimited-api-view/", views.ratelimited_api_view),
    path("stock-ratelimited/", views.stock_ratelimited),
    path("error-without-content-type/", views.error_without_content_type),
]
