from __future__ import annotations

import re

from counterbalance_errors import conf
from tests.support.docexamples import DOCS


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^### `(\w+)`$", (DOCS / "settings.md").read_text(), re.M))
    assert documented == set(conf.DEFAULTS)
