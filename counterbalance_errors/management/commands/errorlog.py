"""``manage.py errorlog <hash>``: print the logged error a client quoted."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, router
from django.forms.models import model_to_dict

from counterbalance_errors.models import ErrorLog, normalise_hash


class Command(BaseCommand):
    help = "Print the logged error with the given logging hash (as quoted by the client)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("logging_hash", help="40 hexadecimal characters, any case.")
        parser.add_argument("--json", action="store_true", help="Print the entry as JSON.")
        parser.add_argument("--database", help="Database alias (default: ErrorLog's router).")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = str(options["logging_hash"])
        logging_hash = normalise_hash(raw)
        if logging_hash is None:
            raise CommandError(
                f"{raw[:60]!r} is not a logging hash: a logging hash is 40 hexadecimal "
                "characters (0-9, a-f)."
            )
        database = options["database"] or router.db_for_read(ErrorLog) or DEFAULT_DB_ALIAS
        entry = (
            ErrorLog.objects.using(database)
            .select_related("group")
            .filter(logging_hash=logging_hash)
            .first()
        )
        if entry is None:
            raise CommandError(
                f"No logged error has the hash {logging_hash}. It may have been purged, or "
                "storing it failed: search the logs for the hash."
            )
        if options["json"]:
            self.stdout.write(json.dumps(as_json(entry), indent=2, default=str))
        else:
            self.stdout.write(as_text(entry))


def as_json(entry: ErrorLog) -> dict[str, Any]:
    data = model_to_dict(entry)
    data["created"] = entry.created.isoformat()
    group = entry.group
    data["traceback"] = traceback_of(entry)
    data["group"] = {
        "id": group.pk,
        "occurrence_count": group.occurrence_count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
    }
    return data


def _block(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def as_text(entry: ErrorLog) -> str:
    group = entry.group
    exception = ": ".join(p for p in (entry.exception_class, entry.exception_message) if p)
    lines = [
        f"Logged error {entry.logging_hash}",
        f"  created:      {entry.created.isoformat()}",
        f"  status, code: {entry.status} {entry.code}",
        f"  message:      {entry.message or '-'}",
        f"  exception:    {exception or '-'}",
        f"  request:      {entry.method or '-'} {entry.path or ''}".rstrip(),
        f"  user id:      {entry.user_id or '-'}",
        f"  compute node: {entry.compute_node or '-'}",
        f"  request id:   {entry.request_id or '-'}",
        f"  group:        {group.occurrence_count} occurrence(s), first seen "
        f"{group.first_seen.isoformat()}, last seen {group.last_seen.isoformat()}",
        f"  fingerprint:  {entry.fingerprint}",
    ]
    if entry.compact:
        lines.append("  compact:      yes (over the flood limit: counted, request data not kept)")
    for title, value in (
        ("Details", entry.details),
        ("Query", entry.query),
        ("Headers", entry.headers),
        ("Body", entry.body),
        ("Frame locals", entry.frame_locals),
    ):
        if value not in (None, "", [], {}):
            lines += ["", f"{title}:", _block(value)]
    traceback = traceback_of(entry)
    if traceback:
        label = "Traceback (the group's first)" if entry.compact else "Traceback"
        lines += ["", f"{label}:", traceback.rstrip()]
    return "\n".join(lines) + "\n"


def traceback_of(entry: ErrorLog) -> str:
    """The entry's traceback; a compact entry has none: its group's latest stands in for it."""
    return entry.traceback or entry.group.traceback
