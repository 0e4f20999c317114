from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CounterbalanceErrorsConfig(AppConfig):
    name = "counterbalance_errors"
    verbose_name = _("Counterbalance errors")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from counterbalance_errors import checks  # noqa: F401  (registers the checks)
        from counterbalance_errors.logs import install_logging_filter
        from counterbalance_errors.middleware import connect_signals
        from counterbalance_errors.observability import install_sentry_processor

        connect_signals()
        install_logging_filter()
        install_sentry_processor()
