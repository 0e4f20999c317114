"""What every profile's error response must look like, checked against the profile itself."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponseBase

from counterbalance_errors.profiles import load_profile
from tests.support.schemas import validate

#: Body member of the logging hash, for the profiles whose body carries it.
BODY_HASH_KEY = {
    "counterbalance": "logging_hash",
    "green_stack": "trace",
    "problem_details": "logging_hash",
}


def assert_envelope(profile_name: str, response: HttpResponseBase) -> Any:
    """``response`` is ``profile_name``'s error: its content type, and a body valid against the
    schema the profile publishes (no body where it has none). Returns the decoded body."""
    profile = load_profile(profile_name)
    content: bytes = response.content  # type: ignore[attr-defined]
    schema = profile.body_schema()
    if schema is None:
        assert content == b"", content
        return None
    assert response["Content-Type"].split(";")[0] == profile.content_type, response["Content-Type"]
    body = json.loads(content)
    validate(body, schema)
    return body


def logged_hash(profile_name: str, response: HttpResponseBase, body: Any = None) -> str | None:
    """The hash of a logged error, from the profile's header; equal to the body's when the
    profile puts it in the body too."""
    header = load_profile(profile_name).hash_header
    assert header is not None
    value = response.get(header)
    key = BODY_HASH_KEY.get(profile_name)
    if key is not None and isinstance(body, dict):
        assert body.get(key) == value, (body, value)
    return value
