"""The settings dict is validated once per dict object: replace it, do not mutate it in place
(documented in docs/settings.md, README.md and counterbalance_errors.conf)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from counterbalance_errors import conf

ROOT = Path(__file__).resolve().parent.parent


def test_a_replaced_dict_is_seen_a_mutated_one_is_not(settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": "numeric"}
    assert conf.profile_name() == "numeric"
    settings.COUNTERBALANCE_ERRORS = {**settings.COUNTERBALANCE_ERRORS, "PROFILE": "cloudapi"}
    assert conf.profile_name() == "cloudapi"
    settings.COUNTERBALANCE_ERRORS["PROFILE"] = "green_stack"
    assert conf.profile_name() == "cloudapi"


def test_the_docs_say_to_replace_the_dict() -> None:
    for path in ("docs/settings.md", "README.md"):
        text = " ".join((ROOT / path).read_text().split())
        assert "replace the dict, do not mutate it in place" in text, path
    assert "mutate" in (conf.__doc__ or "")
