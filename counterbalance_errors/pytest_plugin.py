"""pytest fixtures for projects that use counterbalance_errors (with pytest-django).

Loaded automatically through the ``pytest11`` entry point when the package is installed:

* ``logged_errors``: a function returning the ``ErrorLog`` rows stored since the test began,
  oldest first, after waiting for the recorder — the rows of the responses the test made;
* ``error_profile``: a function that switches the active profile for the rest of the test
  (``error_profile("problem_details")``), through pytest-django's ``settings`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def logged_errors(db: None) -> Callable[[], list[Any]]:
    from counterbalance_errors import testing
    from counterbalance_errors.models import ErrorLog

    newest = ErrorLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def rows() -> list[Any]:
        testing.wait_for_recorder()
        return list(ErrorLog.objects.filter(pk__gt=newest).order_by("pk"))

    return rows


@pytest.fixture
def error_profile(settings: Any) -> Iterator[Callable[[str], None]]:
    from counterbalance_errors import conf
    from counterbalance_errors.profiles import clear_cache

    def use(name: str) -> None:
        current = getattr(settings, conf.SETTING_NAME, None) or {}
        settings.COUNTERBALANCE_ERRORS = {**current, "PROFILE": name}
        clear_cache()

    yield use
    clear_cache()
