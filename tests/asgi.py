"""ASGI entry point of the test project, as docs/servers.md recommends it."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from counterbalance_errors.asgi import ErrorEnvelopeASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

application = ErrorEnvelopeASGI(get_asgi_application())
