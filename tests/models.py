from __future__ import annotations

from django.db import models


class Widget(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Part(models.Model):
    widget = models.ForeignKey(Widget, on_delete=models.PROTECT, related_name="parts")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"part of {self.widget}"
