"""Logged errors: one :class:`ErrorLog` row per occurrence, one :class:`ErrorGroup` per fingerprint.

Only :mod:`counterbalance_errors.recorder` writes them; the admin and the management
commands read (and purge) them. Every text column holds scrubbed data (``docs/logged-errors.md``).
Indexed columns stay short enough for MariaDB's utf8mb4 index limit.
"""

from __future__ import annotations

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

_HASH_RE = re.compile(r"[0-9a-f]{40}")


def normalise_hash(value: str) -> str | None:
    """The logging hash in ``value`` (lower-cased, stripped), or None when it is not one."""
    candidate = value.strip().lower()
    return candidate if _HASH_RE.fullmatch(candidate) else None


class ErrorGroup(models.Model):
    """Every occurrence of one error: same exception class and in-app frames (or status+code).

    The row holds counters only: the recorder updates it once per batch, and on PostgreSQL
    the update stays HOT (no indexed column changes, no large value copied). The traceback
    lives on the entries (:attr:`traceback` reads the latest full one).
    """

    class State(models.TextChoices):
        UNRESOLVED = "unresolved", _("unresolved")
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")

    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    exception_class = models.CharField(_("exception class"), max_length=255, blank=True)
    code = models.CharField(_("code"), max_length=64)
    status = models.PositiveSmallIntegerField(_("status"))
    title = models.CharField(_("title"), max_length=255, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    occurrence_count = models.PositiveBigIntegerField(_("occurrences"), default=0)
    # Flood control: full records kept in the current window (recorder.py).
    window_start = models.DateTimeField(_("flood window start"))
    window_count = models.PositiveIntegerField(_("occurrences in the flood window"), default=0)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.UNRESOLVED
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    regressed_at = models.DateTimeField(_("regressed at"), null=True, blank=True)
    regressed_hash = models.CharField(
        _("regressed hash"),
        max_length=40,
        blank=True,
        help_text=_("The first occurrence after the group was resolved."),
    )

    class Meta:
        verbose_name = _("error group")
        verbose_name_plural = _("error groups")
        ordering = ["-last_seen", "-pk"]
        # No index on last_seen: it changes with every count update, and an indexed column
        # makes each update non-HOT on PostgreSQL (docs/logged-errors.md, "Storage").
        constraints = [
            # A constraint, not unique=True: PostgreSQL gets no varchar_pattern_ops twin.
            models.UniqueConstraint(fields=["fingerprint"], name="cb_errorgroup_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.exception_class or self.status} ({self.occurrence_count})"

    @property
    def traceback(self) -> str:
        """The traceback of the group's latest full entry that has one ("" if none)."""
        latest = (
            self.entries.filter(compact=False)
            .exclude(traceback="")
            .order_by("-created", "-pk")
            .values_list("traceback", flat=True)
            .first()
        )
        return latest or ""


class ErrorGroupHour(models.Model):
    """Occurrences of a group in one UTC hour (for trends), written once per recorder batch."""

    group = models.ForeignKey(
        ErrorGroup,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="hours",
        db_index=False,  # the unique constraint, which starts with it, serves it
    )
    hour = models.DateTimeField(_("hour"))
    count = models.PositiveIntegerField(_("occurrences"), default=0)

    class Meta:
        verbose_name = _("error group hour")
        verbose_name_plural = _("error group hours")
        constraints = [
            models.UniqueConstraint(fields=["group", "hour"], name="cb_errorgrouphour_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} {self.hour.isoformat()}: {self.count}"


class ErrorGroupUser(models.Model):
    """A user who met the group's error (users affected = the group's rows here)."""

    group = models.ForeignKey(
        ErrorGroup,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="users",
        db_index=False,  # the unique constraint, which starts with it, serves it
    )
    user_id = models.CharField(_("user id"), max_length=255)

    class Meta:
        verbose_name = _("error group user")
        verbose_name_plural = _("error group users")
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id"], name="cb_errorgroupuser_user"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} {self.user_id}"


_NOT_EMPTY = {
    name: ~models.Q(**{name: ""}) for name in ("path", "request_id", "user_id", "trace_id")
}


class ErrorLog(models.Model):
    """One logged error, found by the ``logging_hash`` its client was given.

    A compact entry (over the flood limit) keeps only what tells this occurrence apart: its
    hash, time, status, method, path, user and compute node; the rest is its group's. Its JSON
    columns are NULL, its other texts empty.
    """

    logging_hash = models.CharField(_("logging hash"), max_length=40)
    group = models.ForeignKey(
        ErrorGroup,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="entries",
    )
    created = models.DateTimeField(_("created"))
    status = models.PositiveSmallIntegerField(_("status"))
    code = models.CharField(_("code"), max_length=64)
    message = models.TextField(_("message"), blank=True)
    details = models.JSONField(_("details"), null=True, blank=True)
    exception_class = models.CharField(_("exception class"), max_length=255, blank=True)
    exception_message = models.TextField(_("exception message"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    frame_locals = models.JSONField(_("frame locals"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=16, blank=True)
    path = models.TextField(_("path"), blank=True)
    query = models.JSONField(_("query"), null=True, blank=True)
    headers = models.JSONField(_("headers"), null=True, blank=True)
    body = models.JSONField(_("body"), null=True, blank=True)
    user_id = models.CharField(_("user id"), max_length=255, blank=True)
    compute_node = models.CharField(_("compute node"), max_length=255, blank=True)
    request_id = models.CharField(_("request id"), max_length=255, blank=True)
    trace_id = models.CharField(_("trace id"), max_length=32, blank=True)
    sentry_event_id = models.CharField(_("Sentry event id"), max_length=32, blank=True)
    compact = models.BooleanField(
        _("compact"),
        default=False,
        help_text=_("Over the flood limit: only counted, without request data or traceback."),
    )

    class Meta:
        verbose_name = _("logged error")
        verbose_name_plural = _("logged errors")
        ordering = ["-created", "-pk"]
        constraints = [
            # A constraint, not unique=True: PostgreSQL gets no varchar_pattern_ops twin.
            models.UniqueConstraint(fields=["logging_hash"], name="cb_errorlog_logging_hash"),
        ]
        # The lookups of the admin: by hash (the constraint), a group's entries, and search.
        # Search indexes are partial (PostgreSQL, SQLite): compact and anonymous rows add
        # nothing to them (benchmarks/disk.py); MariaDB has no partial indexes and skips them.
        indexes = [
            # A group's full entries, newest first (its traceback, the admin's list); the
            # foreign key's own index (deduplicated on PostgreSQL) serves the compact ones.
            models.Index(
                fields=["group", "created"],
                name="cb_errorlog_group_full",
                condition=models.Q(compact=False),
            ),
            models.Index(
                fields=["path"],
                name="cb_errorlog_path",
                opclasses=["text_pattern_ops"],
                # Full entries only: a compact one is found by its hash or its group.
                condition=_NOT_EMPTY["path"] & models.Q(compact=False),
            ),
            models.Index(
                fields=["request_id"],
                name="cb_errorlog_request",
                condition=_NOT_EMPTY["request_id"],
            ),
            models.Index(
                fields=["user_id"], name="cb_errorlog_user", condition=_NOT_EMPTY["user_id"]
            ),
            models.Index(
                fields=["trace_id"], name="cb_errorlog_trace", condition=_NOT_EMPTY["trace_id"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.logging_hash} {self.status} {self.code}"

    @property
    def fingerprint(self) -> str:
        """The group's fingerprint (stored once, on the group)."""
        return self.group.fingerprint
