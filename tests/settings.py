"""Minimal settings for the test suite.

``CB_DATABASE`` picks sqlite (default), postgres or mariadb.
"""

from __future__ import annotations

import os

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.support.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The admin's CSS for the browser tests (pytest-django's live_server serves it).
    "django.contrib.staticfiles",
    "rest_framework",
    "counterbalance_errors",
    "tests",
    "example_project",  # tests/test_example_project.py clicks through the demo
]

MIDDLEWARE = [
    "counterbalance_errors.middleware.ErrorEnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tests.middleware.BoomMiddleware",
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

_ENGINE = os.environ.get("CB_DATABASE", "sqlite")
if _ENGINE == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "test",
            "USER": os.environ.get("CB_PG_USER", "postgres"),
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "TEST": {"NAME": os.environ.get("CB_TEST_DB_NAME")},
        }
    }
elif _ENGINE == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": "test",
            "USER": "root",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": "3306",
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {
                "NAME": os.environ.get("CB_TEST_DB_NAME"),
                "CHARSET": "utf8mb4",
                "COLLATION": "utf8mb4_unicode_ci",
            },
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
if _ENGINE != "sqlite":
    # A second connection to the same test database, for the ISOLATED_DATABASE tests
    # (tests/test_recording_transactions.py); unused unless a test names it.
    DATABASES["counterbalance_isolated"] = {
        **DATABASES["default"],
        "TEST": {"MIRROR": "default"},
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS_URL = os.environ.get("CB_REDIS_URL", "redis://127.0.0.1:6379/15")

CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure"
APPEND_SLASH = False

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "counterbalance_errors.handlers.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "counterbalance_errors.renderers.EnvelopeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    # drf-spectacular subclasses the schema class in effect when a view is decorated, so the
    # suite uses one class throughout (tests/test_openapi.py).
    "DEFAULT_SCHEMA_CLASS": "counterbalance_errors.openapi.AutoSchema",
}

# The suite uses the local-memory cache for rate limits by default (a fresh machine may have
# no Redis); tests/test_ratelimit.py runs the same limiter against the real Redis too.
SILENCED_SYSTEM_CHECKS = ["counterbalance_errors.W007"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if django.VERSION >= (6, 1):
    # Django 6.1 deprecates sending mail without MAILERS (the triage notifications send some).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
