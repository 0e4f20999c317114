"""Retention: deleting old logged errors in batches (``manage.py errorlog_purge``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from counterbalance_errors.recorder import database_alias


@dataclass(frozen=True, slots=True)
class Purged:
    """What :func:`purge` deleted (or, in a dry run, would delete)."""

    entries: int
    groups: int
    batches: int


def purge(
    cutoff: datetime,
    *,
    keep: int = 0,
    batch_size: int = 1000,
    commit: bool = False,
    database: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Purged:
    """Delete the entries created before ``cutoff`` (except the newest ``keep`` of each
    fingerprint), then the groups left empty and not seen since; count only unless ``commit``.

    Deletes by primary key in batches of ``batch_size``, each its own statement, so no lock is
    held for long. ``progress(count, batches)`` is called after each fingerprint's deletes.
    """
    from django.db.models import Exists, OuterRef

    from counterbalance_errors.models import ErrorGroup, ErrorLog

    alias = database or database_alias()
    querysets = _deletable(alias, cutoff, keep)
    groups = ErrorGroup.objects.using(alias).filter(last_seen__lt=cutoff)
    empty_groups = groups.filter(~Exists(ErrorLog.objects.filter(group=OuterRef("pk"))))
    if not commit:
        entries = sum(queryset.count() for queryset in querysets)
        # Without `keep`, every entry of a group last seen before the cutoff goes.
        return Purged(entries, (empty_groups if keep else groups).count(), 0)
    deleted = batches = 0
    for queryset in querysets:
        count, runs = _delete_in_batches(queryset, batch_size)
        deleted += count
        batches += runs
        if runs and progress is not None:
            progress(count, runs)
    deleted_groups, _ = _delete_in_batches(empty_groups, batch_size)
    return Purged(deleted, deleted_groups, batches)


def _deletable(alias: str, cutoff: datetime, keep: int) -> list[Any]:
    """All old entries, or per fingerprint the old ones behind its newest ``keep``."""
    from django.db.models import Q

    from counterbalance_errors.models import ErrorLog

    old = ErrorLog.objects.using(alias).filter(created__lt=cutoff)
    if not keep:
        return [old]
    querysets = []
    # One group per fingerprint: the group's entries are the fingerprint's.
    groups = old.order_by().values_list("group_id", flat=True).distinct()
    for group_id in groups.iterator():
        newest = (
            ErrorLog.objects.using(alias)
            .filter(group_id=group_id)
            .order_by("-created", "-pk")
            .values_list("created", "pk")[keep - 1 : keep]
        )
        boundary = list(newest)
        if not boundary:
            continue  # fewer than `keep` entries: all kept
        created, pk = boundary[0]
        behind = Q(created__lt=created) | Q(created=created, pk__lt=pk)
        querysets.append(old.filter(behind, group_id=group_id))
    return querysets


def _delete_in_batches(queryset: Any, batch_size: int) -> tuple[int, int]:
    """Delete ``queryset`` in primary-key batches; each DELETE repeats its conditions.

    An occurrence may arrive between selecting a batch and deleting it: an entry that no longer
    matches is kept, and a group is deleted by one plain DELETE (its conditions say it has no
    entries), never by Django's cascade, which would take a brand-new entry with it. If the
    entry is inserted while that DELETE runs, the foreign key refuses the DELETE instead.
    A group's hour buckets and users go in the same transaction, just before it.
    """
    from django.db import transaction

    from counterbalance_errors.models import ErrorGroup, ErrorGroupHour, ErrorGroupUser

    deleted = runs = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted, runs
        batch = queryset.filter(pk__in=pks)
        if queryset.model is ErrorGroup:
            with transaction.atomic(using=queryset.db):
                for model in (ErrorGroupHour, ErrorGroupUser):
                    rows = model.objects.using(queryset.db).filter(group__in=batch.values("pk"))
                    rows._raw_delete(queryset.db)
                deleted += batch._raw_delete(queryset.db)
        else:
            deleted += batch.delete()[0]
        runs += 1
