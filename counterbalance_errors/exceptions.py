"""Exceptions for the documented cases DRF and Django have no class for.

Each carries its catalog code (``error_code``) and canonical status. They subclass DRF's
``APIException`` so that DRF's own machinery (and other DRF tooling) understands them too; they
work the same in plain Django views through the middleware.

Subclass :class:`CounterbalanceError` for your own documented errors::

    class PaymentRequired(CounterbalanceError):
        status_code = 402
        error_code = "PaymentRequired"
        default_detail = _("A payment is required.")
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django_ratelimit.exceptions import Ratelimited
from rest_framework.exceptions import APIException


class CounterbalanceError(APIException):
    """Base class: ``error_code`` is the stable code clients see."""

    status_code = 500
    error_code = "InternalError"
    default_detail = _("An internal error occurred.")
    default_code = "error"
    retry_after: int | None = None

    def __init__(self, detail: Any = None, code: str | None = None) -> None:
        super().__init__(detail, code)


class Conflict(CounterbalanceError):
    status_code = 409
    error_code = "Conflict"
    default_detail = _("The request conflicts with the current state of the resource.")
    default_code = "conflict"


class InUse(CounterbalanceError):
    status_code = 409
    error_code = "InUseError"
    default_detail = _("The resource is in use and cannot be changed.")
    default_code = "in_use"


class AccountLocked(CounterbalanceError):
    status_code = 403
    error_code = "AccountLocked"
    default_detail = _("The account is locked.")
    default_code = "account_locked"


class InvalidVersion(CounterbalanceError):
    status_code = 400
    error_code = "InvalidVersion"
    default_detail = _("The requested API version is invalid.")
    default_code = "invalid_version"


class NotImplementedYet(CounterbalanceError):
    status_code = 501
    error_code = "NotImplemented"
    default_detail = _("This operation is not implemented.")
    default_code = "not_implemented"


class ServiceUnavailable(CounterbalanceError):
    """503 with ``Retry-After``: ``raise ServiceUnavailable(retry_after=120)``."""

    status_code = 503
    error_code = "ServiceUnavailable"
    default_detail = _("The service is temporarily unavailable; retry later.")
    default_code = "service_unavailable"

    def __init__(
        self, detail: Any = None, code: str | None = None, *, retry_after: int | None = 30
    ) -> None:
        super().__init__(detail, code)
        self.retry_after = retry_after


class RequestTimeout(CounterbalanceError):
    """Raised when a request exceeds its time budget (``TIME_BUDGET``)."""

    status_code = 504
    error_code = "RequestTimeout"
    default_detail = _("The request took too long to process.")
    default_code = "request_timeout"


# django-ratelimit ships no type information, so its base class is Any to mypy.
class RateLimited(Ratelimited):  # type: ignore[misc]
    """django-ratelimit's ``Ratelimited`` that knows how long the window still runs."""

    def __init__(self, wait: float | None = None) -> None:
        super().__init__()
        self.wait = wait
