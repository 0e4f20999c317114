"""Demo data for the triage desk: a staff account and a realistic mix of logged errors.

``make demo`` migrates, and the migration creates :data:`USERNAME` (password :data:`PASSWORD`)
when ``DEMO_ACCOUNT`` is true in the settings (only ``example_project/settings.py``). The index
page's button calls :func:`generate`: real requests through the whole stack (middleware,
capture, recorder), from several users and two nodes, so the groups, counts, users and nodes
are the app's own, plus one regression (a group resolved, then occurring again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

USERNAME = "demo"
PASSWORD = "demo-triage"
PERMISSIONS = ("view_errorlog", "view_errorgroup", "change_errorgroup")
SHOPPERS = ("shopper-ada", "shopper-bo", "shopper-cy")

#: (url, times): how often each demo endpoint fails in one run.
MIX: tuple[tuple[str, int], ...] = (
    ("/demo/crash/", 6),
    ("/demo/conflict/", 3),
    ("/demo/in-use/", 2),
    ("/demo/maintenance/", 2),
    ("/api/checkout/?product=1&quantity=-3", 3),  # 3 a minute: the 4th is throttled
    ("/demo/async-crash/", 2),
)
#: The endpoint whose group is resolved and then occurs again.
REGRESSING = "/demo/not-implemented/"


def ensure_account(**kwargs: Any) -> None:
    """Create (or reset) the demo staff account; a ``post_migrate`` receiver."""
    if not getattr(settings, "DEMO_ACCOUNT", False):
        return
    model = get_user_model()
    user, _ = model.objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    found = Permission.objects.filter(
        content_type__app_label="counterbalance_errors", codename__in=PERMISSIONS
    )
    user.user_permissions.add(*found)


@dataclass(frozen=True, slots=True)
class Generated:
    requests: int
    regressed_group: int | None


def _shopper(name: str) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=name)
    return user


def _wait() -> None:
    """Everything submitted so far is stored (the background recorder writes in batches)."""
    from counterbalance_errors import testing

    wait = getattr(testing, "wait_for_recorder", None)
    if wait is not None:  # before the background recorder, rows were written synchronously
        wait()


def generate() -> Generated:
    """Real failing requests: several groups, recurrences from three users on two nodes,
    and a regression. Returns how many requests were made and the regressed group's id."""
    from counterbalance_errors.admin import set_state
    from counterbalance_errors.models import ErrorGroup, ErrorLog

    base = dict(getattr(settings, "COUNTERBALANCE_ERRORS", {}))
    made = 0
    clients = []
    for name in SHOPPERS:
        client = Client(raise_request_exception=False)
        client.force_login(_shopper(name))
        clients.append(client)
    for index, (url, times) in enumerate(MIX):
        for attempt in range(times):
            node = f"demo-node-{1 + (index + attempt) % 2}"
            with override_settings(COUNTERBALANCE_ERRORS={**base, "COMPUTE_NODE": node}):
                clients[(index + attempt) % len(clients)].get(url)
            made += 1
    first = clients[0].get(REGRESSING)
    made += 1
    _wait()
    logging_hash = first.json().get("logging_hash")
    group_id = (
        ErrorLog.objects.filter(logging_hash=logging_hash)
        .values_list("group_id", flat=True)
        .first()
    )
    if group_id is not None:
        set_state(ErrorGroup.objects.filter(pk=group_id), ErrorGroup.State.RESOLVED, timezone.now())
        clients[1].get(REGRESSING)
        made += 1
        _wait()
    return Generated(made, group_id)
