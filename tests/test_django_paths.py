"""Rows J1-J20, J23 and B1-B6 of error-paths.md, each with a real trigger, through the test
client. Multiplied only where the path differs: by DEBUG (J23) where Django's technical pages
replace handler400/404/500 (the middleware phase, unknown URLs, handler500), by transport where
ASGI takes another code path. Errors raised in a view reach ``process_exception`` before any
technical page, so they run once.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connections
from django.test import SimpleTestCase, override_settings
from django.test.client import encode_multipart

from counterbalance_errors.testing import assert_error, error_body
from tests.models import Part, Widget

LEAKS = ("secret", "Secret", "hunter2", "Traceback")


def assert_clean(response: Any) -> None:
    """An envelope that says nothing about the server's internals."""
    text = response.content.decode()
    assert not any(leak in text for leak in LEAKS), text
    assert response["X-Counterbalance-Compute-Node"]


# --- J1 / J2: 404s -------------------------------------------------------------------------


def test_j1_unknown_url(call: Any, transport: str, debug: bool, settings: Any) -> None:
    # handler404, or technical_404_response under DEBUG (then the middleware rewrites it).
    response = call(transport, "get", "/no/such/url/")
    assert_error(response, "EndpointNotFound", status=400, logged=False)
    assert_clean(response)

    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    assert_error(call(transport, "post", "/no/such/url/"), "EndpointNotFound", status=404)


@pytest.mark.django_db
def test_j2_get_object_or_404_in_plain_view(call: Any) -> None:
    response = call("wsgi", "get", "/dj/widget/4242/")
    error = assert_error(response, "ResourceNotFound", status=404, logged=False)
    # Django's message names the model; the envelope does not.
    assert "Widget" not in error["message"]
    assert_clean(response)


@pytest.mark.django_db
def test_j2_found_object_is_a_plain_success(call: Any) -> None:
    pk = Widget.objects.create(name="found").pk
    response = call("wsgi", "get", f"/dj/widget/{pk}/")
    assert response.status_code == 200
    assert response.json() == {"name": "found"}


# --- J3: PermissionDenied in a view and in a middleware ----------------------------------------


def test_j3_permission_denied_in_view(call: Any) -> None:
    response = call("wsgi", "get", "/plain/raise/django-permission/")
    error = assert_error(response, "NotAuthorized", status=403, logged=False)
    assert "secret" not in error["message"]


def test_j3_disallowed_user_agent_in_middleware_phase(
    call: Any, transport: str, settings: Any
) -> None:
    # handler403 runs under DEBUG too: no DEBUG divergence here.
    settings.DISALLOWED_USER_AGENTS = [re.compile(r"^EvilBot")]
    response = call(transport, "get", "/plain/success/", headers={"User-Agent": "EvilBot/1.0"})
    assert_error(response, "NotAuthorized", status=403, logged=False)
    assert_clean(response)


# --- J4: the SuspiciousOperation family --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "logger"),
    [
        ("/plain/disallowed-redirect/", "django.security.DisallowedRedirect"),
        ("/dj/suspicious-file/", "django.security.SuspiciousFileOperation"),
        ("/dj/suspicious-multipart/", "django.security.SuspiciousMultipartForm"),
        ("/dj/suspicious-secret/", "django.security.SuspiciousOperation"),
    ],
)
def test_j4_suspicious_operations(
    call: Any, url: str, logger: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        response = call("wsgi", "get", url)
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)
    # Django's own security log is kept (what response_for_exception would have done).
    assert [r.name for r in caplog.records if r.name.startswith("django.security")] == [logger]


# --- J5-J10: request bodies, raised in the view or in the middleware phase ------------------
# With CSRF enforced and a CSRF cookie, CsrfViewMiddleware reads request.POST first: the error
# is raised in the middleware phase, where handler400 (DEBUG: technical_500_response) answers.

NON_UTF8_FORM = {
    "data": b"a=1",
    "content_type": "application/x-www-form-urlencoded; charset=latin-1",
}


def test_j5_form_post_with_a_non_utf8_charset_in_the_view(call: Any) -> None:
    response = call("wsgi", "post", "/plain/form/", **NON_UTF8_FORM)
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)


def test_j5_form_post_with_a_non_utf8_charset_in_the_middleware_phase(
    call: Any, transport: str, debug: bool
) -> None:
    response = call(transport, "post", "/plain/form/", csrf=True, csrf_cookie=True, **NON_UTF8_FORM)
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)


def test_j6_bad_host_header(call: Any, debug: bool) -> None:
    # DisallowedHost in CommonMiddleware: handler400, or a technical 400 page under DEBUG.
    for host in ("evil.example", "bad host", "x" * 300):
        response = call("wsgi", "get", "/plain/success/", headers={"Host": host})
        assert_error(response, "InvalidHeader", status=400, logged=True)
        assert_clean(response)
        assert host not in response.content.decode()


@pytest.mark.parametrize(
    ("csrf", "debug"),
    [(False, False), (True, False), (True, True)],
    ids=["view", "middleware-phase", "middleware-phase-debug"],
    indirect=["debug"],
)
def test_j7_body_too_big(call: Any, csrf: bool, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    kwargs = {"data": "a=" + "x" * 500, "content_type": "application/x-www-form-urlencoded"}
    response = call("wsgi", "post", "/plain/form/", csrf=csrf, csrf_cookie=csrf, **kwargs)
    assert_error(response, "RequestTooLarge", status=400, logged=True)
    assert_clean(response)

    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    response = call("wsgi", "post", "/plain/form/", csrf=csrf, csrf_cookie=csrf, **kwargs)
    assert_error(response, "RequestTooLarge", status=413, logged=True)


@pytest.mark.parametrize(
    ("csrf", "debug"),
    [(False, False), (True, False), (True, True)],
    ids=["view", "middleware-phase", "middleware-phase-debug"],
    indirect=["debug"],
)
def test_j8_too_many_fields_in_post(call: Any, csrf: bool, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    body = "&".join(f"f{i}=1" for i in range(20))
    response = call(
        "wsgi",
        "post",
        "/plain/form/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        csrf=csrf,
        csrf_cookie=csrf,
    )
    assert_error(response, "RequestTooLarge", status=400, logged=True)


def test_j8_too_many_fields_in_query_string(call: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{i}=1" for i in range(20))
    response = call("wsgi", "get", f"/dj/query/?{query}")
    assert_error(response, "RequestTooLarge", status=400, logged=True)


@pytest.mark.parametrize("url", ["/plain/raise/unhandled/", "/no/such/url/"])
def test_j8_too_many_query_fields_while_django_builds_its_debug_page(
    call: Any, url: str, debug: bool, settings: Any, signals_sent: list[Any], caplog: Any
) -> None:
    # Under DEBUG, Django's technical 500 page reads request.GET again, raises
    # TooManyFieldsSent from inside its own error handling, and the exception escapes Django.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{i}=1" for i in range(20))
    with caplog.at_level("INFO"):
        response = call("wsgi", "get", f"{url}?{query}")
    assert response["Content-Type"] == "application/json"
    assert_clean(response)
    # DEBUG on: the TooManyFieldsSent Django's page raised is as true an answer as the KeyError.
    code = error_body(response)["error"]["code"]
    assert code in {"InternalError", "EndpointNotFound"} | ({"RequestTooLarge"} if debug else set())
    # Reported and logged once with its traceback, whichever page raised (trap 13); the
    # middleware writes the django.request record Django could not.
    reported = code != "EndpointNotFound"
    assert len(signals_sent) == reported
    records = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert len(records) == reported


def test_j9_too_many_files(call: Any, settings: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    boundary = "BoUnDaRy"
    files = {f"file{i}": SimpleUploadedFile(f"f{i}.txt", b"content") for i in range(5)}
    response = call(
        "wsgi",
        "post",
        "/plain/form/",
        data=encode_multipart(boundary, files),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert_error(response, "RequestTooLarge", status=400, logged=True)


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=\x00bad"],
    ids=["no-boundary", "invalid-boundary"],
)
def test_j10_malformed_multipart(call: Any, content_type: str) -> None:
    # MultiPartParserError goes to handler400 under DEBUG too.
    response = call(
        "wsgi", "post", "/plain/form/", data=b"--x\r\ngarbage", content_type=content_type
    )
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)


# --- J11-J13: CSRF, 405, APPEND_SLASH ---------------------------------------------------------


def test_j11_csrf_failure_on_plain_view(call: Any) -> None:
    # CSRF_FAILURE_VIEW runs under DEBUG too; the ASGI case is AsyncPathsTests.test_csrf.
    response = call("wsgi", "post", "/plain/form/", data={"a": "1"}, csrf=True)
    error = assert_error(response, "CsrfFailed", status=403, logged=False)
    assert "CSRF" in error["message"]


def test_j12_405_returned_by_a_django_view(call: Any, settings: Any) -> None:
    response = call("wsgi", "get", "/plain/only-post/")
    assert_error(response, "MethodNotAllowed", status=400, logged=False)
    assert response["Allow"] == "POST, OPTIONS"
    assert int(response["Content-Length"]) == len(response.content)

    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    response = call("wsgi", "delete", "/plain/only-post/")
    assert_error(response, "MethodNotAllowed", status=405, logged=False)
    assert response["Allow"] == "POST, OPTIONS"


def test_j13_append_slash_post(call: Any, debug: bool, settings: Any) -> None:
    settings.APPEND_SLASH = True
    response = call("wsgi", "post", "/plain/success", data={"a": "1"})
    if debug:
        # CommonMiddleware raises RuntimeError ("You called this URL via POST ...").
        assert_error(response, "InternalError", status=500, logged=True)
        assert_clean(response)
    else:
        assert response.status_code == 301
        assert response["Location"] == "/plain/success/"
    # GET keeps Django's redirect, DEBUG or not.
    response = call("wsgi", "get", "/plain/success")
    assert response.status_code == 301


# --- J14-J19: 5xx ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/plain/raise/unhandled/",  # J14: process_exception answers, DEBUG or not
        "/plain/bad-header/",  # J19: BadHeaderError raised in the view
    ],
)
def test_j14_j19_server_errors_in_the_view(call: Any, url: str, signals_sent: list[Any]) -> None:
    response = call("wsgi", "get", url)
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert len(signals_sent) == 1
    assert "evil" not in str(response.cookies)
    assert not response.has_header("X-Injected")


@pytest.mark.parametrize("url", ["/plain/returns-none/", "/dj/async-returns-none/"])
def test_j15_view_returns_none(call: Any, url: str, debug: bool, signals_sent: list[Any]) -> None:
    # check_response raises outside process_exception: handler500 or technical_500_response.
    response = call("wsgi", "get", url)
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert len(signals_sent) == 1


@pytest.mark.parametrize(
    ("boom", "url", "transport"),
    [
        ("request", "/plain/success/", "wsgi"),  # J16
        ("request", "/drf/success/", "asgi"),
        ("response", "/plain/success/", "wsgi"),  # J17
        ("response", "/async/success/", "asgi"),
        ("template", "/plain/template/", "wsgi"),  # J18
    ],
)
def test_j16_j17_j18_errors_in_another_middleware(
    call: Any, boom: str, url: str, transport: str, debug: bool, signals_sent: list[Any]
) -> None:
    response = call(transport, "get", url, headers={"X-Boom": boom})
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert len(signals_sent) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("http404", "ResourceNotFound", 404),
        ("django-permission", "NotAuthorized", 403),
        ("bad-request", "BadRequest", 400),
        ("too-big", "RequestTooLarge", 400),
        ("disallowed-host", "InvalidHeader", 400),
        ("does-not-exist", "ResourceNotFound", 404),
        ("integrity", "Conflict", 409),
        ("operational", "ServiceUnavailable", 503),
        ("not-implemented", "NotImplemented", 501),
    ],
)
def test_j16_j17_known_errors_in_another_middleware(
    call: Any, kind: str, code: str, status: int, debug: bool
) -> None:
    """A middleware's exception gets the same code as the same exception in a view."""
    for phase in ("request", "response"):
        response = call("wsgi", "get", "/plain/success/", headers={"X-Boom": f"{phase}:{kind}"})
        assert_error(response, code, status=status)
        assert_clean(response)


# --- J20: our own handlers never fail ----------------------------------------------------------

# One URL per way the envelope is made: handler404, process_exception, the rewrite of a
# returned response, handler403's exception; under DEBUG the unknown URL is a rewrite too.
HANDLER_PATHS = [
    ("/no/such/url/", "EndpointNotFound", 400),
    ("/plain/raise/unhandled/", "InternalError", 500),
    ("/plain/only-post/", "MethodNotAllowed", 400),
    ("/plain/raise/django-permission/", "NotAuthorized", 403),
    ("/drf/raise/drf-validation/", "InvalidArgument", 400),
]


@pytest.mark.parametrize(
    "profile", ["no.such.Profile", "tests.support.views_django_paths.widget", "", "counterbalance"]
)
def test_j20_a_broken_profile_setting_still_gives_the_envelope(
    call: Any, profile: str, debug: bool, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    for url, code, _ in HANDLER_PATHS:
        assert_error(call("wsgi", "get", url), code)


@pytest.mark.parametrize("broken", ["body", "response_headers", "error_headers", "status"])
def test_j20_a_failing_profile_falls_back_to_the_default_envelope(
    call: Any, broken: str, debug: bool, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": f"tests.support.profiles_broken.Broken_{broken}"}
    for url, code, status in HANDLER_PATHS:
        response = call("wsgi", "get", url)
        assert_error(response, code, status=status)
        assert int(response["Content-Length"]) == len(response.content)


# --- B1-B6: real database operations -----------------------------------------------------------


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b1_duplicate_unique_is_a_conflict(call: Any) -> None:
    Widget.objects.create(name="taken")
    response = call("wsgi", "post", "/dj/db/create/?name=taken")
    error = assert_error(response, "Conflict", status=409, logged=True)
    assert "UNIQUE" not in error["message"]
    assert "Duplicate" not in error["message"]
    assert "duplicate" not in error["message"]
    assert Widget.objects.count() == 1


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b2_deleting_a_protected_row_is_in_use(call: Any) -> None:
    widget = Widget.objects.create(name="used")
    Part.objects.create(widget=widget)
    response = call("wsgi", "post", f"/dj/db/delete/{widget.pk}/")
    assert_error(response, "InUseError", status=409, logged=True)
    assert Widget.objects.filter(pk=widget.pk).exists()


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b3_unreachable_database_is_service_unavailable(
    call: Any, transport: str, signals_sent: list[Any]
) -> None:
    response = call(transport, "get", "/dj/db/unreachable/")
    assert_error(response, "ServiceUnavailable", status=503, logged=True)
    assert int(response["Retry-After"]) >= 1
    assert_clean(response)
    assert "1" not in error_body(response)["error"]["message"]  # no port, no address
    assert len(signals_sent) == 1


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b4_get_finds_nothing(call: Any) -> None:
    response = call("wsgi", "get", "/dj/db/get/?prefix=nothing")
    error = assert_error(response, "ResourceNotFound", status=404, logged=False)
    assert "Widget" not in error["message"]


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b5_get_finds_several_is_a_500(call: Any, signals_sent: list[Any]) -> None:
    Widget.objects.create(name="ab1")
    Widget.objects.create(name="ab2")
    response = call("wsgi", "get", "/dj/db/get/?prefix=ab")
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert "returned" not in response.content.decode()
    assert len(signals_sent) == 1


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_b6_atomic_requests_roll_back_the_failed_views_write(
    call: Any, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under ASGI the sync view and its transaction run in a worker thread.
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    response = call(transport, "post", "/dj/db/write-then-fail/?name=doomed")
    assert_error(response, "InternalError", status=500, logged=True)
    assert not Widget.objects.filter(name="doomed").exists()
    assert not Part.objects.exists()

    # The same view without ATOMIC_REQUESTS keeps its write: the rollback above was real.
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", False)
    call(transport, "post", "/dj/db/write-then-fail/?name=kept")
    assert Widget.objects.filter(name="kept").exists()


# --- the same paths as async test methods (STYLE.md) ------------------------------------------


class AsyncPathsTests(SimpleTestCase):
    async def test_unknown_url(self) -> None:
        response = await self.async_client.get("/no/such/url/")
        assert_error(response, "EndpointNotFound", status=400, logged=False)

    async def test_async_view_unhandled(self) -> None:
        self.async_client.raise_request_exception = False
        response = await self.async_client.get("/async/raise/unhandled/")
        assert_error(response, "InternalError", status=500, logged=True)

    @override_settings(DEBUG=True)
    async def test_async_view_unhandled_under_debug(self) -> None:
        self.async_client.raise_request_exception = False
        response = await self.async_client.get("/async/raise/unhandled/")
        assert_error(response, "InternalError", status=500, logged=True)

    async def test_async_view_returns_none(self) -> None:
        self.async_client.raise_request_exception = False
        response = await self.async_client.get("/dj/async-returns-none/")
        assert_error(response, "InternalError", status=500, logged=True)

    async def test_405(self) -> None:
        response = await self.async_client.get("/plain/only-post/")
        assert_error(response, "MethodNotAllowed", status=400)
        assert response["Allow"] == "POST, OPTIONS"

    async def test_csrf(self) -> None:
        client = self.async_client_class(enforce_csrf_checks=True)
        response = await client.post("/plain/form/", {"a": "1"})
        assert_error(response, "CsrfFailed", status=403)

    async def test_success_is_untouched(self) -> None:
        response = await self.async_client.get("/async/success/")
        assert response.status_code == 200
        assert json.loads(response.content) == {"hello": "async"}


# --- J24, J26: settings that change the path ---------------------------------------------------


@pytest.mark.django_db
def test_j24_debug_propagate_exceptions(call: Any, settings: Any) -> None:
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    # A view's exception is answered by process_exception before Django could re-raise it.
    assert_error(call("wsgi", "get", "/plain/raise/unhandled/"), "InternalError", status=500)
    # What reaches handle_uncaught_exception is re-raised through every layer; the middleware,
    # outermost, still answers it (check W008 warns about the setting all the same).
    response = call("wsgi", "get", "/plain/returns-none/")
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)


def test_j26_login_required_middleware_redirect_is_left_alone(call: Any, settings: Any) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    response = call("wsgi", "get", "/dj/login-required/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)
    assert not response.has_header("X-Counterbalance-Log-Hash")
    # DRF views are exempt (login_required=False): they answer as usual.
    assert call("wsgi", "get", "/drf/success/").status_code == 200


# --- R4, R6: django-ratelimit's own decorator on the Django path --------------------------------


@pytest.fixture
def fresh_rate_limits() -> None:
    from django.core.cache import caches

    caches["default"].clear()


def test_r4_stock_ratelimit_around_an_api_view(call: Any, fresh_rate_limits: None) -> None:
    # Outside DRF's dispatch: Ratelimited reaches process_exception, as in a plain view.
    assert call("wsgi", "get", "/dj/ratelimited-api-view/").status_code == 200
    response = call("wsgi", "get", "/dj/ratelimited-api-view/")
    assert_error(response, "RequestThrottled", status=503, logged=False)
    assert int(response["Retry-After"]) >= 1


def test_r6_ratelimit_exception_class(call: Any, settings: Any, fresh_rate_limits: None) -> None:
    # A class that is not a PermissionDenied (here DRF's Throttled, raised as cls()) in a plain
    # view: without the middleware a 500; with it, the catalog's RequestThrottled.
    settings.RATELIMIT_EXCEPTION_CLASS = "rest_framework.exceptions.Throttled"
    assert call("wsgi", "get", "/dj/stock-ratelimited/").status_code == 200
    response = call("wsgi", "get", "/dj/stock-ratelimited/")
    assert_error(response, "RequestThrottled", status=503, logged=False)
    assert int(response["Retry-After"]) >= 1


# --- T7: a database-side time limit ----------------------------------------------------------


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_t7_statement_timeout_is_service_unavailable(call: Any) -> None:
    if connections["default"].vendor == "sqlite":
        pytest.skip("SQLite has no statement time limit; runs on the PostgreSQL and MariaDB legs")
    response = call("wsgi", "get", "/dj/db/statement-timeout/")
    assert_error(response, "ServiceUnavailable", status=503, logged=True)
    assert int(response["Retry-After"]) >= 1
    assert_clean(response)
