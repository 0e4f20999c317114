"""The admin lookup in a real headless Chromium (``make test-browser``).

A staff user with only the view permission logs in, pastes the hash an error response carried
into the admin search box and lands on the entry with its traceback. The screenshot kept in
``docs/admin-lookup.png`` is taken here (``CB_UPDATE_SCREENSHOTS=1 make test-browser``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from counterbalance_errors.models import ErrorLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "admin-lookup.png"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pw-support-1"


def fetch_error(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """A real HTTP request to the live server; the error's status, body and hash header."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["X-Counterbalance-Log-Hash"]
    raise AssertionError(f"{url} did not fail")


@pytest.fixture
def support_user(django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user("support", password=PASSWORD, is_staff=True)
    for codename in ("view_errorlog", "view_errorgroup"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (no browser download).

    Use it after any ORM work: Playwright's sync API runs an event loop in this thread, and
    Django refuses ORM calls while one runs.
    """
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def log_in(browser: Any, base: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/admin/login/?next=/admin/counterbalance_errors/errorlog/")
    page.fill("#id_username", "support")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/counterbalance_errors/errorlog/")
    return page


def test_paste_a_hash_and_see_the_trace(
    live_server: Any, support_user: Any, tmp_path: Path
) -> None:
    status, body, header = fetch_error(f"{live_server.url}/plain/raise/unhandled/?page=3")
    logging_hash = body["logging_hash"]
    assert status == 500
    assert header == logging_hash
    pk = ErrorLog.objects.get(logging_hash=logging_hash).pk

    with chromium() as instance:
        page = log_in(instance, live_server.url)
        # Pasted as a support tool or an email would give it: upper case, with spaces.
        page.fill("#searchbar", f"  {logging_hash.upper()} ")
        page.press("#searchbar", "Enter")
        page.wait_for_url(f"**/admin/counterbalance_errors/errorlog/{pk}/change/")
        text = page.inner_text("#content")
        assert logging_hash in text
        assert "Traceback (most recent call last)" in text
        assert "KeyError: 'secret-key-text'" in text
        assert "Occurrences in the group" in text
        shot = tmp_path / "admin-lookup.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # docs/admin-lookup.png is refreshed on request, so test runs leave the tree clean.
    if os.environ.get("CB_UPDATE_SCREENSHOTS") or not SCREENSHOT.exists():
        shutil.copyfile(shot, SCREENSHOT)


def test_lookup_url_and_unknown_hash(live_server: Any, support_user: Any) -> None:
    _, body, _ = fetch_error(f"{live_server.url}/plain/raise/conflict/")
    logging_hash = body["logging_hash"]
    pk = ErrorLog.objects.get(logging_hash=logging_hash).pk

    with chromium() as instance:
        page = log_in(instance, live_server.url)
        page.goto(f"{live_server.url}/admin/counterbalance_errors/errorlog/lookup/{logging_hash}/")
        page.wait_for_url(f"**/admin/counterbalance_errors/errorlog/{pk}/change/")
        page.goto(f"{live_server.url}/admin/counterbalance_errors/errorlog/")
        page.fill("#searchbar", "0" * 40)
        page.press("#searchbar", "Enter")
        page.wait_for_load_state()
        assert "No logged error has the hash 0000" in page.inner_text(".messagelist")
        page.fill("#searchbar", "not-a-hash")
        page.press("#searchbar", "Enter")
        page.wait_for_load_state()
        assert "is not a logging hash" in page.inner_text(".messagelist")


def test_markup_in_captured_data_never_runs(live_server: Any, support_user: Any) -> None:
    markup = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    _, body, _ = fetch_error(
        f"{live_server.url}/errorlog/markup-fail/?q=%3Cscript%3Ewindow.__xss%3D3%3C/script%3E",
        headers={"User-Agent": markup, "Referer": markup},
    )
    pk = ErrorLog.objects.get(logging_hash=body["logging_hash"]).pk

    with chromium() as instance:
        page = log_in(instance, live_server.url)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        for url in (
            f"/admin/counterbalance_errors/errorlog/{pk}/change/",
            "/admin/counterbalance_errors/errorlog/",
            "/admin/counterbalance_errors/errorgroup/",
        ):
            page.goto(live_server.url + url)
            assert page.evaluate("window.__xss") is None, url
        assert "<script>window.__xss = 1</script>" in page.goto(
            f"{live_server.url}/admin/counterbalance_errors/errorlog/{pk}/change/"
        ).text().replace("&lt;", "<").replace("&gt;", ">")
        assert "window.__xss = 1" in page.inner_text("#content")  # shown as text
        assert dialogs == []


# --- the triage desk ----------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCREEN = {"width": 1366, "height": 768}
TRIAGER = "triager"


@pytest.fixture
def triager(django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user(TRIAGER, password=PASSWORD, is_staff=True)
    for codename in ("view_errorlog", "view_errorgroup", "change_errorgroup"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def history() -> None:
    """Other groups with a past, so the desk (and its screenshots) looks like a working day."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.support import triage_data as data

    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for index, (code, status, title) in enumerate(
        [
            ("Conflict", 409, "IntegrityError: duplicate key value violates unique constraint"),
            ("InvalidArgument", 400, "ValidationError: quantity must be positive"),
            ("ServiceUnavailable", 503, "ServiceUnavailable: payment gateway timed out"),
        ]
    ):
        group = data.group(
            title,
            now - timedelta(hours=2 + index),
            code=code,
            status=status,
            title=title,
            exception_class=title.split(":")[0],
            occurrence_count=40 + 17 * index,
        )
        data.hours(
            group,
            {
                hour - timedelta(hours=h): 1 + (h * (index + 3)) % 6
                for h in range(2 + index, 30, 1 + index)
            },
        )
        data.users(group, *(f"user-{n}" for n in range(3 + index * 4)))
        data.entry(
            group,
            now - timedelta(hours=2 + index),
            index,
            path=f"/api/orders/{index}/",
            compute_node=f"web-{index % 2 + 1}",
        )


def reload_until(page: Any, text: str, attempts: int = 20) -> None:
    """The recorder writes off the request path: reload (bounded) until ``text`` shows."""
    for _ in range(attempts):
        if text in page.inner_text("#content"):
            return
        page.wait_for_timeout(250)
        page.reload()
    raise AssertionError(f"{text!r} never appeared")


def shoot(page: Any, tmp_path: Path, name: str, full_page: bool = False) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000
    if os.environ.get("CB_UPDATE_SCREENSHOTS") or not (DOCS / name).exists():
        shutil.copyfile(shot, DOCS / name)


def test_triage_walk(live_server: Any, triager: Any, history: None, tmp_path: Path) -> None:
    base = live_server.url
    _, body, _ = fetch_error(f"{base}/plain/raise/unhandled/?page=3")
    first_hash = body["logging_hash"]

    with chromium() as instance:
        page = instance.new_page(viewport=SCREEN)
        page.goto(f"{base}/admin/login/?next=/admin/counterbalance_errors/")
        page.fill("#id_username", TRIAGER)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        # The app's index is the front door: it leads to the group list.
        page.wait_for_url("**/admin/counterbalance_errors/errorgroup/")
        reload_until(page, "KeyError: 'secret-key-text'")
        row = page.locator("#result_list tbody tr", has_text="KeyError")
        assert row.locator("svg.cb-chart").count() == 1
        assert row.locator("svg.cb-chart title").first.text_content() == (
            "Occurrences per hour, last 24 hours"
        )
        assert row.locator("td.field-occurrences").inner_text() == "1"
        shoot(page, tmp_path, "triage-groups.png")
        # The charts take the admin theme's colours: light and dark differ, neither is the
        # page background.
        colours = {}
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            colours[scheme] = page.evaluate(
                "() => [getComputedStyle(document.querySelector('svg.cb-chart rect')).fill,"
                " getComputedStyle(document.body).backgroundColor]"
            )
        assert colours["light"][0] != colours["dark"][0]
        assert all(fill != background for fill, background in colours.values())
        page.emulate_media(color_scheme="light")

        row.locator("th a").click()  # the title opens the group
        page.wait_for_url("**/errorgroup/*/change/")
        group_url = page.url
        assert page.locator(".cb-triage svg.cb-chart").count() == 2
        assert page.locator(".cb-frame-app").count() >= 1
        assert page.locator("details.cb-frames-library").count() >= 1
        assert not page.locator("details.cb-frames-library").first.evaluate("d => d.open")

        page.locator(".cb-latest a", has_text=first_hash).click()  # the latest occurrence
        page.wait_for_url("**/errorlog/*/change/")
        assert first_hash in page.inner_text("#content")
        # Above the fold on 1366 x 768: the summary, down to the group's state and link.
        for field in (
            "logging_hash",
            "created_display",
            "code",
            "path_line",
            "user_link",
            "compute_node",
            "request_link",
            "trace_link",
            "group_state",
            "group_link",
        ):
            box = page.locator(f".field-{field}").first.bounding_box()
            assert box is not None, field
            assert box["y"] + box["height"] <= SCREEN["height"], field
        shoot(page, tmp_path, "triage-entry.png")

        # A group with a past, for the screenshot of a group page.
        page.goto(f"{base}/admin/counterbalance_errors/errorgroup/")
        page.locator("#result_list th a", has_text="IntegrityError").click()
        page.wait_for_url("**/errorgroup/*/change/")
        assert page.locator(".cb-triage svg.cb-chart rect").count() > 20
        shoot(page, tmp_path, "triage-group.png", full_page=True)

        page.goto(group_url)
        page.get_by_role("button", name="Mark resolved").click()
        page.wait_for_url(group_url)
        assert "1 group marked resolved." in page.inner_text(".messagelist")
        assert page.inner_text(".cb-state") == "resolved"

        _, again, _ = fetch_error(f"{base}/plain/raise/unhandled/?page=4")  # it recurs
        reload_until(page, "Regression:")
        assert page.inner_text(".cb-state") == "unresolved"
        assert again["logging_hash"] in page.inner_text(".cb-regression")
