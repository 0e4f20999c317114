"""Read the passed/failed counts of one pytest run from its output, for .ci/run.

    python3 .ci/pytest_summary.py LOG EXIT_STATUS   ->  prints "PASSED FAILED"

The counts come from pytest's closing summary line, with or without ``-q`` and its ``=`` rule
("3 failed, 10 passed, 2 skipped, 1 error in 4.2s", in any order, colours stripped); errors
count as failed, skipped and deselected tests are not counted, xfailed and xpassed count as
passed (they do not fail a run). The run itself counts as one more failure when it exited
non-zero without a failed test to show for it ("no tests ran" (exit 5), a coverage threshold
missed), or when it printed no summary at all (a crash or a failed install before pytest ran).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ITEM = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?|rerun)"
)
SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+|no tests ran) in [\d.]+s(?: \([\d:.]+\))?\s*=*$")
PASSED = {"passed", "xfailed", "xpassed"}
FAILED = {"failed", "error", "errors"}


def counts(output: str, exit_status: int) -> tuple[int, int]:
    passed = failed = 0
    lines = [ANSI.sub("", line).strip() for line in output.splitlines()]
    summaries = [match.group(1) for line in lines if (match := SUMMARY.match(line))]
    if summaries:
        for number, word in ITEM.findall(summaries[-1]):
            if word in PASSED:
                passed += int(number)
            elif word in FAILED:
                failed += int(number)
    if not summaries or (exit_status != 0 and failed == 0):
        failed = max(failed, 1)
    return passed, failed


def main(argv: list[str]) -> int:
    log, exit_status = argv[1], int(argv[2])
    passed, failed = counts(Path(log).read_text(encoding="utf-8", errors="replace"), exit_status)
    print(passed, failed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
