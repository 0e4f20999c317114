"""docs/errors.md cannot drift: its catalog table and its examples are checked here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from counterbalance_errors import catalog
from counterbalance_errors.profiles import CounterbalanceProfile
from tests.support.docexamples import DOCS, Example, check, examples

ERRORS_EXAMPLES = examples("errors.md")


def test_errors_md_catalog_table_matches_the_catalog() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| (\d{3}) \| (\d{3}) \| (.+) \|$",
        (DOCS / "errors.md").read_text(),
        re.M,
    )
    profile = CounterbalanceProfile()
    documented = {code: (int(s), int(strict), how) for code, s, strict, how in rows}
    expected = {
        code: (entry.status, profile.status(catalog.make(code)), entry.description)
        for code, entry in catalog.CATALOG.items()
    }
    assert documented == expected


def test_errors_md_has_examples() -> None:
    assert len(ERRORS_EXAMPLES) >= 8


@pytest.mark.django_db
@pytest.mark.parametrize("example", ERRORS_EXAMPLES, ids=lambda e: e.title)
def test_errors_md_example(example: Example, settings: Any) -> None:
    settings.ROOT_URLCONF = "example_project.urls"
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "demo-node-1"}
    cache.clear()
    check(example, Client(raise_request_exception=False))
