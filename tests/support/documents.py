"""The error tables of the profiles' documents, shared by their tests."""

from __future__ import annotations

# Counterbalance "Responses & Errors" (and Green Stack, which lists the same rows):
# status → kinds of error (``tests.views.RAISES``) that the row describes.
COUNTERBALANCE_ERROR_TABLE = {
    400: ["parse-error", "drf-validation", "drf-required", "disallowed-host"],
    401: ["not-authenticated", "authentication-failed"],
    403: ["drf-permission", "django-permission", "account-locked"],
    404: ["http404", "drf-not-found", "does-not-exist"],
    409: ["integrity", "conflict", "in-use", "protected"],
    500: ["unhandled"],
    501: ["not-implemented"],
    503: ["operational", "service-unavailable"],
    504: ["timeout"],
}
COUNTERBALANCE_DOCUMENTED = {400, 401, 403, 404, 409}


def rows(table: dict[int, list[str]]) -> list[tuple[int, str]]:
    """``(status, kind)`` for every kind of every row of an error table."""
    return [(status, kind) for status, kinds in table.items() for kind in kinds]
