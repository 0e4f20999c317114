"""Profiles that fail in one method each: the envelope must survive them (J20)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase

from counterbalance_errors.catalog import ApiError
from counterbalance_errors.profiles import CounterbalanceProfile, RenderContext


class ProfileFailure(RuntimeError):
    pass


class Broken_body(CounterbalanceProfile):
    def body(
        self, error: ApiError, status: int, logging_hash: str | None, ctx: RenderContext
    ) -> Any:
        raise ProfileFailure("body")


class Broken_response_headers(CounterbalanceProfile):
    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        raise ProfileFailure("response_headers")


class Broken_error_headers(CounterbalanceProfile):
    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        raise ProfileFailure("error_headers")


class Broken_status(CounterbalanceProfile):
    def status(self, error: ApiError) -> int:
        raise ProfileFailure("status")


class Broken_init(CounterbalanceProfile):
    def __init__(self) -> None:
        raise ProfileFailure("__init__")


class Broken_header_value(CounterbalanceProfile):
    """Fails outside ``render``: Django refuses the header when the response is built."""

    def error_headers(
        self, error: ApiError, status: int, logging_hash: str | None
    ) -> dict[str, str]:
        return {"X-Broken": "one\ntwo"}


class Broken_budget(CounterbalanceProfile):
    def budget(self) -> float | None:
        raise ProfileFailure("budget")


#: One entry per attempt to import tests.profiles_raising (a module that raises when imported).
IMPORT_ATTEMPTS: list[str] = []
