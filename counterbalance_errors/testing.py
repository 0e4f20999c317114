"""Small helpers for asserting on errors in your own tests.

    from counterbalance_errors.testing import assert_error

    def test_missing_widget(client):
        error = assert_error(client.get("/widgets/999/"), "ResourceNotFound", status=404)
        assert error["message"]

They read the envelope of the ``counterbalance`` profile (and of any profile with the same
``{"error": {...}}`` body).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpResponseBase

from counterbalance_errors.profiles import HASH_HEADER

HASH_RE = re.compile(r"^[0-9a-f]{40}$")


def error_body(response: HttpResponseBase) -> dict[str, Any]:
    """The decoded JSON body of an error response (raises AssertionError if it is not JSON)."""
    content_type = response.get("Content-Type", "")
    assert "json" in content_type, f"not a JSON error response: {content_type!r}"
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert isinstance(body, dict), body
    return body


def assert_error(
    response: HttpResponseBase,
    code: str,
    *,
    status: int | None = None,
    logged: bool | None = None,
) -> dict[str, Any]:
    """Assert ``response`` is the envelope of ``code``; return its inner ``error`` object.

    ``logged=True`` also asserts a well-formed ``logging_hash`` equal in body and header;
    ``logged=False`` asserts there is none.
    """
    body = error_body(response)
    assert "error" in body, body
    error: dict[str, Any] = body["error"]
    assert error.get("code") == code, f"expected {code}, got {error.get('code')}: {body}"
    if status is not None:
        assert response.status_code == status, f"expected {status}, got {response.status_code}"
    logging_hash = body.get("logging_hash")
    if logged is True:
        assert isinstance(logging_hash, str), body
        assert HASH_RE.match(logging_hash), body
        assert response.get(HASH_HEADER) == logging_hash
    elif logged is False:
        assert logging_hash is None, body
        assert not response.has_header(HASH_HEADER)
    return error


def logging_hash(response: HttpResponseBase) -> str | None:
    """The logging_hash a response carries in its body, if any."""
    value = error_body(response).get("logging_hash")
    return value if isinstance(value, str) else None


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
