"""Throwaway PostgreSQL 15 clusters and pgmask processes for tests and benchmarks.

Nothing here is pytest-specific, so bench/ can import it too. Every child process gets
PR_SET_PDEATHSIG, so a killed test run does not leave postgres or pgmask behind; every
wait has a deadline, so nothing hangs.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# initdb and postgres refuse to run as root; scripts/setup creates this user.
UNPRIVILEGED_USER = "pgmask-test"
SUPERUSER = "postgres"

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec (after the uid switch, which would reset it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> dict:
    """subprocess keyword arguments that drop root to the unprivileged user; empty otherwise."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root needs the user {UNPRIVILEGED_USER!r}: run scripts/setup"
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _stop_process(proc: subprocess.Popen, sig: int, timeout: float) -> bool:
    """Sends sig and waits up to timeout; kills the process if it is still there.
    Returns whether it exited by itself."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return False


class PostgresCluster:
    """A fresh cluster in its own temp dir: superuser `postgres` trusted over the unix socket,
    TCP on 127.0.0.1:<free port> with the given pg_hba host rules (first match wins)."""

    def __init__(self, hba_host_rules: list[str], settings: dict[str, str] | None = None):
        self._hba_host_rules = list(hba_host_rules)
        self._settings = dict(settings or {})
        self._run_as = _run_as()
        self.dir = Path(tempfile.mkdtemp(prefix="pgmask-pg-"))
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = 0
        self._proc: subprocess.Popen | None = None
        if self._run_as:
            os.chown(self.dir, self._run_as["user"], self._run_as["group"])

    # Lifecycle -----------------------------------------------------------------------------

    def init(self) -> None:
        self._run_tool(
            [
                str(PG_BIN / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", SUPERUSER,
                "--auth-local", "trust",
                "--auth-host", "reject",
                "--encoding", "UTF8",
                "--locale", "C",
                "--no-sync",
            ],
            timeout=120,
        )
        hba = ["local all all trust"] + [f"host {r}" for r in self._hba_host_rules]
        (self.data_dir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}'",
            # Throwaway data: durability only costs time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "logging_collector": "off",
        } | self._settings
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self, timeout: float = 60) -> None:
        """Starts postgres; picks a free port the first time and keeps it across restarts."""
        attempts = 1 if self.port else 5
        for _ in range(attempts):
            port = self.port or free_port()
            if self._try_start(port, timeout):
                self.port = port
                return
        raise RuntimeError(f"postgres did not start; log:\n{self.log_tail()}")

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """mode: fast (SIGINT: clients get 57P01) or immediate (SIGQUIT)."""
        sig = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        if self._proc is not None:
            _stop_process(self._proc, sig, timeout)
            self._proc = None

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    # Clients -------------------------------------------------------------------------------

    def conninfo(self, user: str = SUPERUSER, dbname: str = "postgres") -> str:
        """A libpq connection string over TCP."""
        return tcp_conninfo(self.port, user, dbname)

    def socket_conninfo(self, dbname: str = "postgres") -> str:
        return f"host='{self.dir}' port={self.port} user={SUPERUSER} dbname='{dbname}'"

    def psql(self, sql: str, dbname: str = "postgres", timeout: float = 120) -> str:
        """Runs SQL as the superuser over the unix socket; fails on the first error."""
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.socket_conninfo(dbname), "-c", sql],
            capture_output=True, text=True, timeout=timeout, env=client_env(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def psql_file(self, path: Path, dbname: str = "postgres", timeout: float = 300) -> str:
        result = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.socket_conninfo(dbname),
             "-f", str(path)],
            capture_output=True, text=True, timeout=timeout, env=client_env(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql -f {path} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    # Internals -----------------------------------------------------------------------------

    def _try_start(self, port: int, timeout: float) -> bool:
        log = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data_dir), "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent, **self._run_as,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False  # most likely the port was taken meanwhile
            if self._accepts(port):
                return True
            time.sleep(0.05)
        _stop_process(self._proc, signal.SIGQUIT, 10)
        self._proc = None
        raise TimeoutError(f"postgres not ready after {timeout}s; log:\n{self.log_tail()}")

    def _accepts(self, port: int) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", str(self.dir), "-p", str(port),
             "-U", SUPERUSER, "-t", "2"],
            timeout=10, env=client_env(),
        )
        return result.returncode == 0

    def _run_tool(self, argv: list[str], timeout: float) -> None:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir,
            preexec_fn=_die_with_parent, **self._run_as,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n{result.stderr}")


def tcp_conninfo(port: int, user: str, dbname: str) -> str:
    return f"host=127.0.0.1 port={port} user='{user}' dbname='{dbname}' connect_timeout=10"


def client_env(**extra: str) -> dict[str, str]:
    """The environment for libpq client tools: no inherited PG* variables, no password file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    # A path that does not exist: libpq then reads no password file (and does not warn).
    env["PGPASSFILE"] = "/nonexistent/pgmask-tests-pgpass"
    env.update(extra)
    return env


def run_client(argv: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Runs a client tool (psql, pgbench, pg_dump) to completion, capturing its output."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=client_env(**env))


_LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


class Pgmask:
    """One pgmask process; `port` is the port it reports it bound (it listens on port 0)."""

    def __init__(self, binary: Path, upstream_port: int, log_path: Path,
                 extra_args: list[str] | None = None):
        self.binary = Path(binary)
        self.upstream_port = upstream_port
        self.log_path = Path(log_path)
        self.extra_args = list(extra_args or [])
        self.port = 0
        self._proc: subprocess.Popen | None = None

    @property
    def argv(self) -> list[str]:
        return [str(self.binary), "serve", "--listen", "127.0.0.1:0",
                "--upstream", f"127.0.0.1:{self.upstream_port}", *self.extra_args]

    @property
    def pid(self) -> int:
        """For reading /proc/<pid> (CPU time, RSS) in benchmarks."""
        assert self._proc is not None, "pgmask is not started"
        return self._proc.pid

    def start(self, timeout: float = 30) -> None:
        log = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent, env=_sanitizer_env(),
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_bytes())
            if match:
                self.port = int(match.group(1))
                return
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"pgmask exited with {self._proc.returncode} before listening; "
                    f"argv {self.argv}; log:\n{self.log_text()}")
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"pgmask printed no 'listening on' line in {timeout}s; "
                           f"log:\n{self.log_text()}")

    def stop(self, timeout: float = 15) -> str | None:
        """SIGTERM, wait, then SIGKILL. Returns what went wrong, or None for a clean exit 0."""
        if self._proc is None:
            return None
        if not _stop_process(self._proc, signal.SIGTERM, timeout):
            return f"still running {timeout:.0f}s after SIGTERM"
        code = self._proc.returncode
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with status {code}" if code else None

    def signal(self, sig: int) -> None:
        assert self._proc is not None, "pgmask is not started"
        self._proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Waits for exit; raises subprocess.TimeoutExpired if it is still running."""
        assert self._proc is not None, "pgmask is not started"
        return self._proc.wait(timeout=timeout)

    def conninfo(self, user: str = SUPERUSER, dbname: str = "postgres") -> str:
        return tcp_conninfo(self.port, user, dbname)

    def log_bytes(self) -> bytes:
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""

    def log_text(self) -> str:
        return self.log_bytes().decode(errors="replace")

    def wait_for_log(self, pattern: str, count: int = 1, timeout: float = 10) -> list[re.Match]:
        """Waits until a regex matches at least `count` times in the log; returns the matches."""
        regex = re.compile(pattern, re.MULTILINE)
        found: list[re.Match] = []

        def check() -> bool:
            found[:] = list(regex.finditer(self.log_text()))
            return len(found) >= count

        try:
            _wait_until(check, timeout, f"{count} log line(s) matching /{pattern}/")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; log:\n{self.log_text()}") from None
        return found

    def sanitizer_report(self) -> str | None:
        """The AddressSanitizer/UBSan/LeakSanitizer/ThreadSanitizer report in the log, if any."""
        text = self.log_text()
        match = re.search(r"^.*(ERROR: (Address|Leak)Sanitizer|runtime error:|"
                          r"WARNING: ThreadSanitizer).*$", text, re.MULTILINE)
        return text[match.start():] if match else None


def _sanitizer_env() -> dict[str, str]:
    env = dict(os.environ)
    # A UBSan finding in the log should say where it happened.
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env
