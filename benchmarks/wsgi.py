"""WSGI entry point of the benchmark project (gunicorn ``benchmarks.wsgi:application``).

The ``app`` variant wraps it in ``ErrorEnvelopeWSGI`` as the README's setup does.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def build() -> Any:
    handler = get_wsgi_application()
    if os.environ.get("CB_BENCH_VARIANT", "app") == "app":
        from counterbalance_errors.wsgi import ErrorEnvelopeWSGI

        return ErrorEnvelopeWSGI(handler)
    return handler


application = build()
