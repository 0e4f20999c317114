"""Helpers for the logged-error tests: real databases, real failures, no mocks."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.forms.models import model_to_dict
from django.http import HttpResponseBase

from counterbalance_errors.logs import RECORD_KEY
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.testing import logging_hash

VENDOR = {
    "django.db.backends.sqlite3": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.mysql": "mysql",
}[settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"]]

#: The second connection to the test database that tests/settings.py defines (not on SQLite).
ISOLATED = "counterbalance_isolated"

needs_server_database = pytest.mark.skipif(
    VENDOR == "sqlite", reason="needs a database server (CB_DATABASE=postgres or mariadb)"
)


def hash_of(response: HttpResponseBase) -> str:
    value = logging_hash(response)
    assert value is not None, response.content  # type: ignore[attr-defined]
    return value


def entry(response: HttpResponseBase) -> ErrorLog:
    """The stored row of a response's logging hash."""
    return ErrorLog.objects.select_related("group").get(logging_hash=hash_of(response))


def dump(row: ErrorLog) -> str:
    """Every column of a row and of its group, as one string to search for leaks."""
    data = {"row": model_to_dict(row), "group": model_to_dict(row.group)}
    return json.dumps(data, default=str, ensure_ascii=False)


def fallback_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fallback lines sent to the ``counterbalance_errors`` logger: each one's reason and
    record (the ``extra`` a JSON formatter writes), with its readable message."""
    return [
        {"message": record.getMessage(), "reason": record.reason, **getattr(record, RECORD_KEY)}
        for record in caplog.records
        if record.name == "counterbalance_errors" and hasattr(record, RECORD_KEY)
    ]


@contextlib.contextmanager
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``ATOMIC_REQUESTS = True`` on the default database (read per request by Django)."""
    with monkeypatch.context() as patch:
        patch.setitem(connections.settings[DEFAULT_DB_ALIAS], "ATOMIC_REQUESTS", True)
        yield


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """The default connection, in this thread, points at a database that cannot be reached.

    PostgreSQL and MariaDB: 127.0.0.1:1, a closed port (nothing on the machine is stopped).
    SQLite: a file in a directory that does not exist. The real connection is kept aside
    and put back untouched.
    """
    original = connections[DEFAULT_DB_ALIAS]
    broken_settings = {**original.settings_dict}
    if VENDOR == "sqlite":
        broken_settings["NAME"] = "/nonexistent-counterbalance-dir/db.sqlite3"
    else:
        broken_settings.update(HOST="127.0.0.1", PORT="1")
        broken_settings["OPTIONS"] = {**broken_settings.get("OPTIONS", {}), "connect_timeout": 2}
    broken = original.__class__(broken_settings, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = broken
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = original
        broken.close()


#: ``django_db`` for the tests that write through :data:`ISOLATED` (PostgreSQL, MariaDB).
with_isolated_database = pytest.mark.django_db(
    transaction=True, databases=[DEFAULT_DB_ALIAS, ISOLATED]
)


@contextlib.contextmanager
def isolated_database(settings_fixture: Any) -> Iterator[str]:
    """``ISOLATED_DATABASE`` set to the test settings' second connection to the test database."""
    previous = getattr(settings_fixture, "COUNTERBALANCE_ERRORS", {})
    settings_fixture.COUNTERBALANCE_ERRORS = {**previous, "ISOLATED_DATABASE": ISOLATED}
    try:
        yield ISOLATED
    finally:
        connections[ISOLATED].close()
