"""Session limits and timeouts: connections per role, per database and still logging in; idle,
idle-in-transaction and lifetime limits. Each is shown enforced with PostgreSQL's SQLSTATE for
it, and pgmask serving other clients afterwards. (max_client_conn, startup_timeout and
max_message_size are in test_lifecycle.py and test_bad_input.py.)"""

from __future__ import annotations

import time

import pytest

import wire

OTHER_ROLE = "limits_other"


@pytest.fixture(scope="module", autouse=True)
def other_role(postgres):
    postgres.psql(f"DROP ROLE IF EXISTS {OTHER_ROLE}; CREATE ROLE {OTHER_ROLE} LOGIN")


def logged_in(port: int, user: str = "postgres", database: str = "postgres"):
    sock = wire.connect(port)
    wire.login(sock, user, database)
    return sock


def query(sock, sql: str) -> list:
    sock.sendall(wire.query_message(sql))
    return wire.read_until_ready(sock)


def refusal(port: int, user: str = "postgres", database: str = "postgres") -> wire.ServerError:
    with wire.connect(port) as sock:
        with pytest.raises(wire.ServerError) as refused:
            wire.login(sock, user, database)
    return refused.value


def assert_serving(port: int, user: str = OTHER_ROLE, database: str = "template1") -> None:
    with logged_in(port, user, database) as sock:
        assert any(tag == b"D" for tag, _ in query(sock, "SELECT 1"))


def test_max_user_conn(pgmask_factory):
    proxy = pgmask_factory("--max-user-conn", "2")
    first, second = logged_in(proxy.port), logged_in(proxy.port)
    refused = refusal(proxy.port)
    assert refused.sqlstate == "53300"
    assert refused.fields["M"] == 'too many connections for role "postgres"'
    assert_serving(proxy.port)  # another role is not counted with postgres
    # assert_serving's session has logged its close already (or is about to): wait for first's.
    closed = r"close reason=\"client (terminated|disconnected)\""
    proxy.wait_for_log(closed)
    first.close()
    proxy.wait_for_log(closed, count=2)
    third = logged_in(proxy.port)  # the slot came back
    for sock in (second, third):
        sock.close()


def test_max_db_conn(pgmask_factory):
    proxy = pgmask_factory("--max-db-conn", "1")
    first = logged_in(proxy.port)
    refused = refusal(proxy.port, OTHER_ROLE, "postgres")
    assert refused.sqlstate == "53300"
    assert refused.fields["M"] == 'too many connections for database "postgres"'
    assert_serving(proxy.port, "postgres", "template1")
    first.close()


def test_max_startup_conn(pgmask_factory):
    """Connections that never finish logging in hold their slots until the startup timeout;
    beyond the limit new ones are refused, and sessions past login are not counted."""
    proxy = pgmask_factory("--max-startup-conn", "2", "--startup-timeout", "3")
    established = logged_in(proxy.port)
    stalled = [wire.connect(proxy.port) for _ in range(2)]
    proxy.wait_for_log(r"session=\S+ open", count=3)
    refused = refusal(proxy.port)
    assert refused.sqlstate == "53300" and "logging in" in refused.fields["M"]
    assert any(tag == b"D" for tag, _ in query(established, "SELECT 1"))
    for sock in stalled:
        sock.close()
    proxy.wait_for_log(r"close reason=\"client closed before startup\"", count=2)
    assert_serving(proxy.port)
    established.close()


def test_idle_timeout(pgmask_factory):
    proxy = pgmask_factory("--idle-timeout", "1")
    sock = logged_in(proxy.port)
    query(sock, "SELECT 1")
    start = time.monotonic()
    fields = wire.read_error_then_close(sock)
    elapsed = time.monotonic() - start
    assert fields["C"] == "57P05", fields
    assert 0.9 <= elapsed < 3, f"closed after {elapsed:.1f}s of idleness (limit 1s)"
    sock.close()
    # A session that keeps talking is not idle.
    busy = logged_in(proxy.port)
    for _ in range(6):
        query(busy, "SELECT 1")
        time.sleep(0.4)
    busy.close()
    assert_serving(proxy.port)


def test_idle_in_transaction_timeout(pgmask_factory):
    proxy = pgmask_factory("--idle-in-transaction-timeout", "1")
    outside = logged_in(proxy.port)
    inside = logged_in(proxy.port)
    query(inside, "BEGIN")
    query(inside, "SELECT 1")
    fields = wire.read_error_then_close(inside)
    assert fields["C"] == "25P03", fields
    inside.close()
    # Idle outside a transaction is not limited by this setting.
    time.sleep(1.5)
    assert any(tag == b"D" for tag, _ in query(outside, "SELECT 1"))
    outside.close()
    assert_serving(proxy.port)


def test_long_statement_is_not_idle(pgmask_factory):
    proxy = pgmask_factory("--idle-in-transaction-timeout", "1", "--idle-timeout", "1")
    sock = logged_in(proxy.port)
    query(sock, "BEGIN")
    assert any(tag == b"C" for tag, _ in query(sock, "SELECT pg_sleep(2)"))
    query(sock, "COMMIT")
    sock.close()


def test_max_session_lifetime(pgmask_factory):
    proxy = pgmask_factory("--max-session-lifetime", "2")
    sock = logged_in(proxy.port)
    start = time.monotonic()
    with pytest.raises(wire.ServerError) as ended:
        while time.monotonic() - start < 6:
            query(sock, "SELECT 1")
            time.sleep(0.1)
    assert ended.value.sqlstate == "57P01" and "lifetime" in ended.value.fields["M"]
    assert 1.9 <= time.monotonic() - start < 4
    wire.assert_closed(sock)
    sock.close()
    assert_serving(proxy.port)


def test_limits_in_the_config_file(pgmask_factory, tmp_path):
    config = tmp_path / "pgmask.yaml"
    config.write_text("max_user_conn: 1\nidle_timeout: 30\nidle_in_transaction_timeout: 0\n"
                      "max_session_lifetime: 3600\nmax_db_conn: 0\nmax_startup_conn: 100\n")
    proxy = pgmask_factory("--config", str(config))
    first = logged_in(proxy.port)
    assert refusal(proxy.port).sqlstate == "53300"
    first.close()
