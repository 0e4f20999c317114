"""Each variant of the benchmark project answers what its row claims to compare.

A benchmark row is only worth its ratio if "app" really is the envelope, "bare" really is
DRF's and Django's defaults, "dse" really is drf-standardized-errors and "header" only adds
the app's success header. Each variant is its own process (its settings are chosen at
start-up), asked once for every case's answer (``python -m benchmarks.micro --sample``);
nothing is timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE = "x-counterbalance-compute-node"


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    processes = {}
    for variant in ("app", "bare", "dse", "header"):
        sqlite = tmp_path_factory.mktemp(variant) / "bench.sqlite3"
        command = [sys.executable, "-m", "benchmarks.micro", "--sample", "--variant", variant]
        processes[variant] = subprocess.Popen(
            [*command, "--sqlite-path", str(sqlite)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
    found = {}
    for variant, process in processes.items():
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, variant
        found[variant] = json.loads(out)
    return found


@pytest.mark.parametrize("case", ["drf-success", "plain-success"])
def test_success_cases_differ_only_by_the_app(answers: Any, case: str) -> None:
    app, bare = answers["app"][case], answers["bare"][case]

    assert app["status"] == bare["status"] == 200
    assert app["body"] == bare["body"]
    assert '"widget"' in app["body"]
    assert NODE in app["headers"]
    assert NODE not in bare["headers"]
    # The floor's variant: the same answer, with the header the app's profile sets.
    header = answers["header"][case]
    assert header["body"] == bare["body"]
    assert header["headers"] == {**bare["headers"], NODE: app["headers"][NODE]}


def test_404_is_our_unlogged_envelope_drfs_detail_and_dses_client_error(answers: Any) -> None:
    app, bare, dse = (json.loads(answers[v]["drf-404"]["body"]) for v in ("app", "bare", "dse"))

    assert {answers[v]["drf-404"]["status"] for v in ("app", "bare", "dse")} == {404}
    assert app["error"]["code"] == "ResourceNotFound"
    assert "logging_hash" not in app
    assert set(bare) == {"detail"}
    assert dse["type"] == "client_error"


def test_400_is_our_unlogged_envelope_drfs_field_dict_and_dses_validation_error(
    answers: Any,
) -> None:
    app, bare, dse = (json.loads(answers[v]["drf-400"]["body"]) for v in ("app", "bare", "dse"))

    assert {answers[v]["drf-400"]["status"] for v in ("app", "bare", "dse")} == {400}
    assert app["error"]["code"] == "InvalidArgument"
    assert [d["field"] for d in app["error"]["details"]] == ["name", "email", "quantity"]
    assert "logging_hash" not in app
    assert set(bare) == {"name", "email", "quantity"}
    assert dse["type"] == "validation_error"


@pytest.mark.parametrize("case", ["plain-500", "drf-500"])
def test_500_is_our_logged_and_stored_envelope_against_djangos_html_page(
    answers: Any, case: str
) -> None:
    app, bare = answers["app"][case], answers["bare"][case]

    assert app["status"] == bare["status"] == 500
    assert json.loads(app["body"])["error"]["code"] == "InternalError"
    assert app["stored"] is True
    assert bare["headers"]["content-type"].startswith("text/html")
    assert "stored" not in bare
