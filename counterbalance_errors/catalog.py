"""The canonical error catalog: every exception becomes one :class:`ApiError`.

Pure logic: nothing here touches the ORM, a request or a response. Profiles render the value
this module produces; the middleware, the DRF handler and the URLconf views only decide *when*
to call :func:`from_exception`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, ClassVar, NamedTuple

from django.core import exceptions as django_exceptions
from django.core.signals import setting_changed
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.dispatch import receiver
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, ngettext
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf_exceptions
from rest_framework.settings import api_settings

from counterbalance_errors import conf, exceptions

#: Longest message a 4xx error may carry; longer developer or client text is truncated.
MAX_MESSAGE_LENGTH = 512
#: Retry-After used for a stock ``Ratelimited`` or ``Throttled`` that knows no window.
DEFAULT_THROTTLE_RETRY_AFTER = 60
#: Retry-After used when the database is unavailable.
DEFAULT_UNAVAILABLE_RETRY_AFTER = 30


class CatalogMessage(Promise):
    """A catalog message: lazy like ``gettext_lazy``, translated once per language.

    ``str()`` of a ``gettext_lazy`` proxy runs the whole gettext lookup (the active
    translation's catalog, then its fallbacks) on every error; this keeps each language's
    text after its first use, so an error costs one ``get_language()`` (docs/performance.md).
    The texts are forgotten when the translation settings change (``override_settings``).
    """

    __slots__ = ("_texts", "msgid")
    _all: ClassVar[list[CatalogMessage]] = []

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid
        self._texts: dict[str | None, str] = {}
        CatalogMessage._all.append(self)

    def __str__(self) -> str:
        language = get_language()
        text = self._texts.get(language)
        if text is None:
            text = self._texts[language] = gettext(self.msgid)
        return text

    def __repr__(self) -> str:
        return f"CatalogMessage({self.msgid!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CatalogMessage):
            return self.msgid == other.msgid
        return str(self) == other if isinstance(other, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)


def _(msgid: str) -> CatalogMessage:  # the name makemessages looks for
    return CatalogMessage(msgid)


@receiver(setting_changed)
def _forget_translations(*, setting: str, **kwargs: Any) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        for message in CatalogMessage._all:
            message._texts.clear()


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    status: int
    message: str | Promise
    description: str


#: code → (canonical status, default client-safe message). ``docs/errors.md`` is checked
#: against this table by the test suite.
CATALOG: dict[str, CatalogEntry] = {
    "BadRequest": CatalogEntry(
        400,
        _("The request is malformed."),
        "malformed request: DRF `ParseError`, `BadRequest`, `SuspiciousOperation`, "
        "`MultiPartParserError`",
    ),
    "InvalidArgument": CatalogEntry(
        400,
        _("One or more arguments are invalid."),
        "DRF or Django `ValidationError`",
    ),
    "MissingParameter": CatalogEntry(
        400,
        _("One or more required parameters are missing."),
        "a `ValidationError` whose every problem is a missing required field",
    ),
    "InvalidHeader": CatalogEntry(
        400, _("A request header is invalid."), "`DisallowedHost`, an invalid header"
    ),
    "InvalidVersion": CatalogEntry(
        400, _("The requested API version is invalid."), "an invalid API version (DRF versioning)"
    ),
    "EndpointNotFound": CatalogEntry(
        404, _("The requested endpoint does not exist."), "no URL pattern matches the path"
    ),
    "InvalidCredentials": CatalogEntry(
        401,
        _("Authentication credentials were missing or invalid."),
        "`NotAuthenticated`, `AuthenticationFailed`",
    ),
    "NotAuthorized": CatalogEntry(
        403,
        _("You do not have permission to perform this action."),
        "`PermissionDenied` (DRF or Django)",
    ),
    "AccountLocked": CatalogEntry(
        403, _("The account is locked."), "`counterbalance_errors.exceptions.AccountLocked`"
    ),
    "CsrfFailed": CatalogEntry(
        403,
        _("CSRF verification failed."),
        "a CSRF failure (plain views and DRF session authentication)",
    ),
    "ResourceNotFound": CatalogEntry(
        404,
        _("The requested resource was not found."),
        "`Http404`, `NotFound`, `ObjectDoesNotExist`",
    ),
    "MethodNotAllowed": CatalogEntry(
        405,
        _("The method is not allowed for this resource."),
        "`MethodNotAllowed`, a 405 response",
    ),
    "NotAcceptable": CatalogEntry(
        406, _("No acceptable representation is available."), "`NotAcceptable`"
    ),
    "Conflict": CatalogEntry(
        409,
        _("The request conflicts with the current state of the resource."),
        "`IntegrityError`, `counterbalance_errors.exceptions.Conflict`",
    ),
    "InUseError": CatalogEntry(
        409,
        _("The resource is in use and cannot be changed."),
        "`ProtectedError`, `RestrictedError`, `counterbalance_errors.exceptions.InUse`",
    ),
    "RequestTooLarge": CatalogEntry(
        413,
        _("The request is too large."),
        "`RequestDataTooBig`, `TooManyFieldsSent`, `TooManyFilesSent`",
    ),
    "UnsupportedMediaType": CatalogEntry(
        415, _("The request media type is not supported."), "`UnsupportedMediaType`"
    ),
    "RequestThrottled": CatalogEntry(
        429,
        _("Too many requests; retry later."),
        "DRF `Throttled`, django-ratelimit `Ratelimited`",
    ),
    "InternalError": CatalogEntry(500, _("An internal error occurred."), "anything unhandled"),
    "NotImplemented": CatalogEntry(
        501,
        _("This operation is not implemented."),
        "`NotImplementedError`, `counterbalance_errors.exceptions.NotImplementedYet`",
    ),
    "ServiceUnavailable": CatalogEntry(
        503,
        _("The service is temporarily unavailable; retry later."),
        "`OperationalError`, `InterfaceError`, "
        "`counterbalance_errors.exceptions.ServiceUnavailable`",
    ),
    "RequestTimeout": CatalogEntry(
        504,
        _("The request took too long to process."),
        "the request time budget was exceeded",
    ),
}

#: The code used for a bare status (a response returned by a view, not an exception).
STATUS_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "InvalidCredentials",
    403: "NotAuthorized",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "RequestTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidArgument",
    429: "RequestThrottled",
    501: "NotImplemented",
    503: "ServiceUnavailable",
    504: "RequestTimeout",
}


class FieldError(NamedTuple):
    """One validation problem: a dotted path, DRF's error code and a message.

    A named tuple: a validation 400 builds one per problem, and a tuple costs a tenth of a
    frozen dataclass to make (docs/performance.md).
    """

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


#: Makes a :class:`FieldError` from a ``(field, code, message)`` tuple without the Python-level
#: ``__new__`` a named tuple's constructor runs.
_field_error = partial(tuple.__new__, FieldError)


@dataclass(slots=True)
class ApiError:
    """The canonical error value every profile renders.

    ``status`` is the canonical status of SPEC §3; a profile may answer with another one.
    ``message`` may be a lazy translation and is resolved when the profile renders it.
    ``headers`` carries ``Allow``, ``WWW-Authenticate`` and similar headers verbatim.

    Treat it as a value: for a changed error make a copy with ``dataclasses.replace``. It is
    not frozen only because a frozen dataclass sets each field through
    ``object.__setattr__``, which made building the one error of a request cost 15,000
    instructions instead of 3,000 (docs/performance.md).
    """

    status: int
    code: str
    message: str | Promise
    details: tuple[FieldError, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


def make(code: str, message: str | Promise | None = None, **kwargs: Any) -> ApiError:
    """An :class:`ApiError` for a catalog ``code`` with its canonical status and message."""
    entry = CATALOG[code]
    return ApiError(
        status=kwargs.pop("status", entry.status),
        code=code,
        message=entry.message if message is None else message,
        **kwargs,
    )


def truncate(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clamp_retry_after(seconds: float | None, default: int) -> int:
    """Retry-After in whole seconds, never below 1 (django-ratelimit's ``1/s`` says 0)."""
    if seconds is None or seconds < 0:
        return max(1, default)
    return max(1, math.ceil(seconds))


def from_status(status: int, *, headers: Mapping[str, str] | None = None) -> ApiError:
    """The error for a response that carries only a status (a view returned it).

    A 429 or 503 says when to retry (SPEC §3), as a raised one does; a ``Retry-After`` the
    response already has is kept (:func:`counterbalance_errors.responses.apply`).
    """
    code = STATUS_CODES.get(status)
    if code is None:
        code = "InternalError" if status >= 500 else "BadRequest"
    entry = CATALOG[code]
    return ApiError(
        status=status,
        code=code,
        message=entry.message,
        headers=headers or {},
        retry_after=_DEFAULT_RETRY_AFTER.get(status),
    )


_DEFAULT_RETRY_AFTER = {
    429: DEFAULT_THROTTLE_RETRY_AFTER,
    503: DEFAULT_UNAVAILABLE_RETRY_AFTER,
}


# ``{"detail": ...}`` is DRF's error body; djangorestframework-simplejwt adds "code" and
# "messages". Such a body is one message, not validation errors on fields named "code".
_DETAIL_KEYS = frozenset({"detail", "code", "messages"})


def from_response_data(status: int, data: Any) -> ApiError:
    """The error for a DRF ``Response(data, status=4xx/5xx)`` a view returned itself.

    ``Response(serializer.errors, status=400)`` is the common case: its data become details.
    """
    if status >= 500:
        return from_status(status)
    if isinstance(data, Mapping) and "detail" in data and set(data) <= _DETAIL_KEYS:
        error = from_status(status)
        if isinstance(data["detail"], str):
            error = replace(error, message=truncate(data["detail"]))
        return error
    if status in (400, 422) and isinstance(data, (Mapping, list)) and data:
        return replace(_from_validation(data), status=status)
    return from_status(status)


def from_exception(exc: BaseException) -> ApiError:
    """Map any exception to its canonical error (SPEC §3). Never raises."""
    error = _map(exc)
    # ``_map`` made this value for this call alone: the exception is set on it in place rather
    # than on a copy (``dataclasses.replace`` introspects the fields on every call).
    error.exception = exc
    return error


def _map(exc: BaseException) -> ApiError:
    if isinstance(exc, exceptions.CounterbalanceError):
        return _from_own(exc)
    if isinstance(exc, Ratelimited):
        wait = getattr(exc, "wait", None)
        return make(
            "RequestThrottled",
            retry_after=clamp_retry_after(wait, DEFAULT_THROTTLE_RETRY_AFTER),
        )
    if isinstance(exc, drf_exceptions.APIException):
        return _from_drf(exc)
    if isinstance(exc, django_exceptions.ValidationError):
        return _from_validation(_django_validation_detail(exc))
    if isinstance(exc, django_exceptions.DisallowedHost):
        return make("InvalidHeader")
    if isinstance(
        exc,
        (
            django_exceptions.RequestDataTooBig,
            django_exceptions.TooManyFieldsSent,
            django_exceptions.TooManyFilesSent,
        ),
    ):
        return make("RequestTooLarge")
    if isinstance(
        exc,
        (django_exceptions.SuspiciousOperation, django_exceptions.BadRequest, MultiPartParserError),
    ):
        return make("BadRequest")
    if isinstance(exc, Resolver404):
        return make("EndpointNotFound")
    if isinstance(exc, (Http404, django_exceptions.ObjectDoesNotExist)):
        return make("ResourceNotFound")
    if isinstance(exc, django_exceptions.PermissionDenied):
        return make("NotAuthorized")
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return make("InUseError")
    if isinstance(exc, IntegrityError):
        return make("Conflict")
    if isinstance(exc, (OperationalError, InterfaceError)):
        return make("ServiceUnavailable", retry_after=DEFAULT_UNAVAILABLE_RETRY_AFTER)
    if isinstance(exc, NotImplementedError):
        return make("NotImplemented")
    if isinstance(exc, RecursionError) and _raised_by_json(exc):
        return make("BadRequest")  # a body nested deeper than the parser can go
    return make("InternalError")


def _raised_by_json(exc: BaseException) -> bool:
    """The innermost frame is the ``json`` module's: DRF's ``JSONParser``, ``json.loads`` of
    a request body (the C decoder stops at the recursion limit after a few frames)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
    return module == "json" or module.startswith("json.")


def _from_own(exc: exceptions.CounterbalanceError) -> ApiError:
    entry = CATALOG.get(exc.error_code)
    status = exc.status_code
    message: str | Promise
    if exc.status_code >= 500:
        message = entry.message if entry else CATALOG["InternalError"].message
    else:
        message = _explicit_message(exc, entry.message if entry else exc.default_detail)
    retry_after = exc.retry_after
    if retry_after is not None or exc.error_code == "ServiceUnavailable":
        # SPEC §3: a 503 always says when to retry, even ``ServiceUnavailable(retry_after=None)``.
        retry_after = clamp_retry_after(retry_after, DEFAULT_UNAVAILABLE_RETRY_AFTER)
    return ApiError(status=status, code=exc.error_code, message=message, retry_after=retry_after)


# DRF exceptions whose detail interpolates client input or says nothing our message doesn't.
_FIXED_MESSAGE_DRF = (
    drf_exceptions.MethodNotAllowed,
    drf_exceptions.NotAcceptable,
    drf_exceptions.UnsupportedMediaType,
    drf_exceptions.Throttled,
)

_DRF_CODES: tuple[tuple[type[drf_exceptions.APIException], str], ...] = (
    (drf_exceptions.ParseError, "BadRequest"),
    (drf_exceptions.NotAuthenticated, "InvalidCredentials"),
    (drf_exceptions.AuthenticationFailed, "InvalidCredentials"),
    (drf_exceptions.NotFound, "ResourceNotFound"),
    (drf_exceptions.MethodNotAllowed, "MethodNotAllowed"),
    (drf_exceptions.NotAcceptable, "NotAcceptable"),
    (drf_exceptions.UnsupportedMediaType, "UnsupportedMediaType"),
    (drf_exceptions.Throttled, "RequestThrottled"),
    (drf_exceptions.PermissionDenied, "NotAuthorized"),
)


_DRF_CODE_OF: dict[type, str | None] = {}


def _drf_code(cls: type) -> str | None:
    """The catalog code of a DRF exception class (its first matching base), once per class."""
    try:
        return _DRF_CODE_OF[cls]
    except KeyError:
        code = _DRF_CODE_OF[cls] = next(
            (c for base, c in _DRF_CODES if issubclass(cls, base)), None
        )
        return code


def _from_drf(exc: drf_exceptions.APIException) -> ApiError:
    if isinstance(exc, drf_exceptions.ValidationError):
        return _from_validation(exc.detail)
    code = _DRF_CODE_OF.get(type(exc)) or _drf_code(type(exc))
    headers: dict[str, str] = {}
    retry_after = None
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = str(auth_header)
    if isinstance(exc, drf_exceptions.Throttled):
        retry_after = clamp_retry_after(getattr(exc, "wait", None), DEFAULT_THROTTLE_RETRY_AFTER)
    if (
        isinstance(exc, drf_exceptions.PermissionDenied)
        and isinstance(exc.detail, str)
        and exc.detail.startswith("CSRF Failed")
    ):
        # DRF's SessionAuthentication reports CSRF as a plain PermissionDenied.
        code = "CsrfFailed"
    status = exc.status_code
    if code is None:
        code = STATUS_CODES.get(status) or ("InternalError" if status >= 500 else "BadRequest")
    if code == "InvalidCredentials":
        # DRF answers 403 when the first authenticator offers no WWW-Authenticate; the
        # catalog says 401 (SPEC §3), the header is added when one is offered.
        status = 401
    entry = CATALOG[code]
    message: str | Promise
    if status >= 500 or isinstance(exc, _FIXED_MESSAGE_DRF) or code == "CsrfFailed":
        message = entry.message
    else:
        message = _explicit_message(exc, entry.message)
    return ApiError(
        status=status, code=code, message=message, headers=headers, retry_after=retry_after
    )


def _explicit_message(exc: drf_exceptions.APIException, default: str | Promise) -> str | Promise:
    """The developer's own message when they gave one, else the catalog's (translatable)."""
    detail: Any = exc.detail
    if not isinstance(detail, str):  # the common case first: no ABC check
        if isinstance(detail, Mapping) and "detail" in detail:
            # e.g. djangorestframework-simplejwt: {"detail": ..., "code": ..., "messages": [...]}
            detail = detail["detail"]
        if not isinstance(detail, str):
            return default
    # DRF's untranslated default first: the common case then costs no translation lookup
    # (~6 µs a 4xx, docs/performance.md). ``_args`` is the lazy string's msgid.
    msgid = getattr(exc.default_detail, "_args", None)
    if (msgid and detail == msgid[0]) or str(detail) == str(exc.default_detail):
        return default
    return truncate(str(detail))


def _django_validation_detail(exc: django_exceptions.ValidationError) -> Any:
    from rest_framework.serializers import as_serializer_error

    detail = as_serializer_error(exc)
    # Django's model-level key is "__all__"; clients see DRF's non-field key instead.
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    return {
        non_field if key == django_exceptions.NON_FIELD_ERRORS else key: value
        for key, value in detail.items()
    }


def _from_validation(detail: Any) -> ApiError:
    details, missing = flatten_validation(detail, conf.effective().values["MAX_DETAILS"])
    code = "MissingParameter" if missing else "InvalidArgument"
    entry = CATALOG[code]
    return ApiError(status=entry.status, code=code, message=entry.message, details=details)


#: The code of the last ``details`` entry when some were left out (``MAX_DETAILS``).
TRUNCATED_CODE = "details_truncated"

#: Marks a list item that is a message of the list's own path (not an indexed child).
_SAME_PATH = object()


def _list_children(node: list[Any] | tuple[Any, ...]) -> Iterator[tuple[object, Any]]:
    # Messages belong to the list's own path; anything nested is an indexed item (the older
    # ListSerializer shape, ``[{}, {"email": [...]}]``).
    for index, item in enumerate(node):
        # DRF's messages are ErrorDetail strings: the cheap test first (no ABC check).
        yield (_SAME_PATH if isinstance(item, str) or _is_message(item) else index), item


def flatten_validation(
    detail: Any, limit: int | None = None
) -> tuple[tuple[FieldError, ...], bool]:
    """Flatten DRF validation errors of any shape into one entry per problem.

    Returns the entries and whether every problem is a missing required field. Handles DRF
    3.18's dict-shaped list errors (``{0: {...}}``, index 0 included), the older list shape
    with ``{}`` placeholders, lists inside lists, several errors per field, and depth without
    recursion limits (a stack of iterators, depth-first, in document order). Past ``limit``
    entries, problems are only counted: no entry is built for them, and a last entry
    (:data:`TRUNCATED_CODE`) says how many were left out, so that 100 000 invalid items cost
    a bounded response and no more memory than DRF's own error tree.
    """
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    flat = _flatten_fields(detail, limit, non_field)
    if flat is not None:
        return flat
    details: list[FieldError] = []
    room = -1 if limit is None else limit
    omitted = 0
    all_required = True
    stack: list[tuple[str, Iterator[tuple[object, Any]]]] = [("", iter(((_SAME_PATH, detail),)))]
    while stack:
        path, children = stack[-1]
        for key, node in children:
            node_path = path
            if key is not _SAME_PATH:
                node_path = f"{path}.{key}" if path else str(key)
            if not isinstance(node, str):  # ErrorDetail, the common leaf: no ABC check
                if isinstance(node, (list, tuple)):
                    stack.append((node_path, _list_children(node)))
                    break
                if isinstance(node, (dict, Mapping)):
                    stack.append((node_path, iter(node.items())))
                    break
            code = getattr(node, "code", None) or "invalid"
            if code != "required":
                all_required = False
            if room == 0:
                omitted += 1
                continue
            room -= 1
            details.append(_problem(_field_path(node_path, non_field), code, node))
        else:
            stack.pop()
    if omitted:
        message = ngettext(
            "%(count)d more problem was left out.",
            "%(count)d more problems were left out.",
            omitted,
        ) % {"count": omitted}
        details.append(FieldError(field=non_field, code=TRUNCATED_CODE, message=message))
    return tuple(details), bool(details) and all_required


def _field_path(path: str, non_field: str) -> str:
    if not path:
        return non_field
    # DictField keys are client input: a path is capped like a message.
    return path if len(path) <= MAX_MESSAGE_LENGTH else truncate(path)


def _problem(field: str, code: object, node: Any) -> FieldError:
    message = str(node)
    return _field_error(
        (field, str(code), message if len(message) <= MAX_MESSAGE_LENGTH else truncate(message))
    )


def _flatten_fields(
    detail: Any, limit: int | None, non_field: str
) -> tuple[tuple[FieldError, ...], bool] | None:
    """:func:`flatten_validation` of the common shape, a serializer's ``errors``: a dict of
    field name to a list of messages, within ``limit``. None for any other shape (the general
    walk then starts over), so this only skips the walk's stack of iterators (docs/performance.md).
    """
    if not isinstance(detail, dict):
        return None
    details: list[FieldError] = []
    room = -1 if limit is None else limit
    all_required = True
    for key, messages in detail.items():
        if type(messages) is not list:
            return None
        field = key if type(key) is str else str(key)
        if not field or len(field) > MAX_MESSAGE_LENGTH:
            field = _field_path(field, non_field)
        for node in messages:
            if not isinstance(node, str):
                return None
            code = getattr(node, "code", None) or "invalid"
            if code != "required":
                all_required = False
            if room == 0:  # past the limit: the general walk counts what is left out
                return None
            room -= 1
            # _problem() inlined: this loop runs once per problem of every validation 400.
            message = str(node)
            if len(message) > MAX_MESSAGE_LENGTH:
                message = truncate(message)
            details.append(_field_error((field, str(code), message)))
    return tuple(details), bool(details) and all_required


def _is_message(node: Any) -> bool:
    return not isinstance(node, (Mapping, list, tuple))
