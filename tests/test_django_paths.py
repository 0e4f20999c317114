"""Rows J1-J20, J23 and B1-B6 of error-paths.md, each with a real trigger, through the test
client, over WSGI and ASGI, with DEBUG off and on (J23: Django's technical pages)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.test import AsyncClient, Client, SimpleTestCase, override_settings
from django.test.client import encode_multipart

from counterbalance_errors.testing import assert_error, error_body
from tests.models import Part, Widget

TRANSPORTS = ["wsgi", "asgi"]
LEAKS = ("secret", "Secret", "hunter2", "Traceback")


def call(
    transport: str,
    method: str,
    url: str,
    *,
    csrf: bool = False,
    csrf_cookie: bool = False,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """One request through the test client of ``transport``; 5xx come back as responses.

    ``csrf`` enforces CSRF checks; ``csrf_cookie`` also sends a well-formed CSRF cookie, so
    that CsrfViewMiddleware goes on to read ``request.POST`` (in the middleware phase).
    """
    client: Any
    if transport == "asgi":
        client = AsyncClient(raise_request_exception=False, enforce_csrf_checks=csrf)
    else:
        client = Client(raise_request_exception=False, enforce_csrf_checks=csrf)
    if csrf_cookie:
        client.cookies["csrftoken"] = "a" * 32
    send = getattr(client, method)
    if transport == "asgi":
        return async_to_sync(send)(url, headers=headers, **kwargs)
    return send(url, headers=headers, **kwargs)


def assert_clean(response: Any) -> None:
    """An envelope that says nothing about the server's internals."""
    text = response.content.decode()
    assert not any(leak in text for leak in LEAKS), text
    assert response["X-Counterbalance-Compute-Node"]


# --- J1 / J2: 404s -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j1_unknown_url(transport: str, debug: bool) -> None:
    response = call(transport, "get", "/no/such/url/")
    assert_error(response, "EndpointNotFound", status=400, logged=False)
    assert_clean(response)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j1_unknown_url_canonical_status(transport: str, debug: bool, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    assert_error(call(transport, "post", "/no/such/url/"), "EndpointNotFound", status=404)


@pytest.mark.django_db
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j2_get_object_or_404_in_plain_view(transport: str, debug: bool) -> None:
    response = call(transport, "get", "/dj/widget/4242/")
    error = assert_error(response, "ResourceNotFound", status=404, logged=False)
    # Django's message names the model; the envelope does not.
    assert "Widget" not in error["message"]
    assert_clean(response)


@pytest.mark.django_db
def test_j2_found_object_is_a_plain_success(client: Client) -> None:
    pk = Widget.objects.create(name="found").pk
    response = client.get(f"/dj/widget/{pk}/")
    assert response.status_code == 200
    assert response.json() == {"name": "found"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j2_http404_in_plain_and_async_views(transport: str, debug: bool) -> None:
    for flavour in ("plain", "async"):
        response = call(transport, "get", f"/{flavour}/raise/http404/")
        assert_error(response, "ResourceNotFound", status=404, logged=False)
        assert_clean(response)


# --- J3: PermissionDenied in a view and in a middleware ----------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j3_permission_denied_in_view(transport: str, debug: bool) -> None:
    response = call(transport, "get", "/plain/raise/django-permission/")
    error = assert_error(response, "NotAuthorized", status=403, logged=False)
    assert "secret" not in error["message"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j3_disallowed_user_agent_in_middleware_phase(
    transport: str, debug: bool, settings: Any
) -> None:
    settings.DISALLOWED_USER_AGENTS = [re.compile(r"^EvilBot")]
    response = call(transport, "get", "/plain/success/", headers={"User-Agent": "EvilBot/1.0"})
    assert_error(response, "NotAuthorized", status=403, logged=False)
    assert_clean(response)


# --- J4: the SuspiciousOperation family --------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
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
    transport: str, url: str, logger: str, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        response = call(transport, "get", url)
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)
    # Django's own security log is kept (what response_for_exception would have done).
    assert [r.name for r in caplog.records if r.name.startswith("django.security")] == [logger]


# --- J5: BadRequest ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j5_bad_request_raised(transport: str, debug: bool) -> None:
    response = call(transport, "get", "/plain/raise/bad-request/")
    assert_error(response, "BadRequest", status=400, logged=True)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("csrf", [False, True], ids=["view", "csrf-middleware"])
def test_j5_form_post_with_a_non_utf8_charset(transport: str, csrf: bool, debug: bool) -> None:
    # With CSRF enforced, CsrfViewMiddleware reads request.POST first (middleware phase).
    response = call(
        transport,
        "post",
        "/plain/form/",
        data=b"a=1",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
        csrf=csrf,
        csrf_cookie=csrf,
    )
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)


# --- J6: Host header -----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("host", ["evil.example", "bad host", "x" * 300])
def test_j6_bad_host_header(transport: str, host: str, debug: bool) -> None:
    response = call(transport, "get", "/plain/success/", headers={"Host": host})
    assert_error(response, "InvalidHeader", status=400, logged=True)
    assert_clean(response)
    assert host not in response.content.decode()


# --- J7-J10: request bodies ----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("csrf", [False, True], ids=["view", "csrf-middleware"])
def test_j7_body_too_big(transport: str, csrf: bool, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = "a=" + "x" * 500
    kwargs = {"data": body, "content_type": "application/x-www-form-urlencoded"}
    response = call(transport, "post", "/plain/form/", csrf=csrf, csrf_cookie=csrf, **kwargs)
    assert_error(response, "RequestTooLarge", status=400, logged=True)
    assert_clean(response)

    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    response = call(transport, "post", "/plain/form/", csrf=csrf, csrf_cookie=csrf, **kwargs)
    assert_error(response, "RequestTooLarge", status=413, logged=True)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("csrf", [False, True], ids=["view", "csrf-middleware"])
def test_j8_too_many_fields_in_post(transport: str, csrf: bool, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    body = "&".join(f"f{i}=1" for i in range(20))
    response = call(
        transport,
        "post",
        "/plain/form/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        csrf=csrf,
        csrf_cookie=csrf,
    )
    assert_error(response, "RequestTooLarge", status=400, logged=True)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j8_too_many_fields_in_query_string(transport: str, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{i}=1" for i in range(20))
    response = call(transport, "get", f"/dj/query/?{query}")
    assert_error(response, "RequestTooLarge", status=400, logged=True)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("url", ["/plain/raise/unhandled/", "/no/such/url/"])
def test_j8_too_many_query_fields_while_django_builds_its_debug_page(
    transport: str, url: str, debug: bool, settings: Any
) -> None:
    # Under DEBUG, Django's technical 500 page reads request.GET again, raises
    # TooManyFieldsSent from inside its own error handling, and the exception escapes Django.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{i}=1" for i in range(20))
    response = call(transport, "get", f"{url}?{query}")
    assert response["Content-Type"] == "application/json"
    assert_clean(response)
    # DEBUG on: the TooManyFieldsSent Django's page raised is as true an answer as the KeyError.
    codes = {"InternalError", "EndpointNotFound"} | ({"RequestTooLarge"} if debug else set())
    assert error_body(response)["error"]["code"] in codes


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j9_too_many_files(transport: str, debug: bool, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    boundary = "BoUnDaRy"
    files = {f"file{i}": _upload(f"f{i}.txt") for i in range(5)}
    response = call(
        transport,
        "post",
        "/plain/form/",
        data=encode_multipart(boundary, files),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert_error(response, "RequestTooLarge", status=400, logged=True)


def _upload(name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"content")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=\x00bad"],
    ids=["no-boundary", "invalid-boundary"],
)
def test_j10_malformed_multipart(transport: str, content_type: str, debug: bool) -> None:
    response = call(
        transport, "post", "/plain/form/", data=b"--x\r\ngarbage", content_type=content_type
    )
    assert_error(response, "BadRequest", status=400, logged=True)
    assert_clean(response)


# --- J11-J13: CSRF, 405, APPEND_SLASH ---------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j11_csrf_failure_on_plain_view(transport: str, debug: bool) -> None:
    response = call(transport, "post", "/plain/form/", data={"a": "1"}, csrf=True)
    error = assert_error(response, "CsrfFailed", status=403, logged=False)
    assert "CSRF" in error["message"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j12_405_returned_by_a_django_view(transport: str, debug: bool, settings: Any) -> None:
    response = call(transport, "get", "/plain/only-post/")
    assert_error(response, "MethodNotAllowed", status=400, logged=False)
    assert response["Allow"] == "POST, OPTIONS"
    assert int(response["Content-Length"]) == len(response.content)

    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}
    response = call(transport, "delete", "/plain/only-post/")
    assert_error(response, "MethodNotAllowed", status=405, logged=False)
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_j13_append_slash_post(transport: str, debug: bool, settings: Any) -> None:
    settings.APPEND_SLASH = True
    response = call(transport, "post", "/plain/success", data={"a": "1"})
    if debug:
        # CommonMiddleware raises RuntimeError ("You called this URL via POST ...").
        assert_error(response, "InternalError", status=500, logged=True)
        assert_clean(response)
    else:
        assert response.status_code == 301
        assert response["Location"] == "/plain/success/"
    # GET keeps Django's redirect, DEBUG or not.
    response = call(transport, "get", "/plain/success")
    assert response.status_code == 301


# --- J14-J19: 5xx ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "url",
    [
        "/plain/raise/unhandled/",  # J14 sync
        "/async/raise/unhandled/",  # J14 async
        "/plain/returns-none/",  # J15
        "/dj/async-returns-none/",  # J15 async
        "/plain/bad-header/",  # J19
    ],
)
def test_j14_j15_j19_server_errors(
    transport: str, url: str, debug: bool, signals_sent: list[Any]
) -> None:
    response = call(transport, "get", url)
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert len(signals_sent) == 1
    assert "evil" not in str(response.cookies)
    assert not response.has_header("X-Injected")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("boom", "url"),
    [
        ("request", "/plain/success/"),  # J16
        ("response", "/plain/success/"),  # J17
        ("template", "/plain/template/"),  # J18
        ("request", "/drf/success/"),
        ("response", "/async/success/"),
    ],
)
def test_j16_j17_j18_errors_in_another_middleware(
    transport: str, boom: str, url: str, debug: bool, signals_sent: list[Any]
) -> None:
    response = call(transport, "get", url, headers={"X-Boom": boom})
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert len(signals_sent) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("transport", TRANSPORTS)
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
@pytest.mark.parametrize("phase", ["request", "response"])
def test_j16_j17_known_errors_in_another_middleware(
    transport: str, phase: str, kind: str, code: str, status: int, debug: bool
) -> None:
    """A middleware's exception gets the same code as the same exception in a view."""
    response = call(transport, "get", "/plain/success/", headers={"X-Boom": f"{phase}:{kind}"})
    assert_error(response, code, status=status)
    assert_clean(response)


# --- J20: our own handlers never fail ----------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "profile", ["no.such.Profile", "tests.views_django_paths.widget", "", "counterbalance"]
)
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/no/such/url/", "EndpointNotFound"),
        ("/plain/raise/unhandled/", "InternalError"),
        ("/plain/only-post/", "MethodNotAllowed"),
        ("/plain/raise/django-permission/", "NotAuthorized"),
    ],
)
def test_j20_a_broken_profile_setting_still_gives_the_envelope(
    transport: str, profile: str, url: str, code: str, debug: bool, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    assert_error(call(transport, "get", url), code)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("broken", ["body", "response_headers", "error_headers", "status"])
@pytest.mark.parametrize(
    ("url", "code", "status"),
    [
        ("/no/such/url/", "EndpointNotFound", 400),
        ("/plain/raise/unhandled/", "InternalError", 500),
        ("/plain/only-post/", "MethodNotAllowed", 400),
        ("/plain/raise/http404/", "ResourceNotFound", 404),
        ("/drf/raise/drf-validation/", "InvalidArgument", 400),
    ],
)
def test_j20_a_failing_profile_falls_back_to_the_default_envelope(
    transport: str, broken: str, url: str, code: str, status: int, debug: bool, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": f"tests.profiles_broken.Broken_{broken}"}
    response = call(transport, "get", url)
    assert_error(response, code, status=status)
    assert int(response["Content-Length"]) == len(response.content)


# --- B1-B6: real database operations -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b1_duplicate_unique_is_a_conflict(transport: str, debug: bool) -> None:
    Widget.objects.create(name="taken")
    response = call(transport, "post", "/dj/db/create/?name=taken")
    error = assert_error(response, "Conflict", status=409, logged=True)
    assert "UNIQUE" not in error["message"]
    assert "Duplicate" not in error["message"]
    assert "duplicate" not in error["message"]
    assert Widget.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b2_deleting_a_protected_row_is_in_use(transport: str, debug: bool) -> None:
    widget = Widget.objects.create(name="used")
    Part.objects.create(widget=widget)
    response = call(transport, "post", f"/dj/db/delete/{widget.pk}/")
    assert_error(response, "InUseError", status=409, logged=True)
    assert Widget.objects.filter(pk=widget.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b3_get_finds_nothing(transport: str, debug: bool) -> None:
    response = call(transport, "get", "/dj/db/get/?prefix=nothing")
    error = assert_error(response, "ResourceNotFound", status=404, logged=False)
    assert "Widget" not in error["message"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b4_get_finds_several_is_a_500(
    transport: str, debug: bool, signals_sent: list[Any]
) -> None:
    Widget.objects.create(name="ab1")
    Widget.objects.create(name="ab2")
    response = call(transport, "get", "/dj/db/get/?prefix=ab")
    assert_error(response, "InternalError", status=500, logged=True)
    assert_clean(response)
    assert "returned" not in response.content.decode()
    assert len(signals_sent) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b5_unreachable_database_is_service_unavailable(
    transport: str, debug: bool, signals_sent: list[Any]
) -> None:
    response = call(transport, "get", "/dj/db/unreachable/")
    assert_error(response, "ServiceUnavailable", status=503, logged=True)
    assert int(response["Retry-After"]) >= 1
    assert_clean(response)
    assert "1" not in error_body(response)["error"]["message"]  # no port, no address
    assert len(signals_sent) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_b6_atomic_requests_roll_back_the_failed_views_write(
    transport: str, debug: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
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
