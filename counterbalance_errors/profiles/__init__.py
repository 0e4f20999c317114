"""Profiles: how each documented API convention renders a canonical error.

A profile is the only place where conventions differ: status rules, body shape, content type,
header names, where the ``logging_hash`` goes and reason phrases. Pick one with
``COUNTERBALANCE_ERRORS["PROFILE"]``: a built-in name (``counterbalance``, ``green_stack``,
``cloudapi``, ``reason_phrase``, ``numeric``, ``problem_details``) or the dotted path of a
:class:`Profile` subclass. ``docs/profiles.md`` describes each one.
"""

from __future__ import annotations

import functools
import logging

from django.http.response import ResponseHeaders
from django.utils.module_loading import import_string

from counterbalance_errors import conf
from counterbalance_errors.guard import guarded
from counterbalance_errors.profiles.base import (
    HASH_HEADER,
    Profile,
    RenderContext,
    Rendered,
    ascii_text,
    error_object,
    header_value,
    message_with_details,
    new_request_id,
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
    "RenderContext",
    "Rendered",
    "ascii_text",
    "clear_cache",
    "error_object",
    "get_profile",
    "header_value",
    "load_profile",
    "message_with_details",
    "new_request_id",
    "success_headers",
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

logger = logging.getLogger("counterbalance_errors")


@functools.lru_cache(maxsize=8)
def load_profile(name: str) -> Profile:
    """The profile ``name`` (built-in name or dotted path); raises whatever loading it raises."""
    cls = BUILTIN.get(name) or import_string(name)
    if not (isinstance(cls, type) and issubclass(cls, Profile)):
        raise TypeError(f"{name} is not a counterbalance_errors Profile subclass")
    return cls()


@functools.lru_cache(maxsize=8)
def _resolve(name: str) -> Profile:
    # Cached even when ``name`` cannot be loaded (lru_cache keeps no exceptions): a misspelt
    # PROFILE must cost neither a failed import nor a log line on every response.
    try:
        return load_profile(name)
    except Exception:
        default = conf.DEFAULTS["PROFILE"]
        logger.exception(
            "PROFILE %r cannot be used; using %r (manage.py check reports it as "
            "counterbalance_errors.E003)",
            name,
            default,
        )
        return load_profile(default)


def get_profile() -> Profile:
    """The active profile; the default one when the setting cannot be loaded (see checks).

    Looked up once per settings object (:func:`counterbalance_errors.conf.effective`).
    """
    derived = conf.effective().derived
    profile: Profile | None = derived.get("profile")
    if profile is None:
        profile = derived["profile"] = _resolve(conf.profile_name())
    return profile


def success_headers() -> dict[str, tuple[str, str]] | None:
    """The active profile's :meth:`~Profile.static_response_headers` as Django's header store
    holds them (``{lowercase name: (name, value)}``), validated once per settings object by
    Django's own ``ResponseHeaders``; None when the profile has none (its
    ``response_headers()`` then runs per response).

    A success response then costs one dict update (docs/performance.md).
    """
    derived = conf.effective().derived
    try:
        return derived["success_headers"]  # type: ignore[no-any-return]
    except KeyError:
        pass
    prepared = None  # a profile whose constant headers fail gives them per response
    with guarded("Profile %r could not give its static headers", get_profile()):
        static = get_profile().static_response_headers()
        if static is not None:
            prepared = dict(ResponseHeaders(static)._store)
    derived["success_headers"] = prepared
    return prepared


def clear_cache() -> None:
    """Forget loaded profiles (after redefining a profile class, as the test suite does)."""
    load_profile.cache_clear()
    _resolve.cache_clear()
    conf.forget()
