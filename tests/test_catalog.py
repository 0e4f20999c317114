"""The pure catalog: exception → canonical error, messages, Retry-After and validation details.

No database and no request: these call :mod:`counterbalance_errors.catalog` directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import exceptions as dj
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404
from django.utils.translation import gettext_lazy, override
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.exceptions import ErrorDetail

from counterbalance_errors import catalog
from counterbalance_errors import exceptions as cb
from counterbalance_errors.catalog import FieldError, flatten_validation
from tests.models import Widget
from tests.support.drf_compat import LIST_ERROR_SHAPES, list_shape_warning
from tests.support.views_drf import (
    CLASHING_PAYLOAD,
    INVALID_ITEMS,
    INVALID_PAYLOAD,
    ITEMS_DETAILS,
    PAYLOAD_DETAILS,
)
from tests.views import ItemSerializer, PayloadSerializer

SECRET = "secret-text-hunter2"


def not_authenticated_coerced() -> drf.NotAuthenticated:
    # What DRF's handle_exception does when the first authenticator offers no header.
    exc = drf.NotAuthenticated()
    exc.status_code = 403
    return exc


def with_auth_header(exc: drf.APIException) -> drf.APIException:
    exc.auth_header = 'Basic realm="api"'  # type: ignore[attr-defined]
    return exc


# (exception factory, canonical status, code); order matters only for readability.
MAPPING: list[tuple[Callable[[], BaseException], int, str]] = [
    (lambda: drf.ParseError(), 400, "BadRequest"),
    (lambda: dj.BadRequest(SECRET), 400, "BadRequest"),
    (lambda: dj.SuspiciousOperation(SECRET), 400, "BadRequest"),
    (lambda: dj.SuspiciousFileOperation(SECRET), 400, "BadRequest"),
    (lambda: dj.SuspiciousMultipartForm(SECRET), 400, "BadRequest"),
    (lambda: dj.DisallowedRedirect(SECRET), 400, "BadRequest"),
    (lambda: MultiPartParserError(SECRET), 400, "BadRequest"),
    (lambda: drf.ValidationError({"name": ["Too long."]}), 400, "InvalidArgument"),
    (lambda: dj.ValidationError("Bad value."), 400, "InvalidArgument"),
    (lambda: dj.ValidationError({"name": ["Too long."]}), 400, "InvalidArgument"),
    (lambda: dj.ValidationError("Needed.", code="required"), 400, "MissingParameter"),
    # DisallowedHost is a SuspiciousOperation: it must win over BadRequest.
    (lambda: dj.DisallowedHost(SECRET), 400, "InvalidHeader"),
    (lambda: cb.InvalidVersion(), 400, "InvalidVersion"),
    # Resolver404 is an Http404: it must win over ResourceNotFound.
    (lambda: Resolver404({"path": "nope/"}), 404, "EndpointNotFound"),
    (lambda: drf.NotAuthenticated(), 401, "InvalidCredentials"),
    (lambda: drf.AuthenticationFailed(), 401, "InvalidCredentials"),
    (not_authenticated_coerced, 401, "InvalidCredentials"),
    (lambda: drf.PermissionDenied(), 403, "NotAuthorized"),
    (lambda: dj.PermissionDenied(SECRET), 403, "NotAuthorized"),
    (lambda: cb.AccountLocked(), 403, "AccountLocked"),
    (lambda: drf.PermissionDenied("CSRF Failed: CSRF cookie not set."), 403, "CsrfFailed"),
    (lambda: Http404(SECRET), 404, "ResourceNotFound"),
    (lambda: drf.NotFound(), 404, "ResourceNotFound"),
    (lambda: dj.ObjectDoesNotExist(SECRET), 404, "ResourceNotFound"),
    (lambda: Widget.DoesNotExist(SECRET), 404, "ResourceNotFound"),
    (lambda: drf.MethodNotAllowed("PATCH"), 405, "MethodNotAllowed"),
    (lambda: drf.NotAcceptable(), 406, "NotAcceptable"),
    (lambda: IntegrityError(SECRET), 409, "Conflict"),
    (lambda: cb.Conflict(), 409, "Conflict"),
    # ProtectedError and RestrictedError are IntegrityErrors: they must win over Conflict.
    (lambda: ProtectedError(SECRET, set()), 409, "InUseError"),
    (lambda: RestrictedError(SECRET, set()), 409, "InUseError"),
    (lambda: cb.InUse(), 409, "InUseError"),
    # The three size errors are SuspiciousOperations: they must win over BadRequest.
    (lambda: dj.RequestDataTooBig(SECRET), 413, "RequestTooLarge"),
    (lambda: dj.TooManyFieldsSent(SECRET), 413, "RequestTooLarge"),
    (lambda: dj.TooManyFilesSent(SECRET), 413, "RequestTooLarge"),
    (lambda: drf.UnsupportedMediaType("text/x-" + SECRET), 415, "UnsupportedMediaType"),
    (lambda: drf.Throttled(wait=3), 429, "RequestThrottled"),
    # Ratelimited is a Django PermissionDenied: it must win over NotAuthorized.
    (lambda: Ratelimited(), 429, "RequestThrottled"),
    (lambda: cb.RateLimited(wait=5), 429, "RequestThrottled"),
    (lambda: KeyError(SECRET), 500, "InternalError"),
    (lambda: dj.MultipleObjectsReturned(SECRET), 500, "InternalError"),
    (lambda: drf.APIException(SECRET), 500, "InternalError"),
    (lambda: ProgrammingError(SECRET), 500, "InternalError"),
    (lambda: DataError(SECRET), 500, "InternalError"),
    (lambda: DatabaseError(SECRET), 500, "InternalError"),
    (lambda: AssertionError(SECRET), 500, "InternalError"),
    (lambda: NotImplementedError(SECRET), 501, "NotImplemented"),
    (lambda: cb.NotImplementedYet(), 501, "NotImplemented"),
    (lambda: OperationalError(SECRET), 503, "ServiceUnavailable"),
    # InterfaceError is not a DatabaseError subclass: it needs its own branch.
    (lambda: InterfaceError(SECRET), 503, "ServiceUnavailable"),
    (lambda: cb.ServiceUnavailable(), 503, "ServiceUnavailable"),
    (lambda: cb.RequestTimeout(), 504, "RequestTimeout"),
]


@pytest.mark.parametrize(
    ("factory", "status", "code"),
    MAPPING,
    ids=[f"{code}-{i}" for i, (_, _, code) in enumerate(MAPPING)],
)
def test_every_spec_exception_maps_to_its_status_and_code(
    factory: Callable[[], BaseException], status: int, code: str
) -> None:
    exc = factory()
    error = catalog.from_exception(exc)

    assert (error.status, error.code) == (status, code)
    assert error.exception is exc
    assert code in catalog.CATALOG
    assert SECRET not in str(error.message)


def test_interface_error_is_not_a_database_error() -> None:
    # The trap the separate branch exists for (error-paths §8.23).
    assert not issubclass(InterfaceError, DatabaseError)


def test_every_catalog_code_has_a_message_and_a_documented_status() -> None:
    for code, entry in catalog.CATALOG.items():
        assert str(entry.message), code
        assert 400 <= entry.status <= 599, code
        assert catalog.make(code).status == entry.status


def test_make_keeps_canonical_status_unless_overridden() -> None:
    assert catalog.make("Conflict").status == 409
    assert catalog.make("Conflict", status=422).status == 422
    assert str(catalog.make("Conflict", "Mine.").message) == "Mine."


# --- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        KeyError(SECRET),
        drf.APIException(SECRET),
        drf.APIException({"detail": SECRET}),
        OperationalError(SECRET),
        InterfaceError(SECRET),
        NotImplementedError(SECRET),
        cb.ServiceUnavailable(SECRET),
        cb.NotImplementedYet(SECRET),
        cb.RequestTimeout(SECRET),
        cb.CounterbalanceError(SECRET),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_5xx_messages_never_contain_the_exception_text(exc: BaseException) -> None:
    error = catalog.from_exception(exc)

    assert error.status >= 500
    assert SECRET not in str(error.message)
    assert str(error.message) == str(catalog.CATALOG[error.code].message)


def test_drf_apiexception_subclass_with_5xx_status_keeps_fixed_message() -> None:
    class Upstream(drf.APIException):
        status_code = 502

    error = catalog.from_exception(Upstream(SECRET))

    assert (error.status, error.code) == (502, "InternalError")
    assert SECRET not in str(error.message)


def test_drf_explicit_detail_is_kept() -> None:
    error = catalog.from_exception(drf.NotFound("Widget 7 was archived."))

    assert str(error.message) == "Widget 7 was archived."


def test_drf_explicit_detail_is_truncated_to_512() -> None:
    error = catalog.from_exception(drf.PermissionDenied("x" * 5000))

    message = str(error.message)
    assert len(message) == catalog.MAX_MESSAGE_LENGTH == 512
    assert message.endswith("…")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (drf.NotFound(), "ResourceNotFound"),
        (drf.PermissionDenied(), "NotAuthorized"),
        (drf.NotAuthenticated(), "InvalidCredentials"),
        (drf.ParseError(), "BadRequest"),
        (cb.Conflict(), "Conflict"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_drf_default_detail_becomes_the_catalog_message(exc: drf.APIException, code: str) -> None:
    error = catalog.from_exception(exc)

    assert error.code == code
    assert str(error.message) == str(catalog.CATALOG[code].message)


def test_catalog_message_is_lazy_and_resolved_per_language() -> None:
    error = catalog.from_exception(drf.NotFound())

    with override("en"):
        english = str(error.message)
    assert english == "The requested resource was not found."
    assert not isinstance(error.message, str)  # a lazy translation, resolved when rendered


@pytest.mark.parametrize(
    "exc",
    [
        drf.MethodNotAllowed("PATCH"),
        drf.NotAcceptable(),
        drf.UnsupportedMediaType("text/x-" + "a" * 10_000),
        drf.Throttled(wait=12),
        drf.PermissionDenied("CSRF Failed: CSRF token from POST incorrect."),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_drf_errors_that_echo_client_input_get_a_fixed_message(exc: drf.APIException) -> None:
    error = catalog.from_exception(exc)

    assert str(error.message) == str(catalog.CATALOG[error.code].message)


def test_django_errors_never_echo_their_args() -> None:
    for exc in (Http404(SECRET), dj.PermissionDenied(SECRET), dj.SuspiciousOperation(SECRET)):
        assert SECRET not in str(catalog.from_exception(exc).message)


def test_simplejwt_style_dict_detail_gives_a_message_not_field_errors() -> None:
    # djangorestframework-simplejwt's InvalidToken is an AuthenticationFailed with this detail.
    exc = drf.AuthenticationFailed(
        {
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [
                {"token_class": "AccessToken", "token_type": "access", "message": "expired"}
            ],
        }
    )
    exc.status_code = 401

    error = catalog.from_exception(exc)

    assert (error.status, error.code) == (401, "InvalidCredentials")
    assert str(error.message) == "Given token not valid for any token type"
    assert error.details == ()


def test_simplejwt_style_response_body_gives_a_message_not_field_errors() -> None:
    data = {"detail": "Token is blacklisted", "code": "token_not_valid", "messages": []}

    error = catalog.from_response_data(401, data)

    assert (error.code, str(error.message), error.details) == (
        "InvalidCredentials",
        "Token is blacklisted",
        (),
    )


def test_non_string_detail_falls_back_to_the_catalog_message() -> None:
    error = catalog.from_exception(drf.PermissionDenied({"reason": ["nope"]}))

    assert str(error.message) == str(catalog.CATALOG["NotAuthorized"].message)
    assert error.details == ()


def test_own_subclass_with_a_code_outside_the_catalog() -> None:
    class PaymentRequired(cb.CounterbalanceError):
        status_code = 402
        error_code = "PaymentRequired"
        default_detail = gettext_lazy("A payment is required.")

    default = catalog.from_exception(PaymentRequired())
    explicit = catalog.from_exception(PaymentRequired("Top up first."))

    assert (default.status, default.code, str(default.message)) == (
        402,
        "PaymentRequired",
        "A payment is required.",
    )
    assert str(explicit.message) == "Top up first."


# --- headers ------------------------------------------------------------------------------------


def test_www_authenticate_is_kept_from_the_authenticator() -> None:
    error = catalog.from_exception(with_auth_header(drf.NotAuthenticated()))

    assert error.headers == {"WWW-Authenticate": 'Basic realm="api"'}


def test_no_www_authenticate_when_no_authenticator_offers_one() -> None:
    error = catalog.from_exception(not_authenticated_coerced())

    assert error.status == 401
    assert "WWW-Authenticate" not in error.headers


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, 1), (None, 60), (-1, 60), (7.2, 8), (1, 1), (0.01, 1), (59.0, 59), (3600, 3600)],
)
def test_clamp_retry_after(seconds: float | None, expected: int) -> None:
    assert catalog.clamp_retry_after(seconds, 60) == expected


@pytest.mark.parametrize(
    ("exc", "retry_after"),
    [
        # DRF itself sends no Retry-After for wait=0 or None (error-paths D11); we always do.
        (drf.Throttled(wait=0), 1),
        (drf.Throttled(), catalog.DEFAULT_THROTTLE_RETRY_AFTER),
        (drf.Throttled(wait=7.2), 8),
        # django-ratelimit says -1 when its cache fails closed, 0 for a 1/s rate.
        (cb.RateLimited(wait=-1), catalog.DEFAULT_THROTTLE_RETRY_AFTER),
        (cb.RateLimited(wait=0), 1),
        (cb.RateLimited(wait=None), catalog.DEFAULT_THROTTLE_RETRY_AFTER),
        (cb.RateLimited(wait=7.2), 8),
        (Ratelimited(), catalog.DEFAULT_THROTTLE_RETRY_AFTER),
        (cb.ServiceUnavailable(retry_after=120), 120),
        (cb.ServiceUnavailable(retry_after=0), 1),
        (cb.ServiceUnavailable(retry_after=None), catalog.DEFAULT_UNAVAILABLE_RETRY_AFTER),
        (OperationalError(), catalog.DEFAULT_UNAVAILABLE_RETRY_AFTER),
        (InterfaceError(), catalog.DEFAULT_UNAVAILABLE_RETRY_AFTER),
    ],
    ids=repr,
)
def test_retry_after_is_clamped_to_at_least_one_second(
    exc: BaseException, retry_after: int
) -> None:
    assert catalog.from_exception(exc).retry_after == retry_after


def test_errors_without_a_retry_window_have_no_retry_after() -> None:
    for exc in (KeyError(), drf.NotFound(), cb.Conflict(), cb.RequestTimeout()):
        assert catalog.from_exception(exc).retry_after is None


# --- from_status / from_response_data -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BadRequest"),
        (401, "InvalidCredentials"),
        (402, "BadRequest"),
        (404, "ResourceNotFound"),
        (405, "MethodNotAllowed"),
        (418, "BadRequest"),
        (422, "InvalidArgument"),
        (429, "RequestThrottled"),
        (500, "InternalError"),
        (502, "InternalError"),
        (503, "ServiceUnavailable"),
    ],
)
def test_from_status(status: int, code: str) -> None:
    error = catalog.from_status(status, headers={"Allow": "GET"})

    assert (error.status, error.code) == (status, code)
    assert error.headers == {"Allow": "GET"}


def test_from_response_data_turns_serializer_errors_into_details() -> None:
    error = catalog.from_response_data(
        400, {"name": [ErrorDetail("This field is required.", code="required")]}
    )

    assert error.code == "MissingParameter"
    assert error.details == (FieldError("name", "required", "This field is required."),)


def test_from_response_data_keeps_an_explicit_detail() -> None:
    error = catalog.from_response_data(403, {"detail": "Quota exhausted."})

    assert (error.code, str(error.message)) == ("NotAuthorized", "Quota exhausted.")


@pytest.mark.parametrize(
    ("status", "data", "code"),
    [
        (400, {"detail": ["not", "a", "string"]}, "BadRequest"),
        (409, {"name": ["taken"]}, "Conflict"),
        (400, {}, "BadRequest"),
        (400, None, "BadRequest"),
        (422, ["Whole payload rejected."], "InvalidArgument"),
    ],
)
def test_from_response_data_other_shapes(status: int, data: Any, code: str) -> None:
    error = catalog.from_response_data(status, data)

    assert (error.status, error.code) == (status, code)
    assert str(error.message) == str(catalog.CATALOG[code].message)


def test_from_response_data_never_echoes_5xx_data() -> None:
    error = catalog.from_response_data(500, {"detail": SECRET})

    assert error.code == "InternalError"
    assert SECRET not in str(error.message)


# --- flatten_validation -------------------------------------------------------------------------


def fields(detail: Any) -> list[tuple[str, str, str]]:
    return [(e.field, e.code, e.message) for e in flatten_validation(detail)[0]]


def E(message: str, code: str = "invalid") -> ErrorDetail:
    return ErrorDetail(message, code=code)


def test_flatten_field_dict() -> None:
    detail = {"name": [E("Too long.", "max_length")], "email": [E("Bad.")]}

    assert fields(detail) == [("name", "max_length", "Too long."), ("email", "invalid", "Bad.")]


def test_flatten_several_errors_per_field_in_order() -> None:
    detail = {"password": [E("Too short.", "min_length"), E("Too common.", "password_common")]}

    assert fields(detail) == [
        ("password", "min_length", "Too short."),
        ("password", "password_common", "Too common."),
    ]


def test_flatten_nested_serializer() -> None:
    detail = {"address": {"zipcode": [E("Too long.", "max_length")]}}

    assert fields(detail) == [("address.zipcode", "max_length", "Too long.")]


def test_flatten_drf_318_dict_shaped_list_errors_with_index_zero() -> None:
    # DRF 3.18 ListSerializer/ListField errors: int keys; index 0 must not be lost as "falsy".
    detail = {
        "items": {0: {"email": [E("Bad.")]}, 2: {"name": [E("Needed.", "required")]}},
        "tags": {0: [E("Not an int.")], 3: [E("Not an int.")]},
    }

    assert fields(detail) == [
        ("items.0.email", "invalid", "Bad."),
        ("items.2.name", "required", "Needed."),
        ("tags.0", "invalid", "Not an int."),
        ("tags.3", "invalid", "Not an int."),
    ]


def test_flatten_top_level_many_true_dict_shape() -> None:
    detail = {0: {"email": [E("Bad.")]}, 1: {"name": [E("Long.", "max_length")]}}

    assert fields(detail) == [("0.email", "invalid", "Bad."), ("1.name", "max_length", "Long.")]


def test_flatten_older_list_shape_with_empty_placeholders() -> None:
    # DRF <= 3.17 (or LIST_SERIALIZER_ERRORS_AS_DICT=False): one entry per item, {} when valid.
    top = [{}, {"email": [E("Bad.")]}, {}, {"name": [E("Long.", "max_length")]}]
    nested = {"items": [{"email": [E("Bad.")]}, {}]}

    assert fields(top) == [("1.email", "invalid", "Bad."), ("3.name", "max_length", "Long.")]
    assert fields(nested) == [("items.0.email", "invalid", "Bad.")]


def test_flatten_list_field_of_list_field() -> None:
    dict_shape = {"matrix": {0: {1: [E("Not an int.")]}, 2: {0: [E("Not an int.")]}}}
    list_shape = {"matrix": [[], [[E("Not an int.")]], [E("Not a list.", "not_a_list")]]}

    assert fields(dict_shape) == [
        ("matrix.0.1", "invalid", "Not an int."),
        ("matrix.2.0", "invalid", "Not an int."),
    ]
    assert fields(list_shape) == [
        ("matrix.1.0", "invalid", "Not an int."),
        ("matrix.2", "not_a_list", "Not a list."),
    ]


def test_flatten_non_field_errors_and_bare_messages() -> None:
    assert fields([E("Clash.")]) == [("non_field_errors", "invalid", "Clash.")]
    assert fields("Just a string") == [("non_field_errors", "invalid", "Just a string")]
    assert fields({"non_field_errors": [E("Clash.")]}) == [
        ("non_field_errors", "invalid", "Clash.")
    ]


def test_flatten_custom_non_field_errors_key(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NON_FIELD_ERRORS_KEY": "errors"}
    assert fields([E("Clash.")]) == [("errors", "invalid", "Clash.")]
    error = catalog.from_exception(drf.ValidationError("Clash."))
    assert [d.field for d in error.details] == ["errors"]


def test_flatten_keeps_document_order_in_mixed_lists() -> None:
    detail = {"a": [E("first"), {"x": [E("second")]}, E("third")], "b": [E("fourth")]}

    assert [m for _, _, m in fields(detail)] == ["first", "second", "third", "fourth"]


def test_flatten_caps_details_with_a_last_entry_counting_the_rest() -> None:
    detail = {"items": {i: [E("Not an int.")] for i in range(250)}}

    details, _ = flatten_validation(detail, limit=3)

    assert [(d.field, d.code) for d in details] == [
        ("items.0", "invalid"),
        ("items.1", "invalid"),
        ("items.2", "invalid"),
        ("non_field_errors", catalog.TRUNCATED_CODE),
    ]
    assert details[-1].message == "247 more problems were left out."


def test_flatten_at_the_cap_adds_no_last_entry() -> None:
    details, _ = flatten_validation([E("a"), E("b")], limit=2)

    assert [d.message for d in details] == ["a", "b"]


def test_flatten_cap_counts_one_left_out_in_the_singular() -> None:
    details, _ = flatten_validation([E("a"), E("b")], limit=1)

    assert details[-1].message == "1 more problem was left out."


def test_missing_parameter_looks_at_the_problems_left_out_too() -> None:
    all_required = {f"f{i}": [E("Needed.", "required")] for i in range(5)}
    one_invalid = {**all_required, "last": [E("Bad.")]}

    assert flatten_validation(all_required, limit=2)[1] is True
    assert flatten_validation(one_invalid, limit=2)[1] is False


def test_max_details_setting_caps_a_validation_error(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"MAX_DETAILS": 2}
    exc = drf.ValidationError({"tags": [E("x"), E("y"), E("z")]})

    error = catalog.from_exception(exc)

    assert [d.code for d in error.details] == ["invalid", "invalid", catalog.TRUNCATED_CODE]


def test_max_details_defaults_to_100() -> None:
    exc = drf.ValidationError({"tags": [E("x")] * 150})

    details = catalog.from_exception(exc).details

    assert len(details) == 101
    assert details[-1].message == "50 more problems were left out."


def test_flatten_plain_strings_and_lazy_messages_get_code_invalid() -> None:
    detail = {"name": ["plain", gettext_lazy("This field is required.")]}

    assert fields(detail) == [
        ("name", "invalid", "plain"),
        ("name", "invalid", "This field is required."),
    ]


def test_flatten_truncates_long_messages_and_paths() -> None:
    detail = {"k" * 5000: [E("m" * 5000)]}

    [(field, _, message)] = fields(detail)
    assert len(field) == len(message) == catalog.MAX_MESSAGE_LENGTH


def test_flatten_5000_deep_nesting_without_recursion_error() -> None:
    detail: Any = [E("deep")]
    for depth in range(5000):
        detail = {f"n{depth % 10}": detail}

    [(field, code, message)] = fields(detail)
    assert (code, message) == ("invalid", "deep")
    assert field.startswith("n9.n8.n7")
    assert len(field) == catalog.MAX_MESSAGE_LENGTH


def test_flatten_5000_deep_lists_without_recursion_error() -> None:
    detail: Any = E("deep")
    for _ in range(5000):
        detail = [{}, detail]

    [(field, _, message)] = fields(detail)
    assert message == "deep"
    assert field.startswith("1.1.1.")


def test_flatten_10000_item_list_in_order() -> None:
    detail = {"items": {i: {"email": [E(f"Bad {i}.")]} for i in range(10_000)}}
    old_shape = {"items": [{"email": [E(f"Bad {i}.")]} for i in range(10_000)]}

    for shape in (detail, old_shape):
        flat = fields(shape)
        assert len(flat) == 10_000
        assert flat[0] == ("items.0.email", "invalid", "Bad 0.")
        assert flat[-1] == ("items.9999.email", "invalid", "Bad 9999.")
        assert [f for f, _, _ in flat] == [f"items.{i}.email" for i in range(10_000)]


def test_deep_validation_error_through_from_exception() -> None:
    detail: Any = [E("deep")]
    for _ in range(5000):
        detail = {"n": detail}
    exc = drf.ValidationError()
    exc.detail = detail  # DRF's own constructor would recurse; the catalog must not.

    error = catalog.from_exception(exc)

    assert error.code == "InvalidArgument"
    assert len(error.details) == 1


# --- MissingParameter ---------------------------------------------------------------------------


def test_missing_parameter_only_when_every_problem_is_required() -> None:
    required = {"a": [E("Needed.", "required")], "b": {"c": [E("Needed.", "required")]}}
    mixed = {"a": [E("Needed.", "required")], "b": [E("Bad.", "invalid")]}
    blank = {"a": [E("Blank.", "blank")]}

    assert catalog.from_exception(drf.ValidationError(required)).code == "MissingParameter"
    assert catalog.from_exception(drf.ValidationError(mixed)).code == "InvalidArgument"
    assert catalog.from_exception(drf.ValidationError(blank)).code == "InvalidArgument"
    assert catalog.from_exception(drf.ValidationError({})).code == "InvalidArgument"


def test_django_validation_error_keeps_codes_and_fields() -> None:
    exc = dj.ValidationError(
        {
            "name": [dj.ValidationError("Needed.", code="required")],
            "__all__": [dj.ValidationError("Clash.", code="unique_together")],
        }
    )

    error = catalog.from_exception(exc)

    assert [d.as_dict() for d in error.details] == [
        {"field": "name", "code": "required", "message": "Needed."},
        {"field": "non_field_errors", "code": "unique_together", "message": "Clash."},
    ]


# --- a real serializer, both ListSerializer error shapes --------------------------------------


def serializer_error(serializer: Any) -> catalog.ApiError:
    with pytest.raises(drf.ValidationError) as info:
        serializer.is_valid(raise_exception=True)
    return catalog.from_exception(info.value)


@LIST_ERROR_SHAPES
def test_real_serializer_errors_in_both_list_shapes(settings: Any, as_dict: bool) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "LIST_SERIALIZER_ERRORS_AS_DICT": as_dict}

    if as_dict:
        payload = serializer_error(PayloadSerializer(data=INVALID_PAYLOAD))
        many = serializer_error(ItemSerializer(data=INVALID_ITEMS, many=True))
        assert isinstance(many.exception.detail, dict)  # type: ignore[union-attr]
    else:
        with list_shape_warning():
            payload = serializer_error(PayloadSerializer(data=INVALID_PAYLOAD))
        with list_shape_warning():
            many = serializer_error(ItemSerializer(data=INVALID_ITEMS, many=True))
        assert isinstance(many.exception.detail, list)  # type: ignore[union-attr]

    assert [d.as_dict() for d in payload.details] == PAYLOAD_DETAILS
    assert payload.code == "InvalidArgument"
    assert [d.as_dict() for d in many.details] == ITEMS_DETAILS
    assert many.code == "InvalidArgument"
    json.dumps([d.as_dict() for d in payload.details + many.details])


def test_real_serializer_object_level_and_required_errors() -> None:
    clash = serializer_error(PayloadSerializer(data=CLASHING_PAYLOAD))
    missing = serializer_error(PayloadSerializer(data={}))

    assert [(d.field, d.code) for d in clash.details] == [("non_field_errors", "invalid")]
    assert missing.code == "MissingParameter"
    assert [d.field for d in missing.details] == ["name", "password", "address", "items", "tags"]


# --- catalog messages ---------------------------------------------------------------------------


def test_catalog_message_is_translated_once_per_language_and_forgotten_on_settings_change(
    settings: Any,
) -> None:
    message = catalog.CATALOG["ResourceNotFound"].message
    assert isinstance(message, catalog.CatalogMessage)
    with override("de"):
        german = str(message)
    with override("en"):
        english = str(message)
    with override("de"):
        assert str(message) == german != english
    assert message._texts["de"] == german

    settings.LOCALE_PATHS = []

    assert message._texts == {}
    with override("de"):
        assert str(message) == german


def test_a_catalog_message_compares_like_its_text_in_the_active_language() -> None:
    message = catalog.CATALOG["ResourceNotFound"].message
    assert isinstance(message, catalog.CatalogMessage)
    again = catalog.CatalogMessage(message.msgid)
    assert repr(message) == f"CatalogMessage({message.msgid!r})"
    assert again == message
    assert hash(again) == hash(message)
    assert message != catalog.CATALOG["InternalError"].message
    with override("de"):
        assert message == str(message) != message.msgid
    with override("en"):
        assert message == message.msgid
    assert message != 404
