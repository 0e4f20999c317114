"""The admin of logged errors: a triage desk of error groups, each entry found by its hash.

* The app's front door is the list of **error groups** (``errorgroup/``), newest activity
  first: code and status, title, first and last seen, occurrences in the last 24 hours and in
  all, users affected, nodes and a 24-hour chart. A group's page charts it hourly over 48 hours
  and daily over 30 days, lists its latest occurrences and shows the traceback of its latest
  full entry with the in-app frames marked and the library frames folded. Staff with the
  group's change permission set its state (unresolved, resolved, ignored); a resolved group
  that occurs again is marked as a regression by the recorder.
* Search (entries): a logging hash (any case, surrounding spaces ignored) opens its entry; a
  term starting with ``/`` matches a path prefix; anything else a request id, user id or trace
  id (``path:``, ``request:``, ``user:``, ``trace:`` pick one). Every search uses an index.
* ``<admin>/counterbalance_errors/errorlog/lookup/<hash>/`` redirects to the entry (link to
  it from a support tool); unknown or malformed hashes redirect to the list with a message.
* Entries are read-only; only superusers may delete, through Django's confirmation page.
  Everything captured is shown escaped.
* Large tables stay fast: lists count at most :data:`COUNT_LIMIT` rows, filter choices come
  from the (small) group table or the newest entries, and no page reads a whole entry table.
"""

from __future__ import annotations

import json
import re
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.views.main import ERROR_FLAG, SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils import dateformat, timezone
from django.utils.functional import Promise, cached_property, lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from counterbalance_errors import charts, conf
from counterbalance_errors.models import (
    ErrorGroup,
    ErrorGroupHour,
    ErrorGroupUser,
    ErrorLog,
    normalise_hash,
)

_PRE = "white-space: pre-wrap; word-break: break-all; max-width: 100%; margin: 0;"

#: The most rows a changelist counts; past it, the list says this many and narrower filters
#: (date, status, code, node) reach the rest.
COUNT_LIMIT = 10_000
#: How many of the newest entries the compute-node filter takes its choices from.
NODE_SAMPLE = 1000
#: How many of a group's newest full entries its "nodes" column looks at.
NODES_PER_GROUP = 20
#: Occurrences listed on a group's page.
LATEST = 10
#: Users affected counted per group, at most (the list says "10000+").
USER_LIMIT = 10_000

State = ErrorGroup.State


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most :data:`COUNT_LIMIT` rows: ``COUNT(*)`` over a ``LIMIT`` subquery."""

    @cached_property
    def count(self) -> int:
        rows: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return rows.order_by()[:COUNT_LIMIT].count()


# --- presentation helpers (pure) -----------------------------------------------------------


def when(value: datetime | None, *, short: bool = False) -> SafeString | str:
    """A time to the second in the active timezone, with the zone's abbreviation (``short``:
    without it, for columns whose heading names the zone)."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    shown = dateformat.format(local, "Y-m-d H:i:s" if short else "Y-m-d H:i:s T")
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), shown)


def _label_with_timezone(label: str | Promise) -> str:
    return str(label) % {"tz": timezone.get_current_timezone_name()}


#: A column heading naming the active timezone, worked out when the page is rendered.
with_timezone = lazy(_label_with_timezone, str)


def _pre(value: Any) -> SafeString:
    return format_html('<pre style="{}">{}</pre>', _PRE, value)


def _json(value: Any) -> SafeString | str:
    if value in (None, "", [], {}):
        return "-"
    if isinstance(value, str):
        return _pre(value)
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


_FRAME_RE = re.compile(r'^\s*File "(?P<file>[^"]*)", line \d+, in .*$')
_LIBRARY_MARKERS = ("/site-packages/", "/dist-packages/", "/counterbalance_errors/", "<frozen ")
_STDLIB = tuple(sorted({sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib")}))


def is_library_file(filename: str) -> bool:
    """A frame's file is the standard library, an installed package or this app."""
    return filename.startswith(_STDLIB) or any(m in filename for m in _LIBRARY_MARKERS)


@dataclass(frozen=True, slots=True)
class Block:
    """Consecutive traceback lines: plain text, one in-app frame, or library frames."""

    kind: str  # "text", "app" or "library"
    lines: tuple[str, ...]
    frames: int = 0


def traceback_blocks(text: str) -> list[Block]:
    """Split a formatted Python traceback into text, in-app frames and runs of library frames.

    A frame is its ``File "…", line N, in …`` line and the indented lines under it (source,
    carets). Consecutive library frames form one block, so they fold into one summary.
    """
    blocks: list[Block] = []
    current: list[str] = []
    kind = "text"

    def close() -> None:
        nonlocal current
        if not current:
            return
        if kind == "library" and blocks and blocks[-1].kind == "library":
            previous = blocks.pop()
            blocks.append(Block("library", previous.lines + tuple(current), previous.frames + 1))
        else:
            blocks.append(Block(kind, tuple(current), 0 if kind == "text" else 1))
        current = []

    for line in text.splitlines():
        match = _FRAME_RE.match(line)
        if match:
            close()
            kind = "library" if is_library_file(match["file"]) else "app"
            current = [line]
        elif kind != "text" and line.startswith("    "):
            current.append(line)
        else:
            if kind != "text":
                close()
                kind = "text"
            current.append(line)
    close()
    return blocks


_TB_BOX = (
    "font-family: var(--font-family-monospace, monospace); font-size: 12px; "
    "white-space: pre-wrap; word-break: break-all; margin: 0;"
)
_APP = (
    "border-left: 3px solid var(--message-warning-bg, #ffc); padding-left: 6px; "
    "background: var(--darkened-bg, #f8f8f8); font-weight: bold;"
)
_LIB = "color: var(--body-quiet-color, #666); padding-left: 9px;"


def traceback_html(text: str) -> SafeString | str:
    """The traceback, escaped: in-app frames marked, library frames folded in ``<details>``."""
    if not text:
        return "-"
    parts = []
    for block in traceback_blocks(text):
        body = "\n".join(block.lines)
        if block.kind == "app":
            parts.append(format_html('<div class="cb-frame-app" style="{}">{}</div>', _APP, body))
        elif block.kind == "library":
            summary = ngettext("%(n)d library frame", "%(n)d library frames", block.frames) % {
                "n": block.frames
            }
            parts.append(
                format_html(
                    '<details class="cb-frames-library" style="{}"><summary>{}</summary>'
                    "{}</details>",
                    _LIB,
                    summary,
                    body,
                )
            )
        else:
            parts.append(format_html("<div>{}</div>", body))
    return format_html(
        '<div class="cb-traceback" style="{}">{}</div>', _TB_BOX, mark_safe("".join(parts))
    )


def chart_svg(
    chart_id: str, series: Sequence[tuple[str, int]], width: int, height: int, title: str
) -> SafeString:
    """The inline SVG of a bar chart, drawn by the admin's ``chart.html`` template."""
    chart = charts.bar_chart(list(series), width=width, height=height, title=title)
    return mark_safe(  # the template escapes every value
        render_to_string("counterbalance_errors/chart.html", {"chart": chart, "id": chart_id})
    )


def _hour_label(hour: datetime) -> str:
    return dateformat.format(timezone.localtime(hour), "Y-m-d H:00 T")


def _this_hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _search_link(kind: str, value: str) -> SafeString | str:
    """``value`` linking to every entry with it (the entries' search, ``kind:value``)."""
    if not value:
        return "-"
    url = reverse("admin:counterbalance_errors_errorlog_changelist")
    query = urlencode({SEARCH_VAR: f"{kind}:{value}"})
    return format_html(
        '<a href="{}?{}" title="{}">{}</a>', url, query, gettext("All entries with it"), value
    )


def _external_link(setting: str, placeholder: str, value: str) -> SafeString | str:
    """A link to ``value`` in another tool, from the URL template ``setting`` (``""`` when it
    is unset or there is no value)."""
    template = conf.get(setting)
    if not template or not value:
        return ""
    return format_html(
        ' <a href="{}" rel="noopener noreferrer" target="_blank">↗</a>',
        str(template).replace(placeholder, quote(value, safe="")),
    )


def _has_nul(request: HttpRequest) -> bool:
    return any("\x00" in value for values in request.GET.lists() for value in values[1])


def _invalid_lookup(request: HttpRequest) -> HttpResponseRedirect:
    """Django's answer to lookup parameters it cannot use: the list, flagged ``?e=1``."""
    return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")


# --- filters -------------------------------------------------------------------------------


class _ChoicesFilter(admin.SimpleListFilter):
    """A filter on one column whose choices come from anywhere but a DISTINCT over the entries;
    a value not among them (from a link) is still applied and shown."""

    field: str

    def choices_for(self) -> list[str]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = self.choices_for()
        current = self.value()
        if current and current not in values:
            values.append(current)
        return [(value, value or gettext("(empty)")) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{self.field: value})


def _group_values(field: str) -> list[str]:
    """The values of a group column that occur (the group table is small: one row per kind)."""
    values = ErrorGroup.objects.order_by().values_list(field, flat=True).distinct()
    return [str(value) for value in sorted(set(values))]


class StatusFilter(_ChoicesFilter):
    title = _("status")
    parameter_name = "status__exact"
    field = "status"

    def choices_for(self) -> list[str]:
        return sorted(_group_values("status"), key=int)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(status=int(value)) if value.isdigit() else queryset.none()


class CodeFilter(_ChoicesFilter):
    title = _("code")
    parameter_name = "code__exact"
    field = "code"

    def choices_for(self) -> list[str]:
        return _group_values("code")


def _recent_nodes() -> list[str]:
    newest = ErrorLog.objects.order_by("-pk").values_list("compute_node", flat=True)
    return sorted(set(newest[:NODE_SAMPLE]))


class ComputeNodeFilter(_ChoicesFilter):
    title = _("compute node")
    parameter_name = "compute_node__exact"
    field = "compute_node"

    def choices_for(self) -> list[str]:
        return _recent_nodes()


class GroupNodeFilter(ComputeNodeFilter):
    """Groups with an entry from the node."""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        on_node = ErrorLog.objects.filter(group=OuterRef("pk"), compute_node=value)
        return queryset.filter(Exists(on_node))


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in State.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(state=value)


# --- entries -------------------------------------------------------------------------------

_SUMMARY = (
    ("logging_hash", "created_display"),
    ("status", "code"),
    ("method", "path_line"),
    ("user_link", "compute_node"),
    ("request_link", "trace_link"),
    ("sentry_event_link", "group_state", "group_link"),
    "record_kind",
    "message",
)
_TRACEBACK = ("traceback_display",)
_EXCEPTION = ("exception_class", "exception_message_display", "details_display", "locals_display")
_REQUEST = ("path_display", "query_display", "headers_display", "body_display")
_GROUP = ("group_occurrences", "group_first_seen", "group_last_seen", "fingerprint")


def _flatten(fields: Iterable[str | tuple[str, ...]]) -> tuple[str, ...]:
    flat: list[str] = []
    for field in fields:
        flat.extend((field,) if isinstance(field, str) else field)
    return tuple(flat)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    show_full_result_count = False
    paginator = CappedPaginator

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)


@dataclass(frozen=True, slots=True)
class Search:
    """What a search term asks for: a hash, a path prefix, or an id of one or more kinds."""

    logging_hash: str | None = None
    path_prefix: str | None = None
    ids: tuple[str, ...] = ()  # ErrorLog fields compared with ``value``
    value: str = ""


_ID_FIELDS = ("request_id", "user_id", "trace_id")
_ID_LABELS = {"request_id": _("request id"), "user_id": _("user id"), "trace_id": _("trace id")}
_PREFIXES = {"path": "path", "request": "request_id", "user": "user_id", "trace": "trace_id"}


def parse_search(term: str) -> Search:
    """How the admin reads a search term (see the module docstring)."""
    term = term.strip()
    name, colon, rest = term.partition(":")
    if colon and name.lower() in _PREFIXES and rest.strip():
        field, rest = _PREFIXES[name.lower()], rest.strip()
        if field == "path":
            return Search(path_prefix=rest)
        return Search(ids=(field,), value=rest)
    logging_hash = normalise_hash(term)
    if logging_hash is not None:
        return Search(logging_hash=logging_hash)
    if term.startswith("/"):
        return Search(path_prefix=term)
    return Search(ids=_ID_FIELDS, value=term)


def search_entries(queryset: QuerySet[ErrorLog], search: Search) -> QuerySet[ErrorLog]:
    """The entries ``search`` finds, each condition served by an index.

    The ``<> ''`` conditions repeat the partial indexes' own, so the planner may use them.
    """
    if search.logging_hash is not None:
        return queryset.filter(logging_hash=search.logging_hash)
    if search.path_prefix is not None:
        # The path index holds full entries only (a compact one is found by hash or group).
        full = queryset.filter(compact=False).exclude(path="")
        return full.filter(path__startswith=search.path_prefix)
    found = queryset.none()
    for field in search.ids:
        found = found | queryset.exclude(**{field: ""}).filter(**{field: search.value})
    return found


@admin.register(ErrorLog)
class ErrorLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_display",
        "status",
        "code",
        "short_message",
        "method",
        "short_path",
        "compute_node",
        "logging_hash",
    )
    list_filter = (
        StatusFilter,
        CodeFilter,
        ComputeNodeFilter,
        ("created", admin.DateFieldListFilter),
        "compact",
    )
    list_select_related = ("group",)
    # Newest first by the primary key, which the recorder assigns in the order it stores:
    # ``created`` has no index of its own (a group's entries use (group, created)).
    ordering = ("-pk",)
    search_fields = ("logging_hash__exact",)
    search_help_text = _(
        "A logging hash (40 hexadecimal characters) opens its entry; /path finds a path "
        "prefix; anything else a request id, user id or trace id "
        "(or say which: path:, request:, user:, trace:)."
    )
    fieldsets = (
        (None, {"fields": _SUMMARY}),
        (_("Traceback"), {"fields": _TRACEBACK}),
        (_("Request"), {"fields": _REQUEST}),
        (_("Exception"), {"fields": _EXCEPTION}),
        (_("Group"), {"fields": _GROUP}),
    )
    readonly_fields = _flatten(_SUMMARY) + _TRACEBACK + _EXCEPTION + _REQUEST + _GROUP

    # --- list columns ----------------------------------------------------------------------

    @admin.display(description=_("created"), ordering="created")
    def created_display(self, obj: ErrorLog) -> SafeString | str:
        return when(obj.created)

    @admin.display(description=_("message"))
    def short_message(self, obj: ErrorLog) -> str:
        return Truncator(obj.exception_message or obj.message).chars(80)

    @admin.display(description=_("path"))
    def short_path(self, obj: ErrorLog) -> str:
        return Truncator(obj.path).chars(60)

    # --- detail ----------------------------------------------------------------------------

    @admin.display(description=_("path"))
    def path_line(self, obj: ErrorLog) -> SafeString:
        return format_html("<code>{}</code>", Truncator(obj.path).chars(200) or "-")

    @admin.display(description=_("user id"))
    def user_link(self, obj: ErrorLog) -> SafeString | str:
        return _search_link("user", obj.user_id)

    @admin.display(description=_("request id"))
    def request_link(self, obj: ErrorLog) -> SafeString | str:
        return _search_link("request", obj.request_id)

    @admin.display(description=_("trace id"))
    def trace_link(self, obj: ErrorLog) -> SafeString | str:
        return format_html(
            "{}{}",
            _search_link("trace", obj.trace_id),
            _external_link("TRACE_URL", "{trace_id}", obj.trace_id),
        )

    @admin.display(description=_("Sentry event id"))
    def sentry_event_link(self, obj: ErrorLog) -> SafeString | str:
        if not obj.sentry_event_id:
            return "-"
        return format_html(
            "<code>{}</code>{}",
            obj.sentry_event_id,
            _external_link("SENTRY_EVENT_URL", "{event_id}", obj.sentry_event_id),
        )

    @admin.display(description=_("group"))
    def group_link(self, obj: ErrorLog) -> SafeString:
        url = reverse("admin:counterbalance_errors_errorgroup_change", args=[obj.group_id])
        return format_html('<a href="{}">{}</a>', url, Truncator(obj.group.title).chars(80) or "-")

    @admin.display(description=_("group state"))
    def group_state(self, obj: ErrorLog) -> str:
        return str(obj.group.get_state_display())

    @admin.display(description=_("record"))
    def record_kind(self, obj: ErrorLog) -> str:
        if obj.compact:
            return gettext(
                "Full record skipped: flood control. This occurrence was only counted (too "
                "many of its group at once); the traceback is its group's latest."
            )
        return gettext("Full record: request, exception and traceback stored.")

    @admin.display(description=_("occurrences in the group"))
    def group_occurrences(self, obj: ErrorLog) -> int:
        return obj.group.occurrence_count

    @admin.display(description=_("first seen"))
    def group_first_seen(self, obj: ErrorLog) -> SafeString | str:
        return when(obj.group.first_seen)

    @admin.display(description=_("last seen"))
    def group_last_seen(self, obj: ErrorLog) -> SafeString | str:
        return when(obj.group.last_seen)

    @admin.display(description=_("exception message"))
    def exception_message_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.exception_message)

    @admin.display(description=_("traceback"))
    def traceback_display(self, obj: ErrorLog) -> SafeString | str:
        if obj.traceback:
            return traceback_html(obj.traceback)
        group_traceback = obj.group.traceback
        if not group_traceback:
            return "-"
        return format_html(
            "<p>{}</p>{}", gettext("The group's latest traceback:"), traceback_html(group_traceback)
        )

    @admin.display(description=_("details"))
    def details_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.details)

    @admin.display(description=_("frame locals"))
    def locals_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.frame_locals)

    @admin.display(description=_("full path"))
    def path_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.path)

    @admin.display(description=_("query"))
    def query_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.query)

    @admin.display(description=_("headers"))
    def headers_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.headers)

    @admin.display(description=_("body"))
    def body_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.body)

    # --- search ----------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ErrorLog], search_term: str
    ) -> tuple[QuerySet[ErrorLog], bool]:
        if not search_term.strip():
            return queryset, False
        return search_entries(queryset, parse_search(search_term)), False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if _has_nul(request):
            return _invalid_lookup(request)  # PostgreSQL rejects NUL in any text parameter
        term = request.GET.get(SEARCH_VAR, "")
        if term.strip():
            search = parse_search(term)
            if search.logging_hash is not None:
                found = self._find(request, term)
                if found is not None:
                    return found
            elif not search_entries(self.get_queryset(request), search).exists():
                self._say_not_found(request, term, search)
        return super().changelist_view(request, extra_context)

    def _say_not_found(self, request: HttpRequest, term: str, search: Search) -> None:
        shown = Truncator(search.path_prefix or search.value).chars(60)
        if search.path_prefix is not None:
            text = gettext("No logged error has a path starting with “%(term)s”.")
        elif len(search.ids) == 1:
            text = gettext("No logged error has the %(field)s “%(term)s”.")
        else:
            text = gettext(
                "“%(term)s” is not a logging hash: a logging hash is 40 hexadecimal characters "
                "(0-9, a-f). No logged error has it as request id, user id or trace id either."
            )
        field = _ID_LABELS[search.ids[0]] if search.ids else ""
        self.message_user(request, text % {"term": shown, "field": field}, messages.WARNING)

    def lookup_view(self, request: HttpRequest, logging_hash: str) -> HttpResponse:
        """``lookup/<hash>/``: the entry, or the list with a message; never an error page."""
        if not self.has_view_permission(request):
            self.message_user(request, gettext("You may not view logged errors."), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index", current_app=self.admin_site.name))
        found = self._find(request, logging_hash)
        if found is not None:
            return found
        url = reverse("admin:counterbalance_errors_errorlog_changelist")
        return HttpResponseRedirect(url)

    def _find(self, request: HttpRequest, term: str) -> HttpResponse | None:
        """A redirect to the entry of ``term``'s hash; else None, with a message saying why."""
        logging_hash = normalise_hash(term)
        if logging_hash is None:
            self.message_user(
                request,
                gettext(
                    "“%(term)s” is not a logging hash: a logging hash is 40 hexadecimal "
                    "characters (0-9, a-f)."
                )
                % {"term": Truncator(term.strip()).chars(60)},
                messages.WARNING,
            )
            return None
        pk = (
            self.get_queryset(request)
            .filter(logging_hash=logging_hash)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            self.message_user(
                request,
                gettext(
                    "No logged error has the hash %(hash)s. It may have been purged, or "
                    "storing it failed: search the logs for the hash."
                )
                % {"hash": logging_hash},
                messages.WARNING,
            )
            return None
        url = reverse("admin:counterbalance_errors_errorlog_change", args=[pk])
        return HttpResponseRedirect(url)

    def get_urls(self) -> list[URLPattern]:
        lookup = path(
            "lookup/<str:logging_hash>/",
            self.admin_site.admin_view(self.lookup_view),
            name="counterbalance_errors_errorlog_lookup",
        )
        return [lookup, *super().get_urls()]


# --- groups --------------------------------------------------------------------------------


@dataclass(slots=True)
class GroupStats:
    """What the group list shows beside a group's own columns."""

    hours: list[tuple[datetime, int]]
    users: int
    nodes: list[str]

    @property
    def last_24h(self) -> int:
        return sum(count for _, count in self.hours)


def group_stats(group_ids: list[int], now: datetime) -> dict[int, GroupStats]:
    """Last-24-hours buckets, users affected and recent nodes of a page of groups.

    Three queries, each bounded by the page's groups: hour buckets by (group, hour), users by
    (group, user_id), and nodes from each group's newest :data:`NODES_PER_GROUP` full entries by
    (group, created) (one query per group on SQLite, see :func:`_nodes`).
    """
    last = _this_hour(now)
    hours: dict[int, list[tuple[datetime, int]]] = {pk: [] for pk in group_ids}
    rows = ErrorGroupHour.objects.filter(
        group_id__in=group_ids, hour__gt=last - timedelta(hours=24)
    ).values_list("group_id", "hour", "count")
    for group_id, hour, count in rows:
        hours[group_id].append((hour, count))
    users = dict(
        ErrorGroupUser.objects.filter(group_id__in=group_ids)
        .order_by()
        .values("group_id")
        .annotate(n=Count("pk"))
        .values_list("group_id", "n")
    )
    nodes = _nodes(group_ids)
    return {
        pk: GroupStats(
            charts.hourly(hours[pk], last=last, length=24), users.get(pk, 0), nodes.get(pk, [])
        )
        for pk in group_ids
    }


def _nodes(group_ids: list[int]) -> dict[int, list[str]]:
    """The nodes among each group's newest full entries: one UNION ALL of per-group LIMIT queries
    where the database allows it (PostgreSQL, MariaDB), else one query per group (SQLite)."""
    if not group_ids:
        return {}

    def newest(pk: int) -> QuerySet[ErrorLog, tuple[int, str]]:
        return (
            ErrorLog.objects.filter(group_id=pk, compact=False)  # the (group, created) index
            .order_by("-created")
            .values_list("group_id", "compute_node")[:NODES_PER_GROUP]
        )

    connection = connections[ErrorLog.objects.db]
    rows: list[tuple[int, str]] = []
    if not connection.features.supports_slicing_ordering_in_compound:
        for pk in group_ids:
            rows.extend(newest(pk))
    else:  # pragma: no cover - not on SQLite; the PostgreSQL and MariaDB legs run it
        first, *others = (newest(pk) for pk in group_ids)
        rows = list(first.union(*others, all=True)) if others else list(first)
    found: dict[int, set[str]] = {}
    for group_id, node in rows:
        found.setdefault(group_id, set()).add(node)
    return {pk: sorted(values) for pk, values in found.items()}


class GroupChangeList(ChangeList):
    """Fetches the page's :class:`GroupStats` once, for the columns to read."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        groups = list(self.result_list)
        stats = group_stats([group.pk for group in groups], timezone.now())
        for group in groups:
            group.triage = stats[group.pk]
        self.result_list = groups


def set_state(groups: QuerySet[ErrorGroup], state: str, now: datetime) -> int:
    """Give ``groups`` the ``state``; only the state columns are written (the recorder's
    counters are untouched). Resolving stamps ``resolved_at``; any other state clears it."""
    resolved_at = now if state == State.RESOLVED else None
    return groups.update(state=state, resolved_at=resolved_at)


@admin.register(ErrorGroup)
class ErrorGroupAdmin(ReadOnlyAdmin):
    list_display = (
        "code_status",
        "short_title",
        "seen",
        "last_24h",
        "occurrences",
        "users_affected",
        "nodes",
    )
    list_display_links = ("short_title",)
    list_filter = (
        StateFilter,
        StatusFilter,
        CodeFilter,
        GroupNodeFilter,
        ("last_seen", admin.DateFieldListFilter),
    )
    actions = ("mark_resolved", "mark_ignored", "mark_unresolved")
    search_fields = ("fingerprint__exact",)
    search_help_text = _(
        "A logging hash opens its entry; a fingerprint (64 hexadecimal characters) its group; "
        "anything else searches the entries (path, request id, user id, trace id)."
    )
    fields = (
        "title",
        "exception_class",
        "code",
        "status",
        "state",
        "occurrence_count",
        "first_seen_display",
        "last_seen_display",
        "resolved_at_display",
        "fingerprint",
        "entries_link",
    )
    readonly_fields = fields
    change_form_template = "admin/counterbalance_errors/errorgroup/triage_change_form.html"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The state only (actions and the state buttons); every field stays read-only.
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return GroupChangeList

    # --- list columns ----------------------------------------------------------------------

    @admin.display(description=_("code"), ordering="code")
    def code_status(self, obj: ErrorGroup) -> SafeString:
        return format_html("<code>{}</code><br>{}", obj.code, obj.status)

    @admin.display(description=_("title"), ordering="title")
    def short_title(self, obj: ErrorGroup) -> SafeString:
        return format_html(
            '{}<br><small class="cb-state">{}</small>',
            Truncator(obj.title).chars(90) or "-",
            self.state_display(obj),
        )

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, obj: ErrorGroup) -> SafeString | str:
        label = str(obj.get_state_display())
        if obj.state == State.UNRESOLVED and obj.regressed_at is not None:
            return format_html("{} <strong>({})</strong>", label, gettext("regression"))
        return label

    @admin.display(description=with_timezone(_("seen (%(tz)s)")), ordering="last_seen")
    def seen(self, obj: ErrorGroup) -> SafeString:
        return format_html(
            '<span style="white-space: nowrap;">{} {}</span><br>'
            '<span style="white-space: nowrap;">{} {}</span>',
            gettext("last"),
            when(obj.last_seen, short=True),
            gettext("first"),
            when(obj.first_seen, short=True),
        )

    @admin.display(description=_("first seen"), ordering="first_seen")
    def first_seen_display(self, obj: ErrorGroup) -> SafeString | str:
        return when(obj.first_seen)

    @admin.display(description=_("last seen"), ordering="last_seen")
    def last_seen_display(self, obj: ErrorGroup) -> SafeString | str:
        return when(obj.last_seen)

    @admin.display(description=_("resolved at"))
    def resolved_at_display(self, obj: ErrorGroup) -> SafeString | str:
        return when(obj.resolved_at)

    @admin.display(description=_("last 24 h"))
    def last_24h(self, obj: ErrorGroup) -> SafeString:
        stats = _stats(obj)
        series = [(_hour_label(hour), count) for hour, count in stats.hours]
        title = gettext("Occurrences per hour, last 24 hours")
        chart = chart_svg(f"cb-trend-{obj.pk}", series, 72, 18, title)
        return format_html(
            '<span style="display: flex; gap: 6px; align-items: flex-end;">'
            '<span class="cb-count">{}</span>{}</span>',
            stats.last_24h,
            chart,
        )

    @admin.display(description=_("all"), ordering="occurrence_count")
    def occurrences(self, obj: ErrorGroup) -> int:
        return obj.occurrence_count

    @admin.display(description=_("users"))
    def users_affected(self, obj: ErrorGroup) -> int:
        return _stats(obj).users

    @admin.display(description=_("nodes"))
    def nodes(self, obj: ErrorGroup) -> str:
        return ", ".join(_stats(obj).nodes) or "-"

    @admin.display(description=_("entries"))
    def entries_link(self, obj: ErrorGroup) -> SafeString:
        url = reverse("admin:counterbalance_errors_errorlog_changelist")
        return format_html('<a href="{}?group__id__exact={}">{}</a>', url, obj.pk, _("entries"))

    # --- state -----------------------------------------------------------------------------

    def _set(self, request: HttpRequest, groups: QuerySet[ErrorGroup], state: str) -> None:
        count = set_state(groups, state, timezone.now())
        label = State(state).label
        self.message_user(
            request,
            ngettext(
                "%(count)d group marked %(state)s.", "%(count)d groups marked %(state)s.", count
            )
            % {"count": count, "state": label},
            messages.SUCCESS,
        )

    @admin.action(permissions=["change"], description=_("Mark as resolved"))
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._set(request, queryset, State.RESOLVED)

    @admin.action(permissions=["change"], description=_("Mark as ignored"))
    def mark_ignored(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._set(request, queryset, State.IGNORED)

    @admin.action(permissions=["change"], description=_("Mark as unresolved"))
    def mark_unresolved(self, request: HttpRequest, queryset: QuerySet[ErrorGroup]) -> None:
        self._set(request, queryset, State.UNRESOLVED)

    def state_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST ``<pk>/state/`` with ``state``: the group page's state buttons."""
        group = self.get_object(request, object_id)
        if group is None:
            self.message_user(request, gettext("No such error group."), messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:counterbalance_errors_errorgroup_changelist")
            )
        if not self.has_change_permission(request, group):
            raise PermissionDenied
        state = request.POST.get("state", "")
        if state in State.values:
            self._set(request, ErrorGroup.objects.filter(pk=group.pk), state)
        else:
            self.message_user(request, gettext("Unknown state."), messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:counterbalance_errors_errorgroup_change", args=[group.pk])
        )

    def get_urls(self) -> list[URLPattern]:
        state = path(
            "<path:object_id>/state/",
            self.admin_site.admin_view(require_POST(self.state_view)),
            name="counterbalance_errors_errorgroup_state",
        )
        return [state, *super().get_urls()]

    # --- the group page --------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied  # nothing of a group is edited through its form
        group = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if group is not None:
            context.update(self.triage_context(request, group, timezone.now()))
        context.update(title=gettext("Error group"), show_save=False, show_save_and_continue=False)
        context.update(show_save_and_add_another=False, show_delete=False)
        return super().change_view(request, object_id, form_url, context)

    def triage_context(
        self, request: HttpRequest, group: ErrorGroup, now: datetime
    ) -> dict[str, Any]:
        """Charts, latest occurrences, traceback and state controls of ``group``'s page."""
        last = _this_hour(now)
        rows = list(
            ErrorGroupHour.objects.filter(
                group=group, hour__gt=last - timedelta(days=31)
            ).values_list("hour", "count")
        )
        hourly = [(_hour_label(h), c) for h, c in charts.hourly(rows, last=last, length=48)]
        tz = timezone.get_current_timezone()
        today = timezone.localtime(now).date()
        daily = [
            (day.isoformat(), count)
            for day, count in charts.daily(rows, last=today, length=30, tz=tz)
        ]
        latest = list(
            ErrorLog.objects.filter(group=group)
            .order_by("-created", "-pk")
            .only(
                "pk",
                "logging_hash",
                "created",
                "method",
                "path",
                "user_id",
                "compute_node",
                "request_id",
                "group_id",
            )[:LATEST]
        )
        occurrences = [
            {
                "url": reverse("admin:counterbalance_errors_errorlog_change", args=[row.pk]),
                "hash": row.logging_hash,
                "created": when(row.created),
                "request": f"{row.method} {Truncator(row.path).chars(120)}".strip(),
                "user": row.user_id,
                "node": row.compute_node,
                "request_id": row.request_id,
            }
            for row in latest
        ]
        regression = None
        if group.regressed_at is not None:
            regression = {
                "when": when(group.regressed_at),
                "hash": group.regressed_hash,
                "url": reverse(
                    "admin:counterbalance_errors_errorlog_lookup", args=[group.regressed_hash]
                )
                if group.regressed_hash
                else "",
                "current": group.state == State.UNRESOLVED,
            }
        can_change = self.has_change_permission(request, group)
        return {
            "triage": {
                "hourly": chart_svg("cb-hourly", hourly, 480, 80, gettext("Per hour, 48 hours")),
                "daily": chart_svg("cb-daily", daily, 480, 80, gettext("Per day, 30 days")),
                "hourly_range": (hourly[0][0], hourly[-1][0]),
                "daily_range": (daily[0][0], daily[-1][0]),
                "hourly_total": sum(c for _, c in hourly),
                "daily_total": sum(c for _, c in daily),
                "timezone": timezone.get_current_timezone_name(),
                "occurrences": occurrences,
                "traceback": traceback_html(group.traceback),
                "state": group.state,
                "state_label": group.get_state_display(),
                "states": [(v, label) for v, label in State.choices if v != group.state]
                if can_change
                else [],
                "state_url": reverse(
                    "admin:counterbalance_errors_errorgroup_state", args=[group.pk]
                ),
                "regression": regression,
                "entries_url": reverse("admin:counterbalance_errors_errorlog_changelist")
                + f"?group__id__exact={group.pk}",
            }
        }

    # --- the front door's search -----------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if _has_nul(request):
            return _invalid_lookup(request)
        term = request.GET.get(SEARCH_VAR, "").strip()
        if term and IS_POPUP_VAR not in request.GET and not re.fullmatch(r"[0-9a-fA-F]{64}", term):
            # Not a fingerprint: the entries' search answers it (a hash opens its entry).
            url = reverse("admin:counterbalance_errors_errorlog_changelist")
            return HttpResponseRedirect(f"{url}?{urlencode({SEARCH_VAR: term})}")
        # The desk's columns need the width: no navigation sidebar here (breadcrumbs remain).
        context = {
            "is_nav_sidebar_enabled": False,
            "title": gettext("Error groups: what is breaking, latest first"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ErrorGroup], search_term: str
    ) -> tuple[QuerySet[ErrorGroup], bool]:
        term = search_term.strip().lower()
        return (queryset.filter(fingerprint=term) if term else queryset), False


def _stats(group: ErrorGroup) -> GroupStats:
    stats: GroupStats | None = getattr(group, "triage", None)
    return stats if stats is not None else GroupStats([], 0, [])
