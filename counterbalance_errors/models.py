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
    """Every occurrence of one error: same exception class and in-app frames (or status+code)."""

    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    exception_class = models.CharField(_("exception class"), max_length=255, blank=True)
    code = models.CharField(_("code"), max_length=64)
    status = models.PositiveSmallIntegerField(_("status"))
    title = models.CharField(_("title"), max_length=255, blank=True)
    traceback = models.TextField(
        _("traceback"), blank=True, help_text=_("The first occurrence's traceback (5xx).")
    )
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    occurrence_count = models.PositiveBigIntegerField(_("occurrences"), default=0)
    # Flood control: full records kept in the current window (recorder.py).
    window_start = models.DateTimeField(_("flood window start"))
    window_count = models.PositiveIntegerField(_("occurrences in the flood window"), default=0)

    class Meta:
        verbose_name = _("error group")
        verbose_name_plural = _("error groups")
        ordering = ["-last_seen", "-pk"]
        indexes = [models.Index(fields=["last_seen"], name="cb_errorgroup_last_seen")]

    def __str__(self) -> str:
        return f"{self.code} {self.exception_class or self.status} ({self.occurrence_count})"


class ErrorLog(models.Model):
    """One logged error, found by the ``logging_hash`` its client was given."""

    logging_hash = models.CharField(_("logging hash"), max_length=40, unique=True)
    group = models.ForeignKey(
        ErrorGroup,
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        related_name="entries",
    )
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    created = models.DateTimeField(_("created"))
    status = models.PositiveSmallIntegerField(_("status"))
    code = models.CharField(_("code"), max_length=64)
    message = models.TextField(_("message"), blank=True)
    details = models.JSONField(_("details"), default=list, blank=True)
    exception_class = models.CharField(_("exception class"), max_length=255, blank=True)
    exception_message = models.TextField(_("exception message"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    frame_locals = models.JSONField(_("frame locals"), default=list, blank=True)
    method = models.CharField(_("method"), max_length=16, blank=True)
    path = models.TextField(_("path"), blank=True)
    query = models.JSONField(_("query"), default=dict, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.JSONField(_("body"), null=True, blank=True)
    user_id = models.CharField(_("user id"), max_length=255, blank=True)
    compute_node = models.CharField(_("compute node"), max_length=255, blank=True)
    request_id = models.CharField(_("request id"), max_length=255, blank=True)
    compact = models.BooleanField(
        _("compact"),
        default=False,
        help_text=_("Over the flood limit: only counted, without request data or traceback."),
    )

    class Meta:
        verbose_name = _("logged error")
        verbose_name_plural = _("logged errors")
        ordering = ["-created", "-pk"]
        indexes = [
            models.Index(fields=["created"], name="cb_errorlog_created"),
            models.Index(fields=["status", "created"], name="cb_errorlog_status"),
            models.Index(fields=["code", "created"], name="cb_errorlog_code"),
            models.Index(fields=["compute_node", "created"], name="cb_errorlog_node"),
            models.Index(fields=["fingerprint", "created"], name="cb_errorlog_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.logging_hash} {self.status} {self.code}"
