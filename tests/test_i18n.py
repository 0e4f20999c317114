"""Messages are translatable (gettext_lazy) and resolved per request, in the language
LocaleMiddleware activates; the catalogs of every shipped language cover every message and are
compiled, and a body never mixes our messages in one language with DRF's in another."""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import AsyncClient, Client
from django.utils import translation
from django.utils.functional import Promise

from counterbalance_errors import catalog
from counterbalance_errors.testing import assert_error

LOCALE_DIR = Path(catalog.__file__).parent / "locale"
#: The languages counterbalance_errors/locale ships (Django language codes).
LANGUAGES = ["de", "fr", "es", "pt-br", "it", "nl", "ja", "zh-hans"]
GERMAN = {
    "EndpointNotFound": "Der angefragte Endpunkt existiert nicht.",
    "ResourceNotFound": "Die angefragte Ressource wurde nicht gefunden.",
    "InternalError": "Ein interner Fehler ist aufgetreten.",
    "MethodNotAllowed": "Die Methode ist für diese Ressource nicht erlaubt.",
    "InvalidArgument": "Mindestens ein Argument ist ungültig.",
}


@pytest.fixture(autouse=True)
def _no_language_left_active() -> Any:
    """LocaleMiddleware activates a language in the thread and nothing resets it: without this,
    later tests (of other modules too) would run in whatever language the last request asked."""
    yield
    translation.deactivate()


@pytest.fixture
def locale_middleware(settings: Any) -> None:
    """LocaleMiddleware where Django's docs put it: after sessions, before CommonMiddleware."""
    middleware = list(django_settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.middleware.common.CommonMiddleware"),
        "django.middleware.locale.LocaleMiddleware",
    )
    settings.MIDDLEWARE = middleware


def call(transport: str, url: str, language: str, method: str = "get", **kwargs: Any) -> Any:
    headers = {"Accept-Language": language}
    if transport == "asgi":
        client: Any = AsyncClient(raise_request_exception=False, **kwargs)
        return async_to_sync(getattr(client, method))(url, headers=headers)
    return getattr(Client(raise_request_exception=False, **kwargs), method)(url, headers=headers)


@pytest.mark.usefixtures("locale_middleware")
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/no/such/url/", "EndpointNotFound"),  # handler404, then the middleware
        ("/plain/raise/http404/", "ResourceNotFound"),  # process_exception
        ("/async/raise/http404/", "ResourceNotFound"),
        ("/drf/raise/drf-not-found/", "ResourceNotFound"),  # the DRF handler
        ("/plain/raise/unhandled/", "InternalError"),  # handler500 / DEBUG rewrite
        ("/plain/only-post/", "MethodNotAllowed"),  # a 405 rewritten in place
        ("/drf/returns-errors/", "InvalidArgument"),  # the renderer
    ],
)
def test_messages_come_out_in_the_requested_language(
    transport: str, url: str, code: str, debug: bool
) -> None:
    german = assert_error(call(transport, url, "de"), code)
    assert german["message"] == GERMAN[code]
    english = assert_error(call(transport, url, "en"), code)
    assert english["message"] == str(catalog.CATALOG[code].message)
    # Swedish has no catalog of ours: English, not a crash and not the previous request's German.
    swedish = assert_error(call(transport, url, "sv"), code)
    assert swedish["message"] == english["message"]


@pytest.mark.usefixtures("locale_middleware")
@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
def test_csrf_failure_message_is_translated(transport: str) -> None:
    error = assert_error(
        call(transport, "/plain/form/", "de", "post", enforce_csrf_checks=True), "CsrfFailed"
    )
    assert error["message"].startswith("Die CSRF-Prüfung ist fehlgeschlagen.")


def test_without_locale_middleware_messages_use_language_code(client: Client) -> None:
    response = client.get("/plain/raise/http404/", headers={"Accept-Language": "de"})
    assert assert_error(response, "ResourceNotFound")["message"] == (
        "The requested resource was not found."
    )


def test_language_code_setting_is_honoured(client: Client, settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    assert (
        assert_error(client.get("/plain/raise/http404/"), "ResourceNotFound")["message"]
        == (GERMAN["ResourceNotFound"])
    )


def test_every_catalog_message_is_lazy() -> None:
    lazy = {code: isinstance(entry.message, Promise) for code, entry in catalog.CATALOG.items()}
    assert lazy == dict.fromkeys(catalog.CATALOG, True)  # resolved per request, not at import


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_message_is_translated(language: str) -> None:
    untranslated = []
    for code, entry in catalog.CATALOG.items():
        with translation.override(language):
            translated = str(entry.message)
        with translation.override("en"):
            english = str(entry.message)
        if translated == english:
            untranslated.append(code)
    assert untranslated == []


def _po_entries(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po file (enough of the format for Django's makemessages output)."""
    import ast

    entries: dict[str, str] = {}
    current: list[str] | None = None
    msgid = msgstr = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("msgid "):
            current = [ast.literal_eval(line[6:])]
            msgid_parts = current
        elif line.startswith("msgstr "):
            msgid = "".join(msgid_parts)
            current = [ast.literal_eval(line[7:])]
            msgstr_parts = current
        elif line.startswith('"') and current is not None:
            current.append(ast.literal_eval(line))
        elif not line and current is not None:
            msgstr = "".join(msgstr_parts)
            entries[msgid] = msgstr
            current = None
    entries.pop("", None)
    return entries


def _fuzzy(path: Path) -> list[str]:
    """The flag lines of a .po file that mark an entry fuzzy."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith("#,") and "fuzzy" in line]


@pytest.mark.parametrize("language", LANGUAGES)
def test_po_is_complete_and_compiled(language: str) -> None:
    folder = LOCALE_DIR / translation.to_locale(language) / "LC_MESSAGES"
    po = _po_entries(folder / "django.po")
    assert po
    assert [msgid for msgid, msgstr in po.items() if not msgstr] == []
    # compilemessages leaves fuzzy entries (makemessages' guesses) out of the .mo.
    assert _fuzzy(folder / "django.po") == []
    with (folder / "django.mo").open("rb") as mo_file:
        mo = gettext.GNUTranslations(mo_file)
    # The committed .mo is the compiled .po: same entries, same translations.
    assert {msgid: mo.gettext(msgid) for msgid in po} == po
    with translation.override(None):  # the untranslated msgids
        assert {str(entry.message) for entry in catalog.CATALOG.values()} <= set(po)


def test_every_shipped_language_is_tested() -> None:
    shipped = {folder.name for folder in LOCALE_DIR.iterdir() if folder.is_dir()}
    assert shipped == {translation.to_locale(language) for language in LANGUAGES}


@pytest.mark.django_db
@pytest.mark.usefixtures("locale_middleware")
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_validation_error_body_is_in_one_language(client: Client, language: str) -> None:
    from rest_framework.fields import Field

    response = client.post(
        "/drf/payload/",
        data={},
        content_type="application/json",
        headers={"Accept-Language": language},
    )

    error = assert_error(response, "MissingParameter")
    required = Field.default_error_messages["required"]
    with translation.override(language):
        expected = (str(catalog.CATALOG["MissingParameter"].message), str(required))
    with translation.override("en"):
        english = (str(catalog.CATALOG["MissingParameter"].message), str(required))
    assert expected[0] != english[0]
    assert expected[1] != english[1]
    assert error["message"] == expected[0]  # ours
    assert error["details"]
    assert {detail["message"] for detail in error["details"]} == {expected[1]}  # DRF's
