"""WSGI entry point of the test project, as docs/servers.md recommends it."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from counterbalance_errors.wsgi import ErrorEnvelopeWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

application = ErrorEnvelopeWSGI(get_wsgi_application())
