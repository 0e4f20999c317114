"""A root URLconf that sets only handler404, for the W005 system check test."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

handler404 = "counterbalance_errors.views.page_not_found"
