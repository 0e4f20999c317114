"""drf-spectacular integration: each operation documents the errors it can answer.

In settings::

    REST_FRAMEWORK = {..., "DEFAULT_SCHEMA_CLASS": "counterbalance_errors.openapi.AutoSchema"}

or, with an ``AutoSchema`` of your own, put :class:`ErrorResponsesMixin` before it in its bases.

Every operation then lists, per status, the errors it can return **in the active profile's
shape** (status rules, body schema, content type, examples rendered by the profile itself),
the header carrying the logging hash where the error is logged, ``Retry-After`` where it
applies, and the profile's headers on every response (success ones included). Which errors an
operation can return is inferred from the view (authentication, permissions, throttles,
versioning, request body, path parameters, unsafe methods, the time budget); add more with
:func:`error_codes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from counterbalance_errors import conf
from counterbalance_errors.catalog import CATALOG, ApiError, FieldError, make
from counterbalance_errors.profiles import Profile, RenderContext, get_profile
from counterbalance_errors.profiles.base import HASH_PATTERN, string_header

#: Attribute listing extra catalog codes on a view class or handler method (see error_codes).
#: ``counterbalance_errors.ratelimit.ratelimit`` sets it too.
ERROR_CODES_ATTR = "counterbalance_error_codes"

EXAMPLE_HASH = "034dd6ad00770337bb07e906d919ed50f8884e86"
EXAMPLE_RETRY_AFTER = 30

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

T = TypeVar("T")


def error_codes(*codes: str) -> Callable[[T], T]:
    """Declare catalog codes a view (class or handler method) can answer beyond the inferred.

    ``@error_codes("Conflict", "AccountLocked")``
    """
    unknown = [code for code in codes if code not in CATALOG]
    if unknown:
        raise ValueError(f"Not catalog codes: {', '.join(unknown)}")

    def decorate(target: T) -> T:
        existing = tuple(getattr(target, ERROR_CODES_ATTR, ()))
        setattr(target, ERROR_CODES_ATTR, existing + codes)
        return target

    return decorate


def example_error(code: str) -> ApiError:
    """A representative error of ``code`` for the schema's examples."""
    if code == "InvalidArgument":
        details = (FieldError("quantity", "min_value", "Ensure this value is greater than 0."),)
        return make(code, details=details)
    if code == "MissingParameter":
        return make(code, details=(FieldError("name", "required", "This field is required."),))
    if code in ("RequestThrottled", "ServiceUnavailable"):
        return make(code, retry_after=EXAMPLE_RETRY_AFTER)
    return make(code)


def _unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _requires_permission(view: Any) -> bool:
    permissions = getattr(view, "permission_classes", None) or []
    return any(not (isinstance(p, type) and issubclass(p, AllowAny)) for p in permissions)


def declared_codes(view: Any, method: str) -> list[str]:
    """Codes declared with :func:`error_codes` on the view class or its handler."""
    action = getattr(view, "action", None)
    handler = getattr(view, action if isinstance(action, str) else method.lower(), None)
    return [*getattr(type(view), ERROR_CODES_ATTR, ()), *getattr(handler, ERROR_CODES_ATTR, ())]


def possible_codes(view: Any, method: str, path: str, profile: Profile) -> list[str]:
    """Catalog codes an operation can answer: always-possible ones plus what the view implies."""
    method = method.upper()
    # Any view may validate its query parameters with a serializer, whatever the method.
    codes = ["BadRequest", "InvalidArgument", "MissingParameter", "NotAcceptable"]
    codes += ["InternalError", "ServiceUnavailable"]
    if getattr(view, "versioning_class", None) is not None:
        codes.append("InvalidVersion")
    authenticators = getattr(view, "authentication_classes", None) or []
    if authenticators:
        codes.append("InvalidCredentials")
    if _requires_permission(view):
        codes += ["InvalidCredentials", "NotAuthorized"]
    if method in UNSAFE_METHODS and any(
        isinstance(a, type) and issubclass(a, SessionAuthentication) for a in authenticators
    ):
        codes.append("CsrfFailed")
    if getattr(view, "throttle_classes", None):
        codes.append("RequestThrottled")
    if method in BODY_METHODS:
        codes += ["UnsupportedMediaType", "RequestTooLarge"]
    if "{" in path or method in UNSAFE_METHODS - {"POST"}:
        codes.append("ResourceNotFound")
    if method in UNSAFE_METHODS:
        codes += ["Conflict", "InUseError"]
    if profile.budget() is not None:
        codes.append("RequestTimeout")
    return _unique(codes + declared_codes(view, method))


def _schema_ref(profile: Profile, registry: Any) -> dict[str, Any] | None:
    schema = profile.body_schema()
    if schema is None:
        return None
    component = ResolvedComponent(  # type: ignore[no-untyped-call]
        name=profile.schema_name,
        type=ResolvedComponent.SCHEMA,
        schema=schema,
        object=profile.schema_name,
    )
    registry.register_on_missing(component)
    return component.ref


def error_response(
    profile: Profile, status: int, errors: list[ApiError], schema: dict[str, Any] | None
) -> dict[str, Any]:
    """The OpenAPI response object for ``errors`` that the profile answers with ``status``."""
    logged = conf.logged_statuses()
    every = profile.header_docs()
    headers: dict[str, Any] = dict(profile.error_header_docs())
    examples: dict[str, Any] = {}
    for error in errors:
        logging_hash = EXAMPLE_HASH if error.status in logged else None
        rendered = profile.render(error, RenderContext(logging_hash=logging_hash))
        if "Retry-After" in rendered.headers:
            headers["Retry-After"] = string_header(
                "Seconds to wait before retrying (at least 1).", "^[1-9][0-9]*$", required=False
            )
        if logging_hash and profile.hash_header and profile.hash_header not in every:
            headers.setdefault(
                profile.hash_header,
                string_header(
                    "The logging hash of a logged error: quote it to support.",
                    HASH_PATTERN,
                    required=False,
                ),
            )
        if rendered.content:
            examples[error.code] = {
                "summary": str(error.message),
                "value": json.loads(rendered.content),
            }
    codes = ", ".join(f"`{error.code}`" for error in errors)
    response: dict[str, Any] = {"description": f"Error: {codes}."}
    if headers:
        response["headers"] = headers
    if schema is not None:
        response["content"] = {profile.content_type: {"schema": schema, "examples": examples}}
    return response


def document_errors(
    operation: dict[str, Any], codes: Iterable[str], registry: Any, profile: Profile | None = None
) -> dict[str, Any]:
    """Add the error responses of ``codes`` and the profile's headers to ``operation``.

    Responses the operation already documents (``@extend_schema(responses=...)``) are kept.
    """
    profile = profile or get_profile()
    schema = _schema_ref(profile, registry)
    by_status: dict[int, list[ApiError]] = {}
    for code in codes:
        error = example_error(code)
        by_status.setdefault(profile.status(error), []).append(error)
    responses = operation.setdefault("responses", {})
    for status in sorted(by_status):
        responses.setdefault(
            str(status), error_response(profile, status, by_status[status], schema)
        )
    every = profile.header_docs()
    for response in responses.values():
        if every and "$ref" not in response:
            headers = response.setdefault("headers", {})
            for name, header in every.items():
                headers.setdefault(name, header)
    return operation


class ErrorResponsesMixin:
    """Mix into a drf-spectacular ``AutoSchema`` (before it) to document the errors."""

    view: Any
    method: str
    path: str
    registry: Any

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)  # type: ignore[misc]
        if operation is None:
            return None
        profile = get_profile()
        codes = possible_codes(self.view, self.method, self.path, profile)
        return document_errors(operation, codes, self.registry, profile)


class AutoSchema(ErrorResponsesMixin, SpectacularAutoSchema):
    """drf-spectacular's ``AutoSchema`` with the errors of every operation documented."""
