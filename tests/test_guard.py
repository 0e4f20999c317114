"""The guard around the app's own work: logged and swallowed, never raised."""

from __future__ import annotations

import logging

import pytest

from counterbalance_errors.guard import guarded


def test_an_exception_is_logged_with_its_traceback_and_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = caplog.at_level(logging.ERROR, logger="counterbalance_errors")
    with log, guarded("could not do %s", "this") as attempt:
        raise ValueError("broken")
    assert attempt.failed
    [record] = caplog.records
    assert record.getMessage() == "counterbalance_errors could not do this"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_a_message_naming_its_subject_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="counterbalance_errors"),
        guarded("Profile %r broke", "x"),
    ):
        raise ValueError
    assert [r.getMessage() for r in caplog.records] == ["Profile 'x' broke"]


def test_nothing_is_logged_when_nothing_fails(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), guarded("could not") as attempt:
        pass
    assert not attempt.failed
    assert caplog.records == []


def test_base_exceptions_pass_through() -> None:
    with pytest.raises(KeyboardInterrupt), guarded("could not"):
        raise KeyboardInterrupt
