"""The profile machinery: selection, your own profile, headers that are always safe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from rest_framework.exceptions import ErrorDetail

from counterbalance_errors import catalog, context, responses
from counterbalance_errors.profiles import (
    BUILTIN,
    CounterbalanceProfile,
    Profile,
    RenderContext,
    get_profile,
    header_value,
)
from counterbalance_errors.profiles import base as profiles_base
from tests.support.profiletools import HASH, call, use_profile
from tests.support.rendering import render
from tests.support.schemas import validate
from tests.support.settings_variants import without_the_app

SUCCESS_URLS = ["/drf/success/", "/plain/success/", "/async/success/", "/profiles/moved/"]


def test_builtin_profiles() -> None:
    assert sorted(BUILTIN) == [
        "cloudapi",
        "counterbalance",
        "green_stack",
        "numeric",
        "problem_details",
        "reason_phrase",
    ]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_select_by_name(settings: Any, name: str) -> None:
    use_profile(settings, name)
    assert type(get_profile()) is BUILTIN[name]


@pytest.mark.django_db
def test_select_your_own_by_dotted_path(settings: Any) -> None:
    use_profile(settings, "tests.support.profiles.TeapotProfile")
    response = call("wsgi", "GET", "/plain/raise/unhandled/")
    body = json.loads(response.content)
    assert body["oops"] == "InternalError"
    assert HASH.match(body["hash"])
    assert response["X-Teapot-Hash"] == body["hash"]
    assert response["X-Teapot"] == "short and stout"
    assert call("wsgi", "GET", "/drf/success/")["X-Teapot"] == "short and stout"


@pytest.mark.django_db  # Django 6 runs model checks against the databases
@pytest.mark.parametrize(
    "value", ["tests.support.profiles.NotAProfile", "tests.nowhere.Profile", "no-dots"]
)
def test_unusable_profile_falls_back_and_is_reported(settings: Any, value: str) -> None:
    use_profile(settings, value)
    assert type(get_profile()) is CounterbalanceProfile
    with pytest.raises(Exception, match=r"counterbalance_errors\.E003"):
        call_command("check", fail_level="ERROR")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(BUILTIN))
@pytest.mark.parametrize(
    ("kind", "flavour"), [("drf-not-found", "drf"), ("unhandled", "plain"), ("in-use", "async")]
)
def test_each_profile_over_each_transport(
    call: Any, settings: Any, transport: str, name: str, kind: str, flavour: str
) -> None:
    """What a profile renders without a request (``tests/support/rendering.py``: the body-shape
    tests of each ``test_profile_<name>.py``) is what a client gets, from each view flavour over
    WSGI and ASGI, with the profile's documented per-response headers on top."""
    use_profile(settings, name, API_VERSION="1.0")
    profile = BUILTIN[name]()
    expected = render(kind)
    response = call(transport, "get", f"/{flavour}/raise/{kind}/")

    assert (response.status_code, response.reason_phrase) == (
        expected.status_code,
        expected.reason_phrase,
    )
    assert response.get("Content-Type") == expected.get("Content-Type")
    schema = profile.body_schema()
    if schema is None:
        assert response.content == b""
    else:
        validate(json.loads(response.content), schema)
    every_response = {**profile.header_docs(), **profile.error_header_docs()}
    if profile.hash_header and profile.hash_header not in every_response:
        assert response.has_header(profile.hash_header) == expected.has_header(profile.hash_header)
    for header, doc in every_response.items():
        if doc.get("required"):
            assert response.has_header(header), header


# Every profile on each kind of success over WSGI; the async view over ASGI too.
SUCCESS_CASES = [
    pytest.param(name, url, "wsgi", id=f"{name}-{url}-wsgi")
    for name in sorted(BUILTIN)
    for url in SUCCESS_URLS
] + [pytest.param(name, "/async/success/", "asgi", id=f"{name}-asgi") for name in sorted(BUILTIN)]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url", "transport"), SUCCESS_CASES)
def test_success_responses_are_never_rewritten(
    settings: Any, name: str, url: str, transport: str
) -> None:
    """Byte for byte the project without the app, but for the profile's documented headers."""
    use_profile(settings, name, API_VERSION="1.0")
    response = call(transport, "GET", url)
    with without_the_app():
        reference = call(transport, "GET", url)
    documented = {header.lower() for header in BUILTIN[name]().header_docs()}

    def seen(response: Any) -> tuple[Any, ...]:
        headers = [(k, v) for k, v in response.items() if k.lower() not in documented]
        return (
            response.status_code,
            response.reason_phrase,
            headers,
            response.cookies.output(),
            response.content,
        )

    assert response.status_code < 400
    added = {k.lower() for k in response.headers} - {k.lower() for k in reference.headers}
    assert added <= documented  # cloudapi's Content-MD5 only when there is a body
    assert seen(response) == seen(reference)


@pytest.mark.parametrize(
    ("key", "header", "profile"),
    [
        ("COMPUTE_NODE", "X-Counterbalance-Compute-Node", "counterbalance"),
        ("COMPUTE_NODE", "X-Green-Stack-Compute-Node", "green_stack"),
        ("GATEWAY_NODE", "X-Green-Stack-Gateway-Node", "green_stack"),
        ("REALM", "X-Green-Stack-Realm", "green_stack"),
        ("API_VERSION", "Api-Version", "cloudapi"),
    ],
)
def test_configured_header_values_are_made_safe(
    settings: Any, key: str, header: str, profile: str
) -> None:
    use_profile(settings, profile, **{key: "nöde-1\r\nSet-Cookie: a=b\x00"})
    response = call("wsgi", "GET", "/drf/success/")
    assert response[header] == "nde-1Set-Cookie: a=b"
    assert not response.has_header("Set-Cookie")


@pytest.mark.parametrize(
    ("incoming", "reused"),
    [
        ("abc", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("gw:1.2_3", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("-starts-with-dash", False),
        ("has space", False),
        ("new\r\nline", False),
        ("ünïcode", False),
        ("semi;colon", False),
        ("", False),
    ],
)
def test_incoming_request_id_reused_only_when_safe(incoming: str, reused: bool) -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming)
    value = context.of(request).request_id
    assert (value == incoming) is reused
    assert context.of(request).render_context().request_id == value  # one id per request
    assert header_value(value) == value


def test_helpers_without_a_request() -> None:
    assert RenderContext().request_id != RenderContext().request_id
    assert RenderContext().response_time_ms() == 0
    assert context.of(RequestFactory().get("/")).render_context().response_time_ms() == 0


def test_error_answered_outside_a_request_has_a_cloudapi_request_id(settings: Any) -> None:
    use_profile(settings, "cloudapi")
    response = responses.error_response(None, catalog.make("BadRequest"))
    assert HASH.match(response["Request-Id"])
    assert response["X-Request-Id"] == response["Request-Id"]
    assert response["Response-Time"] == "0"


@pytest.mark.parametrize("name", ["counterbalance", "green_stack", "reason_phrase"])
def test_strict_off_uses_canonical_statuses(settings: Any, name: str) -> None:
    use_profile(settings, name, STRICT_STATUSES=False)
    expected = {
        "/drf/raise/throttled/": 429,
        "/drf/raise/method-not-allowed/": 405,
        "/drf/raise/drf-validation/": 400,
        "/nowhere/": 404,
    }
    for url, status in expected.items():
        assert call("wsgi", "GET", url).status_code == status


def test_base_profile_defaults() -> None:
    profile = Profile()
    error = catalog.make("ResourceNotFound")
    rendered = profile.render(error, RenderContext())
    assert (rendered.status, rendered.reason) == (404, None)
    assert json.loads(rendered.content) == {
        "error": {"code": "ResourceNotFound", "message": "The requested resource was not found."}
    }
    assert profile.header_docs() == {}
    assert profile.error_header_docs() == {}
    assert profile.body_schema() is not None


BODIES = {
    "envelope": {
        "error": {
            "code": "InvalidArgument",
            "message": "Überprüfen Sie „name“ — 名前.",
            "details": [
                {"field": "items.0.name", "code": "blank", "message": 'a "quoted"\n\tline'}
            ],
        },
        "logging_hash": "0" * 40,
    },
    "controls and separators": {"message": "\x00\x1f\x7f\u2028\u2029/\\", "n": [1, -2, 0]},
    "DRF's message strings": {"detail": ErrorDetail("Not found.", code="not_found")},
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES)
def test_orjson_writes_the_bytes_of_the_standard_librarys_encoder(
    body: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = Profile().encode(body)
    monkeypatch.setattr(profiles_base, "_fast_dumps", None)
    assert fast == Profile().encode(body)
    assert json.loads(fast) == body


@pytest.mark.parametrize(
    "body",
    [{"message": "\ud800"}, {"count": 2**70}, {7: "a key that is not a string"}],
    ids=["lone surrogate", "big integer", "integer key"],
)
def test_what_orjson_refuses_the_standard_librarys_encoder_writes(body: Any) -> None:
    assert json.loads(Profile().encode(body)) == json.loads(json.dumps(body))
