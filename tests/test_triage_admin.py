"""The triage desk: the group list as front door, the group page, state, search, the entry
page's order, NUL-safe filters, escaping of every new field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from counterbalance_errors.models import ErrorGroup, ErrorLog
from counterbalance_errors.testing import assert_error
from tests.support import triage_data as data

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)
HOUR = NOW.replace(minute=0, second=0)
APP = "/admin/counterbalance_errors/"
GROUPS = f"{APP}errorgroup/"
LIST = f"{APP}errorlog/"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False), timezone.override(UTC):
        yield


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    return data.staff(django_user_model, "viewer", "view_errorlog", "view_errorgroup")


@pytest.fixture
def triager(django_user_model: Any) -> Client:
    return data.staff(
        django_user_model, "triager", "view_errorlog", "view_errorgroup", "change_errorgroup"
    )


@pytest.fixture
def busy() -> ErrorGroup:
    """A group seen 9 times in the last 24 hours (and 4 times before), by 2 users, on 2 nodes."""
    group = data.group("busy", NOW, occurrence_count=13)
    data.hours(
        group,
        {
            HOUR: 5,
            HOUR - timedelta(hours=23): 4,
            HOUR - timedelta(hours=24): 3,
            HOUR - timedelta(days=2): 1,
        },
    )
    data.users(group, "42", "43")
    data.entry(group, NOW - timedelta(minutes=1), 1, compute_node="node-a", user_id="42")
    data.entry(group, NOW - timedelta(minutes=2), 2, compute_node="node-b", user_id="43")
    return group


def cells(html: str, group: ErrorGroup) -> str:
    """The changelist row of ``group``."""
    link = html.index(f'href="{GROUPS}{group.pk}/change/')
    start = html.rindex("<tr", 0, link)
    return html[start : html.index("</tr>", start)]


# --- the front door ------------------------------------------------------------------------


def test_the_app_index_leads_to_the_group_list(viewer: Client) -> None:
    html = viewer.get(APP).content.decode()
    assert f'<meta http-equiv="refresh" content="0; url={GROUPS}">' in html
    assert f'<a href="{GROUPS}">Open the error groups' in html


def test_the_group_list_answers_what_is_breaking(viewer: Client, busy: ErrorGroup) -> None:
    quiet = data.group("quiet", NOW - timedelta(days=5), code="Conflict", status=409)
    response = viewer.get(GROUPS)
    assert response.status_code == 200
    assert [g.pk for g in response.context["cl"].result_list] == [busy.pk, quiet.pk]
    html = response.content.decode()
    assert "Seen (UTC)" in html  # the column heading names the active timezone
    row = cells(html, busy)
    assert "<code>InternalError</code><br>500" in row
    assert "ZeroDivisionError: busy<br>" in row
    assert '<small class="cb-state">unresolved</small>' in row
    assert 'last <time datetime="2026-03-01T12:30:15+00:00">2026-03-01 12:30:15</time>' in row
    assert 'first <time datetime="2026-02-26T12:30:15+00:00">2026-02-26 12:30:15</time>' in row
    assert '<span class="cb-count">9</span>' in row
    assert '<td class="field-occurrences">13</td>' in row
    assert '<td class="field-users_affected">2</td>' in row
    assert '<td class="field-nodes">node-a, node-b</td>' in row
    assert '<svg class="cb-chart"' in row
    assert "9 in all; 2026-02-28 13:00 UTC: 4, 2026-03-01 12:00 UTC: 5" in row
    assert row.count("<rect") == 2
    quiet_row = cells(response.content.decode(), quiet)
    assert '<span class="cb-count">0</span>' in quiet_row
    assert '<td class="field-nodes">-</td>' in quiet_row


def test_the_group_list_filters_offer_the_values_that_occur(
    viewer: Client, busy: ErrorGroup
) -> None:
    conflict = data.group("conflict", NOW, code="Conflict", status=409, state="resolved")
    page = viewer.get(GROUPS).content.decode()
    for option in ("code__exact=Conflict", "code__exact=InternalError", "status__exact=409"):
        assert option in page
    assert "code__exact=ResourceNotFound" not in page  # in the catalog, never occurred
    assert "compute_node__exact=node-b" in page

    def listed(query: dict[str, str]) -> list[int]:
        response = viewer.get(GROUPS, query)
        assert response.status_code == 200, response.get("Location")
        return [g.pk for g in response.context["cl"].result_list]

    assert listed({"state__exact": "resolved"}) == [conflict.pk]
    assert listed({"status__exact": "409"}) == [conflict.pk]
    assert listed({"code__exact": "InternalError"}) == [busy.pk]
    assert listed({"compute_node__exact": "node-b"}) == [busy.pk]
    since = (NOW - timedelta(hours=1)).isoformat()
    assert set(listed({"last_seen__gte": since})) == {busy.pk, conflict.pk}


# --- the group page ------------------------------------------------------------------------


def test_the_group_page_charts_lists_and_shows_the_traceback(
    viewer: Client, busy: ErrorGroup
) -> None:
    data.entry(busy, NOW - timedelta(hours=3), 3, compact=True, traceback="")
    response = viewer.get(f"{GROUPS}{busy.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Per hour over 48 hours: 12 (UTC)" in html
    assert "Per day over 30 days: 13 (UTC)" in html
    assert "<span>2026-02-27 13:00 UTC</span><span>2026-03-01 12:00 UTC</span>" in html  # axis
    assert "<span>2026-01-31</span><span>2026-03-01</span>" in html
    assert 'aria-labelledby="cb-hourly-t cb-hourly-d"' in html
    assert "2026-03-01: 5" in html
    assert "2026-02-28: 7" in html
    assert "2026-02-27: 1" in html
    latest = response.context["triage"]["occurrences"]
    assert [row["hash"] for row in latest] == list(
        ErrorLog.objects.filter(group=busy)
        .order_by("-created")
        .values_list("logging_hash", flat=True)
    )
    first = ErrorLog.objects.filter(group=busy).order_by("-created").first()
    assert first is not None
    assert f'<a href="{LIST}{first.pk}/change/"><code>{first.logging_hash}</code></a>' in html
    assert "GET /api/checkout/" in html
    assert first.request_id in html
    assert '<div class="cb-frame-app"' in html
    assert "<summary>1 library frame</summary>" in html
    assert 'name="_save"' not in html
    assert "Mark resolved" not in html  # no change permission, no state buttons


def test_a_groups_delete_confirmation_names_its_hours_and_users(
    django_user_model: Any, busy: ErrorGroup
) -> None:
    root = data.staff(django_user_model, "root", superuser=True)
    html = root.get(f"{GROUPS}{busy.pk}/delete/").content.decode()
    assert f"Error group hour: {busy.pk} 2026-03-01T12:00:00+00:00: 5" in html
    assert f"Error group user: {busy.pk} 42" in html


def test_staff_with_the_change_permission_set_the_state(triager: Client, busy: ErrorGroup) -> None:
    page = triager.get(f"{GROUPS}{busy.pk}/change/").content.decode()
    assert f'formaction="{GROUPS}{busy.pk}/state/" name="state" value="resolved"' in page
    response = triager.post(f"{GROUPS}{busy.pk}/state/", {"state": "resolved"})
    assert response.status_code == 302
    busy.refresh_from_db()
    assert (busy.state, busy.resolved_at) == ("resolved", NOW)
    assert busy.occurrence_count == 13  # counters untouched
    triager.post(f"{GROUPS}{busy.pk}/state/", {"state": "ignored"})
    busy.refresh_from_db()
    assert (busy.state, busy.resolved_at) == ("ignored", None)
    triager.post(f"{GROUPS}{busy.pk}/state/", {"state": "bogus"})
    busy.refresh_from_db()
    assert busy.state == "ignored"


@pytest.mark.parametrize(
    ("action", "state"),
    [("mark_resolved", "resolved"), ("mark_ignored", "ignored"), ("mark_unresolved", "unresolved")],
)
def test_the_list_actions_set_the_state_of_many(
    triager: Client, busy: ErrorGroup, action: str, state: str
) -> None:
    other = data.group("other", NOW, state="ignored" if state != "ignored" else "resolved")
    response = triager.post(GROUPS, {"action": action, "_selected_action": [busy.pk, other.pk]})
    assert response.status_code == 302
    assert set(ErrorGroup.objects.values_list("state", flat=True)) == {state}
    messages = [str(m) for m in triager.get(GROUPS).context["messages"]]
    assert messages == [f"2 groups marked {state}."]


def test_an_unknown_group_is_a_message_not_an_error(triager: Client) -> None:
    response = triager.post(f"{GROUPS}424242/state/", {"state": "resolved"}, follow=True)
    assert response.redirect_chain == [(GROUPS, 302)]
    assert "No such error group." in [str(m) for m in response.context["messages"]]
    page = triager.get(f"{GROUPS}424242/change/", follow=True)
    assert page.status_code == 200
    assert_error(triager.get(f"{GROUPS}424242/state/"), "MethodNotAllowed")  # POST only


def test_an_empty_desk(viewer: Client) -> None:
    response = viewer.get(GROUPS)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_a_node_from_a_link_is_offered_even_if_not_recent(viewer: Client, busy: ErrorGroup) -> None:
    response = viewer.get(GROUPS, {"compute_node__exact": "node-old"})
    assert list(response.context["cl"].result_list) == []
    assert "compute_node__exact=node-old" in response.content.decode()


def test_without_the_change_permission_the_state_stays(viewer: Client, busy: ErrorGroup) -> None:
    assert viewer.post(f"{GROUPS}{busy.pk}/state/", {"state": "resolved"}).status_code == 403
    response = viewer.post(GROUPS, {"action": "mark_resolved", "_selected_action": [busy.pk]})
    assert response.status_code == 200  # Django: "no action selected", nothing done
    busy.refresh_from_db()
    assert busy.state == "unresolved"


def test_nothing_of_a_group_or_entry_is_edited_through_a_form(
    triager: Client, busy: ErrorGroup
) -> None:
    response = triager.post(f"{GROUPS}{busy.pk}/change/", {"title": "x", "state": "resolved"})
    assert response.status_code == 403
    row = ErrorLog.objects.filter(group=busy).first()
    assert row is not None
    assert triager.post(f"{LIST}{row.pk}/change/", {"code": "x"}).status_code == 403
    busy.refresh_from_db()
    assert (busy.title, busy.state) == ("ZeroDivisionError: busy", "unresolved")


def test_a_regression_says_when_and_since_which_occurrence(
    viewer: Client, busy: ErrorGroup
) -> None:
    comeback = data.entry(busy, NOW, 9)
    ErrorGroup.objects.filter(pk=busy.pk).update(
        state="unresolved", regressed_at=NOW, regressed_hash=comeback.logging_hash
    )
    html = viewer.get(f"{GROUPS}{busy.pk}/change/").content.decode()
    assert "<strong>Regression:</strong> resolved, then it occurred again" in html
    assert f'<a href="{LIST}lookup/{comeback.logging_hash}/">' in html
    assert "2026-03-01 12:30:15 UTC" in html
    row = cells(viewer.get(GROUPS).content.decode(), busy)
    assert "unresolved <strong>(regression)</strong>" in row


# --- the entry page ------------------------------------------------------------------------


def test_the_entry_page_puts_the_summary_first_then_traceback_then_request(
    viewer: Client, busy: ErrorGroup
) -> None:
    row = data.entry(
        busy, NOW, 7, user_id="42", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", query={"a": "1"}
    )
    html = viewer.get(f"{LIST}{row.pk}/change/").content.decode()
    order = [
        row.logging_hash,
        "2026-03-01 12:30:15 UTC",
        "InternalError",
        "/api/checkout/",
        "42",
        "node-a",
        row.request_id,
        row.trace_id,
        "unresolved",
        f"{GROUPS}{busy.pk}/change/",
        "Full record: request, exception and traceback stored.",
        "Traceback (most recent call last)",
        "&quot;a&quot;: &quot;1&quot;",  # the scrubbed query, in the request section
    ]
    assert f'<a href="{LIST}?q=user%3A42" title="All entries with it">42</a>' in html
    position = html.index('<fieldset class="module aligned')
    for text in order:  # each after the one before
        position = html.index(text, position)


def test_an_entry_without_any_traceback(viewer: Client) -> None:
    group = data.group("no traceback", NOW, code="Conflict", status=409)
    row = data.entry(group, NOW, 1, traceback="", compact=True)
    html = viewer.get(f"{LIST}{row.pk}/change/").content.decode()
    traceback = html.split("field-traceback_display")[1].split("</div>")[:3]
    assert '<div class="readonly">-' in "</div>".join(traceback)


def test_a_compact_entry_says_so_in_plain_words(viewer: Client, busy: ErrorGroup) -> None:
    row = data.entry(busy, NOW, 8, compact=True, traceback="")
    html = viewer.get(f"{LIST}{row.pk}/change/").content.decode()
    assert "Full record skipped: flood control." in html
    assert "The group&#x27;s latest traceback:" in html
    assert "Compact" not in html.split('id="content"')[1].split("</fieldset>")[0]


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def searchable(busy: ErrorGroup) -> dict[str, ErrorLog]:
    return {
        "orders": data.entry(busy, NOW, 20, path="/api/orders/7/", user_id="u-7"),
        "traced": data.entry(busy, NOW, 21, trace_id="4bf92f3577b34da6a3ce929d0e0e4736"),
        "requested": data.entry(busy, NOW, 22, request_id="req-from-gateway-1"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("/api/orders/", {"orders"}),
        ("path:/api/ord", {"orders"}),
        ("u-7", {"orders"}),
        ("user:u-7", {"orders"}),
        ("4bf92f3577b34da6a3ce929d0e0e4736", {"traced"}),
        ("trace: 4bf92f3577b34da6a3ce929d0e0e4736", {"traced"}),
        ("req-from-gateway-1", {"requested"}),
        ("request:req-from-gateway-1", {"requested"}),
        ("request:u-7", set()),  # a user id, not a request id
    ],
)
def test_search_by_path_prefix_and_ids(
    viewer: Client, searchable: dict[str, ErrorLog], term: str, expected: set[str]
) -> None:
    response = viewer.get(LIST, {"q": term})
    assert response.status_code == 200
    found = {row.logging_hash for row in response.context["cl"].result_list}
    assert found == {searchable[name].logging_hash for name in expected}


def test_a_compact_entry_is_found_by_hash_not_by_path(viewer: Client, busy: ErrorGroup) -> None:
    compact = data.entry(busy, NOW, 30, path="/api/flooded/", compact=True, traceback="")
    assert list(viewer.get(LIST, {"q": "/api/flooded/"}).context["cl"].result_list) == []
    assert viewer.get(LIST, {"q": compact.logging_hash})["Location"] == (
        f"{LIST}{compact.pk}/change/"
    )


def test_the_group_lists_search_box_searches_the_entries(
    viewer: Client, searchable: dict[str, ErrorLog]
) -> None:
    row = searchable["orders"]
    response = viewer.get(GROUPS, {"q": f" {row.logging_hash.upper()} "})
    assert response["Location"] == f"{LIST}?q={row.logging_hash.upper()}"
    assert viewer.get(response["Location"])["Location"] == f"{LIST}{row.pk}/change/"
    assert viewer.get(GROUPS, {"q": "/api/"})["Location"] == f"{LIST}?q=%2Fapi%2F"
    fingerprint = row.group.fingerprint
    by_fingerprint = viewer.get(GROUPS, {"q": fingerprint})
    assert [g.pk for g in by_fingerprint.context["cl"].result_list] == [row.group_id]


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("/nowhere/", "No logged error has a path starting with “/nowhere/”."),
        ("user:nobody", "No logged error has the user id “nobody”."),
        ("nobody", "“nobody” is not a logging hash"),
    ],
)
def test_a_search_that_finds_nothing_says_why(
    viewer: Client, searchable: dict[str, ErrorLog], term: str, message: str
) -> None:
    response = viewer.get(LIST, {"q": term})
    assert any(message in str(m) for m in response.context["messages"])


# --- issue 9, defect 7: NUL in filter values -----------------------------------------------


@pytest.mark.parametrize("url", [LIST, GROUPS])
@pytest.mark.parametrize(
    "parameter",
    ["compute_node__exact", "code__exact", "status__exact", "state__exact", "q", "created__gte"],
)
def test_a_nul_in_any_parameter_is_djangos_invalid_lookup_redirect(
    viewer: Client, busy: ErrorGroup, url: str, parameter: str
) -> None:
    response = viewer.get(f"{url}?{parameter}=a%00b")
    assert response.status_code == 302
    assert response["Location"] == f"{url}?e=1"
    assert viewer.get(response["Location"]).status_code == 200


# --- escaping ------------------------------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_in_every_new_field_is_escaped(viewer: Client) -> None:
    group = data.group(XSS, NOW, title=XSS, code="InternalError")
    data.hours(group, {HOUR: 2})
    data.users(group, XSS)
    comeback = data.entry(
        group,
        NOW,
        1,
        path=f"/{XSS}",
        user_id=XSS,
        compute_node=XSS,
        request_id=XSS,
        trace_id="x" * 32,
        method="GET",
        exception_message=XSS,
        traceback=(
            f'Traceback (most recent call last):\n  File "/srv/{XSS}.py", line 1, in f\n'
            f"    {XSS}\nValueError: {XSS}"
        ),
    )
    ErrorGroup.objects.filter(pk=group.pk).update(
        regressed_at=NOW, regressed_hash=comeback.logging_hash
    )
    pages = [GROUPS, f"{GROUPS}{group.pk}/change/", LIST, f"{LIST}{comeback.pk}/change/"]
    for url in pages:
        html = viewer.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, url
