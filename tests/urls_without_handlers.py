"""The test URLconf without counterbalance_errors' handler400/403/404/500 (Django's own)."""

from __future__ import annotations

from tests.support.urls import urlpatterns

__all__ = ["urlpatterns"]
