"""``manage.py errorlog_purge --older-than 30d``: retention for logged errors.

A dry run unless ``--commit``. The deleting is :func:`counterbalance_errors.retention.purge`:
primary-key batches, each its own short statement, so it never holds long locks; error groups
left without entries and not seen since the cutoff go too. Never run on the request path:
schedule it (cron, celery beat).
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from counterbalance_errors import conf, retention

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
        cutoff = timezone.now() - age

        def progress(count: int, batches: int) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"  deleted {count} in {batches} batch(es)")

        result = retention.purge(
            cutoff,
            keep=keep,
            batch_size=batch_size,
            commit=options["commit"],
            database=options["database"],
            progress=progress,
        )
        scope = f"older than {cutoff.isoformat(timespec='seconds')}"
        if keep:
            scope += f", keeping the newest {keep} per fingerprint"
        if not options["commit"]:
            self.stdout.write(
                f"Dry run: would delete {result.entries} logged error(s) {scope}, and "
                f"{result.groups} error group(s) left empty. Run again with --commit to delete."
            )
            return
        self.stdout.write(
            f"Deleted {result.entries} logged error(s) {scope}, in {result.batches} batch(es) "
            f"of at most {batch_size}, and {result.groups} empty error group(s)."
        )
