"""Real processes for the system tests and ``benchmarks/system.py``: a PostgreSQL cluster of
our own (to freeze and stop), gunicorn servers of ``tests/system/wsgi.py``, a small HTTP client
and the readers of what the servers stored or logged.

Every process is started in its own session (process group) and stopped by its own id.
Environment:

* ``CB_SYSTEM_PG_BIN``: PostgreSQL's bin directory (default: the newest /usr/lib/postgresql/*/bin);
* ``CB_SYSTEM_PG_PORT`` (15432, below Linux's ephemeral range 32768-60999, so no outgoing
  connection of another process can hold it) and ``CB_SYSTEM_PG_DIR`` (default: a fresh
  temporary directory): the cluster the tests freeze and stop;
* ``CB_SYSTEM_SHARED_PG_PORT`` (5432): the PostgreSQL server the scale-out databases live on;
* ``CB_SYSTEM_REDIS_URL`` (redis://127.0.0.1:6379/8);
* ``CB_SYSTEM_PORT_BASE`` (8220): the first of the 40 loopback ports the servers use.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parents[2]
PORT_BASE = int(os.environ.get("CB_SYSTEM_PORT_BASE", "8220"))
SHARED_PG_PORT = int(os.environ.get("CB_SYSTEM_SHARED_PG_PORT", "5432"))
REDIS_URL = os.environ.get("CB_SYSTEM_REDIS_URL", "redis://127.0.0.1:6379/8")
HASH_HEADER = "X-Counterbalance-Log-Hash"


def wait_until(condition: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return bool(value)
        time.sleep(interval)


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin() -> Path:
    configured = os.environ.get("CB_SYSTEM_PG_BIN")
    if configured:
        return Path(configured)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL binaries: set CB_SYSTEM_PG_BIN")
    return Path(candidates[-1])


class Cluster:
    """A PostgreSQL cluster of our own on 127.0.0.1, trust auth: started, frozen, stopped."""

    def __init__(self, port: int | None = None, directory: str | None = None) -> None:
        self.port = port or int(os.environ.get("CB_SYSTEM_PG_PORT", "15432"))
        configured = directory or os.environ.get("CB_SYSTEM_PG_DIR")
        self.temporary = configured is None
        self.dir = Path(configured or tempfile.mkdtemp(prefix="cb-system-pg-"))
        self.data = self.dir / "data"
        self.bin = _pg_bin()
        self.frozen: list[int] = []

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode()[-2000:]}\n{tail}")

    def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        )
        for attempt in range(20):
            try:
                self._run(
                    "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                    "-l", str(self.dir / "server.log"), "-o", options,
                )  # fmt: skip
                return
            except RuntimeError as exc:
                # A port set in the kernel's ephemeral range may be held for a moment by an
                # outgoing connection of any process.
                if "Address already in use" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` (thawing it first if it is frozen); a no-op when stopped."""
        self.thaw()
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.data))

    def pids(self) -> list[int]:
        """The postmaster, then every process it forked (backends, checkpointer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for status in glob.glob("/proc/[0-9]*/status"):
            with contextlib.suppress(OSError):
                fields = dict(
                    line.split(":\t", 1) for line in Path(status).read_text().splitlines()
                )
                if int(fields["PPid"]) == postmaster:
                    children.append(int(fields["Pid"]))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the postmaster first (it forks no new backend), then all its children."""
        self.frozen = self.pids()
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):  # a backend that just ended
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(self.frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def is_frozen(self) -> bool:
        """The postmaster and every child still stopped (T), or ended (a backend that exited
        as it was frozen: a zombie its stopped postmaster cannot reap)."""
        states = []
        for pid in self.frozen:
            try:
                states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
            except OSError:
                states.append("gone")
        return bool(states) and states[0] == "T" and all(s in ("T", "Z", "gone") for s in states)

    def remove(self) -> None:
        self.stop()
        if self.temporary:
            shutil.rmtree(self.dir, ignore_errors=True)


def connect(port: int, dbname: str) -> psycopg.Connection[Any]:
    import psycopg  # the postgres extra: imported when a system test runs, not when collected

    return psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True,
        connect_timeout=10,
    )  # fmt: skip


def create_database(port: int, name: str) -> None:
    """A fresh, empty database ``name`` (dropped first if it exists), migrated."""
    assert name.startswith("cb_system_"), name
    with connect(port, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=server_env(port, name, "migrate", os.devnull), check=True,
    )  # fmt: skip


def drop_database(port: int, name: str) -> None:
    with connect(port, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored(port: int, dbname: str, hashes: Iterable[str] | None = None) -> dict[str, str]:
    """``{logging_hash: compute_node}`` of the ErrorLog rows (of ``hashes`` only, if given)."""
    with connect(port, dbname) as conn:
        if hashes is None:
            rows = conn.execute(
                "SELECT logging_hash, compute_node FROM counterbalance_errors_errorlog"
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT logging_hash, compute_node FROM counterbalance_errors_errorlog"
                " WHERE logging_hash = ANY(%s)",
                (list(hashes),),
            ).fetchall()
    return dict(rows)


# --- the servers ------------------------------------------------------------------------------


def server_env(
    db_port: int, db_name: str, node: str, log: str, app: dict[str, Any] | None = None
) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.system.settings",
        "PYTHONPATH": str(ROOT),
        "CB_SYSTEM_DB_NAME": db_name,
        "CB_SYSTEM_DB_PORT": str(db_port),
        "CB_SYSTEM_NODE": node,
        "CB_SYSTEM_LOG": log,
        "CB_SYSTEM_REDIS_URL": REDIS_URL,
        "CB_SYSTEM_RECORDER": json.dumps(app or {}),
    }


@dataclass
class Server:
    """One gunicorn master (sync workers) serving ``tests.system.wsgi``."""

    port: int
    db_port: int
    db_name: str
    node: str
    log: Path
    workers: int = 1
    app: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "tests.system.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--log-level", "warning", "--graceful-timeout", "30", "--timeout", "120",
            ],
            cwd=ROOT,
            env=server_env(self.db_port, self.db_name, self.node, str(self.log), self.app),
            stdout=subprocess.DEVNULL,
            stderr=open(self.log.with_suffix(".stderr"), "wb"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker answers (each request may land on any worker: ask a few times)."""
        assert self.process is not None

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.stderr()[-2000:]}")
            try:
                return request(self.port, "/ready/", timeout=5).status == 200
            except OSError:
                return False

        if not wait_until(answers, timeout):
            raise TimeoutError(f"gunicorn on {self.port} not ready: {self.stderr()[-2000:]}")

    def stderr(self) -> str:
        return self.log.with_suffix(".stderr").read_text(errors="replace")

    def terminate(self, timeout: float = 60.0) -> int | None:
        """SIGTERM to the master (a graceful shutdown); SIGKILL to its group after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def running(servers: Sequence[Server]) -> Iterator[Sequence[Server]]:
    """Start ``servers`` in parallel; stop them (and their process groups) whatever happens."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.terminate(timeout=30)
            # Workers orphaned by a master that died first.
            if server.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.process.pid, signal.SIGKILL)


# --- the client -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def logging_hash(self) -> str | None:
        return self.headers.get(HASH_HEADER)


def request(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


# --- the fallback lines -----------------------------------------------------------------------


def _hash_of(line: dict[str, Any]) -> str | None:
    extra = line.get("extra", {})
    value = extra.get("logging_hash")
    if isinstance(value, str):
        return value
    for item in extra.values():  # the record passed as structured extra
        if isinstance(item, dict) and isinstance(item.get("logging_hash"), str):
            return str(item["logging_hash"])
    return None


def log_lines(paths: Iterable[Path]) -> list[dict[str, Any]]:
    lines = []
    for path in paths:
        if path.exists():
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def fallback_hashes(paths: Iterable[Path]) -> list[str]:
    """The hash of every ``counterbalance_errors`` line that carries one, in file order."""
    hashes = []
    for line in log_lines(paths):
        logging_hash = _hash_of(line)
        if line["logger"] == "counterbalance_errors" and logging_hash:
            hashes.append(logging_hash)
    return hashes
