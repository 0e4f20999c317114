"""``manage.py errorlog <hash>`` and ``manage.py errorlog_purge``."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from counterbalance_errors import retention
from counterbalance_errors.models import ErrorGroup, ErrorLog
from tests.errorlog_helpers import entry, hash_of

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- errorlog ------------------------------------------------------------------------------


def test_errorlog_prints_the_entry(client: Client) -> None:
    response = client.post(
        "/errorlog/plain-json-fail/?page=2", {"name": "n"}, content_type="application/json"
    )
    logging_hash = hash_of(response)
    text = run("errorlog", f"  {logging_hash.upper()} ")
    assert text.startswith(f"Logged error {logging_hash}\n")
    assert "status, code: 500 InternalError" in text
    assert "exception:    RuntimeError: plain view failed" in text
    assert "request:      POST /errorlog/plain-json-fail/" in text
    assert "1 occurrence(s)" in text
    assert '"page": "2"' in text
    assert '"name": "n"' in text
    assert "Traceback (most recent call last)" in text


def test_errorlog_json(client: Client) -> None:
    row = entry(client.get("/plain/raise/conflict/"))
    data = json.loads(run("errorlog", row.logging_hash, "--json"))
    assert data["logging_hash"] == row.logging_hash
    assert data["code"] == "Conflict"
    assert data["group"]["occurrence_count"] == 1


def test_errorlog_compact_entry(client: Client, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 1}
    client.get("/plain/raise/unhandled/")
    text = run("errorlog", hash_of(client.get("/plain/raise/unhandled/")))
    assert "compact:      yes" in text
    assert "Traceback (the group's first):" in text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0" * 40, "No logged error has the hash 0000"),
        ("xyz", "is not a logging hash"),
        ("a" * 41, "is not a logging hash"),
    ],
)
def test_errorlog_unknown_or_malformed(value: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("errorlog", value)


# --- errorlog_purge ------------------------------------------------------------------------


def make_entries(client: Client, path: str, count: int, days_old: int) -> list[str]:
    hashes = [hash_of(client.get(path)) for _ in range(count)]
    old = timezone.now() - timedelta(days=days_old)
    for index, logging_hash in enumerate(hashes):
        # Distinct times, oldest first, so "the newest N" is well defined.
        created = old + timedelta(seconds=index)
        ErrorLog.objects.filter(logging_hash=logging_hash).update(created=created)
    ErrorGroup.objects.filter(entries__logging_hash__in=hashes).update(
        first_seen=old, last_seen=old + timedelta(seconds=count)
    )
    return hashes


def test_purge_is_a_dry_run_by_default(client: Client) -> None:
    make_entries(client, "/plain/raise/unhandled/", 3, days_old=40)
    make_entries(client, "/plain/raise/conflict/", 2, days_old=1)
    text = run("errorlog_purge", "--older-than", "30d")
    assert text.startswith("Dry run: would delete 3 logged error(s) older than ")
    assert "and 1 error group(s) left empty" in text
    assert ErrorLog.objects.count() == 5


def test_purge_commit_deletes_in_batches(client: Client) -> None:
    make_entries(client, "/plain/raise/unhandled/", 5, days_old=40)
    recent = make_entries(client, "/plain/raise/conflict/", 2, days_old=1)
    text = run("errorlog_purge", "--older-than", "30d", "--batch-size", "2", "--commit")
    assert "Deleted 5 logged error(s)" in text
    assert "in 3 batch(es) of at most 2" in text
    assert "and 1 empty error group(s)" in text
    assert set(ErrorLog.objects.values_list("logging_hash", flat=True)) == set(recent)
    assert ErrorGroup.objects.count() == 1


def test_purge_keeps_the_newest_per_fingerprint(client: Client) -> None:
    old_a = make_entries(client, "/plain/raise/unhandled/", 5, days_old=40)
    old_b = make_entries(client, "/plain/raise/not-implemented/", 1, days_old=40)
    text = run("errorlog_purge", "--older-than", "30d", "--keep-per-fingerprint", "2")
    assert "would delete 3 logged error(s)" in text
    assert "keeping the newest 2 per fingerprint" in text
    assert "and 0 error group(s)" in text
    run(
        "errorlog_purge",
        "--older-than=30d",
        "--keep-per-fingerprint=2",
        "--commit",
        "--verbosity=2",
    )
    kept = set(ErrorLog.objects.values_list("logging_hash", flat=True))
    assert kept == {*old_a[-2:], *old_b}
    assert ErrorGroup.objects.count() == 2


def test_purge_deletes_check_their_conditions_again(client: Client) -> None:
    """Between selecting a batch and deleting it, a new occurrence may arrive: each DELETE
    repeats the conditions, and a group's DELETE never cascades to its entries."""
    make_entries(client, "/plain/raise/unhandled/", 3, days_old=40)
    make_entries(client, "/plain/raise/not-implemented/", 2, days_old=40)
    with CaptureQueriesContext(connection) as queries:
        purged = retention.purge(timezone.now() - timedelta(days=30), commit=True, batch_size=2)
    assert (purged.entries, purged.groups) == (5, 2)
    deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
    entry_deletes = [sql for sql in deletes if "errorlog" in sql.split("WHERE")[0]]
    tables = [sql.split("WHERE")[0] for sql in deletes]
    group_deletes = [sql for sql, t in zip(deletes, tables, strict=True) if "errorgroup" in t]
    assert len(entry_deletes) == 3
    # The group's hour buckets and users, then the group, in one transaction.
    assert ["hour" in t for t in tables[3:]] == [True, False, False]
    assert ["errorgroupuser" in t for t in tables[3:]] == [False, True, False]
    assert len(deletes) == 6  # no cascade DELETE of entries by group
    assert all('"created" <' in sql or "`created` <" in sql for sql in entry_deletes)
    group_delete = group_deletes[-1]
    assert "last_seen" in group_delete
    assert "EXISTS" in group_delete.upper()


def test_purge_default_age_is_the_retention_setting(client: Client, settings: Any) -> None:
    make_entries(client, "/plain/raise/unhandled/", 1, days_old=10)
    assert "would delete 0" in run("errorlog_purge")
    settings.COUNTERBALANCE_ERRORS = {"RETENTION_DAYS": 7}
    assert "would delete 1" in run("errorlog_purge")


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("30", timedelta(days=30)),
        (" 30D ", timedelta(days=30)),
    ],
)
def test_ages(age: str, expected: timedelta) -> None:
    from counterbalance_errors.management.commands.errorlog_purge import parse_age

    assert parse_age(age) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--older-than", "soon"],
        ["--older-than", "0d"],
        ["--older-than", "-3d"],
        ["--batch-size", "0"],
        ["--batch-size", "x"],
        ["--keep-per-fingerprint", "-1"],
        ["--keep-per-fingerprint", "x"],
    ],
)
def test_purge_rejects_bad_arguments(args: list[str]) -> None:
    with pytest.raises(CommandError):
        run("errorlog_purge", *args)


def test_errorlog_entry_without_traceback_and_with_a_body_note(client: Client) -> None:
    response = client.post("/drf/raise/conflict/", b'{"broken', content_type="application/json")
    text = run("errorlog", hash_of(response))
    assert "status, code: 409 Conflict" in text
    assert "Body:\n[not stored: not valid JSON]" in text
    assert "Traceback" not in text


def test_purge_function_without_progress(client: Client) -> None:
    from counterbalance_errors import retention

    make_entries(client, "/plain/raise/unhandled/", 3, days_old=40)
    purged = retention.purge(timezone.now() - timedelta(days=30), batch_size=2, commit=True)
    assert purged == retention.Purged(entries=3, groups=1, batches=2)
    assert not ErrorLog.objects.exists()
    assert not ErrorGroup.objects.exists()
