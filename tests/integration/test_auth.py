"""Authentication relayed unchanged: SCRAM-SHA-256, md5 and cleartext password logins work
through pgmask with the right password and fail with 28P01 with a wrong one (checked with
libpq and with a raw wire client, which sees the SQLSTATE libpq does not report)."""

import psycopg
import pytest

import wire
from conftest import AUTH_USERS

USERS = list(AUTH_USERS)


def password_of(user: str) -> str:
    return AUTH_USERS[user].password


@pytest.mark.parametrize("user", USERS)
def test_right_password_libpq(pgmask, connect, user):
    conn = connect(pgmask.port, user=user, password=password_of(user))
    assert conn.execute("select current_user").fetchone() == (user,)


@pytest.mark.parametrize("user", USERS)
def test_wrong_password_libpq(pgmask, connect, user):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(pgmask.port, user=user, password="wrong " + password_of(user))


@pytest.mark.parametrize("user", USERS)
def test_right_password_wire(pgmask, user):
    with wire.connect(pgmask.port) as sock:
        messages = wire.login(sock, user, "postgres", password_of(user))
        assert any(tag == b"K" for tag, _ in messages), "no BackendKeyData before ReadyForQuery"
        sock.sendall(wire.query_message("select current_user"))
        rows = [body for tag, body in wire.read_until_ready(sock) if tag == b"D"]
        assert len(rows) == 1 and rows[0].endswith(user.encode())


@pytest.mark.parametrize("user", USERS)
def test_wrong_password_wire(pgmask, user):
    with wire.connect(pgmask.port) as sock:
        with pytest.raises(wire.ServerError) as excinfo:
            wire.login(sock, user, "postgres", "wrong " + password_of(user))
        assert excinfo.value.sqlstate == "28P01", excinfo.value.fields
        assert excinfo.value.fields.get("S") == "FATAL"
        wire.assert_closed(sock)


def test_direct_login_matches_expectations(postgres):
    """Guards the fixture itself: each role really uses the method it is named after."""
    methods = postgres.psql("select user_name[1], auth_method from pg_hba_file_rules"
                            " where user_name[1] like 'auth_%' order by 1")
    assert methods.split() == ["auth_md5|md5", "auth_password|password",
                               "auth_scram|scram-sha-256"]
