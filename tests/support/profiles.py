"""Profiles of one's own that the tests select by dotted path."""

from __future__ import annotations

from typing import Any

from counterbalance_errors.profiles import ProblemDetailsProfile, Profile


class TeapotProfile(Profile):
    """A profile of one's own, in a few lines (docs/profiles.md)."""

    name = "teapot"
    hash_header = "X-Teapot-Hash"

    def body(self, error: Any, status: int, logging_hash: Any, ctx: Any) -> Any:
        return {"oops": error.code, "hash": logging_hash}

    def response_headers(self, ctx: Any, response: Any) -> dict[str, str]:
        return {"X-Teapot": "short and stout"}


class NotAProfile:
    pass


class TypedProblems(ProblemDetailsProfile):
    def problem_type(self, error: Any) -> str:
        return f"https://errors.example.com/{error.code}"
