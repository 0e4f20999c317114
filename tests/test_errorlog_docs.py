"""docs/logged-errors.md cannot drift: its example, terms, fields and settings are checked."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from counterbalance_errors import conf
from counterbalance_errors.capture import Record
from counterbalance_errors.logs import RECORD_KEY
from counterbalance_errors.models import ErrorLog
from counterbalance_errors.scrubbing import DEFAULT_TERMS, FILTERED
from tests.support.docexamples import DOCS, Example, check, examples

DOC = (DOCS / "logged-errors.md").read_text()
EXAMPLES = examples("logged-errors.md")


def test_the_doc_has_its_example() -> None:
    assert len(EXAMPLES) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.title)
def test_example_against_the_example_project(example: Example, settings: Any) -> None:
    settings.ROOT_URLCONF = "example_project.urls"
    client = Client(raise_request_exception=False)
    check(example, client)
    row = ErrorLog.objects.get()
    assert row.exception_class == "ZeroDivisionError"
    assert row.query == {"order": "17", "access_token": FILTERED}


def test_the_documented_terms_are_the_default_terms() -> None:
    listed = re.search(r"list:\n\n(`.+?`)\n\nplus", DOC, re.S)
    assert listed is not None
    assert re.findall(r"`([^`]+)`", listed.group(1)) == list(DEFAULT_TERMS)


def test_the_documented_fallback_line_has_every_field() -> None:
    line = next(block for block in re.findall(r"```json\n(.+?)\n```", DOC, re.S))
    documented = json.loads(line)
    assert {"message", "logging_hash", "reason", RECORD_KEY} <= set(documented)
    logged = Record("0" * 40, datetime(2026, 11, 22, tzinfo=UTC), 500, "InternalError", "")
    assert set(documented[RECORD_KEY]) == set(logged.as_dict())


def test_the_documented_columns_are_the_model_fields() -> None:
    table = DOC.split("## What is stored", 1)[1].split("`counterbalance_errors.models.ErrorGroup`")[
        0
    ]
    documented = {
        name
        for cell in re.findall(r"^\| (.+?) \|", table, re.M)
        for name in re.findall(r"`(\w+)`", cell)
    }
    model = {f.name for f in ErrorLog._meta.concrete_fields} - {"id"}
    assert documented == model


def test_the_documented_settings_exist() -> None:
    table = DOC.split("## Settings", 1)[1].split("## Limits")[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented <= set(conf.DEFAULTS)
    assert {"ISOLATED_DATABASE", "MAX_BODY_BYTES", "FLOOD_LIMIT", "RETENTION_DAYS"} <= documented
