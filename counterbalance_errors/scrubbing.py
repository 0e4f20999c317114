"""Secret removal: what may be stored of a request, an exception message, a data structure.

Pure logic: nothing here reads settings, a request or the database; :mod:`capture` passes
in what it needs. Keys are normalised first (lower case, ``-`` → ``_``, no ``HTTP_`` prefix),
then matched by substring against the terms below, so ``X-Auth-Token``, ``HTTP_X_API_KEY``,
``user_password`` and ``nested.password`` are all caught. A sensitive key hides its whole
value, however deep; every remaining string goes through :func:`scrub_text`, which hides
``key=value`` pairs (a container value, such as the repr of a list, dict or QueryDict, up to
its matching bracket), credentials in URLs, ``Authorization`` schemes, well-known token shapes
(``sk_live_…``, ``ghp_…``, ``AKIA…``, JWTs, private keys) and the values of database errors
inside free text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: What replaces a hidden value.
FILTERED = "[Filtered]"

#: Substrings of a normalised key that make it sensitive. The union of Django's
#: ``SafeExceptionReporterFilter.hidden_settings``, Sentry's ``DEFAULT_DENYLIST`` and
#: ``DEFAULT_PII_DENYLIST`` (normalised), and the headers Sentry masks without PII.
DEFAULT_TERMS: tuple[str, ...] = (
    # Django: API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE (and SESSION_COOKIE_NAME)
    "api",
    "auth",
    "token",
    "key",
    "secret",
    "pass",
    "signature",
    "cookie",
    # Sentry DEFAULT_DENYLIST, beyond what the terms above already cover
    "passwd",
    "pwd",
    "credential",
    "private",
    "session",
    "sessid",
    "csrf",
    "xsrf",
    "connect.sid",
    "symfony",
    # PII: Sentry DEFAULT_PII_DENYLIST and the client-address headers
    "forwarded",
    "real_ip",
    "ip_address",
    "remote_addr",
    "client_ip",
)

#: Request headers whose values are worth keeping; of the others only the name is stored.
DEFAULT_STORED_HEADERS: tuple[str, ...] = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Content-Length",
    "Content-Type",
    "Host",
    "Origin",
    "Referer",
    "User-Agent",
    "X-Forwarded-Proto",
    "X-Request-Id",
)

#: Deepest nesting kept in stored data; deeper values are replaced.
MAX_DEPTH = 16
#: Most items kept per list or dict.
MAX_ITEMS = 200
#: Longest string kept in stored data (the rest is cut).
MAX_STRING = 2000
TRUNCATED = "[Truncated]"


# What no database column takes as it is: NUL (PostgreSQL's text and jsonb refuse it) and lone
# surrogates (no UTF-8 encoding exists for them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escape_unstorable(match: re.Match[str]) -> str:
    return (
        f"\\x{ord(match.group()):02x}"
        if match.group() == "\x00"
        else f"\\u{ord(match.group()):04x}"
    )


def storable_text(text: str) -> str:
    """``text`` with NUL written ``\\x00`` and each lone surrogate ``\\udXXX``, as ``repr``
    writes them: text that every database stores unchanged."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(_escape_unstorable, text)


def storable(data: Any) -> Any:
    """A copy of JSON-safe ``data`` whose strings and keys are :func:`storable_text`, with
    ``inf`` and ``nan`` as text.

    Iterative: ``data`` is already bounded by :meth:`Scrubber.scrub`, but never trusted."""
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, slot = stack.pop()
        value = parent[slot]
        if isinstance(value, str):
            parent[slot] = storable_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            parent[slot] = repr(value)  # JSON has no inf or nan (a client's 1e999)
        elif isinstance(value, dict):
            copy = {storable_text(str(key)): item for key, item in value.items()}
            parent[slot] = copy
            stack.extend((copy, key) for key in copy)
        elif isinstance(value, (list, tuple)):
            items = list(value)
            parent[slot] = items
            stack.extend((items, index) for index in range(len(items)))
    return root[0]


def normalise_key(key: object) -> str:
    """``X-Auth-Token`` → ``x_auth_token``; ``HTTP_COOKIE`` → ``cookie``."""
    normalised = str(key).strip().lower().replace("-", "_")
    return normalised.removeprefix("http_")


@functools.lru_cache(maxsize=16)
def _key_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({normalise_key(term) for term in terms if str(term).strip()}, key=len)
    return re.compile("|".join(re.escape(term) for term in reversed(alternatives)))


# key=value, key: value, "key": "value" in free text. The key starts where a token starts
# (the lookbehind keeps matching linear on long tokens); whether it is sensitive is decided
# like a data key's.
_PAIR = re.compile(
    r"(?<![\w.\-\"'])(?P<key>[\"']?(?P<name>[\w.\-]+)[\"']?)"
    r"(?P<sep>\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&,;\"'}\])]+)"
)
# ``KeyError: 'x'``, ``TokenExpiredError: ...``: exception names, not keys.
_CLASS_NAME = re.compile(r"(Error|Exception|Warning)$")
_SCHEME = re.compile(r"\b(Bearer|Basic|Digest|Token|ApiKey|Negotiate)\s+[\w\-.~+/]+=*", re.I)
# Well-known token shapes, hidden wherever they appear, whatever the key: a secret under a
# harmless name (``x = "sk_live_…"``). Prefixes fixed by their issuers, so ordinary text does
# not match.
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}"  # Stripe secret and restricted keys
    r"|gh[pousr]_[0-9A-Za-z]{30,}|github_pat_\w{30,}"  # GitHub
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|xox[abprs]-[0-9A-Za-z-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|glpat-[0-9A-Za-z_\-]{20,}"  # GitLab
    r"|eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"  # JWTs (header and payload are JSON)
    r")"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.S,
)
_URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]*@", re.I)
# Database errors quote the values of a row, a key or the query without escaping them, so a
# value cannot be delimited: whatever follows the place where one starts is hidden, to the end
# of the text. Only a fixed ending the server writes after the value (`` already exists.``,
# ``' for key 'name'``) is kept, when the text ends with it. Each start, with that ending:
_DATABASE_VALUES: tuple[tuple[str, str | None], ...] = (
    # PostgreSQL: Key (email)=(…) already exists; Key (lower(email::text))=(…); Key (a, b)=(…)
    (
        r"\bKey \(.*?\)=\(",
        r"\) (?:already exists|is (?:not present in|still referenced from) table \"[^\"\n]*\")"
        r"\.\s*\Z",
    ),
    # PostgreSQL's NOT NULL and CHECK violations list the whole row.
    (r"\bFailing row contains ", None),
    # PostgreSQL: invalid input syntax for type integer: "…", then the query excerpt.
    (
        r"\b(?:invalid input (?:syntax|value)[^:\n]*|malformed [\w ]+ literal|"
        r"field value out of range|invalid value for [\w ]+): \"",
        None,
    ),
    (r"\b(?:value|Token|at or near) \"", None),
    # PostgreSQL's excerpt of the query (LINE 1: …) and of a function's statement (CONTEXT).
    (r"^LINE \d+: |\bCONTEXT: ", None),
    # MariaDB/MySQL, as Django's str() of (errno, "message") shows them (quotes maybe escaped).
    (
        r"\bDuplicate entry \\?'",
        r"\\?' for key \\?'[^'\\\n]*\\?'(?:[\"']\))?\s*\Z",
    ),
    (
        r"\b(?:Incorrect|Truncated incorrect) [\w ]+ value: \\?'",
        r"\\?' for column [`'\w.$]+ at row \d+(?:[\"']\))?\s*\Z",
    ),
    (r"\bto use near \\?'", r"\\?' at line \d+(?:[\"']\))?\s*\Z"),
)
_DATABASE_VALUE = re.compile(
    "|".join(f"(?P<v{index}>{start})" for index, (start, _) in enumerate(_DATABASE_VALUES)),
    re.I | re.M | re.S,
)
_CLOSERS = {"(": ")", '"': '"', "'": "'"}
_DATABASE_ENDINGS = {
    f"v{index}": re.compile(ending, re.S) if ending else None
    for index, (_, ending) in enumerate(_DATABASE_VALUES)
}
_OPENERS = {"[": "]", "{": "}", "(": ")"}
_QUOTES = ("'", '"')


def container_end(text: str, start: int) -> int:
    """The end of the quoted string or bracketed container at ``start`` (``b'…'`` included),
    or the end of ``text`` when it is not closed; brackets inside quotes do not count."""
    position = start + 1 if text.startswith(("b'", 'b"'), start) else start
    depth = 0
    quote = ""
    while position < len(text):
        char = text[position]
        position += 1
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
                if depth == 0:
                    return position
        elif char in _QUOTES:
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in "]})":
            depth -= 1
            if depth <= 0:
                return position
    return len(text)


def hide_database_values(text: str) -> str:
    """Everything from the first place a database error quotes a value to the end of the text
    becomes :data:`FILTERED`; a fixed ending that the server writes after it is kept."""
    match = _DATABASE_VALUE.search(text)
    if match is None:
        return text
    rest = text[match.end() :]
    ending_pattern = _DATABASE_ENDINGS[str(match.lastgroup)]
    ending = ending_pattern.search(rest) if ending_pattern is not None else None
    if ending is not None:
        return text[: match.end()] + FILTERED + ending.group(0).rstrip()
    opened = match.group(0)[-1]
    return text[: match.end()] + FILTERED + _CLOSERS.get(opened, "")


def _starts_container(text: str, position: int) -> bool:
    return text.startswith(("[", "{", "(", "'", '"', "b'", 'b"'), position)


class Scrubber:
    """Hides sensitive values; built once per record with the effective extra terms."""

    def __init__(self, extra_terms: Iterable[str] = (), exact_keys: Iterable[str] = ()) -> None:
        self.terms = tuple(DEFAULT_TERMS) + tuple(str(t) for t in extra_terms)
        self._keys = _key_pattern(self.terms)
        # Whole names, not substrings (``sensitive_post_parameters("cc")`` must not hide
        # ``accent``).
        self.exact_keys = frozenset(normalise_key(key) for key in exact_keys)

    def is_sensitive(self, key: object) -> bool:
        normalised = normalise_key(key)
        return normalised in self.exact_keys or self._keys.search(normalised) is not None

    def scrub_text(self, text: str, limit: int | None = MAX_STRING) -> str:
        """Hide secrets inside free text (an exception message, a header value, a URL)."""
        if limit is not None and len(text) > limit:
            text = text[:limit] + TRUNCATED
        text = _TOKEN_SHAPES.sub(FILTERED, text)
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{FILTERED}@", text)
        text = _SCHEME.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
        text = hide_database_values(text)
        return self._hide_pairs(text)

    def _hide_pairs(self, text: str) -> str:
        # Not re.sub: after a harmless key (``https:``, ``connect:``) the scan must resume
        # right after its separator, inside what looked like its value.
        parts: list[str] = []
        position = 0
        while (match := _PAIR.search(text, position)) is not None:
            name = match.group("name")
            if self.is_sensitive(name) and not _CLASS_NAME.search(name):
                parts += [text[position : match.end("sep")], FILTERED]
                value_start = match.start("value")
                if _starts_container(text, value_start):
                    # A list, dict, tuple, bytes or string: hidden up to its matching end.
                    position = container_end(text, value_start)
                else:
                    position = match.end()
            else:
                parts.append(text[position : match.end("sep")])
                position = match.end("sep")
        parts.append(text[position:])
        return "".join(parts)

    def scrub(
        self,
        data: Any,
        *,
        max_depth: int = MAX_DEPTH,
        max_items: int = MAX_ITEMS,
        max_nodes: int | None = None,
    ) -> Any:
        """A JSON-safe copy of ``data`` with every sensitive key's value hidden, recursively.

        A ``(key, value)`` tuple (an item of ``dict.items()``) counts as a pair. Bounded: at
        most ``max_depth`` levels, ``max_items`` items per container, ``max_nodes`` values in
        all and :data:`MAX_STRING` characters per string are kept; anything else becomes a
        marker. Iterative, so hostile nesting cannot exhaust the stack.
        """
        root: list[Any] = [None]
        # (source, parent container, key in the parent, depth)
        stack: list[tuple[Any, Any, Any, int]] = [(data, root, 0, 0)]
        nodes = 0
        while stack:
            value, parent, slot, depth = stack.pop()
            nodes += 1
            if max_nodes is not None and nodes > max_nodes:
                parent[slot] = TRUNCATED
            elif isinstance(value, Mapping):
                if depth >= max_depth:
                    parent[slot] = TRUNCATED
                    continue
                copy: dict[str, Any] = {}
                parent[slot] = copy
                for index, (key, item) in enumerate(value.items()):
                    name = str(key)[:200]
                    if index >= max_items:
                        copy[TRUNCATED] = f"{len(value) - max_items} more"
                        break
                    if self.is_sensitive(name):
                        copy[name] = FILTERED
                    else:
                        copy[name] = None
                        stack.append((item, copy, name, depth + 1))
            elif isinstance(value, (list, tuple, set, frozenset)):
                if depth >= max_depth:
                    parent[slot] = TRUNCATED
                    continue
                if isinstance(value, tuple) and self._is_sensitive_pair(value):
                    parent[slot] = [self.scrub_text(value[0]), FILTERED]
                    continue
                items = list(value)
                kept: list[Any] = [None] * min(len(items), max_items)
                parent[slot] = kept
                if len(items) > max_items:
                    kept.append(f"{TRUNCATED} {len(items) - max_items} more")
                for index, item in enumerate(items[:max_items]):
                    stack.append((item, kept, index, depth + 1))
            elif value is None or isinstance(value, (bool, int, float)):
                parent[slot] = value
            else:
                parent[slot] = self.scrub_text(str(value))
        return root[0]

    def _is_sensitive_pair(self, value: tuple[Any, ...]) -> bool:
        return len(value) == 2 and isinstance(value[0], str) and self.is_sensitive(value[0])

    def scrub_pairs(self, pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """A query string or form as ``{key: value or [values]}``, sensitive keys hidden."""
        result: dict[str, Any] = {}
        for key, value in pairs:
            if len(result) >= MAX_ITEMS and key not in result:
                result[TRUNCATED] = True
                break
            cleaned = FILTERED if self.is_sensitive(key) else self.scrub(value)
            if key not in result:
                result[key] = cleaned
            elif isinstance(result[key], list):
                result[key].append(cleaned)
            else:
                result[key] = [result[key], cleaned]
        return result

    def scrub_headers(
        self, headers: Mapping[str, str], stored: Iterable[str] = DEFAULT_STORED_HEADERS
    ) -> dict[str, str]:
        """Header values of the allow-list (scrubbed as text); other headers by name only."""
        allowed = {normalise_key(name) for name in stored}
        result: dict[str, str] = {}
        for name, value in list(headers.items())[:MAX_ITEMS]:
            key = normalise_key(name)
            if key in allowed and not self.is_sensitive(key):
                result[name] = self.scrub_text(str(value), 1000)
            else:
                result[name] = FILTERED
        return result
