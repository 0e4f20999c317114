"""responses.py: answers of unlogged errors are reused only where a profile allows it."""

from __future__ import annotations

from typing import Any

import pytest
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
