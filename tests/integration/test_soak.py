"""Soak: for PGMASK_SOAK_SECONDS (20 by default; 60 for the documented long run) 200 clients
stream masked rows while others connect and vanish mid-startup or mid-query, cancel running
statements and sit idle in a transaction until pgmask's timeout ends them; PostgreSQL is
restarted once in the middle. Afterwards: pgmask is alive, its descriptors and sessions are back
to where they started, and its resident memory within a bounded margin of it."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
import urllib.request

import pytest

import wire
from conftest import DEMO_POLICY, key_flags

DB = "soak"
STREAMERS = 200
CHURNERS = 20
SECONDS = float(os.environ.get("PGMASK_SOAK_SECONDS", "20"))
STREAM_SQL = "SELECT id, name, ssn, email, dob FROM patients ORDER BY id LIMIT 300"
RSS_MARGIN_KB = 96 * 1024


@pytest.fixture(scope="module")
def postgres():
    """Overrides conftest's cluster: the soak needs more backends than its 200."""
    from conftest import running_cluster
    with running_cluster({"max_connections": "320"}) as cluster:
        yield cluster


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def active_connections(admin: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("pgmask_connections_active "):
            return float(line.split()[1])
    raise AssertionError("no pgmask_connections_active")


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Load:
    def __init__(self, port: int, stop: threading.Event):
        self.port = port
        self.stop = stop
        self.rows = 0
        self.lock = threading.Lock()

    def session(self, user: str = "analyst") -> tuple[socket.socket, tuple[int, int]]:
        sock = wire.connect(self.port, timeout=15)
        messages = wire.login(sock, user, DB)
        key = next(struct.unpack("!ii", body) for tag, body in messages if tag == b"K")
        return sock, key

    def streamer(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.session()
                with sock:
                    while not self.stop.is_set():
                        sock.sendall(wire.query_message(STREAM_SQL))
                        rows = sum(1 for tag, _ in wire.read_until_ready(sock) if tag == b"D")
                        with self.lock:
                            self.rows += rows
            except (OSError, wire.ConnectionClosed, wire.ServerError):
                time.sleep(0.2)  # the upstream restart, or a refusal while it is down

    def churner(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            try:
                kind = rng.choice(["vanish_startup", "vanish_query", "cancel", "idle_in_tx"])
                if kind == "vanish_startup":
                    with wire.connect(self.port) as sock:
                        sock.sendall(wire.startup_message("analyst", DB)[: rng.randint(1, 20)])
                elif kind == "vanish_query":
                    sock, _ = self.session()
                    sock.sendall(wire.query_message(STREAM_SQL))
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()  # a reset, mid-result
                elif kind == "cancel":
                    sock, (pid, secret) = self.session()
                    with sock:
                        sock.sendall(wire.query_message("SELECT pg_sleep(5)"))
                        time.sleep(0.1)
                        with wire.connect(self.port) as canceller:
                            canceller.sendall(wire.cancel_request(pid, secret))
                        try:
                            wire.read_until_ready(sock)
                        except wire.ServerError as e:
                            assert e.sqlstate in ("57014", "57P01", "08006"), e.fields
                else:
                    sock, _ = self.session()
                    with sock:
                        sock.sendall(wire.query_message("BEGIN"))
                        wire.read_until_ready(sock)
                        try:
                            wire.read_until_ready(sock)  # pgmask's timeout ends it
                        except wire.ServerError as e:
                            assert e.sqlstate in ("25P03", "57P01", "08006"), e.fields
            except (OSError, wire.ConnectionClosed, wire.ServerError):
                time.sleep(0.1)


def test_soak(pgmask_factory, postgres, tmp_path):
    from conftest import load_demo
    load_demo(postgres, DB)
    os.environ.setdefault("ASAN_OPTIONS", "quarantine_size_mb=16")
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), "--admin", "127.0.0.1:0",
                           "--idle-in-transaction-timeout", "1", "--upstream-sslmode", "disable")
    admin = int(proxy.wait_for_log(r"admin listening on 127\.0\.0\.1:(\d+)")[0].group(1))
    stop = threading.Event()
    load = Load(proxy.port, stop)
    # Warm up every worker (its event loop opens descriptors with its first session) and the
    # catalog, then take the baseline.
    for _ in range(8):
        sock, _ = load.session()
        sock.sendall(wire.query_message(STREAM_SQL))
        wire.read_until_ready(sock)
        sock.close()
    wait_until(lambda: active_connections(admin) == 0, 10, "warm-up sessions to close")
    fds_before, rss_before = open_fds(proxy.pid), rss_kb(proxy.pid)

    threads = [threading.Thread(target=load.streamer, daemon=True) for _ in range(STREAMERS)]
    threads += [threading.Thread(target=load.churner, args=(i,), daemon=True) for i in range(CHURNERS)]
    for t in threads:
        t.start()
    time.sleep(SECONDS / 2)
    postgres.restart("fast")
    rows_at_restart = load.rows
    time.sleep(SECONDS / 2)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client thread is stuck"
    assert load.rows > rows_at_restart > 0, "no masked rows streamed before or after the restart"

    wait_until(lambda: active_connections(admin) == 0, 30, "every session to close")
    wait_until(lambda: open_fds(proxy.pid) <= fds_before, 10, f"descriptors back to {fds_before}")
    rss_after = rss_kb(proxy.pid)
    assert rss_after <= rss_before + RSS_MARGIN_KB, f"RSS {rss_before} kB before, {rss_after} kB after"
    # Still serving.
    sock, _ = load.session()
    sock.sendall(wire.query_message(STREAM_SQL))
    assert any(tag == b"D" for tag, _ in wire.read_until_ready(sock))
    sock.close()
