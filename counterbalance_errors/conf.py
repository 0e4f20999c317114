"""The ``COUNTERBALANCE_ERRORS`` settings dict.

Merged key by key over :data:`DEFAULTS`. The setting is looked up on every access (as
django-cors-headers does), so ``override_settings`` and pytest-django's ``settings`` fixture,
which assign a new dict, just work; the validated values are reused while the dict is the same
object, so to change a key at run time assign a new dict: a dict mutated in place is not seen.
A value of the wrong type never breaks a response: the accessor falls back to the default, and
``manage.py check`` reports it (``counterbalance_errors.E002``).
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from counterbalance_errors.scrubbing import DEFAULT_STORED_HEADERS

SETTING_NAME = "COUNTERBALANCE_ERRORS"


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_status_set(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, range)) and all(
        isinstance(v, int) and not isinstance(v, bool) and 400 <= v <= 599 for v in value
    )


def _is_opt_budget(value: Any) -> bool:
    return value is None or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    )


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_seconds(value: Any, minimum: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum


def _is_str_collection(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(v, str) for v in value
    )


#: Every key, its default, and the check its value must pass. Docs: ``docs/settings.md``.
DEFAULTS: dict[str, Any] = {
    # A built-in profile name or the dotted path of a Profile subclass (docs/profiles.md).
    "PROFILE": "counterbalance",
    # Answer only with the statuses the profile's document lists (SPEC §5).
    "STRICT_STATUSES": True,
    # Canonical statuses whose errors get a logging_hash and are stored.
    "LOGGED_STATUSES": (400, 409, 413, 415, 422, *range(500, 600)),
    # Validation problems listed in a response's details; past it, a last entry counts the rest.
    "MAX_DETAILS": 100,
    # Value of the compute-node header; None means the host name.
    "COMPUTE_NODE": None,
    # Profile headers: Api-Version (cloudapi), gateway node and realm (green_stack); None: omitted.
    "API_VERSION": None,
    "GATEWAY_NODE": None,
    "REALM": None,
    # Seconds an async view may take under ASGI; None: the profile's default, 0: no budget.
    "TIME_BUDGET": None,
    # Logged errors (docs/logged-errors.md).
    # Alias of a second connection to ErrorLog's database, used when its own connection is
    # inside a transaction at storing time (never SQLite).
    "ISOLATED_DATABASE": None,
    # Largest JSON or form body stored, in bytes; 0 stores no body.
    "MAX_BODY_BYTES": 10_000,
    # Extra key substrings to scrub, on top of the built-in terms.
    "SCRUB_KEYS": (),
    # Request headers whose values are stored; other headers are stored by name only.
    "STORED_HEADERS": DEFAULT_STORED_HEADERS,
    # Store the (scrubbed) local variables of in-app frames of 5xx errors.
    "CAPTURE_LOCALS": False,
    # Full records kept per fingerprint per FLOOD_WINDOW seconds (None: no limit); past it,
    # occurrences are only counted.
    "FLOOD_LIMIT": 100,
    "FLOOD_WINDOW": 60,
    # Default age, in days, of the entries errorlog_purge deletes.
    "RETENTION_DAYS": 30,
    # The recorder (docs/logged-errors.md): "background" (a writer thread per process) or
    # "sync" (written on the request's thread).
    "RECORDER": "background",
    # Records waiting for the writer at most; past it, a record goes to the fallback line.
    "RECORDER_QUEUE_SIZE": 10_000,
    # Records per batch (one transaction) at most, and seconds the writer waits for more.
    "RECORDER_BATCH_SIZE": 200,
    "RECORDER_LINGER": 0.05,
    # Seconds a record may wait (queued, or its batch retried) before the fallback line.
    "RECORDER_DEADLINE": 30.0,
    # Seconds: the writer's connect, statement and lock timeouts.
    "RECORDER_STATEMENT_TIMEOUT": 5.0,
    # Seconds the interpreter's exit waits for the queue to be written.
    "RECORDER_SHUTDOWN_TIMEOUT": 5.0,
    # Under Django's test environment, use the writer thread too (else: the caller's thread).
    "RECORDER_THREAD_IN_TESTS": False,
    # Dotted paths of middleware that never answer with an error response of their own and may
    # sit above ErrorEnvelopeMiddleware, besides the built-in list (checks.py, W002).
    "MIDDLEWARE_ABOVE": (),
    # problem_details: the URI of each problem type, "{code}" replaced by the error's code
    # (e.g. "https://api.example.com/problems/{code}"); None: "about:blank" (RFC 9457 §4.2.1).
    "PROBLEM_TYPE_URI": None,
    # Admin links of a logged error to its Sentry event and its trace: templates with
    # "{event_id}" / "{trace_id}" (docs/integrations.md); None: no link.
    "SENTRY_EVENT_URL": None,
    "TRACE_URL": None,
    # Mail ADMINS (mail_admins) on a new error group and on a regression, at most once per
    # group and event per NOTIFY_INTERVAL seconds; links start with NOTIFY_BASE_URL.
    "NOTIFY_ADMINS": False,
    "NOTIFY_INTERVAL": 3600,
    "NOTIFY_BASE_URL": None,
}

VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "PROFILE": (_is_str, "a profile name or a dotted path"),
    "STRICT_STATUSES": (_is_bool, "a bool"),
    "LOGGED_STATUSES": (_is_status_set, "a collection of int statuses between 400 and 599"),
    "MAX_DETAILS": (lambda v: _is_int(v, 1), "an int >= 1"),
    "COMPUTE_NODE": (_is_opt_str, "a string or None"),
    "API_VERSION": (_is_opt_str, "a string or None"),
    "GATEWAY_NODE": (_is_opt_str, "a string or None"),
    "REALM": (_is_opt_str, "a string or None"),
    "TIME_BUDGET": (_is_opt_budget, "a number of seconds (0: none) or None"),
    "ISOLATED_DATABASE": (_is_opt_str, "a database alias or None"),
    "MAX_BODY_BYTES": (lambda v: _is_int(v, 0), "an int >= 0"),
    "SCRUB_KEYS": (_is_str_collection, "a list of strings"),
    "STORED_HEADERS": (_is_str_collection, "a list of header names"),
    "CAPTURE_LOCALS": (_is_bool, "a bool"),
    "FLOOD_LIMIT": (lambda v: v is None or _is_int(v, 1), "an int >= 1 or None"),
    "FLOOD_WINDOW": (lambda v: _is_int(v, 1), "an int >= 1 (seconds)"),
    "RETENTION_DAYS": (lambda v: _is_int(v, 1), "an int >= 1 (days)"),
    "RECORDER": (lambda v: v in ("background", "sync"), '"background" or "sync"'),
    "RECORDER_QUEUE_SIZE": (lambda v: _is_int(v, 1), "an int >= 1"),
    "RECORDER_BATCH_SIZE": (lambda v: _is_int(v, 1), "an int >= 1"),
    "RECORDER_LINGER": (lambda v: _is_seconds(v, 0), "a number of seconds >= 0"),
    "RECORDER_DEADLINE": (lambda v: _is_seconds(v, 0.001), "a number of seconds > 0"),
    "RECORDER_STATEMENT_TIMEOUT": (lambda v: _is_seconds(v, 0.001), "a number of seconds > 0"),
    "RECORDER_SHUTDOWN_TIMEOUT": (lambda v: _is_seconds(v, 0), "a number of seconds >= 0"),
    "RECORDER_THREAD_IN_TESTS": (_is_bool, "a bool"),
    "MIDDLEWARE_ABOVE": (_is_str_collection, "a list of dotted paths"),
    "PROBLEM_TYPE_URI": (
        lambda v: v is None or (isinstance(v, str) and "{code}" in v),
        'None or a URI template containing "{code}"',
    ),
    "SENTRY_EVENT_URL": (
        lambda v: v is None or (isinstance(v, str) and "{event_id}" in v),
        'None or a URL template containing "{event_id}"',
    ),
    "TRACE_URL": (
        lambda v: v is None or (isinstance(v, str) and "{trace_id}" in v),
        'None or a URL template containing "{trace_id}"',
    ),
    "NOTIFY_ADMINS": (_is_bool, "a bool"),
    "NOTIFY_INTERVAL": (lambda v: _is_int(v, 0), "an int >= 0 (seconds)"),
    "NOTIFY_BASE_URL": (_is_opt_str, "a URL such as https://errors.example.com, or None"),
}


class Effective:
    """The validated values of one ``COUNTERBALANCE_ERRORS`` dict, and what the app derives
    from them (``derived``: the active profile and its constant headers, filled on first use
    by :mod:`counterbalance_errors.profiles`)."""

    __slots__ = ("derived", "logged", "raw", "values")

    def __init__(self, raw: object, values: dict[str, Any], logged: frozenset[int]) -> None:
        self.raw = raw
        self.values = values
        self.logged = logged
        self.derived: dict[str, Any] = {}


_current: Effective | None = None

#: The settings Django has looked up so far: ``LazySettings`` caches each one in its instance
#: dict and empties that dict whenever a setting changes (``override_settings``, assignment).
#: Reading it skips ``LazyObject.__getattribute__``, a Python call on every access (the
#: middleware reads ``DEBUG`` from it on every request; ``settings.DEBUG`` when it is absent).
LOOKED_UP: dict[str, Any] = object.__getattribute__(settings, "__dict__")
#: An Effective's ``raw`` when ``COUNTERBALANCE_ERRORS`` is not set: kept until a setting
#: changes, since asking ``settings`` for an absent name raises and catches an AttributeError
#: (about 2 us, on every response of a project that never sets the dict).
ABSENT = object()


def effective() -> Effective:
    """Every key's effective value, validated once per settings object.

    The setting is still read on every access, from Django's cache of looked-up settings, so
    ``override_settings`` and the ``settings`` fixture (which assign a new dict) are seen at
    once; only the validation (and what is derived from it) is reused while the dict is the
    same object, or while the setting stays absent (until a ``setting_changed``). Validating
    on every call cost ~15 µs per logged-status lookup (105 statuses), a few percent of a
    4xx (docs/performance.md).
    """
    global _current
    raw = LOOKED_UP.get(SETTING_NAME, ABSENT)
    current = _current
    if current is not None and current.raw is raw:
        return current  # the same dict, or still absent (forget() runs on every change)
    if raw is ABSENT:
        raw = getattr(settings, SETTING_NAME, ABSENT)  # not looked up yet, or absent
    user = raw if isinstance(raw, Mapping) else {}
    values = {}
    for name, default in DEFAULTS.items():
        value = user.get(name, default)
        values[name] = value if VALIDATORS[name][0](value) else default
    current = _current = Effective(raw, values, frozenset(values["LOGGED_STATUSES"]))
    return current


def forget() -> None:
    """Validate again on next use, and forget what was derived (the loaded profile)."""
    global _current
    _current = None


@receiver(setting_changed)
def _forget_on_change(**kwargs: Any) -> None:
    """Some derived values come from Django's own settings too (the session and CSRF cookie
    names a snapshot scrubs): any change of a setting makes them again."""
    forget()


def get(name: str) -> Any:
    """The effective value of one key; the default when unset or invalid."""
    return effective().values[name]


@functools.cache
def _hostname() -> str:
    return socket.gethostname()


def profile_name() -> str:
    return str(get("PROFILE"))


def strict_statuses() -> bool:
    return bool(effective().values["STRICT_STATUSES"])


def logged_statuses() -> frozenset[int]:
    return effective().logged


def compute_node() -> str:
    return get("COMPUTE_NODE") or _hostname()
