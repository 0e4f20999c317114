"""recording.py: what a logged error's row holds, fingerprints, flood control, the fallback
log line, logging integration, and the paths with and without the middleware."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import AsyncClient, Client
from django.utils import timezone

from counterbalance_errors import capture, catalog, context, fingerprints, logs, recorder, responses
from counterbalance_errors.models import ErrorGroup, ErrorLog
from counterbalance_errors.testing import assert_error
from tests.errorlog_helpers import dump, entry, fallback_lines, hash_of

pytestmark = pytest.mark.django_db


def raise_here(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def raise_elsewhere(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


# --- fingerprints --------------------------------------------------------------------------


def test_fingerprint_ignores_message_and_line_numbers() -> None:
    one = raise_here(KeyError("order 1"))
    two = raise_here(KeyError("order 2"))
    assert fingerprints.fingerprint(one, 500, "InternalError") == fingerprints.fingerprint(
        two, 500, "InternalError"
    )


def test_fingerprint_differs_by_class_and_frames() -> None:
    key_error = fingerprints.fingerprint(raise_here(KeyError()), 500, "InternalError")
    value_error = fingerprints.fingerprint(raise_here(ValueError()), 500, "InternalError")
    elsewhere = fingerprints.fingerprint(raise_elsewhere(KeyError()), 500, "InternalError")
    assert len({key_error, value_error, elsewhere}) == 3
    assert len(key_error) == 64


def test_fingerprint_without_traceback_is_status_and_code() -> None:
    assert fingerprints.fingerprint(None, 409, "Conflict") == fingerprints.fingerprint(
        KeyError("never raised"), 409, "Conflict"
    )
    assert fingerprints.fingerprint(None, 409, "Conflict") != fingerprints.fingerprint(
        None, 409, "InUseError"
    )


def test_library_frames_are_not_in_app() -> None:
    exc = raise_here(KeyError())
    try:
        json.loads("{")
    except ValueError as caught:
        library = caught
    assert [fingerprints.frame_name(f) for f, _ in _frames(exc)] == [
        "tests.test_recording:raise_here"
    ]
    names = [fingerprints.frame_name(f) for f, _ in _frames(library) if fingerprints.is_in_app(f)]
    assert names == ["tests.test_recording:test_library_frames_are_not_in_app"]
    assert len(_frames(library)) > 1


def _frames(exc: BaseException) -> list[Any]:
    import traceback

    return list(traceback.walk_tb(exc.__traceback__))


# --- the stored row ------------------------------------------------------------------------


def test_a_5xx_row_has_every_field(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-7"}
    response = client.get(
        "/plain/raise/unhandled/?page=2&tag=a&tag=b",
        HTTP_USER_AGENT="pytest-agent",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert_error(response, "InternalError", status=500, logged=True)
    row = entry(response)
    assert row.status == 500
    assert row.code == "InternalError"
    assert row.message == "An internal error occurred."
    assert row.exception_class == "KeyError"
    assert row.exception_message == "'secret-key-text'"
    assert "tests/views.py" in row.traceback
    assert row.traceback.rstrip().endswith("KeyError: 'secret-key-text'")
    assert row.group.traceback == row.traceback  # the group's latest full entry's
    assert row.method == "GET"
    assert row.path == "/plain/raise/unhandled/"
    assert row.query == {"page": "2", "tag": ["a", "b"]}
    assert row.headers["User-Agent"] == "pytest-agent"
    assert row.headers["X-Request-Id"] == "req-42"
    assert row.request_id == "req-42"
    assert row.compute_node == "node-7"
    assert row.user_id == ""
    assert row.body is None
    assert row.compact is False
    assert len(row.fingerprint) == 64
    assert row.group.fingerprint == row.fingerprint
    assert row.group.occurrence_count == 1
    assert row.group.first_seen == row.group.last_seen == row.created
    assert str(row) == f"{row.logging_hash} 500 InternalError"
    assert "InternalError" in str(row.group)


def test_a_4xx_row_has_details_and_no_traceback(client: Client) -> None:
    response = client.post(
        "/drf/payload/", {"name": "far too long"}, content_type="application/json"
    )
    row = entry(response)
    assert row.status == 400
    assert row.traceback == ""
    assert row.group.traceback == ""
    fields = {d["field"] for d in row.details}
    assert {"name", "password", "address", "items", "tags"} <= fields
    assert row.body == {"name": "far too long"}


def test_not_logged_statuses_store_nothing(client: Client) -> None:
    client.get("/plain/raise/http404/")
    client.get("/plain/raise/drf-permission/")
    client.get("/no/such/endpoint/")
    assert not ErrorLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_user_id_is_stored(client: Client, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("alice", password="pw-alice-1")
    client.force_login(user)
    assert entry(client.get("/plain/raise/unhandled/")).user_id == str(user.pk)


def test_user_resolved_by_the_view_is_stored_inside_a_transaction(
    client: Client, django_user_model: Any
) -> None:
    # Inside the test's transaction an unresolved user is not looked up (not our
    # transaction); DRF's authentication resolved this one.
    user = django_user_model.objects.create_user("carol", password="pw-carol-1")
    client.force_login(user)
    assert entry(client.get("/drf/raise/unhandled/")).user_id == str(user.pk)
    assert entry(client.get("/plain/raise/unhandled/")).user_id == ""


def test_one_row_per_hash_although_several_entry_points_see_the_error(
    client: Client, debug: bool
) -> None:
    # got_request_exception, handler500 (or the technical page) and the middleware all see
    # this error: one hash, one row.
    response = client.get("/plain/raise/unhandled/")
    assert ErrorLog.objects.count() == 1
    assert entry(response).status == 500


def test_the_same_error_twice_is_one_group(client: Client) -> None:
    first = entry(client.get("/plain/raise/unhandled/"))
    second = entry(client.get("/drf/raise/unhandled/"))
    third = entry(client.get("/plain/raise/unhandled/"))
    assert first.group_id == third.group_id != second.group_id
    group = ErrorGroup.objects.get(pk=first.group_id)
    assert group.occurrence_count == 2
    assert group.first_seen == first.created
    assert group.last_seen == third.created


def test_errors_without_traceback_group_by_status_and_code(client: Client) -> None:
    one = entry(client.get("/plain/returns-error/"))
    two = entry(client.get("/plain/returns-error/"))
    assert one.exception_class == ""
    assert one.code == "Conflict"
    assert one.group_id == two.group_id
    assert one.fingerprint == fingerprints.fingerprint(None, 409, "Conflict")


def test_async_view_is_stored() -> None:
    response = async_to_sync(AsyncClient(raise_request_exception=False).get)(
        "/async/raise/unhandled/"
    )
    assert entry(response).exception_class == "KeyError"


def test_frame_locals_are_off_by_default(client: Client) -> None:
    assert entry(client.get("/errorlog/locals-fail/")).frame_locals is None


def test_frame_locals_when_enabled(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    row = entry(client.get("/errorlog/locals-fail/", HTTP_X_PIN="1234", HTTP_X_TOKEN="abcd"))
    frames = {f["frame"]: f["vars"] for f in row.frame_locals}
    view_vars = frames["tests.views_errorlog:locals_fail"]
    assert view_vars["harmless"] == "'visible-local-value'"
    assert view_vars["pin_code"] == "[Filtered]"  # sensitive_variables
    assert view_vars["user_token"] == "[Filtered]"  # by its name


# --- flood control -------------------------------------------------------------------------


def test_full_entries_keep_their_traceback_and_the_group_row_none(
    client: Client, admin_client: Client
) -> None:
    first, second = (entry(client.get("/plain/raise/unhandled/")) for _ in range(2))
    assert first.group_id == second.group_id
    assert "KeyError: 'secret-key-text'" in first.traceback
    assert first.traceback == second.traceback == second.group.traceback
    assert "traceback" not in {f.name for f in ErrorGroup._meta.concrete_fields}
    for row in (first, second):
        html = admin_client.get(f"/admin/counterbalance_errors/errorlog/{row.pk}/change/").content
        assert "KeyError: &#x27;secret-key-text&#x27;" in html.decode()
        assert "The group&#x27;s first traceback" not in html.decode()
        text = io.StringIO()
        call_command("errorlog", row.logging_hash, stdout=text)
        assert "\nTraceback:\nTraceback (most recent call last)" in text.getvalue()
        text = io.StringIO()
        call_command("errorlog", row.logging_hash, "--json", stdout=text)
        assert json.loads(text.getvalue())["traceback"] == first.group.traceback


def test_a_different_traceback_of_the_same_group_is_stored(client: Client) -> None:
    first = entry(client.get("/errorlog/message-fail/", {"message": "first text"}))
    second = entry(client.get("/errorlog/message-fail/", {"message": "second text"}))
    assert first.group_id == second.group_id
    assert first.traceback.rstrip().endswith("ValueError: first text")
    assert second.traceback.rstrip().endswith("ValueError: second text")
    assert first.group.traceback == second.traceback  # the latest full entry's


def test_past_the_flood_limit_occurrences_are_counted_and_kept_compact(
    client: Client, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 2, "FLOOD_WINDOW": 60}
    hashes = [hash_of(client.get("/plain/raise/unhandled/?page=1")) for _ in range(5)]
    rows = {r.logging_hash: r for r in ErrorLog.objects.select_related("group")}
    assert set(rows) == set(hashes)
    assert [rows[h].compact for h in hashes] == [False, False, True, True, True]
    compact = rows[hashes[-1]]
    assert compact.traceback == compact.message == compact.exception_class == ""
    assert compact.query is compact.headers is compact.details is compact.body is None
    assert compact.group.occurrence_count == 5
    assert compact.group.traceback  # the hash still leads to the group's traceback
    assert compact.path == "/plain/raise/unhandled/"


def test_flood_window_restarts(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 1, "FLOOD_WINDOW": 60}
    assert entry(client.get("/plain/raise/unhandled/")).compact is False
    assert entry(client.get("/plain/raise/unhandled/")).compact is True
    ErrorGroup.objects.update(window_start=timezone.now() - timedelta(seconds=61))
    assert entry(client.get("/plain/raise/unhandled/")).compact is False
    assert entry(client.get("/plain/raise/unhandled/")).compact is True
    assert ErrorGroup.objects.get().occurrence_count == 4


def test_flood_limit_none_keeps_everything(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": None}
    for _ in range(3):
        client.get("/plain/raise/unhandled/")
    assert not ErrorLog.objects.filter(compact=True).exists()


# --- never breaks the response -------------------------------------------------------------


def test_a_failure_while_storing_falls_back_to_one_log_line(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(records: list[capture.Record], alias: str, before_commit: Any = None) -> None:
        raise RuntimeError("storage bug password=hunter2")

    monkeypatch.setattr(recorder, "write_batch", broken)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get("/plain/raise/unhandled/")
    assert_error(response, "InternalError", status=500, logged=True)
    lines = [line for line in fallback_lines(caplog) if line["logging_hash"] == hash_of(response)]
    assert len(lines) == 1
    line = lines[0]
    assert line["reason"] == "RuntimeError: storage bug password=[Filtered]"
    assert line["status"] == 500
    assert line["code"] == "InternalError"
    assert line["exception_class"] == "KeyError"
    assert "raise RAISES[kind]()" in line["traceback"]
    assert line["path"] == "/plain/raise/unhandled/"
    assert not ErrorLog.objects.exists()


def test_reentrant_store_only_logs(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    original = recorder.write_batch
    inner = context.attach(None, catalog.make("InternalError"))

    def storing_again(records: list[capture.Record], alias: str, before_commit: Any = None) -> None:
        recorder.submit(capture.snapshot(None, inner))
        original(records, alias, before_commit)

    monkeypatch.setattr(recorder, "write_batch", storing_again)
    outer = context.attach(None, catalog.from_exception(raise_here(KeyError())))
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        recorder.submit(capture.snapshot(None, outer))
    assert not ErrorLog.objects.filter(logging_hash=inner.logging_hash).exists()
    lines = fallback_lines(caplog)
    assert [line["logging_hash"] for line in lines if "while storing" in line["reason"]] == [
        inner.logging_hash
    ]
    assert ErrorLog.objects.filter(logging_hash=outer.logging_hash).exists()


def test_build_never_raises_on_a_hostile_request(client: Client) -> None:
    # An unparsable body with a JSON content type, and a lying Content-Length.
    response = client.post(
        "/errorlog/plain-json-fail/", data=b'{"a": [1, 2', content_type="application/json"
    )
    assert entry(response).body == "[not stored: not valid JSON]"


def test_store_without_a_request(caplog: pytest.LogCaptureFixture) -> None:
    response = responses.error_response(None, catalog.make("InternalError"))
    row = entry(response)
    assert row.method == ""
    assert row.path == ""
    assert row.query is None


@pytest.mark.django_db(transaction=True)
def test_storing_on_an_event_loop_never_blocks_it_and_falls_back_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Async callers store through sync_to_async (the ASGI wrapper, the middleware). Called on
    # the loop itself, nothing waits for the database: the record goes to the log line.
    async def answer() -> Any:
        return responses.error_response(None, catalog.make("ServiceUnavailable"))

    with caplog.at_level(logging.ERROR, logger="counterbalance_errors"):
        response = async_to_sync(answer)()
    assert not ErrorLog.objects.exists()
    [line] = [line for line in fallback_lines(caplog) if line["logging_hash"] == hash_of(response)]
    assert line["code"] == "ServiceUnavailable"
    assert "SynchronousOnlyOperation" in line["reason"]


# --- without the middleware ----------------------------------------------------------------


@pytest.fixture
def without_middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "counterbalance_errors.middleware.ErrorEnvelopeMiddleware"
    ]


@pytest.mark.parametrize("middleware", [True, False])
@pytest.mark.parametrize("incoming", ["req-42", "not a safe id", ""])
def test_the_stored_request_id_is_the_one_the_response_carries(
    client: Client, settings: Any, middleware: bool, incoming: str
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "green_stack"}
    if not middleware:
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "ErrorEnvelope" not in m]
    response = client.get("/plain/raise/unhandled/", HTTP_X_REQUEST_ID=incoming)
    sent = response["X-Green-Stack-Request-ID"]
    assert sent
    assert (
        ErrorLog.objects.get(logging_hash=json.loads(response.content)["trace"]).request_id == sent
    )
    assert (sent == incoming) is (incoming == "req-42")


@pytest.mark.usefixtures("without_middleware")
def test_without_middleware_handler500_stores(client: Client) -> None:
    response = client.get("/plain/raise/unhandled/")
    assert entry(response).exception_class == "KeyError"
    assert ErrorLog.objects.count() == 1


@pytest.mark.usefixtures("without_middleware")
def test_without_middleware_under_debug_the_signal_stores(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    response = client.get("/plain/raise/unhandled/")
    assert response.status_code == 500  # Django's technical page: no envelope, no hash
    row = ErrorLog.objects.get()
    assert row.exception_class == "KeyError"


@pytest.mark.usefixtures("without_middleware")
def test_without_middleware_drf_4xx_stores(client: Client) -> None:
    assert entry(client.get("/drf/raise/conflict/")).code == "Conflict"


# --- logging integration -------------------------------------------------------------------


def test_hash_is_on_the_django_request_record_and_the_signal_fires_once(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    fired: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        fired.append(kwargs)

    got_request_exception.connect(receiver)
    try:
        with caplog.at_level(logging.WARNING, logger="django.request"):
            response = client.get("/plain/raise/unhandled/")
    finally:
        got_request_exception.disconnect(receiver)
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].logging_hash == hash_of(response)  # type: ignore[attr-defined]
    assert len(fired) == 1


def test_hash_is_on_4xx_django_request_records(client: Client, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/plain/raise/conflict/")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.logging_hash for r in records] == [hash_of(response)]


def test_logging_filter_is_installed_once_and_usable_in_handlers() -> None:
    logs.install_logging_filter()
    request_logger = logging.getLogger("django.request")
    installed = [f for f in request_logger.filters if isinstance(f, logs.LoggingHashFilter)]
    assert len(installed) == 1
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert logs.LoggingHashFilter().filter(record) is True
    assert record.logging_hash is None  # type: ignore[attr-defined]


def test_isolated_database_is_refused_on_sqlite(settings: Any) -> None:
    connections.settings["sqlite_twin"] = {
        **connections[DEFAULT_DB_ALIAS].settings_dict,
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }
    try:
        settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "sqlite_twin"}
        assert recorder.isolated_alias(DEFAULT_DB_ALIAS) is None
        settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": "no-such-alias"}
        assert recorder.isolated_alias(DEFAULT_DB_ALIAS) is None
        settings.COUNTERBALANCE_ERRORS = {"ISOLATED_DATABASE": DEFAULT_DB_ALIAS}
        assert recorder.isolated_alias(DEFAULT_DB_ALIAS) is None
    finally:
        connections["sqlite_twin"].close()
        del connections["sqlite_twin"]
        del connections.settings["sqlite_twin"]


def test_row_dump_helper_sees_every_column(client: Client) -> None:
    text = dump(entry(client.get("/plain/raise/unhandled/?page=9")))
    assert '"page": "9"' in text
    assert "occurrence_count" in text
