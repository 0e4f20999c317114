from __future__ import annotations

from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "Demo shop"
    default_auto_field = "django.db.models.BigAutoField"
