""".ci/pytest_summary.py: the counts .ci/run adds up into its closing `N passed, M failed`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / ".ci" / "pytest_summary.py"
    spec = importlib.util.spec_from_file_location("ci_pytest_summary", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


summary = _load()


@pytest.mark.parametrize(
    ("output", "exit_status", "expected"),
    [
        ("..\n57 passed in 1.25s\n", 0, (57, 0)),
        ("3 failed, 10 passed, 2 skipped, 1 error in 4.20s\n", 1, (10, 4)),
        ("1 error, 2 skipped, 10 passed, 3 failed in 4.2s\n", 1, (10, 4)),
        ("==== 5 passed, 3 warnings in 2.01s ====\n", 0, (5, 0)),
        ("= 2 failed, 1 passed, 4 deselected in 61.00s (0:01:01) =\n", 1, (1, 2)),
        ("\x1b[32m7 passed\x1b[0m, \x1b[33m1 xfailed\x1b[0m in 0.3s\n", 0, (8, 0)),
        ("2 errors in 0.10s\n", 2, (0, 2)),
    ],
    ids=["passed", "mixed", "any-order", "rule-and-warnings", "deselected", "colours", "errors"],
)
def test_counts_from_the_summary_line(
    output: str, exit_status: int, expected: tuple[int, int]
) -> None:
    assert summary.counts(output, exit_status) == expected


def test_the_last_summary_line_counts() -> None:
    # A test's own output may contain a line shaped like a summary; pytest's comes last.
    output = "captured: 99 passed in 0.01s\n3 passed in 0.5s\nTOTAL  100%\n"

    assert summary.counts(output, 0) == (3, 0)


@pytest.mark.parametrize(
    ("output", "exit_status"),
    [
        ("no tests ran in 0.01s\n", 5),  # nothing collected
        ("", 2),  # crashed before pytest printed anything
        ("ERROR: Could not find a version that satisfies the requirement\n", 2),  # pip, in make
        ("", 0),  # a zero exit without a summary is not a test run either
        ("40 passed in 3.0s\nFAIL Required test coverage of 100% not reached.\n", 2),
    ],
    ids=["no-tests-ran", "crash", "install-failed", "silent", "coverage-missed"],
)
def test_a_failed_run_without_a_failed_test_counts_as_one_failure(
    output: str, exit_status: int
) -> None:
    passed, failed = summary.counts(output, exit_status)

    assert failed == 1
    assert passed == (40 if "40 passed" in output else 0)


def test_main_prints_the_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.log"
    log.write_text("1 failed, 2 passed in 0.2s\n", encoding="utf-8")

    assert summary.main(["pytest_summary.py", str(log), "1"]) == 0
    assert capsys.readouterr().out == "2 1\n"
