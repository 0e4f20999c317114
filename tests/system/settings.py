"""Settings of the servers the system tests and ``benchmarks/system.py`` start.

The app is configured as the README says (app, middleware first, the DRF exception handler and
renderer, the URLconf handlers, the CSRF view, ``ErrorEnvelopeWSGI``), DEBUG off. Everything
that differs between servers comes from the environment (``tests/system/harness.py`` sets it):

* ``CB_SYSTEM_DB_NAME`` / ``CB_SYSTEM_DB_PORT``: the PostgreSQL database on 127.0.0.1;
* ``CB_SYSTEM_NODE``: ``COMPUTE_NODE``;
* ``CB_SYSTEM_REDIS_URL``: the cache django-ratelimit counts in (shared by every node);
* ``CB_SYSTEM_LOG``: the file the ``counterbalance_errors`` logger writes JSON lines to;
* ``CB_SYSTEM_RECORDER``: a JSON object merged into the app's settings (recorder keys).
"""

from __future__ import annotations

import json
import os

SECRET_KEY = "system-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.system.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "counterbalance_errors",
]

MIDDLEWARE = [
    "counterbalance_errors.middleware.ErrorEnvelopeMiddleware",
    "django.middleware.common.CommonMiddleware",
]

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "counterbalance_errors.handlers.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "counterbalance_errors.renderers.EnvelopeJSONRenderer",
    ],
    # No session or user lookups: the only queries a request causes are the app's own.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure"
APPEND_SLASH = False

COUNTERBALANCE_ERRORS = {
    "COMPUTE_NODE": os.environ.get("CB_SYSTEM_NODE", "system-node"),
    **json.loads(os.environ.get("CB_SYSTEM_RECORDER", "{}")),
}

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("CB_SYSTEM_DB_NAME", "cb_system"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("CB_SYSTEM_DB_PORT", "5432"),
        # Persistent connections, as production deployments run them.
        "CONN_MAX_AGE": 600,
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("CB_SYSTEM_REDIS_URL", "redis://127.0.0.1:6379/8"),
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "lines": {
            "class": "tests.system.logconf.JSONLinesHandler",
            "path": os.environ.get("CB_SYSTEM_LOG", os.devnull),
        }
    },
    "loggers": {
        "counterbalance_errors": {"handlers": ["lines"], "level": "INFO", "propagate": False},
    },
}
