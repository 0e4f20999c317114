"""The pytest plugin ships as the package's pytest11 entry point (its fixtures are used by
docs/integrations.md's pytest example, run in tests/test_integrations.py)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from counterbalance_errors import pytest_plugin


def test_the_installed_entry_point_is_the_plugin_pytest_runs(pytestconfig: pytest.Config) -> None:
    [entry] = [e for e in entry_points(group="pytest11") if e.name == "counterbalance_errors"]

    assert entry.value == "counterbalance_errors.pytest_plugin"
    assert entry.load() is pytest_plugin
    assert pytestconfig.pluginmanager.is_registered(pytest_plugin)
