"""Small helpers for asserting on errors in your own tests, under any profile.

    from counterbalance_errors.testing import assert_error

    def test_missing_widget(client):
        error = assert_error(client.get("/widgets/999/"), "ResourceNotFound", status=404)
        assert error["message"]

The active profile reads its own error responses back (:meth:`Profile.read_error`), so the
helpers work under the six built-in profiles and custom ones. With pytest, the plugin
``counterbalance_errors.pytest_plugin`` (loaded automatically) adds the fixtures
``logged_errors`` and ``error_profile`` (docs/integrations.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpResponseBase

from counterbalance_errors.catalog import make
from counterbalance_errors.profiles import CounterbalanceProfile, get_profile
from counterbalance_errors.profiles.base import ErrorReading, Profile

HASH_RE = re.compile(r"^[0-9a-f]{40}$")


def read_error(response: HttpResponseBase, profile: Profile | None = None) -> ErrorReading:
    """``profile``'s (default: the active one's) reading of an error response; AssertionError
    if it is not one of its errors."""
    content = b"" if response.streaming else response.content  # type: ignore[attr-defined]
    return (profile or get_profile()).read_error(response.status_code, response.headers, content)


def _expected(response: HttpResponseBase, code: str) -> tuple[Profile, ErrorReading, int]:
    """(profile, its reading, the status it answers ``code`` with)."""
    try:
        profile = get_profile()
        return profile, read_error(response, profile), profile.status(make(code))
    except AssertionError:
        raise
    except Exception:
        # The active profile fails: the app answered with the default one (docs/profiles.md).
        profile = CounterbalanceProfile()
        return profile, read_error(response, profile), profile.status(make(code))


def assert_error(
    response: HttpResponseBase,
    code: str,
    *,
    status: int | None = None,
    logged: bool | None = None,
) -> dict[str, Any]:
    """Assert ``response`` is the active profile's answer to the catalog ``code``; return
    ``{"code", "message", "details", "logging_hash"}`` as the response shows them.

    The status must be the one the profile answers ``code`` with (and ``status``, when
    given); the code must be the one the response shows (profiles whose document shows no
    code, such as ``numeric`` and ``reason_phrase``, are checked by status). ``logged=True``
    asserts a well-formed logging_hash, the same in body and header; ``logged=False`` none.
    """
    profile, reading, expected_status = _expected(response, code)
    shown = profile.shown_code(code)
    if shown is not None:
        assert reading.code == shown, f"expected {shown}, got {reading.code}: {reading}"
    assert response.status_code == expected_status, (
        f"{code} answers {expected_status} under {profile.name or type(profile).__name__}, "
        f"got {response.status_code}"
    )
    if status is not None:
        assert response.status_code == status, f"expected {status}, got {response.status_code}"
    if logged is True:
        assert reading.logging_hash is not None, f"no logging_hash: {reading}"
        assert HASH_RE.match(reading.logging_hash), reading
    elif logged is False:
        assert reading.logging_hash is None, f"unexpected logging_hash: {reading}"
    return {
        "code": reading.code,
        "message": reading.message,
        "details": reading.details,
        "logging_hash": reading.logging_hash,
    }


def error_body(response: HttpResponseBase) -> dict[str, Any]:
    """The decoded JSON body of an error response (raises AssertionError if it is not JSON)."""
    content_type = response.get("Content-Type", "")
    assert "json" in content_type, f"not a JSON error response: {content_type!r}"
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert isinstance(body, dict), body
    return body


def logging_hash(response: HttpResponseBase) -> str | None:
    """The logging_hash a response carries (body or header, as its profile puts it), if any."""
    return read_error(response).logging_hash


def wait_for_recorder(timeout: float = 10.0) -> None:
    """Wait until every logged error submitted so far is stored (or in a fallback line).

    Under Django's test environment the recorder writes on the calling thread by default,
    inside the test's transaction like the rest of the test's writes (``TestCase``,
    pytest-django's ``db``), so the row of the response a test just got is there already;
    this waits for the writes still running on other threads (a ``live_server``) and for the
    writer thread when ``RECORDER_THREAD_IN_TESTS`` is on (then use transactional tests:
    the thread has its own connection). Raises AssertionError after ``timeout`` seconds.
    """
    from counterbalance_errors import recorder

    assert recorder.flush(timeout), f"the recorder did not finish within {timeout} s"
