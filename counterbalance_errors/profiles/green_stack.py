"""``green_stack``: the Green Stack "Responses and Errors" document."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase

from counterbalance_errors import conf
from counterbalance_errors.profiles.base import (
    RenderContext,
    compute_node_header,
    header_value,
    string_header,
)
from counterbalance_errors.profiles.counterbalance import CounterbalanceProfile


class GreenStackProfile(CounterbalanceProfile):
    """``001_f05afd4b2a34bcb7.txt``: ``{"error": {...}, "trace"?}``, Green Stack headers.

    Statuses as ``counterbalance``. The trace (the logging hash) is in the body and in
    ``X-Green-Stack-Error-Trace``. Every response carries the compute node, the request id and,
    when configured, the gateway node and the realm. Requests have a 10 s time budget where it
    can be enforced ("If Green Stack takes more than 10 seconds ... you will receive an error").
    """

    name = "green_stack"
    document = "001_f05afd4b2a34bcb7.txt (Green Stack: Responses and Errors)"
    hash_header = "X-Green-Stack-Error-Trace"
    hash_key = "trace"
    node_header = "X-Green-Stack-Compute-Node"
    time_budget = 10.0
    schema_name = "GreenStackError"

    def response_headers(self, ctx: RenderContext, response: HttpResponseBase) -> dict[str, str]:
        headers = {
            self.node_header: compute_node_header(),
            "X-Green-Stack-Request-ID": ctx.request_id,
        }
        gateway = conf.get("GATEWAY_NODE")
        if gateway:
            headers["X-Green-Stack-Gateway-Node"] = header_value(gateway)
        realm = conf.get("REALM")
        if realm:
            headers["X-Green-Stack-Realm"] = header_value(realm)
        return headers

    def header_docs(self) -> dict[str, dict[str, Any]]:
        docs = {
            self.node_header: string_header("The service node that generated the response"),
            "X-Green-Stack-Request-ID": string_header("The application gateway request ID"),
        }
        if conf.get("GATEWAY_NODE"):
            docs["X-Green-Stack-Gateway-Node"] = string_header(
                "The application gateway node that served the response"
            )
        if conf.get("REALM"):
            docs["X-Green-Stack-Realm"] = string_header(
                "For internal troubleshooting and debugging"
            )
        return docs
