"""What differs between the DRF versions the suite runs on (3.16 to 3.18)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from rest_framework import VERSION

_VERSION = tuple(int(part) for part in VERSION.split(".")[:2])
#: DRF 3.17 reads request.body in its parsers (so DATA_UPLOAD_MAX_MEMORY_SIZE applies to JSON);
#: 3.16 streams it.
DRF_317 = _VERSION >= (3, 17)
#: DRF 3.18 rejects non-text charsets and has the dict shape of ListSerializer errors.
DRF_318 = _VERSION >= (3, 18)

#: ListSerializer errors: DRF 3.18 has the dict shape (default) and the deprecated list shape;
#: earlier versions have only the list shape.
LIST_ERROR_SHAPES = pytest.mark.parametrize(
    "as_dict",
    [
        pytest.param(
            True,
            id="dict-shape",
            marks=pytest.mark.skipif(not DRF_318, reason="DRF < 3.18 has only the list shape"),
        ),
        pytest.param(False, id="list-shape"),
    ],
)


def list_shape_warning() -> Any:
    """DRF 3.18 warns that the list shape is deprecated; earlier versions do not."""
    if not DRF_318:
        return contextlib.nullcontext()
    from rest_framework.deprecation import RemovedInDRF320Warning

    return pytest.warns(RemovedInDRF320Warning)
