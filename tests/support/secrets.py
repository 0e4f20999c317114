"""Looking for planted marker secrets where a logged error goes."""

from __future__ import annotations

from typing import Any

from django.test import Client


def superuser_client(user_model: Any) -> Client:
    """A client logged in as a new superuser (for the admin's pages)."""
    user = user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def assert_absent(mark: str, text: str, where: str = "") -> None:
    """``mark`` is not in ``text``, in any case (PostgreSQL's lower(email) index lowers it)."""
    found = text.lower().find(mark.lower())
    assert found < 0, f"{where}: {text[max(0, found - 200) : found + 80]}"


def assert_not_in_admin(admin: Client, row: Any, mark: str) -> None:
    """Neither the row's nor its group's change view, nor the list of entries, shows ``mark``."""
    for url in (
        f"/admin/counterbalance_errors/errorlog/{row.pk}/change/",
        f"/admin/counterbalance_errors/errorgroup/{row.group_id}/change/",
        "/admin/counterbalance_errors/errorlog/",
    ):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert_absent(mark, page.content.decode(), url)
