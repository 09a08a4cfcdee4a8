"""SCRAM terminated by pgmask (--auth-file). With TLS on both hops and pgmask presenting another
certificate than PostgreSQL's, a relayed SCRAM login cannot bind to both TLS connections; for the
users of the auth file pgmask checks the client's proof itself, bound to its own certificate,
and logs in upstream with the ClientKey that proof reveals, bound to the server's. libpq's
default channel_binding=prefer and =require then work; users outside the file keep the relayed
login and its limits (test_tls.py)."""

from __future__ import annotations

import signal
import struct
import subprocess
from pathlib import Path

import pytest

import wire
from conftest import HBA_HOST_RULES
from test_tls import (UPSTREAM_SSL, certs, client_context, conninfo, psql,  # noqa: F401 (certs: a fixture)
                      ssl_request_then_tls, tls_flags)
from tlscerts import start_tls_cluster

FILE_USER = "file_scram"        # in the auth file; scram-sha-256 in pg_hba.conf
RELAY_USER = "relay_scram"      # not in the auth file: the relayed login
TRUST_USER = "file_trust"       # in the auth file; trust in pg_hba.conf
CLEARTEXT_USER = "file_cleartext"  # in the auth file; password (cleartext) in pg_hba.conf
ROTATED_USER = "file_rotated"   # in the auth file; its password changes during a test
PASSWORDS = {name: f"{name} secret" for name in (FILE_USER, RELAY_USER, TRUST_USER, CLEARTEXT_USER, ROTATED_USER)}
IN_FILE = [FILE_USER, TRUST_USER, CLEARTEXT_USER, ROTATED_USER]


@pytest.fixture(scope="module")
def postgres(certs):
    """Overrides conftest's cluster: ssl = on with certs/server.crt, one role per pg_hba method."""
    rules = [f"all {FILE_USER} 127.0.0.1/32 scram-sha-256", f"all {RELAY_USER} 127.0.0.1/32 scram-sha-256",
             f"all {ROTATED_USER} 127.0.0.1/32 scram-sha-256", f"all {TRUST_USER} 127.0.0.1/32 trust",
             f"all {CLEARTEXT_USER} 127.0.0.1/32 password", *HBA_HOST_RULES]
    cluster = start_tls_cluster(certs, rules)
    try:
        for name, password in PASSWORDS.items():
            cluster.psql(f"SET password_encryption = 'scram-sha-256';"
                         f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        yield cluster
    finally:
        cluster.destroy()


def write_auth_file(postgres, path: Path, users: list[str]) -> Path:
    """PgBouncer's userlist.txt from pg_authid, as the README tells operators to make it."""
    names = ", ".join(f"'{name}'" for name in users)
    lines = postgres.psql(
        "SELECT '\"' || replace(rolname, '\"', '\"\"') || '\" \"' || replace(rolpassword, '\"', '\"\"') || '\"' "
        f"FROM pg_authid WHERE rolname IN ({names}) ORDER BY rolname")
    path.write_text("; made from pg_authid\n" + lines)
    return path


@pytest.fixture
def auth_file(postgres, tmp_path) -> Path:
    return write_auth_file(postgres, tmp_path / "userlist.txt", IN_FILE)


@pytest.fixture
def two_certificates(pgmask_factory, certs, auth_file):
    """TLS on both hops, pgmask presenting server2.crt while PostgreSQL presents server.crt."""
    return pgmask_factory(*tls_flags(certs, "server2"), "--upstream-sslmode", "require",
                          "--auth-file", str(auth_file))


def login(port: int, user: str, sql: str, password: str | None = None, **params: str):
    params.setdefault("sslmode", "require")
    return psql(conninfo(port, user, **params), sql, PGPASSWORD=password or PASSWORDS[user])


def sasl_mechanisms(port: int, user: str) -> list[bytes]:
    tls = ssl_request_then_tls(port, client_context())
    tls.sendall(wire.startup_message(user, "postgres"))
    tag, body = wire.read_message(tls)
    tls.close()
    assert tag == b"R" and struct.unpack("!i", body[:4])[0] == wire.AUTH_SASL
    return [name for name in body[4:].split(b"\0") if name]


@pytest.mark.parametrize("binding, client_mechanism", [("prefer", "SCRAM-SHA-256-PLUS"),
                                                       ("require", "SCRAM-SHA-256-PLUS"),
                                                       ("disable", "SCRAM-SHA-256")])
def test_channel_binding_on_both_hops_with_different_certificates(two_certificates, binding, client_mechanism):
    proxy = two_certificates
    assert sasl_mechanisms(proxy.port, FILE_USER) == [b"SCRAM-SHA-256-PLUS", b"SCRAM-SHA-256"]
    result = login(proxy.port, FILE_USER, f"SELECT current_user, ({UPSTREAM_SSL})", channel_binding=binding)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{FILE_USER}|t"
    proxy.wait_for_log(rf"password checked by pgmask \(auth file\) with {client_mechanism}$")
    # Upstream pgmask binds to PostgreSQL's own TLS connection whatever the client did.
    proxy.wait_for_log("upstream login with SCRAM-SHA-256-PLUS$")


def test_wrong_password_is_refused_as_postgres_refuses_it(two_certificates):
    proxy = two_certificates
    result = login(proxy.port, FILE_USER, "SELECT 1", password="wrong")
    assert result.returncode != 0
    assert f'password authentication failed for user "{FILE_USER}"' in result.stderr, result.stderr
    tls = ssl_request_then_tls(proxy.port, client_context())
    with pytest.raises(wire.ServerError) as refused:
        wire.login(tls, FILE_USER, "postgres", "wrong")
    assert refused.value.sqlstate == "28P01" and refused.value.fields["S"] == "FATAL", refused.value.fields
    wire.assert_closed(tls)
    tls.close()
    # The right password, on the wire too (this client does not bind: 'n' is always accepted).
    tls = ssl_request_then_tls(proxy.port, client_context())
    wire.login(tls, FILE_USER, "postgres", PASSWORDS[FILE_USER])
    tls.close()


def test_flag_y_is_refused_as_a_downgrade_when_pgmask_offers_binding(two_certificates):
    tls = ssl_request_then_tls(two_certificates.port, client_context())
    tls.sendall(wire.startup_message(FILE_USER, "postgres"))
    assert wire.read_message(tls)[0] == b"R"
    first = b"y,,n=,r=pgmasktestnonce"
    tls.sendall(wire.message(b"p", wire.cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
    fields = wire.read_error_then_close(tls)
    assert fields["C"] == "08P01" and "channel binding negotiation error" in fields["M"], fields
    tls.close()


def test_a_user_outside_the_auth_file_keeps_the_relayed_login(two_certificates):
    proxy = two_certificates
    result = login(proxy.port, RELAY_USER, "SELECT 1", channel_binding="prefer")
    assert result.returncode != 0
    assert "pgmask cannot relay SCRAM channel binding" in result.stderr, result.stderr
    result = login(proxy.port, RELAY_USER, "SELECT 1", channel_binding="require")
    assert result.returncode != 0
    assert "channel binding is required, but server did not offer" in result.stderr, result.stderr
    result = login(proxy.port, RELAY_USER, UPSTREAM_SSL, channel_binding="disable")
    assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr


def test_plaintext_client_with_a_tls_upstream(pgmask_factory, certs, auth_file, tmp_path):
    """The auth file given in the YAML config; the client hop in clear has nothing to bind."""
    config = tmp_path / "pgmask.yaml"
    config.write_text(f"upstream_sslmode: require\nauth_file: {auth_file}\n")
    proxy = pgmask_factory("--config", str(config))
    result = login(proxy.port, FILE_USER, UPSTREAM_SSL, sslmode="disable", channel_binding="prefer")
    assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr
    proxy.wait_for_log(r"password checked by pgmask \(auth file\) with SCRAM-SHA-256$")
    proxy.wait_for_log("upstream login with SCRAM-SHA-256-PLUS$")
    result = login(proxy.port, FILE_USER, "SELECT 1", sslmode="disable", channel_binding="require")
    assert result.returncode != 0 and "channel binding" in result.stderr, result.stderr


def test_trust_upstream_still_needs_the_password_at_pgmask(two_certificates):
    proxy = two_certificates
    result = login(proxy.port, TRUST_USER, "SELECT current_user")
    assert result.returncode == 0 and result.stdout.strip() == TRUST_USER, result.stderr
    result = login(proxy.port, TRUST_USER, "SELECT 1", password="wrong")
    assert result.returncode != 0 and "password authentication failed" in result.stderr, result.stderr


def test_an_upstream_asking_for_a_cleartext_password_is_refused_clearly(two_certificates):
    tls = ssl_request_then_tls(two_certificates.port, client_context())
    with pytest.raises(wire.ServerError) as refused:
        wire.login(tls, CLEARTEXT_USER, "postgres", PASSWORDS[CLEARTEXT_USER])
    assert refused.value.sqlstate == "28000", refused.value.fields
    assert "cleartext password" in refused.value.fields["M"] and "pg_hba.conf" in refused.value.fields["M"]
    tls.close()


def test_a_changed_password_needs_the_auth_file_again_and_sighup(two_certificates, postgres, auth_file):
    proxy = two_certificates
    postgres.psql(f"ALTER ROLE {ROTATED_USER} PASSWORD 'rotated secret'")
    try:
        # The old password still matches the file, but not the server's new salt.
        result = login(proxy.port, ROTATED_USER, "SELECT 1")
        assert result.returncode != 0 and "auth file is out of date" in result.stderr, result.stderr
        result = login(proxy.port, ROTATED_USER, "SELECT 1", password="rotated secret")
        assert result.returncode != 0 and "password authentication failed" in result.stderr, result.stderr
        # A broken file keeps the one in force.
        auth_file.write_text('"unterminated\n')
        proxy.signal(signal.SIGHUP)
        proxy.wait_for_log("auth file not reloaded, the previous one stays: .*userlist.txt:1:")
        write_auth_file(postgres, auth_file, IN_FILE)
        proxy.signal(signal.SIGHUP)
        proxy.wait_for_log("auth file loaded", count=2)
        result = login(proxy.port, ROTATED_USER, "SELECT current_user", password="rotated secret",
                       channel_binding="require")
        assert result.returncode == 0 and result.stdout.strip() == ROTATED_USER, result.stderr
    finally:
        postgres.psql(f"ALTER ROLE {ROTATED_USER} PASSWORD '{PASSWORDS[ROTATED_USER]}'")


def test_an_invalid_auth_file_stops_startup_naming_file_and_line(pgmask_bin, tmp_path):
    bad = tmp_path / "userlist.txt"
    bad.write_text('"alice" "SCRAM-SHA-256$4096:c2FsdA=="\n')
    result = subprocess.run([str(pgmask_bin), "serve", "--listen", "127.0.0.1:0", "--auth-file", str(bad)],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert f"{bad}:1: user \"alice\"" in result.stderr, result.stderr
