"""The demo API: `make demo` serves it on http://127.0.0.1:8000/ (SQLite, no services)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "counterbalance_errors",
    "example_project",
]

MIDDLEWARE = [
    # First: it sees every response, including those of the middleware below.
    "counterbalance_errors.middleware.ErrorEnvelopeMiddleware",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

# Single-process demo: the local-memory cache is fine for its rate limits (W007 says why a
# real deployment wants Redis or Memcached).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = ["counterbalance_errors.W007"]

CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure"
APPEND_SLASH = False

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "counterbalance_errors.handlers.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "counterbalance_errors.renderers.EnvelopeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every operation documents its errors in the active profile's shape (/api/schema/).
    "DEFAULT_SCHEMA_CLASS": "counterbalance_errors.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "counterbalance_errors demo shop", "VERSION": "1.0.0"}

# `manage.py migrate` creates the demo staff account (example_project/demo.py): demo / demo-triage.
DEMO_ACCOUNT = True

COUNTERBALANCE_ERRORS = {
    "PROFILE": os.environ.get("COUNTERBALANCE_PROFILE", "counterbalance"),
    "COMPUTE_NODE": "demo-node-1",
    "API_VERSION": "1.0.0",
}
