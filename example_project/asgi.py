"""ASGI entry point. The wrapper envelopes the errors Django answers before any middleware."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from counterbalance_errors.asgi import ErrorEnvelopeASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

application = ErrorEnvelopeASGI(get_asgi_application())
