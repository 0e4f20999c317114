"""Profiles: how each documented API convention renders a canonical error.

A profile is the only place where conventions differ: status rules, body shape, content type,
header names, where the ``logging_hash`` goes and reason phrases. Pick one with
``COUNTERBALANCE_ERRORS["PROFILE"]``: a built-in name (``counterbalance``, ``green_stack``,
``cloudapi``, ``reason_phrase``, ``numeric``, ``problem_details``) or the dotted path of a
:class:`Profile` subclass. ``docs/profiles.md`` describes each one.
"""

from __future__ import annotations

import functools

from django.utils.module_loading import import_string

from counterbalance_errors import conf
from counterbalance_errors.profiles.base import (
    HASH_HEADER,
    Profile,
    Rendered,
    ascii_text,
    error_object,
    header_value,
    message_with_details,
    request_id,
    response_time_ms,
)
from counterbalance_errors.profiles.cloudapi import CloudApiProfile
from counterbalance_errors.profiles.counterbalance import CounterbalanceProfile
from counterbalance_errors.profiles.green_stack import GreenStackProfile
from counterbalance_errors.profiles.numeric import NumericProfile
from counterbalance_errors.profiles.problem_details import ProblemDetailsProfile
from counterbalance_errors.profiles.reason_phrase import ReasonPhraseProfile

__all__ = [
    "BUILTIN",
    "HASH_HEADER",
    "CloudApiProfile",
    "CounterbalanceProfile",
    "GreenStackProfile",
    "NumericProfile",
    "ProblemDetailsProfile",
    "Profile",
    "ReasonPhraseProfile",
    "Rendered",
    "ascii_text",
    "error_object",
    "get_profile",
    "header_value",
    "message_with_details",
    "request_id",
    "response_time_ms",
]

BUILTIN: dict[str, type[Profile]] = {
    cls.name: cls
    for cls in (
        CounterbalanceProfile,
        GreenStackProfile,
        CloudApiProfile,
        ReasonPhraseProfile,
        NumericProfile,
        ProblemDetailsProfile,
    )
}


@functools.lru_cache(maxsize=8)
def _load(name: str) -> Profile:
    cls = BUILTIN.get(name) or import_string(name)
    if not (isinstance(cls, type) and issubclass(cls, Profile)):
        raise TypeError(f"{name} is not a counterbalance_errors Profile subclass")
    return cls()


def get_profile() -> Profile:
    """The active profile; the default one when the setting cannot be loaded (see checks)."""
    try:
        return _load(conf.profile_name())
    except (ImportError, TypeError, ValueError):
        return _load(conf.DEFAULTS["PROFILE"])
