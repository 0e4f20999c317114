"""The demo: a documented staff account after migrate, and a button that fills the triage desk."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from counterbalance_errors.models import ErrorGroup, ErrorGroupUser, ErrorLog
from example_project import demo

README = "README.md"


@pytest.fixture(autouse=True)
def example_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "example_project.urls"
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "demo-node-1"}
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_migrate_creates_the_demo_account_only_when_asked(settings: Any) -> None:
    call_command("migrate", verbosity=0)
    assert authenticate(username=demo.USERNAME, password=demo.PASSWORD) is None  # tests: off
    settings.DEMO_ACCOUNT = True
    call_command("migrate", verbosity=0)
    user = authenticate(username=demo.USERNAME, password=demo.PASSWORD)
    assert user is not None
    assert user.is_staff
    assert not user.is_superuser
    assert user.has_perms(
        ["counterbalance_errors.view_errorgroup", "counterbalance_errors.change_errorgroup"]
    )
    assert not user.has_perm("counterbalance_errors.change_errorlog")


def test_the_index_offers_the_account_and_the_button(client: Client) -> None:
    html = client.get("/").content.decode()
    assert f"<code>{demo.USERNAME}</code> with the password <code>{demo.PASSWORD}</code>" in html
    assert '<form method="post" action="/demo/generate/" class="generate">' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db
def test_the_button_makes_a_realistic_mix_and_opens_the_desk(settings: Any) -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post("/demo/generate/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == "/admin/counterbalance_errors/errorgroup/"
    groups = ErrorGroup.objects.all()
    assert groups.count() >= 6
    assert groups.filter(occurrence_count__gt=1).count() >= 5  # recurrences
    total = sum(times for _, times in demo.MIX) + 2
    assert groups.aggregate(n=Sum("occurrence_count"))["n"] == total
    assert set(ErrorLog.objects.values_list("compute_node", flat=True)) == {
        "demo-node-1",
        "demo-node-2",
    }
    assert ErrorGroupUser.objects.values("user_id").distinct().count() >= 2
    regressed = groups.get(exception_class="NotImplementedError")
    assert regressed.state == ErrorGroup.State.UNRESOLVED
    assert regressed.regressed_at is not None
    assert regressed.regressed_hash
