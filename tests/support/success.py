"""The success requests that tests/test_success_path.py and tests/test_hot_path.py send."""

from __future__ import annotations

NODE_HEADER = "X-Counterbalance-Compute-Node"
SUCCESS_REQUESTS = [
    ("get", "/drf/success/", {}),
    ("get", "/drf/success-function/", {"headers": {"Accept": "application/json"}}),
    ("options", "/drf/success/", {}),
    ("head", "/drf/success/", {}),
    ("get", "/plain/success/", {}),
    ("get", "/async/success/", {}),
    ("get", "/dj/streaming-success/", {}),
    ("post", "/plain/only-post/", {}),
    ("post", "/plain/form/", {"data": {"a": "1", "b": "2"}}),
    ("get", "/plain/template/", {}),
]
SUCCESS_IDS = [
    "drf",
    "drf-function",
    "drf-options",
    "drf-head",
    "plain",
    "async",
    "streaming",
    "view-class",
    "form",
    "template",
]
