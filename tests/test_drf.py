"""Every DRF error path of error-paths.md §2a (D1-D19), triggered for real through the client.

The counterbalance profile is strict by default (405/406/413/415 answer 400 keeping their
code, throttling answers 503); ``canonical`` switches STRICT_STATUSES off where the
canonical status itself is under test.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client

from counterbalance_errors.testing import assert_error, error_body
from tests.models import Widget
from tests.support.drf_compat import DRF_317, DRF_318, LIST_ERROR_SHAPES, list_shape_warning
from tests.support.views_drf import (
    CLASHING_PAYLOAD,
    INVALID_ITEMS,
    INVALID_PAYLOAD,
    ITEMS_DETAILS,
    PAYLOAD_DETAILS,
)

JSON = "application/json"


@pytest.fixture
def canonical(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"STRICT_STATUSES": False}


def post_json(client: Client, url: str, data: Any, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(data), content_type=JSON, **extra)


def assert_json(response: Any) -> None:
    assert response["Content-Type"] == JSON


# --- D1: serializer validation ------------------------------------------------------------------


@LIST_ERROR_SHAPES
def test_d1_serializer_errors_are_flat_details(
    client: Client, settings: Any, as_dict: bool
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "LIST_SERIALIZER_ERRORS_AS_DICT": as_dict}

    if as_dict:
        payload = post_json(client, "/drf/payload/", INVALID_PAYLOAD)
        many = post_json(client, "/drf/many/", INVALID_ITEMS)
    else:
        with list_shape_warning():
            payload = post_json(client, "/drf/payload/", INVALID_PAYLOAD)
        with list_shape_warning():
            many = post_json(client, "/drf/many/", INVALID_ITEMS)

    error = assert_error(payload, "InvalidArgument", status=400, logged=True)
    assert error["details"] == PAYLOAD_DETAILS
    assert error["message"] == "One or more arguments are invalid."
    assert assert_error(many, "InvalidArgument", status=400)["details"] == ITEMS_DETAILS
    assert_json(payload)


def test_d1_object_level_errors_use_non_field_errors(client: Client) -> None:
    response = post_json(client, "/drf/payload/", CLASHING_PAYLOAD)

    error = assert_error(response, "InvalidArgument", status=400)

    clash = "Name clashes with another payload."
    assert error["details"] == [{"field": "non_field_errors", "code": "invalid", "message": clash}]


def test_d1_custom_non_field_errors_key(client: Client, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NON_FIELD_ERRORS_KEY": "__all__"}
    response = post_json(client, "/drf/payload/", CLASHING_PAYLOAD)

    error = assert_error(response, "InvalidArgument")

    assert [d["field"] for d in error["details"]] == ["__all__"]


def test_d1_only_missing_fields_is_missing_parameter(client: Client) -> None:
    error = assert_error(post_json(client, "/drf/payload/", {}), "MissingParameter", status=400)

    assert [(d["field"], d["code"]) for d in error["details"]] == [
        ("name", "required"),
        ("password", "required"),
        ("address", "required"),
        ("items", "required"),
        ("tags", "required"),
    ]


def test_d1_many_true_with_index_zero_only(client: Client) -> None:
    response = post_json(client, "/drf/many/", [{"name": "ok", "email": "bad"}])

    details = assert_error(response, "InvalidArgument")["details"]
    assert details == ITEMS_DETAILS[:1]


# --- D2/D3: parsing --------------------------------------------------------------------------


def test_d2_malformed_json(client: Client) -> None:
    response = client.post("/drf/echo/", data="{not json", content_type=JSON)

    error = assert_error(response, "BadRequest", status=400, logged=True)
    assert error["message"].startswith("JSON parse error")
    assert_json(response)


def test_d2_multipart_without_boundary(client: Client) -> None:
    response = client.post("/drf/echo/", data="garbage", content_type="multipart/form-data")

    assert_error(response, "BadRequest", status=400)


@pytest.mark.skipif(not DRF_318, reason="DRF < 3.18 does not check the charset (no error)")
def test_d2_non_text_charset(client: Client) -> None:
    # DRF 3.18 rejects bytes-to-bytes codecs (a decompression bomb) with a ParseError.
    response = client.generic(
        "POST", "/drf/echo/", data=b"{}", content_type="application/json; charset=bz2_codec"
    )

    assert_error(response, "BadRequest", status=400)


@pytest.mark.parametrize(
    "content_type", ["text/x-weird", "application/x-" + "a" * 9_986], ids=["short", "10000-chars"]
)
def test_d3_unsupported_media_type_has_a_fixed_small_message(
    client: Client, canonical: None, content_type: str
) -> None:
    response = client.post("/drf/echo/", data="x", content_type=content_type)

    error = assert_error(response, "UnsupportedMediaType", status=415, logged=True)
    assert error["message"] == "The request media type is not supported."
    assert len(response.content) < 300
    assert "weird" not in response.content.decode()


def test_d3_strict_profile_answers_400(client: Client) -> None:
    response = client.post("/drf/echo/", data="x", content_type="text/x-weird")

    assert_error(response, "UnsupportedMediaType", status=400)


# --- D4/D5: negotiation ------------------------------------------------------------------------


def test_d4_not_acceptable_is_json(client: Client, canonical: None) -> None:
    response = client.get("/drf/success/", HTTP_ACCEPT="application/xml")

    assert_error(response, "NotAcceptable", status=406, logged=False)
    assert_json(response)


def test_d5_unknown_format_is_not_acceptable(client: Client, canonical: None) -> None:
    # DRF raises Http404 here (error-paths trap 6); the resource exists, the format does not.
    response = client.get("/drf/success/?format=xyz")

    assert_error(response, "NotAcceptable", status=406)
    assert_json(response)


def test_d5_known_format_still_works(client: Client) -> None:
    response = client.get("/drf/success/?format=json")

    assert response.status_code == 200
    assert response.json() == {"hello": "world", "items": [1, 2, 3]}


def test_handler_outside_a_transaction_under_atomic_requests(atomic_requests: None) -> None:
    # Only a connection inside its atomic block is marked for rollback: marking one outside
    # raises TransactionManagementError.
    from rest_framework import exceptions

    from counterbalance_errors.handlers import exception_handler

    assert not connection.in_atomic_block
    response = exception_handler(exceptions.NotFound(), {})

    assert response is not None
    assert_error(response, "ResourceNotFound", status=404)


@pytest.mark.parametrize(
    "extra",
    [{"HTTP_ACCEPT": "text/html"}, {"QUERY_STRING": "format=api"}],
    ids=["accept-html", "format-api"],
)
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/drf/raise/drf-validation/", "InvalidArgument"),
        ("/drf/widgets/999/", "ResourceNotFound"),
        ("/drf/raise/unhandled/", "InternalError"),
        ("/drf/raise/throttled/", "RequestThrottled"),
    ],
)
@pytest.mark.django_db
def test_html_negotiation_still_answers_json(
    client: Client, extra: dict[str, str], url: str, code: str
) -> None:
    response = client.get(url, **extra)

    assert_error(response, code)
    assert_json(response)
    assert b"<html" not in response.content.lower()


# --- D6/D7/D8: authentication ---------------------------------------------------------------


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("alice", password="correct-horse")


def test_d6_basic_first_not_authenticated_is_401_with_challenge(client: Client) -> None:
    response = client.get("/drf/basic/")

    error = assert_error(response, "InvalidCredentials", status=401, logged=False)
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert error["message"] == "Authentication credentials were missing or invalid."


def test_d7_bad_basic_credentials_are_401_with_challenge(client: Client, user: User) -> None:
    response = client.get("/drf/basic/", HTTP_AUTHORIZATION=basic("alice", "wrong"))

    error = assert_error(response, "InvalidCredentials", status=401)
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert error["message"] == "Invalid username/password."


def test_d7_good_basic_credentials_pass(client: Client, user: User) -> None:
    response = client.get("/drf/basic/", HTTP_AUTHORIZATION=basic("alice", "correct-horse"))

    assert response.status_code == 200
    assert response.json() == {"user": "alice"}


@pytest.mark.django_db
def test_d6_session_only_is_still_401_without_challenge(client: Client) -> None:
    # DRF would coerce this to 403 (error-paths trap 3); the catalog says 401.
    response = client.get("/drf/session/")

    assert_error(response, "InvalidCredentials", status=401)
    assert not response.has_header("WWW-Authenticate")


def test_d8_session_csrf_failure_for_a_logged_in_user(user: User) -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)

    response = client.post("/drf/session/", data={})

    error = assert_error(response, "CsrfFailed", status=403, logged=False)
    assert error["message"] == "CSRF verification failed."
    assert client.get("/drf/session/").status_code == 200


@pytest.mark.django_db
def test_d8_anonymous_post_is_not_a_csrf_failure() -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)

    assert_error(client.post("/drf/session/", data={}), "InvalidCredentials", status=401)


# --- D9-D12 ---------------------------------------------------------------------------------


def test_d9_not_found(client: Client) -> None:
    error = assert_error(client.get("/drf/raise/drf-not-found/"), "ResourceNotFound", status=404)

    assert error["message"] == "The requested resource was not found."


def test_d10_method_not_allowed_keeps_allow(client: Client, canonical: None) -> None:
    response = client.delete("/drf/success/")

    assert_error(response, "MethodNotAllowed", status=405, logged=False)
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_d10_strict_profile_answers_400_keeping_allow(client: Client) -> None:
    response = client.delete("/drf/success/")

    assert_error(response, "MethodNotAllowed", status=400)
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_d11_real_throttle_retry_after_is_ceil_of_wait(
    client: Client, canonical: None, request: pytest.FixtureRequest
) -> None:
    key = {"HTTP_X_THROTTLE_KEY": request.node.nodeid}
    assert client.get("/drf-real/throttle/rate/", **key).status_code == 200
    assert client.get("/drf-real/throttle/rate/", **key).status_code == 200

    response = client.get("/drf-real/throttle/rate/", **key)

    error = assert_error(response, "RequestThrottled", status=429, logged=False)
    # 2/hour: the wait is just under an hour, ceil'ed by DRF.
    assert 3590 <= int(response["Retry-After"]) <= 3600
    assert error["message"] == "Too many requests; retry later."


def test_d11_strict_profile_answers_503_with_retry_after(client: Client) -> None:
    response = client.get("/drf/throttled/")  # wait() == 7.2

    assert_error(response, "RequestThrottled", status=503)
    assert response["Retry-After"] == "8"


def test_d11_zero_and_unknown_wait_still_send_retry_after(client: Client) -> None:
    assert client.get("/drf-real/throttle/zero/")["Retry-After"] == "1"
    assert client.get("/drf-real/throttle/unknown/")["Retry-After"] == "60"


def test_d12_bare_api_exception_is_a_logged_500(
    client: Client, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get("/drf/raise/drf-apiexception/")

    error = assert_error(response, "InternalError", status=500, logged=True)
    assert "secret" not in response.content.decode()
    assert error["message"] == "An internal error occurred."
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None
    assert record.exc_info[0].__name__ == "APIException"


# --- D13/D14 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_d13_get_object_or_404_does_not_leak_the_model(client: Client) -> None:
    response = client.get("/drf/widgets/999/")

    error = assert_error(response, "ResourceNotFound", status=404, logged=False)
    assert error["message"] == "The requested resource was not found."
    assert "Widget" not in response.content.decode()


def test_d14_stock_ratelimit_decorator_is_throttled_not_403(client: Client) -> None:
    cache.clear()
    assert client.get("/drf/stock-ratelimited/").status_code == 200

    response = client.get("/drf/stock-ratelimited/")

    assert_error(response, "RequestThrottled", status=503)
    # The stock Ratelimited knows no window; the catalog's default applies.
    assert response["Retry-After"] == "60"


# --- D15: Django's exceptions inside DRF views, triggered for real --------------------------


@pytest.mark.django_db
def test_d15_model_full_clean_validation_error(client: Client) -> None:
    error = assert_error(client.post("/drf-real/model-clean/"), "InvalidArgument", status=400)

    assert error["details"] == [
        {
            "field": "name",
            "code": "max_length",
            "message": "Ensure this value has at most 50 characters (it has 60).",
        }
    ]


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_d15_does_not_exist(client: Client) -> None:
    assert_error(client.delete("/drf/widgets/999/"), "ResourceNotFound", status=404)


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_d15_multiple_objects_returned_is_500(client: Client, debug: bool) -> None:
    response = client.get("/drf-real/multiple-objects/")

    assert_error(response, "InternalError", status=500, logged=True)
    assert "twin" not in response.content.decode()


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_d15_integrity_error_is_conflict(client: Client) -> None:
    assert post_json(client, "/drf/widgets/", {"name": "dup"}).status_code == 201

    response = post_json(client, "/drf/widgets/", {"name": "dup"})

    error = assert_error(response, "Conflict", status=409, logged=True)
    assert "UNIQUE" not in error["message"].upper()


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_d15_protected_delete_is_in_use(client: Client) -> None:
    response = post_json(client, "/drf-real/protected-delete/", {"name": "held"})

    assert_error(response, "InUseError", status=409, logged=True)


@pytest.mark.database
@pytest.mark.django_db
def test_d15_unreachable_database_is_503(client: Client, debug: bool) -> None:
    response = client.get("/drf-real/unreachable-db/")

    error = assert_error(response, "ServiceUnavailable", status=503, logged=True)
    assert int(response["Retry-After"]) >= 1
    assert "nonexistent" not in error["message"]


def test_d15_disallowed_redirect_is_bad_request_and_logged_as_security(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        response = client.get("/drf-real/disallowed-redirect/")

    assert_error(response, "BadRequest", status=400)
    assert any(r.name == "django.security.DisallowedRedirect" for r in caplog.records)


def test_d15_non_utf8_form_read_by_django_is_bad_request(client: Client) -> None:
    response = client.post(
        "/drf-real/django-post/",
        data="a=1",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )

    assert_error(response, "BadRequest", status=400)


@pytest.mark.skipif(not DRF_317, reason="DRF 3.16 streams JSON bodies: no size limit to hit")
def test_d15_body_too_big(client: Client, settings: Any, canonical: None) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = post_json(client, "/drf/echo/", {"blob": "x" * 1000})

    assert_error(response, "RequestTooLarge", status=413, logged=True)


def test_d15_too_many_fields(client: Client, settings: Any, canonical: None) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5

    response = client.post("/drf/echo/", data={f"f{i}": "v" for i in range(20)})

    assert_error(response, "RequestTooLarge", status=413)


def test_d15_too_many_files(client: Client, settings: Any, canonical: None) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = {f"f{i}": SimpleUploadedFile(f"{i}.txt", b"x") for i in range(4)}

    response = client.post("/drf/echo/", data=files)

    assert_error(response, "RequestTooLarge", status=413)


def test_d15_suspicious_operation_is_logged_on_django_security(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        assert_error(client.get("/drf/raise/suspicious/"), "BadRequest")

    assert any(r.name == "django.security.SuspiciousOperation" for r in caplog.records)


def test_a_failure_while_answering_a_4xx_still_answers_the_4xx(client: Client) -> None:
    """The handler never turns the client's 4xx into a 500: here a logging filter on Django's
    security logger (which the handler replicates for SuspiciousOperation) raises."""

    def broken_filter(record: Any) -> bool:
        raise RuntimeError("a broken logging filter")

    security_logger = logging.getLogger("django.security.SuspiciousOperation")
    security_logger.addFilter(broken_filter)
    try:
        response = client.get("/drf/raise/suspicious/")
    finally:
        security_logger.removeFilter(broken_filter)
    assert_error(response, "BadRequest", status=400)


# --- D16-D19 --------------------------------------------------------------------------------


def test_d16_view_returns_none(client: Client, debug: bool) -> None:
    assert_error(client.get("/drf/returns-none/"), "InternalError", status=500, logged=True)


def test_d17_unrenderable_data(client: Client, debug: bool) -> None:
    response = client.get("/drf/unrenderable/")

    assert_error(response, "InternalError", status=500, logged=True)
    assert "object" not in error_body(response)["error"]["message"]


def test_d18_returned_serializer_errors_are_enveloped(client: Client) -> None:
    response = client.get("/drf/returns-errors/")

    error = assert_error(response, "InvalidArgument", status=400, logged=True)
    assert error["details"] == [
        {"field": "name", "code": "invalid", "message": "This field is required."}
    ]
    assert_json(response)
    assert int(response["Content-Length"]) == len(response.content)


def test_d18_returned_detail_is_enveloped(client: Client) -> None:
    response = client.post("/drf/returns-errors/")

    error = assert_error(response, "NotAuthorized", status=403, logged=False)
    assert error["message"] == "Quota exhausted for this key."


def test_d19_too_many_query_params_under_debug(
    client: Client, settings: Any, canonical: None, debug: bool
) -> None:
    # DEBUG's technical page re-reads request.GET and escapes Django if DRF-EH leaves it.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"q{i}=1" for i in range(20))

    response = client.get(f"/drf/success/?{query}")

    assert_error(response, "RequestTooLarge", status=413, logged=True)
    assert_json(response)


def test_d19_5xx_during_negotiation_keeps_the_real_exception(
    client: Client, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get("/drf-real/broken-negotiation/")

    assert_error(response, "InternalError", status=500, logged=True)
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


# --- versioning -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("/drf-real/version/v9/path/", {}),
        ("/drf-real/version/query/?version=9", {}),
        ("/drf-real/version/accept/", {"HTTP_ACCEPT": "application/json; version=9"}),
    ],
    ids=["url-path", "query-parameter", "accept-header"],
)
def test_invalid_version(client: Client, url: str, extra: dict[str, str]) -> None:
    error = assert_error(client.get(url, **extra), "InvalidVersion", status=400)

    assert error["message"] == "The requested API version is invalid."


@pytest.mark.parametrize(
    ("url", "extra", "version"),
    [
        ("/drf-real/version/v1/path/", {}, "v1"),
        ("/drf-real/version/query/?version=1.0", {}, "1.0"),
        ("/drf-real/version/accept/", {"HTTP_ACCEPT": "application/json; version=1.0"}, "1.0"),
    ],
)
def test_valid_version(client: Client, url: str, extra: dict[str, str], version: str) -> None:
    response = client.get(url, **extra)

    assert response.status_code == 200
    assert response.json() == {"version": version}


def test_not_found_in_a_versioned_view_is_not_a_version_error(client: Client) -> None:
    response = client.get("/drf-real/version/query/?version=1.0&missing=1")

    assert_error(response, "ResourceNotFound", status=404)


# --- ATOMIC_REQUESTS: a 4xx rolls back the view's writes -----------------------------------


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    # make_view_atomic reads the live connection's settings, not settings.DATABASES.
    previous = connection.settings_dict["ATOMIC_REQUESTS"]
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    connection.settings_dict["ATOMIC_REQUESTS"] = previous


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("then", "code"),
    [
        ("drf-validation", "InvalidArgument"),
        ("django-permission", "NotAuthorized"),
        ("not-authenticated", "InvalidCredentials"),
        ("too-big", "RequestTooLarge"),
        ("unhandled", "InternalError"),
    ],
)
def test_atomic_requests_rolls_back_the_write(
    client: Client, atomic_requests: None, then: str, code: str
) -> None:
    response = post_json(client, "/drf/widgets/", {"name": f"doomed-{then}", "then": then})

    assert_error(response, code)
    assert not Widget.objects.filter(name=f"doomed-{then}").exists()


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_atomic_requests_keeps_a_successful_write(client: Client, atomic_requests: None) -> None:
    assert post_json(client, "/drf/widgets/", {"name": "kept"}).status_code == 201

    assert Widget.objects.filter(name="kept").exists()


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_without_atomic_requests_the_write_happened_before_the_error(client: Client) -> None:
    # The control for the rollback tests: the view does write before it fails.
    post_json(client, "/drf/widgets/", {"name": "written", "then": "django-permission"})

    assert Widget.objects.filter(name="written").exists()


# --- the handler called directly (as other DRF tooling may) --------------------------------


def test_handler_without_a_request_in_context() -> None:
    from rest_framework import exceptions

    from counterbalance_errors.handlers import exception_handler

    response = exception_handler(exceptions.NotFound(), {})

    assert response is not None
    assert_error(response, "ResourceNotFound", status=404)
    assert exception_handler(KeyError("x"), {}) is None


@pytest.mark.parametrize(
    "extra",
    [{"HTTP_ACCEPT": "text/html"}, {"QUERY_STRING": "format=api"}],
    ids=["accept-html", "format-api"],
)
def test_d18_returned_errors_under_html_negotiation_are_still_the_envelope(
    client: Client, extra: dict[str, str]
) -> None:
    # The browsable API renders the page and calls our renderer for the JSON it embeds.
    response = client.get("/drf/returns-errors/", **extra)

    error = assert_error(response, "InvalidArgument", status=400, logged=True)
    assert error["details"] == [
        {"field": "name", "code": "invalid", "message": "This field is required."}
    ]
    assert_json(response)
    assert b"<html" not in response.content.lower()
