"""Mail to ADMINS on a new error group and on a regression: opt-in, rate limited per group."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import django
import pytest
from django.core import mail
from django.core.cache import cache

from counterbalance_errors import signals
from counterbalance_errors.models import ErrorGroup
from tests.support import triage_data as data

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HASH = "c0ffee" + "0" * 34


@pytest.fixture(autouse=True)
def admins(settings: Any) -> Iterator[None]:
    # Django 6.0 takes addresses; 5.2 only (name, address) pairs, which 6.x deprecates.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    settings.EMAIL_SUBJECT_PREFIX = "[shop] "
    settings.COUNTERBALANCE_ERRORS = {"NOTIFY_ADMINS": True}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def group() -> ErrorGroup:
    return data.group("notify", NOW, title="ZeroDivisionError: division by zero")


def created(group: ErrorGroup, logging_hash: str = HASH) -> None:
    signals.error_group_created.send(sender=ErrorGroup, group=group, logging_hash=logging_hash)


def test_a_new_group_mails_the_admins_with_the_hash_and_a_link(
    group: ErrorGroup, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {
        "NOTIFY_ADMINS": True,
        "NOTIFY_BASE_URL": "https://errors.example.com/",
    }
    created(group)
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == "[shop] New error: ZeroDivisionError: division by zero"
    assert f"Logging hash: {HASH}" in message.body
    url = f"https://errors.example.com/admin/counterbalance_errors/errorgroup/{group.pk}/change/"
    assert f"Group: {url}" in message.body
    assert "Code: InternalError (500)" in message.body


def test_a_regression_mails_too_and_without_a_base_the_link_is_the_path(
    group: ErrorGroup,
) -> None:
    signals.error_group_regressed.send(sender=ErrorGroup, group=group, logging_hash=HASH)
    [message] = mail.outbox
    assert message.subject.startswith("[shop] Regression: ")
    assert f"Group: /admin/counterbalance_errors/errorgroup/{group.pk}/change/" in message.body


def test_without_the_admin_in_the_urlconf_the_mail_names_the_group_by_its_id(
    group: ErrorGroup, settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.support.profile_docs_urls"  # an API without the admin
    created(group)
    [message] = mail.outbox
    assert f"Group: {group.pk}\n" in message.body


def test_at_most_one_mail_per_group_and_event_per_interval(group: ErrorGroup) -> None:
    other = data.group("other", NOW)
    created(group)
    created(group, "1" * 40)
    created(other)
    signals.error_group_regressed.send(sender=ErrorGroup, group=group, logging_hash=HASH)
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[shop] New error",
        "[shop] New error",
        "[shop] Regression",
    ]
    cache.clear()  # the interval is over
    created(group)
    assert len(mail.outbox) == 4


def test_an_interval_of_zero_mails_every_event(group: ErrorGroup, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"NOTIFY_ADMINS": True, "NOTIFY_INTERVAL": 0}
    created(group)
    created(group)
    assert len(mail.outbox) == 2


def test_off_by_default(group: ErrorGroup, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {}
    created(group)
    assert mail.outbox == []


def test_a_subject_never_carries_a_line_break(group: ErrorGroup) -> None:
    ErrorGroup.objects.filter(pk=group.pk).update(title="Boom\r\nBcc: victim@example.com")
    group.refresh_from_db()
    created(group)
    [message] = mail.outbox
    assert message.subject == "[shop] New error: Boom Bcc: victim@example.com"


def ours() -> list[Any]:
    """The app's mails (Django's own AdminEmailHandler mails ADMINS about each 500 too)."""
    return [m for m in mail.outbox if "Internal Server Error" not in m.subject]


@pytest.mark.django_db(transaction=True)
def test_the_recorder_mails_a_new_group_once_and_its_regression(django_user_model: Any) -> None:
    from django.test import Client

    from counterbalance_errors.testing import wait_for_recorder

    client = Client(raise_request_exception=False)
    for _ in range(2):
        client.get("/plain/raise/unhandled/")
    wait_for_recorder()
    assert [m.subject for m in ours()] == ["[shop] New error: KeyError: 'secret-key-text'"]
    group = ErrorGroup.objects.get()
    triager = data.staff(django_user_model, "triager", "view_errorgroup", "change_errorgroup")
    url = f"/admin/counterbalance_errors/errorgroup/{group.pk}/state/"
    triager.post(url, {"state": "resolved"})
    comeback = client.get("/plain/raise/unhandled/")
    wait_for_recorder()
    [_, regressed] = ours()
    assert regressed.subject == "[shop] Regression: KeyError: 'secret-key-text'"
    assert f"Logging hash: {comeback.json()['logging_hash']}" in regressed.body
