"""Variants of the test settings that tests switch to."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.test import override_settings

OURS = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"


def without_the_app() -> Any:
    """The test project with every counterbalance_errors entry point removed."""
    return override_settings(
        MIDDLEWARE=[m for m in django_settings.MIDDLEWARE if m != OURS],
        ROOT_URLCONF="tests.urls_without_handlers",
        CSRF_FAILURE_VIEW="django.views.csrf.csrf_failure",
        REST_FRAMEWORK={
            **django_settings.REST_FRAMEWORK,
            "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
            "DEFAULT_RENDERER_CLASSES": [
                "rest_framework.renderers.JSONRenderer",
                "rest_framework.renderers.BrowsableAPIRenderer",
            ],
        },
    )
