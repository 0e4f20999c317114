"""Settings of the benchmark project, one module for every variant being compared.

``CB_BENCH_VARIANT`` picks the variant, so that every row compares the *same* project:

* ``app``: counterbalance_errors installed as the README says (app, middleware first, the DRF
  exception handler and renderer, the URLconf handlers, the CSRF view);
* ``bare``: the same project without it (DRF's and Django's defaults);
* ``dse``: the same project with drf-standardized-errors' exception handler instead;
* ``header``: the same project with one middleware, first, that sets the header the ``app``
  variant's profile puts on every response: the least any middleware doing that costs.

``CB_BENCH_DB`` is ``sqlite`` (``CB_BENCH_SQLITE_PATH``, a file, Django's default rollback
journal), ``postgres`` (``CB_BENCH_PG_NAME`` on 127.0.0.1:5432) or ``postgres-nosync`` (the
same with ``synchronous_commit=off``). The middleware list is ``startproject``'s.
"""

from __future__ import annotations

import os

VARIANT = os.environ.get("CB_BENCH_VARIANT", "app")
if VARIANT not in ("app", "bare", "dse", "header"):
    raise ValueError(f"CB_BENCH_VARIANT must be app, bare, dse or header, not {VARIANT!r}")

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WSGI_APPLICATION = "benchmarks.wsgi.application"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

REST_FRAMEWORK: dict[str, object] = {}

if VARIANT == "app":
    INSTALLED_APPS.append("counterbalance_errors")
    MIDDLEWARE.insert(0, "counterbalance_errors.middleware.ErrorEnvelopeMiddleware")
    REST_FRAMEWORK = {
        "EXCEPTION_HANDLER": "counterbalance_errors.handlers.exception_handler",
        "DEFAULT_RENDERER_CLASSES": [
            "counterbalance_errors.renderers.EnvelopeJSONRenderer",
            "rest_framework.renderers.BrowsableAPIRenderer",
        ],
    }
    CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure"
    COUNTERBALANCE_ERRORS = {
        # The 4xx rows compare *unlogged* errors: a validation 400 is not stored here.
        "LOGGED_STATUSES": (409, 413, 415, 422, *range(500, 600)),
        "COMPUTE_NODE": "bench-node-1",
    }
elif VARIANT == "header":
    MIDDLEWARE.insert(0, "benchmarks.views.node_header")
elif VARIANT == "dse":
    INSTALLED_APPS.append("drf_standardized_errors")
    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler"}

_DB = os.environ.get("CB_BENCH_DB", "sqlite")
if _DB.startswith("postgres"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("CB_BENCH_PG_NAME", "bench_cb"),
            "USER": os.environ.get("CB_PG_USER", "postgres"),
            "HOST": "127.0.0.1",
            "PORT": "5432",
            # Persistent connections, as production deployments run them.
            "CONN_MAX_AGE": 600,
        }
    }
    if _DB == "postgres-nosync":
        # Not durable: shows what the app itself costs once the commit's fsync is taken away.
        DATABASES["default"]["OPTIONS"] = {"options": "-c synchronous_commit=off"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CB_BENCH_SQLITE_PATH", "bench.sqlite3"),
            "CONN_MAX_AGE": 600,
        }
    }
