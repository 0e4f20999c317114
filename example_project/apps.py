from __future__ import annotations

from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "Demo shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from example_project.demo import ensure_account

        # `make demo` migrates: the demo staff account exists from then on (DEMO_ACCOUNT).
        post_migrate.connect(ensure_account, sender=self)
