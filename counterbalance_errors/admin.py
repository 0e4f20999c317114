"""The admin of logged errors: read-only, found by pasting a logging hash.

* Search: the search box takes a hash (any case, surrounding spaces ignored), matched
  exactly on the unique index; a match opens the entry directly. Anything that is not 40
  hexadecimal characters gets a message, never a query or an error page.
* ``<admin>/counterbalance_errors/errorlog/lookup/<hash>/`` redirects to the entry (link to
  it from a support tool); unknown or malformed hashes redirect to the list with a message.
* Nothing can be added or edited; only superusers may delete, through Django's confirmation
  page (a CSRF-protected POST). Everything captured is shown escaped.
* Large tables stay fast: the lists count at most :data:`COUNT_LIMIT` rows, and the filters
  offer the catalog's statuses and codes and the nodes of the newest rows, so no page load
  counts or scans the whole table.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from counterbalance_errors import catalog
from counterbalance_errors.models import ErrorGroup, ErrorLog, normalise_hash

_PRE = "white-space: pre-wrap; word-break: break-all; max-width: 100%; margin: 0;"

#: The most rows a changelist counts; past it, the list says this many and narrower filters
#: (date, status, code, node) reach the rest.
COUNT_LIMIT = 10_000
#: How many of the newest entries the compute-node filter takes its choices from.
NODE_SAMPLE = 1000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most :data:`COUNT_LIMIT` rows: ``COUNT(*)`` over a ``LIMIT`` subquery."""

    @cached_property
    def count(self) -> int:
        rows: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        return rows.order_by()[:COUNT_LIMIT].count()


class _ChoicesFilter(admin.SimpleListFilter):
    """A filter on one column whose choices come from anywhere but a DISTINCT over the table;
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


class StatusFilter(_ChoicesFilter):
    title = _("status")
    parameter_name = "status__exact"
    field = "status"

    def choices_for(self) -> list[str]:
        statuses = {entry.status for entry in catalog.CATALOG.values()} | set(catalog.STATUS_CODES)
        return [str(status) for status in sorted(statuses)]

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
        return sorted(catalog.CATALOG)


class ComputeNodeFilter(_ChoicesFilter):
    title = _("compute node")
    parameter_name = "compute_node__exact"
    field = "compute_node"

    def choices_for(self) -> list[str]:
        newest = ErrorLog.objects.order_by("-pk").values_list("compute_node", flat=True)
        return sorted(set(newest[:NODE_SAMPLE]))


def _pre(value: Any) -> SafeString:
    return format_html('<pre style="{}">{}</pre>', _PRE, value)


def _json(value: Any) -> SafeString | str:
    if value in (None, "", [], {}):
        return "-"
    if isinstance(value, str):
        return _pre(value)
    return _pre(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


_SUMMARY = ("logging_hash", "created", "status", "code", "message", "compact")
_GROUP = ("group_link", "group_occurrences", "group_first_seen", "group_last_seen", "fingerprint")
_EXCEPTION = (
    "exception_class",
    "exception_message_display",
    "traceback_display",
    "details_display",
    "locals_display",
)
_REQUEST = (
    "method",
    "path_display",
    "query_display",
    "headers_display",
    "body_display",
    "user_id",
    "request_id",
    "compute_node",
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    show_full_result_count = False
    paginator = CappedPaginator

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)


@admin.register(ErrorLog)
class ErrorLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        "status",
        "code",
        "short_message",
        "exception_class",
        "method",
        "short_path",
        "compute_node",
        "logging_hash",
        "occurrences",
    )
    list_filter = (
        StatusFilter,
        CodeFilter,
        ComputeNodeFilter,
        ("created", admin.DateFieldListFilter),
        "compact",
    )
    list_select_related = ("group",)
    search_fields = ("logging_hash__exact",)
    search_help_text = _("Paste a logging hash (40 hexadecimal characters) to open its entry.")
    fieldsets = (
        (None, {"fields": _SUMMARY}),
        (_("Group"), {"fields": _GROUP}),
        (_("Exception"), {"fields": _EXCEPTION}),
        (_("Request"), {"fields": _REQUEST}),
    )
    readonly_fields = _SUMMARY + _GROUP + _EXCEPTION + _REQUEST

    # --- list columns ----------------------------------------------------------------------

    @admin.display(description=_("message"))
    def short_message(self, obj: ErrorLog) -> str:
        return Truncator(obj.exception_message or obj.message).chars(80)

    @admin.display(description=_("path"))
    def short_path(self, obj: ErrorLog) -> str:
        return Truncator(obj.path).chars(60)

    @admin.display(description=_("occurrences"))
    def occurrences(self, obj: ErrorLog) -> int:
        return obj.group.occurrence_count

    # --- detail ----------------------------------------------------------------------------

    @admin.display(description=_("group"))
    def group_link(self, obj: ErrorLog) -> SafeString:
        url = reverse("admin:counterbalance_errors_errorlog_changelist")
        return format_html(
            '<a href="{}?group__id__exact={}">{}</a>', url, obj.group_id, obj.group.title or "-"
        )

    @admin.display(description=_("occurrences in the group"))
    def group_occurrences(self, obj: ErrorLog) -> int:
        return obj.group.occurrence_count

    @admin.display(description=_("first seen"))
    def group_first_seen(self, obj: ErrorLog) -> str:
        return display_for_value(obj.group.first_seen, self.get_empty_value_display())

    @admin.display(description=_("last seen"))
    def group_last_seen(self, obj: ErrorLog) -> str:
        return display_for_value(obj.group.last_seen, self.get_empty_value_display())

    @admin.display(description=_("exception message"))
    def exception_message_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.exception_message)

    @admin.display(description=_("traceback"))
    def traceback_display(self, obj: ErrorLog) -> SafeString | str:
        if obj.traceback:
            return _pre(obj.traceback)
        if obj.group.traceback and not obj.compact:
            return _pre(obj.group.traceback)  # the same as the group's: stored once, there
        if obj.group.traceback:
            return format_html(
                "<p>{}</p>{}",
                gettext("The group's first traceback:"),
                _pre(obj.group.traceback),
            )
        return "-"

    @admin.display(description=_("details"))
    def details_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.details)

    @admin.display(description=_("frame locals"))
    def locals_display(self, obj: ErrorLog) -> SafeString | str:
        return _json(obj.frame_locals)

    @admin.display(description=_("path"))
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

    # --- finding an entry by its hash ------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ErrorLog], search_term: str
    ) -> tuple[QuerySet[ErrorLog], bool]:
        if not search_term.strip():
            return queryset, False
        logging_hash = normalise_hash(search_term)
        if logging_hash is None:
            return queryset.none(), False
        return queryset.filter(logging_hash=logging_hash), False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        term = request.GET.get(SEARCH_VAR, "")
        if term.strip():
            found = self._find(request, term)
            if found is not None:
                return found
        return super().changelist_view(request, extra_context)

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


@admin.register(ErrorGroup)
class ErrorGroupAdmin(ReadOnlyAdmin):
    list_display = (
        "last_seen",
        "occurrence_count",
        "status",
        "code",
        "exception_class",
        "short_title",
        "first_seen",
        "entries_link",
    )
    list_filter = (StatusFilter, CodeFilter, ("last_seen", admin.DateFieldListFilter))
    search_fields = ("fingerprint__exact",)
    search_help_text = _("Paste a fingerprint (64 hexadecimal characters).")
    fields = (
        "title",
        "exception_class",
        "code",
        "status",
        "occurrence_count",
        "first_seen",
        "last_seen",
        "fingerprint",
        "entries_link",
        "traceback_display",
    )
    readonly_fields = fields

    @admin.display(description=_("title"))
    def short_title(self, obj: ErrorGroup) -> str:
        return Truncator(obj.title).chars(80)

    @admin.display(description=_("entries"))
    def entries_link(self, obj: ErrorGroup) -> SafeString:
        url = reverse("admin:counterbalance_errors_errorlog_changelist")
        return format_html('<a href="{}?group__id__exact={}">{}</a>', url, obj.pk, _("entries"))

    @admin.display(description=_("traceback"))
    def traceback_display(self, obj: ErrorGroup) -> SafeString | str:
        return _pre(obj.traceback) if obj.traceback else "-"
