"""The code snippets of docs/integrations.md, by name (``<!-- snippet: name -->``)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
_SNIPPET = re.compile(r"<!-- snippet: (\w+) -->\n```python\n(.*?)```", re.S)


def snippets() -> dict[str, str]:
    return dict(_SNIPPET.findall(DOC.read_text()))


def snippet(name: str) -> str:
    return snippets()[name]
