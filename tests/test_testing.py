"""counterbalance_errors.testing: assert_error reads every profile's errors back."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from counterbalance_errors.profiles import BUILTIN
from counterbalance_errors.testing import assert_error, logging_hash, read_error

PROFILES = sorted(BUILTIN)


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest, error_profile: Any) -> str:
    error_profile(request.param)
    return str(request.param)


@pytest.mark.django_db
def test_a_logged_error_under_every_profile(profile: str, client: Client) -> None:
    response = client.get("/drf/raise/unhandled/")

    error = assert_error(response, "InternalError", status=500, logged=True)

    assert error["logging_hash"] == logging_hash(response)
    with pytest.raises(AssertionError):
        assert_error(response, "InternalError", logged=False)


def test_an_unlogged_error_under_every_profile(profile: str, client: Client) -> None:
    response = client.get("/drf/raise/drf-not-found/")

    error = assert_error(response, "ResourceNotFound", logged=False)

    assert error["message"]
    with pytest.raises(AssertionError):
        assert_error(response, "ResourceNotFound", logged=True)


@pytest.mark.parametrize("profile_name", ["counterbalance", "cloudapi", "problem_details"])
def test_a_wrong_code_fails(profile_name: str, error_profile: Any, client: Client) -> None:
    error_profile(profile_name)
    response = client.get("/drf/raise/drf-not-found/")

    with pytest.raises(AssertionError, match="expected"):
        assert_error(response, "Conflict")


@pytest.mark.parametrize("profile_name", ["numeric", "reason_phrase"])
def test_profiles_without_codes_check_the_status(
    profile_name: str, error_profile: Any, client: Client
) -> None:
    error_profile(profile_name)
    response = client.get("/drf/raise/drf-not-found/")

    with pytest.raises(AssertionError, match="Conflict answers 400 under"):
        assert_error(response, "Conflict")


def test_a_body_and_header_that_disagree_fail() -> None:
    response = HttpResponse(
        '{"error": {"code": "InternalError", "message": "x"}, "logging_hash": "' + "a" * 40 + '"}',
        status=500,
        content_type="application/json",
        headers={"X-Counterbalance-Log-Hash": "b" * 40},
    )

    with pytest.raises(AssertionError, match="hash: body"):
        assert_error(response, "InternalError")


def test_a_response_of_another_shape_fails(error_profile: Any) -> None:
    error_profile("problem_details")
    response = HttpResponse('{"error": {"code": "x"}}', status=404, content_type="application/json")

    with pytest.raises(AssertionError, match="not an error body"):
        assert_error(response, "ResourceNotFound")


@pytest.mark.parametrize(
    ("answered", "reader"),
    [
        ("reason_phrase", "counterbalance"),  # no body
        ("counterbalance", "reason_phrase"),  # a body where none is expected
        ("cloudapi", "numeric"),  # a code that is not a status
    ],
)
def test_another_profiles_error_is_not_read_as_this_ones(
    answered: str, reader: str, error_profile: Any, client: Client
) -> None:
    error_profile(answered)
    response = client.get("/drf/raise/drf-not-found/")

    with pytest.raises(AssertionError, match=f"not a {reader} error"):
        read_error(response, BUILTIN[reader]())
