"""CancelRequest through pgmask: pgmask's own BackendKeyData keys are mapped to the upstream
session, so psycopg's cancel (libpq PQcancel, a second connection) stops the query."""

import socket
import threading
import time

import psycopg
import pytest

import wire

CANCEL_AFTER_SECONDS = 0.5


def cancel_later(conn: psycopg.Connection) -> threading.Thread:
    def run():
        time.sleep(CANCEL_AFTER_SECONDS)
        conn.cancel()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_pg_sleep_cancelled(pgmask, connect):
    conn = connect(pgmask.port)
    thread = cancel_later(conn)
    start = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled) as excinfo:
        conn.execute("select pg_sleep(30)")
    elapsed = time.monotonic() - start
    thread.join(timeout=5)
    assert excinfo.value.sqlstate == "57014"
    assert elapsed < 3, f"cancel took {elapsed:.1f}s to take effect (sent after 0.5s)"
    assert conn.execute("select 'usable after cancel'").fetchone() == ("usable after cancel",)


def test_cancel_reaches_only_its_own_session(pgmask, connect):
    victim = connect(pgmask.port)
    bystander = connect(pgmask.port)
    bystander_result: list = []

    def bystander_query():
        bystander_result.append(bystander.execute("select pg_sleep(1.5), 'done'").fetchone())

    worker = threading.Thread(target=bystander_query, daemon=True)
    worker.start()
    cancel_later(victim)
    with pytest.raises(psycopg.errors.QueryCanceled):
        victim.execute("select pg_sleep(30)")
    worker.join(timeout=10)
    assert bystander_result == [("", "done")], "the other session's query was disturbed"


def test_cancel_with_unknown_key_is_ignored(pgmask, connect):
    """A CancelRequest with keys pgmask never issued must not cancel anything."""
    conn = connect(pgmask.port)
    worker_result: list = []
    worker = threading.Thread(
        target=lambda: worker_result.append(conn.execute("select pg_sleep(1), 1").fetchone()),
        daemon=True)
    worker.start()
    time.sleep(CANCEL_AFTER_SECONDS)
    with socket.create_connection(("127.0.0.1", pgmask.port), timeout=5) as sock:
        sock.sendall(wire.cancel_request(12345, 67890))
        wire.assert_closed(sock)
    worker.join(timeout=10)
    assert worker_result == [("", 1)], "a CancelRequest with a wrong key cancelled a query"
