"""Two-phase capture: snapshot() reads on the request thread, Snapshot.build() never does."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import QueryDict
from django.test import Client, RequestFactory
from django.utils import translation

from counterbalance_errors import capture, catalog, context
from counterbalance_errors.scrubbing import FILTERED
from tests.support.errorlog_helpers import fallback_lines, hash_of


def failing(order: dict[str, Any]) -> BaseException:
    try:
        order["total"] = order["missing"]
    except KeyError as exc:
        return exc
    raise AssertionError("did not fail")


def snapshot_of_a_500(request: Any, exc: BaseException) -> capture.Snapshot:
    ctx = context.attach(request, catalog.from_exception(exc))
    return capture.snapshot(request, ctx)


def test_build_reads_neither_the_request_nor_the_exception(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"CAPTURE_LOCALS": True}
    request = RequestFactory().post(
        "/orders/?page=2&token=abc",
        {"quantity": 3, "password": "hunter2"},
        content_type="application/json",
        HTTP_USER_AGENT="curl/8",
    )
    order = {"id": 7}
    exc = failing(order)
    snap = snapshot_of_a_500(request, exc)
    # Everything changes or disappears before the record is built.
    order["id"] = 8
    exc.__traceback__ = None
    request.GET = QueryDict("page=3")
    request.META.clear()
    request._body = b'{"quantity": 4}'  # type: ignore[attr-defined]
    request.path = "/elsewhere/"
    record = snap.build()
    assert record.query == {"page": "2", "token": FILTERED}
    assert record.headers["User-Agent"] == "curl/8"
    assert record.body == {"quantity": 3, "password": FILTERED}
    assert record.path == "/orders/"
    assert record.method == "POST"
    assert record.exception_class == "KeyError"
    assert 'order["total"] = order["missing"]' in record.traceback  # source read at build
    [frame] = [f for f in record.frame_locals if f["frame"].endswith(":failing")]
    assert frame["vars"]["order"] == "{'id': 7}"


def test_messages_are_resolved_in_the_language_of_the_request() -> None:
    request = RequestFactory().get("/")
    with translation.override("de"):
        snap = snapshot_of_a_500(request, failing({}))
    assert snap.build().message == "Ein interner Fehler ist aufgetreten."


def test_bare_is_the_minimal_record() -> None:
    snap = snapshot_of_a_500(RequestFactory().get("/orders/"), failing({}))
    bare = snap.bare()
    assert (bare.logging_hash, bare.status, bare.code) == (snap.logging_hash, 500, "InternalError")
    assert bare.exception_class == "KeyError"
    assert (bare.fingerprint, bare.traceback, bare.path) == ("", "", "")


def test_the_snapshot_carries_the_request_id_and_the_trace_ids() -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1")
    ctx = context.attach(request, catalog.make("InternalError"))
    ctx.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    ctx.sentry_event_id = "e" * 32
    record = capture.snapshot(request, ctx).build()
    assert (record.request_id, record.trace_id, record.sentry_event_id) == (
        "req-1",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "e" * 32,
    )


def test_only_an_error_with_a_logging_hash_is_snapshotted() -> None:
    request = RequestFactory().get("/")
    unlogged = context.attach(request, catalog.make("ResourceNotFound"))
    with pytest.raises(ValueError, match="only an error with a logging_hash"):
        capture.snapshot(request, unlogged)
    with pytest.raises(ValueError, match="only an error with a logging_hash"):
        capture.snapshot(None, context.RequestContext())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"), [("/plain/raise/unhandled/", 500), ("/drf/raise/drf-validation/", 400)]
)
def test_a_capture_that_fails_keeps_the_status_and_logs_the_hash(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    url: str,
    status: int,
) -> None:
    def broken(request: object, ctx: object) -> None:
        raise RuntimeError("a bug in capturing")

    monkeypatch.setattr(capture, "snapshot", broken)
    with caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = client.get(url)

    assert response.status_code == status
    [line] = [line for line in fallback_lines(caplog) if line["logging_hash"] == hash_of(response)]
    assert line["reason"] == "the error could not be captured"
    assert line["status"] == status


# --- what the request thread keeps -----------------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise TypeError("no text")


class Outer:
    class NestedError(Exception):
        pass


def _recurse(depth: int) -> None:
    if depth:
        _recurse(depth - 1)
    raise Outer.NestedError("at the bottom")


def _caret(order: dict[str, int]) -> int:
    return order["total"] + order["missing"]


def _raised(function: Any) -> BaseException:
    try:
        function()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def _chained_context() -> None:
    try:
        _caret({"total": 1})
    except KeyError:
        raise ValueError("while handling")  # noqa: B904 - the context is the point


def _chained_cause() -> None:
    try:
        _caret({"total": 1})
    except KeyError as exc:
        raise RuntimeError("") from exc


def _cause_never_raised() -> None:
    raise RuntimeError("outer") from KeyError("never raised")


def _suppressed() -> None:
    try:
        {}["x"]
    except KeyError:
        raise Unprintable from None


def _with_notes() -> None:
    error = ValueError("noted")
    error.add_note("first note\nsecond line")
    error.__notes__ += [42, Unprintable()]  # type: ignore[attr-defined]
    raise error


def _no_module_name() -> None:
    namespace: dict[str, Any] = {"__builtins__": __builtins__}
    exec("def fail():\n    raise KeyError('in exec')", namespace)
    namespace["fail"]()


def _cycle() -> BaseException:
    first = _raised(lambda: _caret({}))
    second = _raised(lambda: _recurse(0))
    first.__context__, second.__context__ = second, first
    return first


SHAPES = {
    "caret": lambda: _raised(lambda: _caret({"total": 1})),
    "recursion": lambda: _raised(lambda: _recurse(6)),
    "context": lambda: _raised(_chained_context),
    "cause, empty message": lambda: _raised(_chained_cause),
    "cause never raised": lambda: _raised(_cause_never_raised),
    "suppressed, unprintable": lambda: _raised(_suppressed),
    "notes": lambda: _raised(_with_notes),
    "cycle": _cycle,
    "globals without a name": lambda: _raised(_no_module_name),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_copied_chain_formats_as_format_exception(shape: str) -> None:
    import traceback

    exc = SHAPES[shape]()
    chain = capture.copy_chain(exc)
    assert chain is not None
    expected = "".join(traceback.format_exception(exc))
    assert capture.format_chain(chain, capture.Scrubber()) == expected


def _noted_group() -> BaseException:
    group = ExceptionGroup("several", [ValueError("one"), KeyError("two")])
    group.add_note("a note")
    return group


def _string_notes() -> BaseException:
    error = ValueError("odd notes")
    error.__notes__ = "not a list"  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    "make",
    [_noted_group, lambda: SyntaxError("bad", ("x.py", 1, 2, "a b", 1, 3)), _string_notes],
    ids=["group", "syntax", "string notes"],
)
def test_what_the_copy_cannot_format_is_summarised(make: Any) -> None:
    import traceback

    exc = make()
    raised = _raised(lambda: (_ for _ in ()).throw(exc))
    assert capture.copy_chain(raised) is None
    expected = "".join(traceback.format_exception(raised))
    assert capture.format_traceback(raised, capture.Scrubber()) == expected
    snap = snapshot_of_a_500(RequestFactory().get("/"), raised)
    assert snap.chain is None
    assert snap.traceback is not None
    assert snap.build().traceback == expected


def test_a_deferred_traceback_is_made_when_first_needed() -> None:
    snap = snapshot_of_a_500(RequestFactory().get("/"), failing({}))
    expected = snap.build().traceback
    assert 'order["total"] = order["missing"]' in expected
    record = snap.build(defer_traceback=True)
    assert (record.traceback, record.deferred is None) == ("", False)
    assert record.as_dict()["traceback"] == expected  # as a fallback line logs it
    assert "deferred" not in record.as_dict()
    assert (record.traceback, record.deferred) == (expected, None)
    assert record.complete().traceback == expected


def test_a_frame_without_an_instruction_offset_keeps_its_line_number() -> None:
    ref = capture.FrameRef(_caret.__code__, 7, -1, __name__, None, None)
    assert capture._position(ref) == (7, None, None, None)


def test_with_a_traceback_limit_the_chain_is_summarised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.tracebacklimit", 1, raising=False)
    assert capture.copy_chain(SHAPES["recursion"]()) is None


def _reachable(value: Any, seen: set[int] | None = None) -> list[Any]:
    """Every value inside a snapshot: its fields, containers and named tuples, recursively."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    found = [value]
    if hasattr(value, "__dataclass_fields__"):
        children: Any = [getattr(value, name) for name in value.__dataclass_fields__]
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    else:
        children = []
    for child in children:
        found += _reachable(child, seen)
    return found


def test_the_snapshot_holds_no_frame_exception_or_request() -> None:
    import gc
    import types
    import weakref

    from django.http import HttpRequest

    class Marker:
        pass

    def fail(marker: Marker) -> None:
        raise _raised(lambda: _caret({})) from KeyError(marker)

    marker = Marker()
    alive = weakref.ref(marker)
    request = RequestFactory().get("/?a=1", HTTP_USER_AGENT="curl/8")
    exc = _raised(functools.partial(fail, marker))
    snap = snapshot_of_a_500(request, exc)
    kinds = (types.FrameType, types.TracebackType, BaseException, HttpRequest)
    assert not [v for v in _reachable(snap) if isinstance(v, kinds)]
    assert snap.chain is not None
    assert len(snap.chain) == 2
    expected = snap.build().traceback
    del marker, exc, request
    gc.collect()
    assert alive() is None  # the frames that held it are gone
    assert snap.build().traceback == expected


def test_the_fingerprint_is_made_from_the_copied_frames() -> None:
    from counterbalance_errors import fingerprints

    exc = SHAPES["recursion"]()
    snap = snapshot_of_a_500(RequestFactory().get("/"), exc)
    assert snap.build().fingerprint == fingerprints.fingerprint(exc, 500, "InternalError")
    assert snap.fingerprint_parts()[:3] == (
        "exception",
        "tests.test_capture.Outer.NestedError",
        "tests.test_capture:_raised",
    )


def test_query_and_headers_are_copied_from_meta_and_parsed_later(settings: Any) -> None:
    request = RequestFactory().get(
        "/?name=%E9t%E9&tag=a&tag=b&token=abc", HTTP_X_API_KEY="k", HTTP_ACCEPT="text/html"
    )
    request.encoding = "iso-8859-1"
    snap = snapshot_of_a_500(request, failing({}))
    assert "GET" not in request.__dict__
    assert "headers" not in request.__dict__
    assert snap.query is not None
    assert snap.query.kind == "wsgi"
    record = snap.build()
    assert record.query == {"name": "été", "tag": ["a", "b"], "token": FILTERED}
    assert record.headers["Accept"] == "text/html"
    assert record.headers["X-Api-Key"] == FILTERED
    assert record.query == capture.Scrubber().scrub_pairs(
        (k, v) for k, values in request.GET.lists() for v in values
    )


def test_a_query_the_view_replaced_is_stored_as_it_replaced_it() -> None:
    request = RequestFactory().get("/?page=1")
    request.GET = QueryDict("page=2&password=x")
    snap = snapshot_of_a_500(request, failing({}))
    assert snap.build().query == {"page": "2", "password": FILTERED}


def test_an_asgi_query_is_parsed_as_asgi_requests_parse_it() -> None:
    from django.test import AsyncRequestFactory

    request = AsyncRequestFactory().get("/?q=%C3%A9&secret=s")
    snap = snapshot_of_a_500(request, failing({}))
    assert snap.query is not None
    assert snap.query.kind == "asgi"
    assert snap.build().query == {"q": "é", "secret": FILTERED}


def test_a_request_class_with_its_own_query_is_copied_as_it_gives_it() -> None:
    from django.core.handlers.wsgi import WSGIRequest

    class Custom(WSGIRequest):
        @property
        def GET(self) -> QueryDict:  # type: ignore[override]
            return QueryDict("from=property")

    request = Custom(RequestFactory().get("/?from=environ").environ)
    assert snapshot_of_a_500(request, failing({})).build().query == {"from": "property"}


def test_too_many_query_fields_store_no_query(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    request = RequestFactory().get("/?a=1&b=2&c=3")
    assert snapshot_of_a_500(request, failing({})).build().query == {}


# --- the user id -----------------------------------------------------------------------------


def through_auth_middleware(request: Any) -> Any:
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    return request


def test_an_unresolved_user_without_a_session_is_anonymous_without_resolving_it() -> None:
    from django.utils.functional import empty

    request = through_auth_middleware(RequestFactory().get("/"))
    snap = snapshot_of_a_500(request, failing({}))
    assert snap.user_id == ""
    assert request.user._wrapped is empty  # not resolved: no session machinery ran


@pytest.mark.django_db(transaction=True)
def test_an_unresolved_user_with_a_session_cookie_is_resolved(
    client: Client, django_user_model: Any, settings: Any
) -> None:
    user = django_user_model.objects.create_user("dora", password="pw-dora-1")
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    request = RequestFactory().get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = cookie
    snap = snapshot_of_a_500(through_auth_middleware(request), failing({}))
    assert snap.user_id == str(user.pk)


@pytest.mark.django_db(transaction=True)
def test_a_session_the_view_changed_is_resolved_without_a_cookie(django_user_model: Any) -> None:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    user = django_user_model.objects.create_user("erin", password="pw-erin-1")
    request = through_auth_middleware(RequestFactory().get("/"))
    request.session[SESSION_KEY] = str(user.pk)
    request.session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    assert snapshot_of_a_500(request, failing({})).user_id == str(user.pk)


def test_a_lazy_user_that_is_not_the_auth_middlewares_is_resolved() -> None:
    from types import SimpleNamespace

    from django.utils.functional import SimpleLazyObject

    request = through_auth_middleware(RequestFactory().get("/"))
    request.user = SimpleLazyObject(lambda: SimpleNamespace(is_authenticated=True, pk=7))
    assert snapshot_of_a_500(request, failing({})).user_id == "7"


def test_the_async_end_of_a_request_without_a_hash_records_nothing() -> None:
    request = RequestFactory().get("/")
    ctx = context.attach(request, catalog.make("NotAuthorized"))
    ctx.deferred = True
    async_to_sync(capture.arecord_deferred)(request, ctx)
    assert not ctx.deferred
    assert ctx.recorded is None
