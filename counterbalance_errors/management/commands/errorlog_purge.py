"""``manage.py errorlog_purge --older-than 30d``: retention for logged errors.

A dry run unless ``--commit``. Deletes in primary-key batches, each its own short statement,
so it never holds long locks; error groups left without entries and not seen since the cutoff
go too. Never run on the request path: schedule it (cron, celery beat).
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from counterbalance_errors import conf
from counterbalance_errors.models import ErrorGroup, ErrorLog

_AGE = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


def parse_age(value: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s``; a bare number means days."""
    match = _AGE.fullmatch(value.strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an age: use a positive number with d, h, m, s or w (e.g. 30d)."
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer.")
    return number


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer >= 0.")
    return number


class Command(BaseCommand):
    help = (
        "Delete logged errors older than --older-than (default: RETENTION_DAYS days). "
        "A dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=parse_age,
            help="Age of the entries to delete: 30d, 12h, 2w, ... (default: RETENTION_DAYS).",
        )
        parser.add_argument(
            "--keep-per-fingerprint",
            type=_non_negative,
            default=0,
            help="Keep the newest N entries of every fingerprint, however old.",
        )
        parser.add_argument(
            "--batch-size", type=_positive, default=1000, help="Rows deleted per statement."
        )
        parser.add_argument(
            "--commit", action="store_true", help="Delete for real (default: a dry run)."
        )
        parser.add_argument("--database", help="Database alias (default: ErrorLog's router).")

    def handle(self, *args: Any, **options: Any) -> None:
        age = options["older_than"] or timedelta(days=conf.get("RETENTION_DAYS"))
        keep: int = options["keep_per_fingerprint"]
        batch_size: int = options["batch_size"]
        commit: bool = options["commit"]
        database = options["database"] or router.db_for_write(ErrorLog) or DEFAULT_DB_ALIAS
        cutoff = timezone.now() - age

        querysets = list(_deletable(database, cutoff, keep))
        groups = ErrorGroup.objects.using(database).filter(last_seen__lt=cutoff)
        scope = f"older than {cutoff.isoformat(timespec='seconds')}"
        if keep:
            scope += f", keeping the newest {keep} per fingerprint"
        if not commit:
            entries = sum(qs.count() for qs in querysets)
            if keep:
                groups = groups.filter(~Exists(ErrorLog.objects.filter(group=OuterRef("pk"))))
            self.stdout.write(
                f"Dry run: would delete {entries} logged error(s) {scope}, and "
                f"{groups.count()} error group(s) left empty. Run again with --commit to delete."
            )
            return
        deleted = batches = 0
        for queryset in querysets:
            count, runs = _delete_in_batches(database, queryset, batch_size, ErrorLog)
            deleted += count
            batches += runs
            if runs and options["verbosity"] >= 2:
                self.stdout.write(f"  deleted {count} in {runs} batch(es)")
        empty = groups.filter(~Exists(ErrorLog.objects.filter(group=OuterRef("pk"))))
        deleted_groups, _ = _delete_in_batches(database, empty, batch_size, ErrorGroup)
        self.stdout.write(
            f"Deleted {deleted} logged error(s) {scope}, in {batches} batch(es) of at most "
            f"{batch_size}, and {deleted_groups} empty error group(s)."
        )


def _deletable(database: str, cutoff: datetime, keep: int) -> list[QuerySet[ErrorLog]]:
    """The entries to delete: all old ones, or per fingerprint those behind its newest ``keep``."""
    old = ErrorLog.objects.using(database).filter(created__lt=cutoff)
    if not keep:
        return [old]
    querysets = []
    fingerprints = old.order_by().values_list("fingerprint", flat=True).distinct()
    for fp in fingerprints.iterator():
        newest = (
            ErrorLog.objects.using(database)
            .filter(fingerprint=fp)
            .order_by("-created", "-pk")
            .values_list("created", "pk")[keep - 1 : keep]
        )
        boundary = list(newest)
        if not boundary:
            continue  # fewer than `keep` entries: all kept
        created, pk = boundary[0]
        behind = Q(created__lt=created) | Q(created=created, pk__lt=pk)
        querysets.append(old.filter(behind, fingerprint=fp))
    return querysets


def _delete_in_batches(
    database: str, queryset: QuerySet[Any], batch_size: int, model: type[Any]
) -> tuple[int, int]:
    deleted = runs = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted, runs
        model.objects.using(database).filter(pk__in=pks).delete()
        deleted += len(pks)
        runs += 1
