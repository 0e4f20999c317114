"""The admin of logged errors: read-only, found by hash, filtered, always escaped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin import site
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from counterbalance_errors import admin as admin_module
from counterbalance_errors.admin import ErrorGroupAdmin, ErrorLogAdmin
from counterbalance_errors.models import ErrorGroup, ErrorLog, normalise_hash
from tests.support.errorlog_helpers import entry, hash_of
from tests.support.triage_data import staff

pytestmark = pytest.mark.django_db

LIST = "/admin/counterbalance_errors/errorlog/"
GROUPS = "/admin/counterbalance_errors/errorgroup/"


def change_url(row: ErrorLog) -> str:
    return f"{LIST}{row.pk}/change/"


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    return staff(django_user_model, "viewer", "view_errorlog", "view_errorgroup")


@pytest.fixture
def row(client: Client) -> ErrorLog:
    return entry(client.get("/plain/raise/unhandled/?page=4"))


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- finding an entry by its hash ----------------------------------------------------------


@pytest.mark.parametrize("pasted", ["{h}", "  {h}  ", "{H}", "\t{H}\n"])
def test_pasting_a_hash_into_the_search_box_opens_the_entry(
    viewer: Client, row: ErrorLog, pasted: str
) -> None:
    term = pasted.format(h=row.logging_hash, H=row.logging_hash.upper())
    response = viewer.get(LIST, {"q": term})
    assert response.status_code == 302
    assert response["Location"] == change_url(row)


def test_the_entry_shows_traceback_request_and_group(viewer: Client, row: ErrorLog) -> None:
    page = viewer.get(change_url(row))
    html = page.content.decode()
    assert page.status_code == 200
    assert row.logging_hash in html
    assert "Traceback (most recent call last)" in html
    assert "KeyError: &#x27;secret-key-text&#x27;" in html
    assert "&quot;page&quot;: &quot;4&quot;" in html  # the query, as JSON
    assert "Occurrences in the group" in html
    assert "First seen" in html
    assert "Last seen" in html
    assert f"{GROUPS}{row.group_id}/change/" in html
    assert 'name="_save"' not in html  # read-only


def test_search_results_filter_exactly(viewer: Client, row: ErrorLog) -> None:
    admin = ErrorLogAdmin(ErrorLog, site)
    queryset = ErrorLog.objects.all()
    found, distinct = admin.get_search_results(None, queryset, row.logging_hash.upper())  # type: ignore[arg-type]
    assert list(found) == [row]
    assert distinct is False
    none, _ = admin.get_search_results(None, queryset, "not a hash")  # type: ignore[arg-type]
    assert list(none) == []
    every, _ = admin.get_search_results(None, queryset, "  ")  # type: ignore[arg-type]
    assert list(every) == [row]
    assert "logging_hash__exact" in ErrorLogAdmin.search_fields


@pytest.mark.parametrize(
    "term", ["abc", "g" * 40, "a" * 39, "a" * 41, "<script>alert(1)</script>", "' OR 1=1 --"]
)
def test_a_malformed_search_says_so(viewer: Client, row: ErrorLog, term: str) -> None:
    response = viewer.get(LIST, {"q": term})
    assert response.status_code == 200
    assert any("is not a logging hash" in m for m in messages_of(response))
    assert "0 results" in response.content.decode() or row.logging_hash not in (
        response.content.decode()
    )
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_an_unknown_hash_says_not_found(viewer: Client, row: ErrorLog) -> None:
    unknown = "0" * 40
    response = viewer.get(LIST, {"q": unknown})
    assert response.status_code == 200
    assert any(f"No logged error has the hash {unknown}" in m for m in messages_of(response))


def test_lookup_url_redirects_to_the_entry(viewer: Client, row: ErrorLog) -> None:
    response = viewer.get(f"{LIST}lookup/{row.logging_hash.upper()}/")
    assert response.status_code == 302
    assert response["Location"] == change_url(row)


@pytest.mark.parametrize("value", ["0" * 40, "nothex", "%3Cscript%3E"])
def test_lookup_url_unknown_or_malformed(viewer: Client, value: str) -> None:
    response = viewer.get(f"{LIST}lookup/{value}/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(LIST, 302)]
    found = messages_of(response)
    assert any("No logged error" in m or "is not a logging hash" in m for m in found)
    assert "<script>" not in response.content.decode()


def test_lookup_url_without_view_permission(django_user_model: Any, row: ErrorLog) -> None:
    nobody = staff(django_user_model, "nobody")
    response = nobody.get(f"{LIST}lookup/{row.logging_hash}/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert any("may not view logged errors" in m for m in messages_of(response))


def test_anonymous_users_are_sent_to_the_login_page(client: Client, row: ErrorLog) -> None:
    for url in (LIST, change_url(row), f"{LIST}lookup/{row.logging_hash}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# --- read-only, delete only for superusers -------------------------------------------------


def test_staff_without_the_view_permission_is_refused(
    django_user_model: Any, row: ErrorLog
) -> None:
    nobody = staff(django_user_model, "nobody")
    assert nobody.get(LIST).status_code == 403
    assert nobody.get(change_url(row)).status_code == 403


def test_nothing_can_be_added_or_changed(django_user_model: Any, row: ErrorLog) -> None:
    root = staff(django_user_model, "root", superuser=True)
    assert root.get(f"{LIST}add/").status_code == 403
    response = root.post(change_url(row), {"code": "Changed", "status": 200})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.code == "InternalError"
    assert root.get(f"{GROUPS}add/").status_code == 403


def test_only_superusers_delete_through_the_confirmation_post(
    django_user_model: Any, row: ErrorLog
) -> None:
    deleter = staff(django_user_model, "deleter", "view_errorlog", "delete_errorlog")
    assert deleter.post(f"{LIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ErrorLog.objects.filter(pk=row.pk).exists()

    root = staff(django_user_model, "root", superuser=True)
    confirmation = root.get(f"{LIST}{row.pk}/delete/")
    assert confirmation.status_code == 200
    assert ErrorLog.objects.filter(pk=row.pk).exists()  # GET only asks

    csrf = Client(enforce_csrf_checks=True, raise_request_exception=False)
    csrf.force_login(django_user_model.objects.get(username="root"))
    assert csrf.post(f"{LIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ErrorLog.objects.filter(pk=row.pk).exists()  # no CSRF token, no delete

    assert root.post(f"{LIST}{row.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not ErrorLog.objects.filter(pk=row.pk).exists()


def test_no_full_counts() -> None:
    for model_admin in (ErrorLogAdmin(ErrorLog, site), ErrorGroupAdmin(ErrorGroup, site)):
        assert model_admin.show_full_result_count is False


# --- filters, lists, escaping --------------------------------------------------------------


def test_filters_by_status_code_node_and_date(
    client: Client, viewer: Client, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-a"}
    server_error = hash_of(client.get("/plain/raise/unhandled/"))
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-b"}
    conflict = hash_of(client.get("/plain/raise/conflict/"))

    def listed(query: dict[str, str]) -> set[str]:
        response = viewer.get(LIST, query)
        assert response.status_code == 200, response.get("Location")
        return {r.logging_hash for r in response.context["cl"].result_list}

    assert listed({"status__exact": "500"}) == {server_error}
    assert listed({"code__exact": "Conflict"}) == {conflict}
    assert listed({"compute_node__exact": "node-b"}) == {conflict}
    # The links of the date filter ("Today", "Past 7 days", ...) are such ranges.
    created = ErrorLog.objects.get(logging_hash=conflict).created
    since = (created - timedelta(hours=1)).isoformat()
    assert listed({"created__gte": since}) == {server_error, conflict}
    day = "2000-01-01T00:00:00+00:00"
    assert listed({"created__gte": day, "created__lt": "2000-01-02T00:00:00+00:00"}) == set()
    group_id = ErrorLog.objects.get(logging_hash=conflict).group_id
    assert listed({"group__id__exact": str(group_id)}) == {conflict}
    page = viewer.get(LIST).content.decode()
    for label in ("By status", "By code", "By compute node", "By created"):
        assert label in page


def test_large_tables_are_not_counted(viewer: Client, row: ErrorLog) -> None:
    response = viewer.get(LIST, {"status__exact": "500"})
    assert response.context["cl"].show_full_result_count is False


def _table_scans(queries: CaptureQueriesContext) -> list[str]:
    """Statements that read the whole entry table: a COUNT without a LIMIT, a DISTINCT.

    The group table is small (one row per kind of error): filter choices read it whole.
    """
    scans = []
    for query in queries.captured_queries:
        sql = query["sql"].upper()
        if "COUNTERBALANCE_ERRORS_ERRORLOG" not in sql:
            continue
        if "DISTINCT" in sql or ("COUNT(" in sql and "LIMIT" not in sql):
            scans.append(query["sql"])
    return scans


@pytest.mark.parametrize(
    "query",
    [{}, {"status__exact": "500"}, {"code__exact": "Conflict"}, {"compute_node__exact": "node-b"}],
)
@pytest.mark.parametrize("url", [LIST, GROUPS])
def test_changelists_neither_count_nor_scan_the_whole_table(
    client: Client, viewer: Client, settings: Any, url: str, query: dict[str, str]
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-a"}
    client.get("/plain/raise/unhandled/")
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "node-b"}
    client.get("/plain/raise/conflict/")
    if url == GROUPS and "compute_node__exact" in query:
        return  # groups have no node
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(url, query)
    assert response.status_code == 200
    assert _table_scans(queries) == []
    page = response.content.decode()
    for option in ("status__exact=500", "code__exact=Conflict", "code__exact=InternalError"):
        assert option in page
    if url == LIST:
        assert "compute_node__exact=node-a" in page
        assert "compute_node__exact=node-b" in page
    assert response.context["cl"].result_count == (1 if query else 2)


def test_the_count_is_capped(client: Client, viewer: Client, monkeypatch: Any) -> None:
    for _ in range(3):
        client.get("/plain/raise/unhandled/")
    monkeypatch.setattr(ErrorLogAdmin, "list_per_page", 1)
    monkeypatch.setattr(admin_module, "COUNT_LIMIT", 2)
    response = viewer.get(LIST)
    assert response.context["cl"].result_count == 2
    assert response.context["cl"].paginator.num_pages == 2
    assert viewer.get(LIST, {"p": "2"}).status_code == 200


def test_group_list_and_page(viewer: Client, row: ErrorLog) -> None:
    assert viewer.get(GROUPS).status_code == 200
    page = viewer.get(f"{GROUPS}{row.group_id}/change/")
    assert page.status_code == 200
    assert "Traceback (most recent call last)" in page.content.decode()
    assert viewer.get(GROUPS, {"q": row.fingerprint}).status_code == 200


def test_compact_entries_show_the_groups_traceback(
    client: Client, viewer: Client, settings: Any
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"FLOOD_LIMIT": 1}
    client.get("/plain/raise/unhandled/")
    compact = entry(client.get("/plain/raise/unhandled/"))
    assert compact.compact
    html = viewer.get(change_url(compact)).content.decode()
    assert "The group&#x27;s latest traceback" in html
    assert "Full record skipped: flood control" in html
    assert "Traceback (most recent call last)" in html


MARKUP = "<script>alert(1)</script>"


def test_captured_markup_is_always_escaped(client: Client, viewer: Client) -> None:
    response = client.post(
        f"/errorlog/markup-fail/?q={MARKUP}",
        {"html": MARKUP, "nested": {"x": MARKUP}},
        content_type="application/json",
        HTTP_USER_AGENT=MARKUP,
        HTTP_REFERER=f"https://x.example/{MARKUP}",
    )
    row = entry(response)
    assert '<script>alert("exception")</script>' in row.group.traceback
    assert row.headers["User-Agent"] == MARKUP
    for url in (change_url(row), LIST, f"{GROUPS}{row.group_id}/change/", GROUPS):
        html = viewer.get(url).content.decode()
        assert "<script>alert" not in html, url
    html = viewer.get(change_url(row)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_normalise_hash() -> None:
    assert normalise_hash(" ABCDEF0123456789abcdef0123456789ABCDEF01 ") == (
        "abcdef0123456789abcdef0123456789abcdef01"
    )
    assert normalise_hash("abcdef0123456789abcdef0123456789abcdef0") is None
    assert normalise_hash("abcdef0123456789abcdef0123456789abcdef0\u0661") is None
