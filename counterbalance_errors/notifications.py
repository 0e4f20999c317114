"""Mail to ``ADMINS`` when a new kind of error appears or a resolved one comes back.

Off unless ``COUNTERBALANCE_ERRORS["NOTIFY_ADMINS"]`` is true. The receivers listen to
:data:`~counterbalance_errors.signals.error_group_created` and
:data:`~counterbalance_errors.signals.error_group_regressed`, which the recorder sends after
the rows are committed, off the request path. Each mail goes through Django's
``mail_admins`` and names the group, the occurrence's ``logging_hash`` and a link to the
group's admin page (absolute when ``NOTIFY_BASE_URL`` is set, else the path only).

Rate limit: at most one mail per group and event per ``NOTIFY_INTERVAL`` seconds, kept in
Django's default cache (``cache.add``: with a shared cache such as Redis the limit holds
across processes; with the local-memory cache, per process).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.mail import mail_admins
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext

from counterbalance_errors import conf, signals

CREATED = "created"
REGRESSED = "regressed"


def group_url(group: Any) -> str:
    """The group's admin page: ``NOTIFY_BASE_URL`` + path, or the path alone when unset."""
    try:
        url = reverse("admin:counterbalance_errors_errorgroup_change", args=[group.pk])
    except NoReverseMatch:  # the admin is not installed in this URLconf
        return ""
    base = conf.get("NOTIFY_BASE_URL")
    return f"{base.rstrip('/')}{url}" if base else url


def may_send(event: str, group: Any) -> bool:
    """True once per group and event per ``NOTIFY_INTERVAL`` seconds (0: always)."""
    interval = conf.get("NOTIFY_INTERVAL")
    if interval == 0:
        return True
    return bool(cache.add(f"counterbalance_errors:notified:{event}:{group.pk}", 1, interval))


def message(event: str, group: Any, logging_hash: str) -> tuple[str, str]:
    """The subject and body of the mail about ``group``."""
    title = group.title or f"{group.status} {group.code}"
    if event == CREATED:
        subject = gettext("New error: %(title)s") % {"title": title}
        lead = gettext("A new kind of error occurred.")
    else:
        subject = gettext("Regression: %(title)s") % {"title": title}
        lead = gettext("An error group marked resolved occurred again.")
    lines = [
        lead,
        "",
        f"{gettext('Code')}: {group.code} ({group.status})",
        f"{gettext('Title')}: {title}",
        f"{gettext('Logging hash')}: {logging_hash}",
        f"{gettext('Group')}: {group_url(group) or group.pk}",
    ]
    return " ".join(subject.split())[:200], "\n".join(lines) + "\n"


def notify(event: str, group: Any, logging_hash: str) -> bool:
    """Mail the admins about ``group`` unless notifications are off or rate limited."""
    if not conf.get("NOTIFY_ADMINS") or not may_send(event, group):
        return False
    subject, body = message(event, group, logging_hash)
    mail_admins(subject, body)
    return True


def on_created(sender: Any, group: Any, logging_hash: str, **kwargs: Any) -> None:
    notify(CREATED, group, logging_hash)


def on_regressed(sender: Any, group: Any, logging_hash: str, **kwargs: Any) -> None:
    notify(REGRESSED, group, logging_hash)


def connect() -> None:
    """Connect the receivers (``AppConfig.ready``); connecting twice is a no-op."""
    signals.error_group_created.connect(on_created, dispatch_uid="counterbalance_errors.notify")
    signals.error_group_regressed.connect(on_regressed, dispatch_uid="counterbalance_errors.notify")
