"""Upstream failures: a restarted or crashed PostgreSQL gives connected clients a prompt error
(never a hang), an unreachable one gives new clients 08001, and pgmask serves new clients again
once PostgreSQL is back. This file restarts its cluster, so it runs in its own ctest entry."""

import os
import signal
import time

import psycopg
import pytest

import wire

ERROR_WITHIN_SECONDS = 5
RECOVERY_SECONDS = 30


def wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                                 dbname="postgres", connect_timeout=5) as conn:
                assert conn.execute("select 'back'").fetchone() == ("back",)
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def query_fails_promptly(conn: psycopg.Connection) -> psycopg.Error:
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as excinfo:
        conn.execute("select 1")
    elapsed = time.monotonic() - start
    assert elapsed < ERROR_WITHIN_SECONDS, f"the failing query took {elapsed:.1f}s"
    return excinfo.value


def wire_session(port: int):
    sock = wire.connect(port, timeout=ERROR_WITHIN_SECONDS)
    wire.login(sock, "postgres", "postgres")
    sock.sendall(wire.query_message("select pg_backend_pid()"))
    rows = [body for tag, body in wire.read_until_ready(sock) if tag == b"D"]
    # DataRow: int16 column count, int32 length, then the value as text.
    return sock, int(rows[0][6:])


def error_after_upstream_loss(sock) -> dict[str, str]:
    """Sends a query once the upstream is gone; pgmask may also report before it is sent."""
    time.sleep(0.5)
    try:
        sock.sendall(wire.query_message("select 1"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    return wire.read_error_then_close(sock)


def test_restart_gives_error_and_pgmask_recovers(postgres, pgmask, connect):
    conn = connect(pgmask.port)
    assert conn.execute("select 1").fetchone() == (1,)
    sock, _ = wire_session(pgmask.port)
    with sock:
        postgres.restart("fast")
        fields = error_after_upstream_loss(sock)
    assert fields.get("C") in ("57P01", "08006"), fields
    query_fails_promptly(conn)
    wait_until_serving(pgmask.port)


def test_crashed_backend_gives_08006(postgres, pgmask, connect):
    conn = connect(pgmask.port)
    conn_pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    sock, wire_pid = wire_session(pgmask.port)
    with sock:
        # SIGKILL of a backend: the upstream connection drops without any message, and the
        # postmaster restarts every session (so conn loses its upstream too).
        os.kill(wire_pid, signal.SIGKILL)
        fields = error_after_upstream_loss(sock)
    assert fields.get("C") == "08006", fields
    assert conn_pid != wire_pid
    query_fails_promptly(conn)
    wait_until_serving(pgmask.port)


def test_unreachable_upstream_gives_08001(postgres, pgmask):
    postgres.stop()
    try:
        with wire.connect(pgmask.port, timeout=15) as sock:
            with pytest.raises(wire.ServerError) as excinfo:
                wire.login(sock, "postgres", "postgres")
            assert excinfo.value.sqlstate == "08001", excinfo.value.fields
            wire.assert_closed(sock)
    finally:
        postgres.start()
    wait_until_serving(pgmask.port)
