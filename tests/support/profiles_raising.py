"""A profile module that raises something other than ImportError when it is imported."""

from __future__ import annotations

from tests.support.profiles_broken import IMPORT_ATTEMPTS, ProfileFailure

IMPORT_ATTEMPTS.append(__name__)
raise ProfileFailure("a profile module that cannot be imported")
