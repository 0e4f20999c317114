"""WSGI entry point. The wrapper envelopes the errors Django raises before any middleware."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from counterbalance_errors.wsgi import ErrorEnvelopeWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

application = ErrorEnvelopeWSGI(get_wsgi_application())
