"""responses.py: answers of unlogged errors are reused only where a profile allows it; a new
envelope is a copy of a blank one Django built, sharing nothing a response changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import translation

from counterbalance_errors import catalog, conf, context, responses
from counterbalance_errors.profiles import CounterbalanceProfile, ProblemDetailsProfile


class PathInBody(CounterbalanceProfile):
    """A subclass that reads the render context without declaring it again."""

    def body(self, error: Any, status: int, logging_hash: Any, ctx: Any) -> Any:
        return {**super().body(error, status, logging_hash, ctx), "path": ctx.path}


def answer(profile: Any, error: catalog.ApiError, path: str = "/") -> Any:
    ctx = context.attach(RequestFactory().get(path), error)
    return responses.rendered_by(profile, error, ctx)


def test_an_unlogged_error_is_rendered_once_per_language() -> None:
    profile = CounterbalanceProfile()
    first = answer(profile, catalog.make("ResourceNotFound"), "/a/")
    assert answer(profile, catalog.make("ResourceNotFound"), "/b/") is first
    with translation.override("de"):
        german = answer(profile, catalog.make("ResourceNotFound"))
    assert german is not first
    assert german.content != first.content
    assert answer(profile, catalog.make("ResourceNotFound", "Order 7 is gone.")) is not first


@pytest.mark.parametrize(
    "error",
    [
        catalog.make("InternalError"),  # logged: its body carries its own hash
        catalog.make(
            "InvalidArgument", details=(catalog.FieldError("name", "blank", "Required."),)
        ),
    ],
    ids=["logged", "details"],
)
def test_logged_errors_and_validation_details_are_rendered_each_time(
    error: catalog.ApiError,
) -> None:
    profile = CounterbalanceProfile()
    assert answer(profile, error) is not answer(profile, error)


@pytest.mark.parametrize("profile", [ProblemDetailsProfile(), PathInBody()], ids=type)
def test_a_profile_that_reads_the_render_context_is_rendered_each_time(profile: Any) -> None:
    first = answer(profile, catalog.make("ResourceNotFound"), "/a/")
    second = answer(profile, catalog.make("ResourceNotFound"), "/b/")
    assert b"/a/" in first.content
    assert b"/b/" in second.content


def test_the_reused_answers_are_bounded() -> None:
    profile = CounterbalanceProfile()
    for n in range(responses.RENDERED_CACHE_SIZE + 10):
        answer(profile, catalog.make("NotAuthorized", f"Not for you, number {n}."))
    kept = conf.effective().derived["rendered"]
    assert 0 < len(kept) <= responses.RENDERED_CACHE_SIZE


def envelope(content_type: str | None = "application/json") -> Any:
    error = catalog.make("NotAuthorized")
    return responses._new_response(
        CounterbalanceProfile()
        .render(error, context.of(None).render_context())
        ._replace(content_type=content_type)
    )


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_a_new_envelope_is_the_response_djangos_constructor_builds(
    content_type: str | None,
) -> None:
    built = HttpResponse(b"x", status=403, content_type=content_type)
    if content_type is None:
        del built["Content-Type"]
    copied = envelope(content_type)
    assert set(vars(copied)) == set(vars(built)) | {responses.ENVELOPE_ATTR}
    assert vars(copied.headers).keys() == vars(built.headers).keys()
    assert dict(copied.items()) == dict(built.items())
    assert copied.status_code == 403
    assert copied.reason_phrase == "Forbidden"
    assert responses.is_envelope(copied)


def test_new_envelopes_share_nothing_a_response_changes() -> None:
    first, second = envelope(), envelope()
    first["Vary"] = "Cookie"
    first.set_cookie("seen", "1")
    first._resource_closers.append(print)
    first.content = b"changed"
    assert (second.has_header("Vary"), dict(second.cookies), second._resource_closers) == (
        False,
        {},
        [],
    )
    assert second.content != b"changed"
    assert not envelope().has_header("Vary")


def test_the_blank_envelopes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(responses, "_blanks", {})
    for n in range(responses.BLANKS_SIZE + 3):
        envelope(f"application/x-{n}+json")
    assert 0 < len(responses._blanks) <= responses.BLANKS_SIZE


def test_a_new_envelope_takes_a_str_body_and_refuses_a_status_django_refuses() -> None:
    rendered = CounterbalanceProfile().render(
        catalog.make("NotAuthorized"), context.of(None).render_context()
    )
    assert responses._new_response(rendered._replace(content='{"é":1}')).content == (
        '{"é":1}'.encode()
    )
    with pytest.raises(ValueError, match="100 to 599"):
        responses._new_response(rendered._replace(status=4040))
