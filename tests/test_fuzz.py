"""Random requests on the wire never break the contract (issue 9).

Methods, paths, headers, query strings and bodies (NUL, lone surrogates, invalid UTF-8, deep
nesting, huge numbers) against DRF, plain and async views, under every profile: each non-2xx
is the profile's envelope, no header carries a client's CR/LF or non-ASCII byte, every logged
response carries its hash (body = header) and every hash leads to a stored row or a fallback
line. Derandomized with a bounded number of examples, so a CI run is fast and reproducible.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from counterbalance_errors import conf
from counterbalance_errors.catalog import CATALOG
from counterbalance_errors.profiles import BUILTIN
from tests.support.envelopes import assert_envelope, logged_hash
from tests.support.errorlog_helpers import database_down
from tests.support.records import fallback_hashes, stored

pytestmark = pytest.mark.django_db

EXAMPLES = 25  # per profile

# DRF views that never fail by themselves: a 5xx from one is the library's fault.
DRF_TARGETS = [
    "/bad-input/colour/",  # a ChoiceField that echoes its input
    "/drf/payload/",  # nested serializers
]
TARGETS = [
    *DRF_TARGETS,
    "/drf/echo/",  # sorted(request.data): a 500 for a body that is a number
    "/bad-input/plain-json/",  # plain view, json.loads(request.body)
    "/bad-input/async-json/",  # async view, json.loads(request.body)
    "/bad-input/crash/",  # plain view, always a 500
    "/async/raise/unhandled/",
    "/no-such-endpoint/",
]
# Endpoints whose last segment is free.
FREE_SEGMENT = ["/bad-input/plain-json/", "/bad-input/crash/", "/plain/raise/"]

HOSTILE_TEXT = st.text(
    st.one_of(
        st.sampled_from(["\x00", "\ud800", "\udfff", "\r", "\n", "é", "\u2028", '"', "\\"]),
        st.characters(codec="utf-8"),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    ),
    min_size=1,
    max_size=20,
)
# The views' own field names, so that validation sees (and echoes) the hostile values.
FIELD_NAMES = st.one_of(
    st.sampled_from(["colour", "name", "password", "address", "zipcode", "items", "tags", "email"]),
    HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        HOSTILE_TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(FIELD_NAMES, children, max_size=4)
    ),
    max_leaves=12,
)


def _json_text(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \\udXXX escapes, as a client would send them.
    return json.dumps(value).encode()


DEPTHS = st.sampled_from([1, 2, 10, 999, 1000, 1001, 2000, 4000, 6000])
# One kind per draw, chosen uniformly (st.one_of leans towards its first, simplest branches).
HOSTILE_JSON_KINDS: dict[str, st.SearchStrategy[bytes]] = {
    "values": JSON_VALUES.map(_json_text),
    "choice": st.fixed_dictionaries({"colour": HOSTILE_TEXT}).map(_json_text),
    # Around and past the interpreter's recursion limit, which the json module stops at.
    "deep-lists": DEPTHS.map(lambda n: b"[" * n + b"]" * n),
    "deep-objects": DEPTHS.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    "numbers": st.sampled_from([b"1e999", b"-1e999", b"9" * 5000, b'{"colour": NaN}', b"[1e400]"]),
}
HOSTILE_JSON = st.sampled_from(sorted(HOSTILE_JSON_KINDS)).flatmap(HOSTILE_JSON_KINDS.__getitem__)
RAW_JSON = st.one_of(HOSTILE_JSON, st.binary(max_size=64))
BODIES = st.one_of(
    st.tuples(st.just("application/json"), RAW_JSON),
    st.tuples(st.just("application/x-www-form-urlencoded"), st.binary(max_size=64)),
    st.tuples(st.just("multipart/form-data; boundary=x"), st.binary(max_size=64)),
    st.tuples(
        st.sampled_from(["text/plain", "application/json; charset=latin-1"]), st.binary(max_size=32)
    ),
    st.tuples(st.just(""), st.just(b"")),
)
# What arrives on the wire: header values are bytes, seen by WSGI as latin-1 text.
WIRE_TEXT = st.text(st.characters(max_codepoint=0xFF), max_size=30)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "HTTP_X_REQUEST_ID",
            "HTTP_USER_AGENT",
            "HTTP_REFERER",
            "HTTP_ACCEPT",
            "HTTP_ORIGIN",
            "HTTP_X_CUSTOM",
            "HTTP_ACCEPT_LANGUAGE",
            "HTTP_TRACEPARENT",
            "HTTP_X_FORWARDED_PROTO",
        ]
    ),
    WIRE_TEXT,
    max_size=4,
)
QUERY = st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=12)), max_size=4).map(
    lambda pairs: "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs)
)
PATHS = st.one_of(
    st.sampled_from(DRF_TARGETS),
    st.sampled_from(TARGETS),
    st.tuples(st.sampled_from(FREE_SEGMENT), st.binary(min_size=1, max_size=12)).map(
        lambda p: p[0] + quote_from_bytes(p[1], safe="") + "/"
    ),
)
METHODS = st.one_of(
    st.just("POST"),  # the method the views parse bodies for
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND"]),
)

_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_HASH = re.compile(r"[0-9a-f]{40}")

Request = tuple[str, str, str, dict[str, str], tuple[str, bytes]]
# Half of the requests are aimed: a JSON body where a view parses it.
AIMED = st.tuples(
    st.just("POST"),
    st.sampled_from([*DRF_TARGETS, "/bad-input/plain-json/", "/bad-input/async-json/"]),
    QUERY,
    HEADERS,
    st.tuples(st.just("application/json"), HOSTILE_JSON),
)
REQUESTS = st.one_of(AIMED, st.tuples(METHODS, PATHS, QUERY, HEADERS, BODIES))


def check(profile: str, response: Any, method: str, path: str) -> str | None:
    """The contract of one response; returns its logging hash, if it has one."""
    for name, value in response.items():
        assert _HEADER_VALUE.fullmatch(name), name
        assert _HEADER_VALUE.fullmatch(value), (name, value)
    if path in DRF_TARGETS:
        assert response.status_code < 500, response.content  # a client's mistake is a 4xx
    if 200 <= response.status_code < 300:
        return None
    body = None if method == "HEAD" else assert_envelope(profile, response)
    logging_hash = logged_hash(profile, response, body)
    if profile == "cloudapi" and logging_hash is not None and not _HASH.fullmatch(logging_hash):
        logging_hash = None  # cloudapi's Request-Id is on every response, a hash when logged
    code = body.get("error", body).get("code") if isinstance(body, dict) else None
    canonical = CATALOG[code].status if isinstance(code, str) and code in CATALOG else None
    if response.status_code >= 500 or canonical in conf.logged_statuses():
        assert logging_hash is not None, (response.status_code, body)
    if logging_hash is not None:
        assert _HASH.fullmatch(logging_hash), logging_hash
    return logging_hash


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],  # no shrinking: a failure prints its example at once
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def send(client: Client, request: Request) -> Any:
    method, path, query, headers, (content_type, data) = request
    return client.generic(
        method, path, data, content_type=content_type, QUERY_STRING=query, **headers
    )


@pytest.mark.parametrize("profile", sorted(BUILTIN))
@FUZZ
@given(request=REQUESTS)
def test_random_requests_keep_the_contract(
    client: Client, settings: Any, profile: str, request: Request
) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": profile}
    response = send(client, request)
    logging_hash = check(profile, response, request[0], request[1])
    if logging_hash is not None:
        assert stored(logging_hash) is not None, (logging_hash, response.content)


@FUZZ
@given(request=REQUESTS)
def test_with_the_database_down_every_hash_is_on_a_fallback_line(
    client: Client, caplog: pytest.LogCaptureFixture, request: Request
) -> None:
    caplog.clear()
    with database_down(), caplog.at_level(logging.WARNING, logger="counterbalance_errors"):
        response = send(client, request)
    logging_hash = check("counterbalance", response, request[0], request[1])
    if logging_hash is not None:
        assert logging_hash in fallback_hashes(caplog)
