"""A user's profile that fails, wherever it fails, never turns an error into a crash."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from counterbalance_errors import catalog, checks
from counterbalance_errors.profiles import (
    CounterbalanceProfile,
    RenderContext,
    get_profile,
    load_profile,
)
from tests import profiles_broken
from tests.settings import MIDDLEWARE

pytestmark = pytest.mark.django_db

RAISING = "tests.profiles_raising.Profile"
FAILING_PROFILES = [
    "tests.profiles_broken.Broken_init",
    "tests.profiles_broken.Broken_header_value",
    RAISING,
]


def test_broken_body_fails_for_its_own_reason() -> None:
    error = catalog.make("BadRequest")
    with pytest.raises(profiles_broken.ProfileFailure):
        profiles_broken.Broken_body().body(error, 400, None, RenderContext())


@pytest.mark.parametrize("profile", FAILING_PROFILES)
@pytest.mark.parametrize("url", ["/drf/raise/drf-not-found/", "/plain/raise/http404/"])
def test_a_failing_profile_keeps_the_4xx(
    client: Client, settings: Any, profile: str, url: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"
    assert "X-Broken" not in response


@pytest.mark.parametrize("profile", ["tests.profiles_broken.Broken_init", RAISING])
def test_an_unloadable_profile_falls_back_to_the_default(settings: Any, profile: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    assert type(get_profile()) is CounterbalanceProfile
    with pytest.raises(profiles_broken.ProfileFailure):
        load_profile(profile)


@pytest.mark.parametrize("profile", ["tests.profiles_broken.Broken_init", RAISING])
def test_e003_reports_a_profile_that_raises_anything(settings: Any, profile: str) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    [message] = checks.check_profile()
    assert message.id == "counterbalance_errors.E003"
    assert "a profile" in message.msg or "__init__" in message.msg


def test_a_bad_profile_is_resolved_and_logged_once(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": RAISING}
    attempts = len(profiles_broken.IMPORT_ATTEMPTS)
    with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
        for _ in range(3):
            assert client.get("/plain/success/").status_code == 200
            assert client.get("/plain/raise/http404/").status_code == 404
    assert len(profiles_broken.IMPORT_ATTEMPTS) == attempts + 1
    assert [r.getMessage() for r in caplog.records if RAISING in r.getMessage()] == [
        f"PROFILE {RAISING!r} cannot be used; using 'counterbalance' (manage.py check "
        "reports it as counterbalance_errors.E003)"
    ]


def test_a_profile_whose_budget_raises_does_not_fail_async_requests(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in MIDDLEWARE if m != "tests.middleware.BoomMiddleware"]
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "tests.profiles_broken.Broken_budget"}
    response = async_to_sync(AsyncClient().get)("/async/success/")
    assert response.status_code == 200
