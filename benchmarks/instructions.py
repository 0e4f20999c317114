"""Instructions per request under callgrind: a measure no other process on the machine moves.

    python -m benchmarks.instructions --case drf-404 --variant app --variant bare --variant dse

Each variant runs in its own process under ``valgrind --tool=callgrind`` (Debian's
``valgrind``), with no active language as in pyperf's workers (:func:`micro.migrate`): it
answers 200 requests to warm up, freezes what that left out of the garbage collector's full
collections (``gc.freeze()``), zeroes the counters
(``callgrind_control -z``), answers ``--requests`` more and dumps the counters
(``callgrind_control -d``), once per hash seed (``--seed``; the seed alone moves a count by up
to 3 %, so compare runs of the same seed). The table gives each seed's instructions per
request and the median (min-max) of the per-seed ratios to the first variant. CPU time
follows the instruction count closely for the interpreter, so on a loaded machine this tells
what ``make bench``'s CPU rows would say on a quiet one; it takes about a minute per variant,
case and seed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import micro


def worker(variant: str, case: str, requests: int, sqlite_path: str) -> None:
    os.environ["CB_BENCH_SQLITE_PATH"] = sqlite_path
    application = micro.configure(variant, "sqlite", sqlite_path, "bench_cb")
    micro.migrate()
    make = micro.environ_factory(*micro.CASES[case])
    micro.time_requests(200, application, make, "cpu")
    # What the warm-up left is kept out of later collections: a full collection walks every
    # object, and whether one falls inside the measured requests moved a count by up to 1 %.
    gc.collect()
    gc.freeze()
    subprocess.run(["callgrind_control", "-z", str(os.getpid())], check=True, capture_output=True)
    micro.time_requests(requests, application, make, "cpu")
    subprocess.run(["callgrind_control", "-d", str(os.getpid())], check=True, capture_output=True)


def measure(variant: str, case: str, requests: int, seed: int) -> int:
    """Instructions per request of ``case`` in ``variant``, the hash seed fixed to ``seed``."""
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "callgrind.out")
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            sys.executable, "-m", "benchmarks.instructions", "--worker",
            "--variant", variant, "--case", case, "--requests", str(requests),
            "--sqlite-path", str(Path(tmp, "bench.sqlite3")),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, env=env)
        dumps = sorted(Path(tmp).glob("callgrind.out.*"))  # .1: the measured requests
        summary = next(
            line for line in dumps[0].read_text().splitlines() if line.startswith("summary:")
        )
        return int(summary.split()[1]) // requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(micro.CASES), required=True)
    parser.add_argument("--variant", action="append", choices=micro.VARIANTS, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, action="append", help="hash seeds (default 1, 2, 3)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.variant[0], args.case[0], args.requests, args.sqlite_path)
        return
    seeds = args.seed or [1, 2, 3]
    print("| case | variant | instructions per request, by seed | ratio to the first variant |")
    print("| --- | --- | --- | --- |")
    for case in args.case:
        counts = {
            v: [measure(v, case, args.requests, seed) for seed in seeds] for v in args.variant
        }
        first = counts[args.variant[0]]
        for variant, runs in counts.items():
            ratios = [run / base for run, base in zip(runs, first, strict=True)]
            spread = f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
            print(f"| {case} | {variant} | {', '.join(f'{n:,}' for n in runs)} | {spread} |")


if __name__ == "__main__":
    main()
