"""counterbalance_errors: one documented error contract for Django REST framework APIs."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
