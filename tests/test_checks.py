"""One test per system check id: what triggers it, its hint, and that the fix silences it."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from corsheaders.middleware import CorsMiddleware
from django.core.checks import CheckMessage, Error, Warning, run_checks
from django.core.management import call_command
from rest_framework.renderers import JSONRenderer

from counterbalance_errors import checks
from counterbalance_errors.middleware import ErrorEnvelopeMiddleware
from counterbalance_errors.profiles.cloudapi import CloudApiProfile
from counterbalance_errors.renderers import EnvelopeJSONRenderer

PREFIX = "counterbalance_errors."


class ProjectMiddleware(ErrorEnvelopeMiddleware):
    pass


class ProjectRenderer(EnvelopeJSONRenderer):
    pass


def ours(deploy: bool = False) -> list[CheckMessage]:
    """Every message of this app that ``manage.py check [--deploy]`` reports (silenced or not)."""
    # databases=[]: Django 6 would otherwise run model checks against every alias.
    messages = run_checks(include_deployment_checks=deploy, databases=[])
    return [m for m in messages if m.id.startswith(PREFIX)]


def only(check_id: str, deploy: bool = False) -> CheckMessage:
    messages = [m for m in ours(deploy) if m.id == PREFIX + check_id]
    assert len(messages) == 1, ours(deploy)
    return messages[0]


@pytest.mark.django_db  # Django 6's check command runs model checks against the databases
def test_the_test_settings_pass_check() -> None:
    out = StringIO()

    call_command("check", fail_level="WARNING", stdout=out, stderr=out)

    assert "System check identified no issues" in out.getvalue()


def test_the_test_settings_trigger_nothing_but_the_deploy_cache_warning() -> None:
    assert ours() == []
    # The suite rate-limits on LocMem; W007 is a deployment check (and silenced there).
    assert [m.id for m in ours(deploy=True)] == [PREFIX + "W007"]


# --- E001-E003: the COUNTERBALANCE_ERRORS dict ------------------------------------------------


def test_e001_unknown_key(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFLE": "counterbalance"}

    message = only("E001")

    assert isinstance(message, Error)
    assert "'PROFLE'" in message.msg
    assert message.hint is not None
    assert "PROFILE" in message.hint


def test_e002_wrong_type_of_a_value(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": "yes", "LOGGED_STATUSES": [200]}

    messages = [m for m in ours() if m.id == PREFIX + "E002"]

    assert [m.msg.split("]")[0] for m in messages] == [
        "COUNTERBALANCE_ERRORS['STRICT_STATUSES'",
        "COUNTERBALANCE_ERRORS['LOGGED_STATUSES'",
    ]
    assert all(isinstance(m, Error) for m in messages)
    assert messages[0].hint == "The default is used until this is fixed."


def test_e002_setting_is_not_a_dict(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = ["PROFILE", "counterbalance"]

    message = only("E002")

    assert message.msg == "COUNTERBALANCE_ERRORS must be a dict, not list."
    assert message.hint is not None
    assert "docs/settings.md" in message.hint


@pytest.mark.parametrize(
    "profile", ["no_such_profile", "tests.nowhere.Profile", "tests.models.Widget"]
)
def test_e003_profile_cannot_be_used(settings: Any, profile: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}

    message = only("E003")

    assert isinstance(message, Error)
    assert repr(profile) in message.msg
    assert message.hint is not None
    assert "dotted path of a Profile subclass" in message.hint


def test_e003_not_raised_for_a_dotted_profile_subclass(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {
        "PROFILE": "counterbalance_errors.profiles.CounterbalanceProfile"
    }

    assert PREFIX + "E003" not in [m.id for m in ours()]


# --- W001/W002: the middleware ------------------------------------------------------------------


def test_w001_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "counterbalance" not in m]

    message = only("W001")

    assert isinstance(message, Warning)
    assert message.hint is not None
    assert "Add it first in MIDDLEWARE" in message.hint


def test_w002_middleware_not_first(settings: Any) -> None:
    [first, *rest] = settings.MIDDLEWARE
    settings.MIDDLEWARE = [*rest, first]

    message = only("W002")

    assert message.hint is not None
    assert "Move it first" in message.hint
    assert PREFIX + "W001" not in [m.id for m in ours()]


OTEL_MIDDLEWARE = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
)


def test_w002_names_what_sits_above(settings: Any) -> None:
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware", *settings.MIDDLEWARE]

    assert "CommonMiddleware above it" in only("W002").msg


@pytest.mark.parametrize(
    "above",
    [
        [OTEL_MIDDLEWARE],
        ["corsheaders.middleware.CorsMiddleware"],
        [OTEL_MIDDLEWARE, "corsheaders.middleware.CorsMiddleware"],
        [f"{__name__}.ProjectCorsMiddleware"],
    ],
    ids=["opentelemetry", "cors", "both", "a-cors-subclass"],
)
def test_w002_lets_middleware_that_answer_no_errors_sit_above(
    settings: Any, above: list[str]
) -> None:
    settings.MIDDLEWARE = [*above, *settings.MIDDLEWARE]

    assert PREFIX + "W002" not in [m.id for m in ours()]


def test_w002_middleware_above_extends_the_list(settings: Any) -> None:
    settings.MIDDLEWARE = [f"{__name__}.HarmlessMiddleware", *settings.MIDDLEWARE]
    assert PREFIX + "W002" in [m.id for m in ours()]

    settings.COUNTERBALANCE_ERRORS = {"MIDDLEWARE_ABOVE": [f"{__name__}.HarmlessMiddleware"]}

    assert PREFIX + "W002" not in [m.id for m in ours()]


def test_w002_opentelemetry_instrumentation_passes_check(settings: Any) -> None:
    """DjangoInstrumentor inserts its middleware first: the project's check stays clean."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    instrumentor.instrument()
    try:
        assert settings.MIDDLEWARE[0] == OTEL_MIDDLEWARE
        assert PREFIX + "W002" not in [m.id for m in ours()]
    finally:
        instrumentor.uninstrument()


class ProjectCorsMiddleware(CorsMiddleware):
    pass


class HarmlessMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response


def test_w001_w002_accept_a_subclass(settings: Any) -> None:
    settings.MIDDLEWARE = [f"{__name__}.ProjectMiddleware", *settings.MIDDLEWARE[1:]]

    assert {PREFIX + "W001", PREFIX + "W002"}.isdisjoint(m.id for m in ours())


# --- W003/W004: DRF settings ---------------------------------------------------------------


def test_w003_drf_exception_handler_is_not_ours(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    }

    message = only("W003")

    assert message.hint is not None
    assert "enveloped and rolled back" in message.hint


def test_w003_when_the_handler_is_unset(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        k: v for k, v in settings.REST_FRAMEWORK.items() if k != "EXCEPTION_HANDLER"
    }

    assert only("W003")


@pytest.mark.parametrize(
    "renderers",
    [
        ["rest_framework.renderers.JSONRenderer", checks.RENDERER],
        [],
        None,
    ],
    ids=["second", "empty", "unset"],
)
def test_w004_renderer_not_first(settings: Any, renderers: list[str] | None) -> None:
    drf = {k: v for k, v in settings.REST_FRAMEWORK.items() if k != "DEFAULT_RENDERER_CLASSES"}
    if renderers is not None:
        drf["DEFAULT_RENDERER_CLASSES"] = renderers
    settings.REST_FRAMEWORK = drf

    message = only("W004")

    assert message.hint is not None
    assert "Put it first" in message.hint


def test_w004_accepts_a_subclass_given_as_a_class(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_RENDERER_CLASSES": [ProjectRenderer, JSONRenderer],
    }

    assert PREFIX + "W004" not in [m.id for m in ours()]


def test_w004_unimportable_renderer(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_RENDERER_CLASSES": ["no.such.Renderer"],
    }

    assert only("W004")


# --- W005: the root URLconf handlers -------------------------------------------------------


def test_w005_missing_url_handlers(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.urls_partial_handlers"

    message = only("W005")

    assert "handler400, handler403, handler500" in message.msg
    assert "handler404" not in message.msg
    assert message.hint is not None
    assert 'handler500 = "counterbalance_errors.views.server_error"' in message.hint
    assert "handler404 =" not in message.hint


def test_w005_silent_for_an_unimportable_urlconf(settings: Any) -> None:
    # Django's own url checks report it; ours must not crash on it.
    settings.ROOT_URLCONF = "tests.no_such_urls"

    assert checks.check_url_handlers() == []


# --- W006-W009 -------------------------------------------------------------------------------


def test_w006_csrf_failure_view(settings: Any) -> None:
    settings.CSRF_FAILURE_VIEW = "django.views.csrf.csrf_failure"

    message = only("W006")

    assert message.hint == (
        'Set CSRF_FAILURE_VIEW = "counterbalance_errors.views.csrf_failure" so CSRF failures '
        "answer CsrfFailed."
    )


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_w007_rate_limit_cache_not_shared(settings: Any, backend: str) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "x"},
        "limits": {"BACKEND": backend, "LOCATION": "/tmp/cb-w007"},
    }
    settings.RATELIMIT_USE_CACHE = "limits"

    assert PREFIX + "W007" not in [m.id for m in ours()]  # a production concern only
    message = only("W007", deploy=True)

    assert "'limits'" in message.msg
    assert message.hint is not None
    assert "Redis or Memcached" in message.hint


def test_w007_silent_for_a_shared_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "x"}
    }

    assert PREFIX + "W007" not in [m.id for m in ours(deploy=True)]


def test_w008_debug_propagate_exceptions(settings: Any) -> None:
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True

    message = only("W008")

    assert message.hint == "Set DEBUG_PROPAGATE_EXCEPTIONS = False."


def test_w009_ratelimit_middleware_without_ratelimit_view(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, checks.RATELIMIT_MIDDLEWARE]

    message = only("W009")

    assert "500 InternalError" in message.msg
    assert message.hint is not None
    assert 'RATELIMIT_VIEW = "counterbalance_errors.views.permission_denied"' in message.hint


def test_w009_silent_with_a_ratelimit_view(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, checks.RATELIMIT_MIDDLEWARE]
    settings.RATELIMIT_VIEW = checks.RATELIMIT_VIEW

    assert PREFIX + "W009" not in [m.id for m in ours()]


def test_every_check_id_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "checks.md").read_text()
    ids = ["E001", "E002", "E003", *(f"W00{i}" for i in range(1, 10)), "W010", "W011", "W012"]

    for check_id in ids:
        assert f"`{PREFIX}{check_id}`" in doc, check_id


# --- W010-W011: ISOLATED_DATABASE (docs/logged-errors.md) ----------------------------------


@pytest.fixture
def extra_alias() -> Any:
    from django.db import connections

    added: list[str] = []

    def add(alias: str, **database: Any) -> None:
        connections.settings[alias] = {**connections["default"].settings_dict, **database}
        added.append(alias)

    yield add
    for alias in added:
        del connections.settings[alias]


def test_w010_isolated_database_unknown_alias(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "nowhere"}

    assert "'nowhere' is not in DATABASES" in only("W010").msg


def test_w010_isolated_database_of_another_database(settings: Any, extra_alias: Any) -> None:
    extra_alias("elsewhere", ENGINE="django.db.backends.postgresql", NAME="other")
    settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "elsewhere"}

    assert "is not the database of ErrorLog" in only("W010").msg


def test_w011_isolated_database_on_sqlite(settings: Any, extra_alias: Any) -> None:
    extra_alias("twin", ENGINE="django.db.backends.sqlite3")
    settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "twin"}

    message = only("W011")

    assert message.hint is not None
    assert "deadlocks" in message.hint


def test_w010_w011_silent_for_a_second_connection_to_the_same_server_database(
    settings: Any, extra_alias: Any
) -> None:
    # Only the settings are compared (no connection is made): ErrorLog's database is routed
    # to a PostgreSQL alias, whatever the suite's own database is.
    server = {"ENGINE": "django.db.backends.postgresql", "NAME": "errors", "HOST": "db"}
    extra_alias("errors", **server)
    extra_alias("second", **server)
    settings.DATABASE_ROUTERS = ["tests.support.routers.ErrorLogRouter"]
    settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "second"}

    assert not [m for m in ours() if m.id in (PREFIX + "W010", PREFIX + "W011")]


# --- W012: cloudapi without API_VERSION -------------------------------------------------------


class ProjectCloudApiProfile(CloudApiProfile):
    pass


@pytest.mark.parametrize(
    "profile", ["cloudapi", f"{__name__}.ProjectCloudApiProfile"], ids=["builtin", "subclass"]
)
@pytest.mark.parametrize("version", [None, ""], ids=["unset", "empty"])
def test_w012_cloudapi_without_api_version(settings: Any, profile: str, version: Any) -> None:
    version_key = {} if version is None else {"API_VERSION": version}
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile, **version_key}

    message = only("W012")

    assert isinstance(message, Warning)
    assert "Api-Version" in message.msg
    assert message.hint is not None
    assert 'COUNTERBALANCE_ERRORS["API_VERSION"]' in message.hint


@pytest.mark.parametrize(
    "config",
    [
        {"PROFILE": "cloudapi", "API_VERSION": "1.0.0"},
        {"PROFILE": "green_stack"},
        {"PROFILE": "no.such.Profile"},  # E003's business, not W012's
    ],
    ids=["with-version", "other-profile", "unloadable-profile"],
)
def test_w012_silent(settings: Any, config: dict[str, Any]) -> None:
    settings.COUNTERBALANCE_ERRORS = config

    assert PREFIX + "W012" not in [m.id for m in ours()]


# --- W013: django-cors-headers ----------------------------------------------------------------


@pytest.fixture
def cors(settings: Any) -> Any:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "corsheaders"]
    return settings


def test_w013_cors_without_exposed_hash_header(cors: Any) -> None:
    message = only("W013")

    assert '"X-Counterbalance-Log-Hash", "Retry-After"' in message.msg
    assert message.hint is not None
    assert "CORS_EXPOSE_HEADERS" in message.hint


@pytest.mark.parametrize(
    ("profile", "needed"),
    [
        ("counterbalance", ["X-Counterbalance-Log-Hash", "Retry-After"]),
        ("green_stack", ["X-Green-Stack-Error-Trace", "Retry-After"]),
        ("cloudapi", ["Request-Id", "Retry-After"]),
        ("reason_phrase", ["X-Counterbalance-Log-Hash", "Retry-After", "EB-REASON-PHRASE"]),
    ],
)
def test_w013_exposing_the_profile_headers_silences_it(
    cors: Any, profile: str, needed: list[str]
) -> None:
    cors.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    cors.CORS_EXPOSE_HEADERS = needed[:-1]
    assert f'"{needed[-1]}"' in only("W013").msg

    cors.CORS_EXPOSE_HEADERS = [name.lower() for name in needed]

    assert PREFIX + "W013" not in [m.id for m in ours()]


def test_w013_a_wildcard_exposes_all_unless_credentials(cors: Any) -> None:
    cors.CORS_EXPOSE_HEADERS = ["*"]
    assert PREFIX + "W013" not in [m.id for m in ours()]

    cors.CORS_ALLOW_CREDENTIALS = True  # then "*" is a literal header name (Fetch standard)

    assert PREFIX + "W013" in [m.id for m in ours()]


def test_w013_silent_without_django_cors_headers() -> None:
    assert PREFIX + "W013" not in [m.id for m in ours()]
