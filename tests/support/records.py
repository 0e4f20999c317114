"""Where a logged error went: its stored row, or the fallback line that carries its hash.

Every test of issue 9 looks a row up through :func:`stored`, which waits for the recorder in
this one place.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpResponseBase

from counterbalance_errors.models import ErrorLog
from counterbalance_errors.profiles import HASH_HEADER
from counterbalance_errors.testing import wait_for_recorder
from tests.support.errorlog_helpers import fallback_lines


def stored(logging_hash: str) -> ErrorLog | None:
    """The row stored under ``logging_hash`` (with its group), or None, once the recorder
    has finished what was submitted."""
    wait_for_recorder()
    return ErrorLog.objects.select_related("group").filter(logging_hash=logging_hash).first()


def header_hash(response: HttpResponseBase, header: str = HASH_HEADER) -> str:
    value = response.get(header)
    assert value, f"no {header} header: {response.status_code} {response.content!r}"  # type: ignore[attr-defined]
    return str(value)


def fallback_hashes(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The hashes of the fallback lines sent to the ``counterbalance_errors`` logger."""
    return {str(line.get("logging_hash")) for line in fallback_lines(caplog)}


def body_json(response: HttpResponseBase) -> Any:
    return json.loads(response.content)  # type: ignore[attr-defined]
