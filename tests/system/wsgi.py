"""The system servers' WSGI application, wrapped as docs/servers.md shows."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from counterbalance_errors.wsgi import ErrorEnvelopeWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.system.settings")

application = ErrorEnvelopeWSGI(get_wsgi_application())
