"""pgmask as a process: --version/--help, the client limit (53300), SIGTERM with a grace period
(57P01 or close, no new connections), and session log lines without SQL text."""

import re
import signal
import subprocess
import time

import psycopg
import pytest

import wire

SHUTDOWN_GRACE_SECONDS = 2


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help(pgmask_bin, flag):
    result = subprocess.run([str(pgmask_bin), flag], capture_output=True, text=True, timeout=10,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"pgmask {flag} printed nothing on stdout"


def test_version_mentions_pgmask(pgmask_bin):
    result = subprocess.run([str(pgmask_bin), "--version"], capture_output=True, text=True,
                            timeout=10, stdin=subprocess.DEVNULL)
    assert re.search(r"pgmask\S* \d+\.\d+\.\d+", result.stdout), result.stdout


def test_unknown_flag_fails(pgmask_bin):
    result = subprocess.run([str(pgmask_bin), "serve", "--no-such-flag"], capture_output=True,
                            text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "--no-such-flag" in result.stderr


def test_max_client_connections(pgmask_factory, connect):
    pgmask = pgmask_factory("--max-client-conn", "2")
    first = connect(pgmask.port)
    connect(pgmask.port)
    with wire.connect(pgmask.port) as sock:
        with pytest.raises(wire.ServerError) as excinfo:
            wire.login(sock, "postgres", "postgres")
        assert excinfo.value.sqlstate == "53300", excinfo.value.fields
        assert excinfo.value.fields.get("S") == "FATAL"
        wire.assert_closed(sock)
    assert first.execute("select 'first still ok'").fetchone() == ("first still ok",)
    first.close()
    # The freed slot is reusable once pgmask has noticed the close.
    deadline = time.monotonic() + 5
    while True:
        try:
            assert connect(pgmask.port).execute("select 1").fetchone() == (1,)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_sigterm_with_idle_session(pgmask_factory, connect):
    pgmask = pgmask_factory("--shutdown-grace", str(SHUTDOWN_GRACE_SECONDS))
    idle = connect(pgmask.port)
    assert idle.execute("select 1").fetchone() == (1,)
    pgmask.signal(signal.SIGTERM)
    start = time.monotonic()
    time.sleep(0.3)
    with pytest.raises((psycopg.OperationalError, ConnectionError, OSError)):
        # Refused, or accepted and answered 57P01: either way no new session.
        with wire.connect(pgmask.port, timeout=5) as sock:
            wire.login(sock, "postgres", "postgres")
    code = pgmask.wait(timeout=SHUTDOWN_GRACE_SECONDS + 5)
    elapsed = time.monotonic() - start
    assert code == 0, f"pgmask exited with {code} after SIGTERM"
    assert elapsed < SHUTDOWN_GRACE_SECONDS + 3, f"pgmask took {elapsed:.1f}s to exit"
    with pytest.raises(psycopg.OperationalError) as excinfo:
        idle.execute("select 1")
    sqlstate = excinfo.value.sqlstate
    assert sqlstate in (None, "57P01"), f"idle session got {sqlstate}: {excinfo.value}"


def test_sigterm_waits_for_running_query(pgmask_factory, connect):
    """A statement that finishes within the grace period completes before pgmask exits."""
    pgmask = pgmask_factory("--shutdown-grace", "5")
    busy = connect(pgmask.port)
    busy.execute("select 1")
    # Send the query without waiting, then ask pgmask to stop while it runs.
    busy.pgconn.send_query(b"select pg_sleep(1), 'finished'")
    time.sleep(0.2)
    pgmask.signal(signal.SIGTERM)
    result = busy.pgconn.get_result()
    while busy.pgconn.get_result() is not None:
        pass
    assert result is not None and result.get_value(0, 1) == b"finished", \
        f"query during shutdown: {result and result.error_message}"
    assert pgmask.wait(timeout=10) == 0


def test_session_log_lines_without_sql(pgmask, connect):
    marker = "sql_text_marker_7c41"
    conn = connect(pgmask.port, application_name="log-test")
    conn.execute(f"select '{marker}' as {marker}_column")
    conn.execute("select %s::text", (marker + "_param",))
    conn.close()
    session = pgmask.wait_for_log(r"session=(\S+) close\b")[0].group(1)
    log = pgmask.log_text()
    session_lines = re.findall(rf"^.*session={re.escape(session)} .*$", log, re.MULTILINE)
    assert any(" open " in line for line in session_lines), \
        f"no 'open' line for session={session}:\n{log}"
    assert any("user=postgres" in line for line in session_lines), \
        f"no line for session={session} names the user:\n{log}"
    assert marker not in log, f"SQL text leaked into the log:\n{log}"


def test_sighup_keeps_serving(pgmask, connect):
    """SIGHUP asks for a policy reload; without a policy it must not stop pgmask or sessions."""
    conn = connect(pgmask.port)
    pgmask.signal(signal.SIGHUP)
    time.sleep(0.5)
    try:
        code = pgmask.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        code = None
    assert code is None, f"pgmask exited with status {code} on SIGHUP"
    assert conn.execute("select 'after SIGHUP'").fetchone() == ("after SIGHUP",)
    assert connect(pgmask.port).execute("select 1").fetchone() == (1,)
