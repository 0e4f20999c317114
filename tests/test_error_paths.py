"""The map of error-paths.md rows to tests (``tests/README.md``) cannot drift.

Every row id of the reference must be in the map, and every test the map names must exist, so
deleting or renaming a row's test fails here.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROW = re.compile(r"^\| ([A-Z]\d+) \| (.+?) \|$", re.MULTILINE)
REFERENCE_ROW = re.compile(r"^\| ([A-Z]\d+) \|", re.MULTILINE)
TEST = re.compile(r"^`(test_\w+\.py)::(\w+)`$")
#: Rows the library does not handle, so no test can trigger its answer (README says why).
WITHOUT_A_TEST = {"T4", "T5", "T6"}


def mapping() -> dict[str, str]:
    text = (TESTS / "README.md").read_text()
    table = text[text.index("## Error paths") :]
    rows = ROW.findall(table)
    assert len(rows) == len({row for row, _ in rows}), "a row is mapped twice"
    return dict(rows)


def reference() -> Path | None:
    """error-paths.md: ``CB_ERROR_PATHS``, or ``shared/reference/`` beside a parent folder."""
    if os.environ.get("CB_ERROR_PATHS"):
        return Path(os.environ["CB_ERROR_PATHS"])
    for folder in TESTS.parents:
        candidate = folder / "shared" / "reference" / "error-paths.md"
        if candidate.is_file():
            return candidate
    return None


def test_every_row_of_the_reference_is_mapped() -> None:
    path = reference()
    if path is None:
        pytest.skip("error-paths.md is not on this machine (set CB_ERROR_PATHS)")
    rows = set(REFERENCE_ROW.findall(path.read_text()))
    assert rows, path
    assert sorted(rows - set(mapping())) == []
    assert sorted(set(mapping()) - rows) == []


def test_every_mapped_test_exists() -> None:
    defined: dict[str, set[str]] = {}
    for row, target in mapping().items():
        match = TEST.match(target)
        if match is None:
            assert row in WITHOUT_A_TEST, f"{row}: {target!r} is not a test"
            assert target.startswith("none: "), f"{row} says why it has no test"
            continue
        module, name = match.groups()
        if module not in defined:
            tree = ast.parse((TESTS / module).read_text())
            defined[module] = {
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        assert name in defined[module], f"{row}: {module}::{name} does not exist"


def test_only_the_known_rows_are_without_a_test() -> None:
    assert {row for row, target in mapping().items() if not TEST.match(target)} == WITHOUT_A_TEST
