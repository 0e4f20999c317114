"""Rows for the admin tests, written as the recorder writes them (groups, entries, hour
buckets, users), directly through the ORM so a test controls every time and count; and logged-in
staff clients."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission
from django.test import Client

from counterbalance_errors.models import ErrorGroup, ErrorGroupHour, ErrorGroupUser, ErrorLog

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/venv/lib/python3.11/site-packages/django/core/handlers/base.py", line 197, in '
    "_get_response\n"
    "    response = wrapped_callback(request)\n"
    '  File "/srv/shop/views.py", line 12, in checkout\n'
    "    total = price / quantity\n"
    "ZeroDivisionError: division by zero"
)


def digest(*parts: Any, length: int = 40) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:length]


def group(name: str, now: datetime, **fields: Any) -> ErrorGroup:
    values: dict[str, Any] = {
        "fingerprint": digest("fp", name, length=64),
        "exception_class": "ZeroDivisionError",
        "code": "InternalError",
        "status": 500,
        "title": f"ZeroDivisionError: {name}",
        "first_seen": now - timedelta(days=3),
        "last_seen": now,
        "occurrence_count": 1,
        "window_start": now,
        "window_count": 1,
    }
    values.update(fields)
    return ErrorGroup.objects.create(**values)


def entry(of: ErrorGroup, created: datetime, index: int = 0, **fields: Any) -> ErrorLog:
    values: dict[str, Any] = {
        "logging_hash": digest("entry", of.pk, index, created.isoformat()),
        "created": created,
        "status": of.status,
        "code": of.code,
        "message": "An internal error occurred.",
        "exception_class": of.exception_class,
        "exception_message": "division by zero",
        "traceback": TRACEBACK,
        "method": "GET",
        "path": "/api/checkout/",
        "user_id": "",
        "compute_node": "node-a",
        "request_id": digest("req", of.pk, index, length=32),
    }
    values.update(fields)
    return ErrorLog.objects.create(group=of, **values)


def hours(of: ErrorGroup, counts: dict[datetime, int]) -> None:
    ErrorGroupHour.objects.bulk_create(
        [ErrorGroupHour(group=of, hour=hour, count=count) for hour, count in counts.items()]
    )


def users(of: ErrorGroup, *user_ids: str) -> None:
    ErrorGroupUser.objects.bulk_create([ErrorGroupUser(group=of, user_id=u) for u in user_ids])


def staff(django_user_model: Any, name: str, *perms: str, superuser: bool = False) -> Client:
    """A client logged in as a staff user with the given permission codenames."""
    if superuser:
        user = django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw-1")
    else:
        user = django_user_model.objects.create_user(name, password="pw-1", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client
