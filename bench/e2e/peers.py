"""PgBouncer, the peer pgmask is compared with: session pool mode, trust auth, in a temp dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Private helpers of the harness, used rather than copied: dropping root to the test user (the
# files below must be readable by it) and dying with the bench process.
from pgharness import SUPERUSER, _die_with_parent, _run_as, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


class PgBouncer:
    def __init__(self, upstream_port: int, max_client_conn: int, pool_size: int):
        self.upstream_port = upstream_port
        self.max_client_conn = max_client_conn
        self.pool_size = pool_size
        self.dir = Path(tempfile.mkdtemp(prefix="pgmask-bench-pgbouncer-"))
        self.log_path = self.dir / "pgbouncer.log"
        self.port = 0
        self._run_as = _run_as()  # it refuses to run as root
        self._proc: subprocess.Popen | None = None
        if self._run_as:
            os.chown(self.dir, self._run_as["user"], self._run_as["group"])

    @property
    def pid(self) -> int:
        assert self._proc is not None, "pgbouncer is not started"
        return self._proc.pid

    def start(self, timeout: float = 30) -> None:
        for _ in range(5):  # a free port can be taken before pgbouncer binds it
            port = free_port()
            self._write_config(port)
            if self._try_start(port, timeout):
                self.port = port
                return
        raise RuntimeError(f"pgbouncer did not start; log:\n{self.log_tail()}")

    def stop(self, timeout: float = 10) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)  # immediate shutdown
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def _write_config(self, port: int) -> None:
        # trust still looks the user up in auth_file; the password field is unused.
        (self.dir / "userlist.txt").write_text(f'"{SUPERUSER}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(f"""\
[databases]
* = host=127.0.0.1 port={self.upstream_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = session
max_client_conn = {self.max_client_conn}
default_pool_size = {self.pool_size}
max_db_connections = 0
ignore_startup_parameters = extra_float_digits
""")
        for name in ("userlist.txt", "pgbouncer.ini"):
            os.chmod(self.dir / name, 0o644)

    def _try_start(self, port: int, timeout: float) -> bool:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [PGBOUNCER, str(self.dir / "pgbouncer.ini")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir,
                preexec_fn=_die_with_parent, **self._run_as,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"pgbouncer not listening after {timeout}s; log:\n{self.log_tail()}")
