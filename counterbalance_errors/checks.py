"""System checks: ``manage.py check`` says what is missing or misordered.

Ids are stable; ``docs/checks.md`` lists each with its fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from counterbalance_errors import conf

MIDDLEWARE = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"
HANDLER = "counterbalance_errors.handlers.exception_handler"
RENDERER = "counterbalance_errors.renderers.EnvelopeJSONRenderer"
CSRF_VIEW = "counterbalance_errors.views.csrf_failure"
RATELIMIT_MIDDLEWARE = "django_ratelimit.middleware.RatelimitMiddleware"
RATELIMIT_VIEW = "counterbalance_errors.views.permission_denied"
URL_HANDLERS = {
    "handler400": "counterbalance_errors.views.bad_request",
    "handler403": "counterbalance_errors.views.permission_denied",
    "handler404": "counterbalance_errors.views.page_not_found",
    "handler500": "counterbalance_errors.views.server_error",
}
#: Middleware that never answer with an error response of their own: above ours they lose no
#: envelope (``MIDDLEWARE_ABOVE`` adds to it). OpenTelemetry's instrumentation inserts its own
#: first; django-cors-headers asks for CorsMiddleware "as high as possible".
TRANSPARENT_MIDDLEWARE = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
    "opentelemetry.instrumentation.django.middleware.sqlcommenter_middleware.SqlCommenter",
    "corsheaders.middleware.CorsMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
)
UNSHARED_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
)


def _resolve(value: Any) -> Any:
    try:
        return import_string(value) if isinstance(value, str) else value
    except ImportError:
        return None


def _is(value: Any, dotted: str) -> bool:
    """``value`` (a dotted path or an object) is ``dotted`` or a subclass of it."""
    target = import_string(dotted)
    resolved = _resolve(value)
    if resolved is target:
        return True
    return isinstance(resolved, type) and isinstance(target, type) and issubclass(resolved, target)


def _is_transparent(path: Any) -> bool:
    for dotted in (*TRANSPARENT_MIDDLEWARE, *conf.get("MIDDLEWARE_ABOVE")):
        if path == dotted:
            return True
        try:
            if _is(path, dotted):
                return True
        except ImportError:  # not installed: only the exact path can match it
            continue
    return False


@register()
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, conf.SETTING_NAME, None)
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [
            Error(
                f"{conf.SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint="Set it to a dict of the keys listed in docs/settings.md.",
                id="counterbalance_errors.E002",
            )
        ]
    messages: list[CheckMessage] = []
    for key in raw:
        if key not in conf.DEFAULTS:
            messages.append(
                Error(
                    f"Unknown key {key!r} in {conf.SETTING_NAME}.",
                    hint="Known keys: " + ", ".join(sorted(conf.DEFAULTS)) + ".",
                    id="counterbalance_errors.E001",
                )
            )
    for key, value in raw.items():
        if key not in conf.VALIDATORS:
            continue
        validator, expected = conf.VALIDATORS[key]
        if not validator(value):
            messages.append(
                Error(
                    f"{conf.SETTING_NAME}[{key!r}] must be {expected}, not {value!r}.",
                    hint="The default is used until this is fixed.",
                    id="counterbalance_errors.E002",
                )
            )
    return messages


@register()
def check_profile(**kwargs: Any) -> list[CheckMessage]:
    from counterbalance_errors.profiles import load_profile

    name = conf.profile_name()
    try:
        load_profile(name)
    except Exception as exc:
        return [
            Error(
                f"PROFILE {name!r} cannot be used: {exc}",
                hint="Use a built-in profile name or the dotted path of a Profile subclass.",
                id="counterbalance_errors.E003",
            )
        ]
    return []


@register()
def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    positions = [i for i, path in enumerate(middleware) if _is(path, MIDDLEWARE)]
    if not positions:
        return [
            Warning(
                f"{MIDDLEWARE} is not in MIDDLEWARE.",
                hint="Add it first in MIDDLEWARE: without it, errors outside DRF views are "
                "not enveloped.",
                id="counterbalance_errors.W001",
            )
        ]
    above = [path for path in middleware[: positions[0]] if not _is_transparent(path)]
    if above:
        return [
            Warning(
                f"{MIDDLEWARE} is not first in MIDDLEWARE: "
                + ", ".join(map(str, above))
                + " above it can answer errors it never sees.",
                hint="Move it first, so that it sees the responses of every other middleware "
                "(middleware that never answer errors may stay above it: docs/checks.md, "
                'COUNTERBALANCE_ERRORS["MIDDLEWARE_ABOVE"]).',
                id="counterbalance_errors.W002",
            )
        ]
    return []


@register()
def check_rest_framework(**kwargs: Any) -> list[CheckMessage]:
    drf = getattr(settings, "REST_FRAMEWORK", None) or {}
    messages: list[CheckMessage] = []
    if not _is(drf.get("EXCEPTION_HANDLER"), HANDLER):
        messages.append(
            Warning(
                f'REST_FRAMEWORK["EXCEPTION_HANDLER"] is not {HANDLER}.',
                hint="Set it, so that errors raised in DRF views are enveloped and rolled back.",
                id="counterbalance_errors.W003",
            )
        )
    renderers = list(drf.get("DEFAULT_RENDERER_CLASSES") or [])
    if not renderers or not _is(renderers[0], RENDERER):
        messages.append(
            Warning(
                f'{RENDERER} is not first in REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].',
                hint="Put it first, so that error responses returned by views are enveloped.",
                id="counterbalance_errors.W004",
            )
        )
    return messages


@register(Tags.urls)
def check_url_handlers(**kwargs: Any) -> list[CheckMessage]:
    try:
        urlconf = import_module(settings.ROOT_URLCONF)
    except Exception:  # Django's own checks report a broken URLconf.
        return []
    missing = [
        name
        for name, dotted in URL_HANDLERS.items()
        if not _is(getattr(urlconf, name, None), dotted)
    ]
    if not missing:
        return []
    return [
        Warning(
            f"The root URLconf {settings.ROOT_URLCONF} does not set "
            + ", ".join(missing)
            + " to counterbalance_errors' views.",
            hint="Add: "
            + "; ".join(f'{name} = "{URL_HANDLERS[name]}"' for name in missing)
            + ". Without them, URL-resolver 404s and middleware errors are rewritten late.",
            id="counterbalance_errors.W005",
        )
    ]


@register(Tags.security)
def check_csrf_failure_view(**kwargs: Any) -> list[CheckMessage]:
    if _is(getattr(settings, "CSRF_FAILURE_VIEW", None), CSRF_VIEW):
        return []
    return [
        Warning(
            f"CSRF_FAILURE_VIEW is not {CSRF_VIEW}.",
            hint=f'Set CSRF_FAILURE_VIEW = "{CSRF_VIEW}" so CSRF failures answer CsrfFailed.',
            id="counterbalance_errors.W006",
        )
    ]


@register(Tags.caches, deploy=True)
def check_ratelimit_cache(**kwargs: Any) -> list[CheckMessage]:
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = (getattr(settings, "CACHES", None) or {}).get(alias, {}).get("BACKEND", "")
    if backend not in UNSHARED_CACHES:
        return []
    return [
        Warning(
            f"The rate-limit cache {alias!r} ({backend}) is not shared between processes.",
            hint="Use Redis or Memcached for RATELIMIT_USE_CACHE, or every worker counts alone.",
            id="counterbalance_errors.W007",
        )
    ]


@register()
def check_propagate_exceptions(**kwargs: Any) -> list[CheckMessage]:
    if not getattr(settings, "DEBUG_PROPAGATE_EXCEPTIONS", False):
        return []
    return [
        Warning(
            "DEBUG_PROPAGATE_EXCEPTIONS is True: unhandled errors escape Django unenveloped.",
            hint="Set DEBUG_PROPAGATE_EXCEPTIONS = False.",
            id="counterbalance_errors.W008",
        )
    ]


@register()
def check_ratelimit_middleware(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if not any(_is(path, RATELIMIT_MIDDLEWARE) for path in middleware):
        return []
    if getattr(settings, "RATELIMIT_VIEW", None):
        return []
    # Its process_exception runs before ours and fails on the missing setting (error-paths R2).
    return [
        Warning(
            f"{RATELIMIT_MIDDLEWARE} is in MIDDLEWARE but RATELIMIT_VIEW is not set: every "
            "rate-limited request answers 500 InternalError.",
            hint="Remove RatelimitMiddleware: counterbalance_errors answers Ratelimited with "
            f'RequestThrottled without it. Or set RATELIMIT_VIEW = "{RATELIMIT_VIEW}".',
            id="counterbalance_errors.W009",
        )
    ]


@register()
def check_isolated_database(**kwargs: Any) -> list[CheckMessage]:
    """``ISOLATED_DATABASE`` must be a second connection to ErrorLog's (non-SQLite) database."""
    from django.db import connections, router

    from counterbalance_errors.models import ErrorLog

    alias = conf.get("ISOLATED_DATABASE")
    if not alias:
        return []
    if alias not in connections.settings:
        return [
            Warning(
                f"ISOLATED_DATABASE {alias!r} is not in DATABASES.",
                hint="Add a second DATABASES entry with the same NAME, HOST and USER as the "
                "database of ErrorLog, or remove the setting.",
                id="counterbalance_errors.W010",
            )
        ]
    isolated = connections.settings[alias]
    target = connections.settings.get(router.db_for_write(ErrorLog) or "default", {})
    if "sqlite" in str(isolated.get("ENGINE", "")):
        return [
            Warning(
                f"ISOLATED_DATABASE {alias!r} is a SQLite database: it is not used.",
                hint="A second connection to a SQLite file deadlocks on the first one's write "
                "lock. Remove the setting; without it a logged error raised inside a "
                "transaction is stored in a savepoint and logged as a fallback line.",
                id="counterbalance_errors.W011",
            )
        ]
    keys = ("ENGINE", "NAME", "HOST", "PORT")
    if any(isolated.get(key) != target.get(key) for key in keys):
        return [
            Warning(
                f"ISOLATED_DATABASE {alias!r} is not the database of ErrorLog.",
                hint="Point it at the same ENGINE, NAME, HOST and PORT as the database that "
                "holds ErrorLog; rows written through it go to that database's table.",
                id="counterbalance_errors.W010",
            )
        ]
    return []


@register()
def check_cloudapi_api_version(**kwargs: Any) -> list[CheckMessage]:
    """``cloudapi`` puts ``Api-Version`` on every response: without API_VERSION it is omitted."""
    from counterbalance_errors.profiles import load_profile
    from counterbalance_errors.profiles.cloudapi import CloudApiProfile

    try:
        profile = load_profile(conf.profile_name())
    except Exception:  # E003 reports an unusable PROFILE.
        return []
    if not isinstance(profile, CloudApiProfile) or conf.get("API_VERSION"):
        return []
    return [
        Warning(
            "The cloudapi profile is active without API_VERSION: responses carry no "
            "Api-Version header, which the CloudAPI convention puts on every response.",
            hint=f'Set {conf.SETTING_NAME}["API_VERSION"] to the version your API serves, '
            'e.g. "1.0.0".',
            id="counterbalance_errors.W012",
        )
    ]


@register(Tags.security)
def check_cors_expose_headers(**kwargs: Any) -> list[CheckMessage]:
    """With django-cors-headers, browser code can read only the headers it exposes."""
    from django.apps import apps

    from counterbalance_errors.profiles import get_profile

    if not apps.is_installed("corsheaders"):
        return []
    profile = get_profile()
    needed = [profile.hash_header, "Retry-After", *profile.browser_headers]
    exposed = {str(name).lower() for name in getattr(settings, "CORS_EXPOSE_HEADERS", ())}
    if "*" in exposed and not getattr(settings, "CORS_ALLOW_CREDENTIALS", False):
        return []  # the wildcard exposes every header to requests without credentials
    missing = [name for name in needed if name and name.lower() not in exposed]
    if not missing:
        return []
    listed = ", ".join(f'"{name}"' for name in missing)
    return [
        Warning(
            f"CORS_EXPOSE_HEADERS lacks {listed}: browser code cannot read "
            + ("them" if len(missing) > 1 else "it")
            + " on cross-origin error responses.",
            hint=f"Add {listed} to CORS_EXPOSE_HEADERS (docs/integrations.md).",
            id="counterbalance_errors.W013",
        )
    ]
