"""Signals of the error groups, sent by the recorder once the batch that caused them is
committed (from the recorder's thread in background mode, never from a request):

* ``error_group_created``: a fingerprint's first occurrence created its group;
* ``error_group_regressed``: a resolved group occurred again and became unresolved.

Both are sent with ``sender=ErrorGroup``, ``group=<ErrorGroup>`` and ``logging_hash=<str>``
(the occurrence that caused it), once per group and event. A receiver that raises is logged
and does not stop the others (``send_robust``).
"""

from __future__ import annotations

from django.dispatch import Signal

error_group_created = Signal()
error_group_regressed = Signal()
