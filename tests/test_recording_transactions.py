"""Logged errors are stored outside the request's transaction, and never lost.

Run on SQLite, PostgreSQL and MariaDB (``make test-postgres``, ``make test-mariadb``). Every
test here is ``transaction=True``: what matters is what is committed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from counterbalance_errors import capture, catalog, context, recorder
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.testing import assert_error
from tests.models import Widget
from tests.support.errorlog_helpers import (
    atomic_requests,
    database_down,
    entry,
    fallback_lines,
    hash_of,
    isolated_database,
    needs_server_database,
    with_isolated_database,
)

pytestmark = pytest.mark.django_db(transaction=True)

MIDDLEWARE = "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"
ROLLBACK_MIDDLEWARE = "tests.views_errorlog.RollbackOnErrorMiddleware"


@pytest.fixture
def atomic(monkeypatch: pytest.MonkeyPatch) -> Any:
    with atomic_requests(monkeypatch):
        yield


class Boom(Exception):
    pass


# --- ATOMIC_REQUESTS -----------------------------------------------------------------------


@pytest.mark.usefixtures("atomic")
@pytest.mark.parametrize(
    ("then", "code", "status"),
    [("unhandled", "InternalError", 500), ("conflict", "Conflict", 409)],
)
def test_drf_view_write_rolled_back_error_row_committed(
    client: Client, debug: bool, then: str, code: str, status: int
) -> None:
    response = client.post(
        "/drf/widgets/", {"name": "doomed", "then": then}, content_type="application/json"
    )
    if not (debug and status == 500):
        assert_error(response, code, status=status, logged=True)
    assert not Widget.objects.exists()
    row = entry(response)
    assert row.code == code
    assert row.body == {"name": "doomed", "then": then}


@pytest.mark.usefixtures("atomic")
@pytest.mark.parametrize(
    ("then", "code"), [("unhandled", "InternalError"), ("integrity", "Conflict")]
)
def test_plain_view_write_rolled_back_error_row_committed(
    client: Client, debug: bool, then: str, code: str
) -> None:
    response = client.get(f"/plain/create-then-fail/?name=doomed&then={then}")
    assert not Widget.objects.exists()
    assert entry(response).code == code


@pytest.mark.usefixtures("atomic")
def test_drf_view_returning_an_error_response(client: Client) -> None:
    # The renderer envelopes it; the view's write is committed (no exception, no rollback).
    response = client.post(
        "/errorlog/returns-conflict/", {"name": "kept"}, content_type="application/json"
    )
    assert entry(response).code == "Conflict"
    assert Widget.objects.filter(name="kept").exists()


@pytest.mark.usefixtures("atomic")
@pytest.mark.parametrize(("then", "code"), [("fail", "InternalError"), ("conflict", "Conflict")])
def test_atomic_block_broken_by_integrity_error(client: Client, then: str, code: str) -> None:
    response = client.get(f"/errorlog/broken-atomic/?name=dup&then={then}")
    assert_error(response, code, logged=True)
    assert not Widget.objects.exists()
    assert entry(response).code == code


@pytest.mark.usefixtures("atomic")
@pytest.mark.parametrize("phase", ["request", "response", "template", "request:conflict"])
def test_errors_raised_in_middleware(client: Client, phase: str) -> None:
    path = "/plain/template/" if phase == "template" else "/drf/widgets/"
    response = client.get(path, HTTP_X_BOOM=phase)
    row = entry(response)
    assert row.code == ("Conflict" if phase.endswith("conflict") else "InternalError")
    if row.status == 500:
        assert "tests/middleware.py" in (row.traceback or row.group.traceback)


# --- a transaction around the request ------------------------------------------------------


def test_inside_a_callers_atomic_block_the_record_is_logged_too(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    def request_then_roll_back() -> Any:
        with transaction.atomic():
            response = client.get("/plain/raise/unhandled/")
            assert ErrorLog.objects.filter(logging_hash=hash_of(response)).exists()
            raise Boom(response)  # the caller rolls back: the savepoint's row goes with it

    log = caplog.at_level(logging.WARNING, logger="counterbalance_errors")
    with log, pytest.raises(Boom) as raised:
        request_then_roll_back()
    response = raised.value.args[0]
    assert not ErrorLog.objects.exists()
    lines = fallback_lines(caplog)
    assert [line["logging_hash"] for line in lines] == [hash_of(response)]
    assert "enclosing transaction" in lines[0]["reason"]
    assert lines[0]["exception_class"] == "KeyError"


def test_inside_a_broken_atomic_block_nothing_raises(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"), transaction.atomic():
        Widget.objects.create(name="dup")
        with pytest.raises(IntegrityError):
            Widget.objects.create(name="dup")
        response = client.get("/plain/raise/unhandled/")
        state = context.attach(None, catalog.make("InternalError"))
        recorder.submit(capture.snapshot(None, state))
    assert_error(response, "InternalError", status=500, logged=True)
    assert {line["logging_hash"] for line in fallback_lines(caplog)} == {
        hash_of(response),
        state.logging_hash,
    }
    assert not ErrorLog.objects.exists()


@pytest.fixture(params=[500, 409], ids=["500", "409"])
def under_rollback_middleware(request: pytest.FixtureRequest, settings: Any) -> tuple[int, str]:
    """A middleware above ours rolls back error responses; (status, path) of the error."""
    settings.MIDDLEWARE = [ROLLBACK_MIDDLEWARE, *settings.MIDDLEWARE]
    status = int(request.param)
    return status, "/plain/raise/unhandled/" if status == 500 else "/plain/raise/conflict/"


def test_a_middleware_that_rolls_back_error_responses(
    client: Client, caplog: pytest.LogCaptureFixture, under_rollback_middleware: tuple[int, str]
) -> None:
    status, path = under_rollback_middleware
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get(path)
    assert response.status_code == status
    assert not ErrorLog.objects.exists()  # rolled back by the outer middleware...
    assert [line["logging_hash"] for line in fallback_lines(caplog)] == [hash_of(response)]


@needs_server_database
@pytest.mark.database
@with_isolated_database
def test_isolated_database_commits_despite_an_outer_rollback(
    client: Client,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    under_rollback_middleware: tuple[int, str],
) -> None:
    status, path = under_rollback_middleware
    with isolated_database(settings), caplog.at_level(logging.WARNING):
        response = client.get(path)
    assert entry(response).status == status
    assert fallback_lines(caplog) == []


@needs_server_database
@with_isolated_database
def test_isolated_database_inside_a_callers_rolled_back_atomic(
    client: Client, settings: Any
) -> None:
    def request_then_roll_back() -> None:
        with transaction.atomic():
            Widget.objects.create(name="rolled back")
            raise Boom(client.get("/plain/raise/unhandled/"))

    with isolated_database(settings), pytest.raises(Boom) as raised:
        request_then_roll_back()
    response = raised.value.args[0]
    assert not Widget.objects.exists()
    assert entry(response).exception_class == "KeyError"


@needs_server_database
@with_isolated_database
def test_isolated_database_inside_a_broken_atomic_block(client: Client, settings: Any) -> None:
    with isolated_database(settings), transaction.atomic():
        Widget.objects.create(name="dup")
        with pytest.raises(IntegrityError):
            Widget.objects.create(name="dup")
        state = context.attach(None, catalog.make("InternalError"))
        recorder.submit(capture.snapshot(None, state))
    assert ErrorLog.objects.filter(logging_hash=state.logging_hash).exists()
    assert not Widget.objects.exists()


# --- the database is down ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "code", "status"),
    [
        ("get", "/plain/raise/unhandled/", "InternalError", 500),
        ("get", "/drf/raise/unhandled/", "InternalError", 500),
        ("post", "/drf/raise/conflict/", "Conflict", 409),
        ("get", "/plain/returns-error/", "Conflict", 409),
    ],
)
def test_database_down_still_answers_with_the_hash_and_logs_one_line(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    code: str,
    status: int,
) -> None:
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = getattr(client, method)(path + "?password=hunter2&page=3")
    assert_error(response, code, status=status, logged=True)
    lines = fallback_lines(caplog)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["logging_hash"] == hash_of(response)
    assert line["status"] == status
    assert line["code"] == code
    assert line["query"] == {"password": "[Filtered]", "page": "3"}
    assert line["reason"].startswith("django.db.utils.OperationalError")
    if status == 500:
        assert line["exception_class"] == "KeyError"
        assert "Traceback (most recent call last)" in line["traceback"]
    logged = [r for r in caplog.records if r.name == "counterbalance_errors"]
    assert len(logged) == 1
    assert "\n" not in logged[0].getMessage()
    assert logged[0].logging_hash == hash_of(response)  # type: ignore[attr-defined]
    assert not ErrorLog.objects.exists()


def test_database_down_with_a_session_cookie(
    client: Client, caplog: pytest.LogCaptureFixture, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("bob", password="pw-bob-1")
    client.force_login(user)
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get("/plain/raise/unhandled/")
    assert_error(response, "InternalError", status=500, logged=True)
    assert [line["logging_hash"] for line in fallback_lines(caplog)] == [hash_of(response)]


def test_database_down_async(caplog: pytest.LogCaptureFixture) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient(raise_request_exception=False)
    # The middleware stores through sync_to_async(thread_sensitive=True): in this thread.
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = async_to_sync(client.get)("/async/raise/unhandled/")
    assert_error(response, "InternalError", status=500, logged=True)
    lines = fallback_lines(caplog)
    assert [line["logging_hash"] for line in lines] == [hash_of(response)]
    assert json.dumps(lines[0])
