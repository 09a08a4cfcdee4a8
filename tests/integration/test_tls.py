"""TLS on both hops: clients reach pgmask over TLS (after SSLRequest, or directly with ALPN as
PostgreSQL 17 clients may), pgmask reaches PostgreSQL over TLS by sslmode, and SCRAM passes
through both without a channel binding pgmask could not honour."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import struct
import time
from pathlib import Path

import psycopg
import pytest

import wire
from conftest import HBA_HOST_RULES
from pgharness import run_client
from tlscerts import make_ca, make_server_cert, start_tls_cluster

SCRAM_USER, SCRAM_PASSWORD = "tls_scram", "tls scram secret"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    make_ca(directory, "ca")
    make_ca(directory, "other_ca")
    make_server_cert(directory, "ca", "server")
    make_server_cert(directory, "ca", "server2")
    return directory


@pytest.fixture(scope="module")
def postgres(certs):
    """Overrides conftest's cluster: this one has ssl = on, with a certificate from `certs`' CA."""
    cluster = start_tls_cluster(certs, [f"all {SCRAM_USER} 127.0.0.1/32 scram-sha-256", *HBA_HOST_RULES])
    try:
        cluster.psql(f"SET password_encryption = 'scram-sha-256';"
                     f"CREATE ROLE {SCRAM_USER} LOGIN PASSWORD '{SCRAM_PASSWORD}'")
        yield cluster
    finally:
        cluster.destroy()


def tls_flags(certs: Path, name: str = "server") -> list[str]:
    return ["--tls-cert", str(certs / f"{name}.crt"), "--tls-key", str(certs / f"{name}.key")]


def conninfo(port: int, user: str = "postgres", **params: str) -> str:
    extra = " ".join(f"{k}={v}" for k, v in params.items())
    return f"host=127.0.0.1 port={port} user={user} dbname=postgres connect_timeout=10 {extra}"


def psql(info: str, sql: str, **env: str):
    return run_client(["psql", "-X", "-A", "-t", "-d", info, "-c", sql], timeout=60, **env)


UPSTREAM_SSL = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def client_context(certs: Path | None = None, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if certs is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(certs / "ca.crt")
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def ssl_request_then_tls(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    sock = wire.connect(port)
    sock.sendall(wire.request_code_packet(wire.SSL_REQUEST_CODE))
    assert wire.recv_exactly(sock, 1) == b"S"
    return context.wrap_socket(sock, server_hostname="127.0.0.1")


def assert_healthy(port: int) -> None:
    result = psql(conninfo(port, sslmode="prefer"), "SELECT 42")
    assert result.returncode == 0 and result.stdout.strip() == "42", result.stderr


# Client side ---------------------------------------------------------------------------------

def test_psql_sslmode_require_and_verify_full(pgmask_factory, certs):
    proxy = pgmask_factory(*tls_flags(certs), "--upstream-sslmode", "disable")
    for params in ({"sslmode": "require"},
                   {"sslmode": "verify-full", "sslrootcert": str(certs / "ca.crt")}):
        with psycopg.connect(conninfo(proxy.port, **params)) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)
    # A CA that did not sign pgmask's certificate is refused by the client.
    result = psql(conninfo(proxy.port, sslmode="verify-full", sslrootcert=str(certs / "other_ca.crt")),
                  "SELECT 1")
    assert result.returncode != 0 and "certificate verify failed" in result.stderr, result.stderr


def test_without_a_certificate_ssl_is_declined(pgmask_factory):
    proxy = pgmask_factory()
    sock = wire.connect(proxy.port)
    sock.sendall(wire.request_code_packet(wire.SSL_REQUEST_CODE))
    assert wire.recv_exactly(sock, 1) == b"N"
    wire.login(sock, "postgres", "postgres")
    sock.close()


def test_tls_require_refuses_plaintext_startup(pgmask_factory, certs):
    proxy = pgmask_factory(*tls_flags(certs), "--tls-require", "true")
    sock = wire.connect(proxy.port)
    with pytest.raises(wire.ServerError) as refused:
        wire.login(sock, "postgres", "postgres")
    assert refused.value.sqlstate == "28000"
    assert "TLS" in refused.value.fields["M"]
    sock.close()
    result = psql(conninfo(proxy.port, sslmode="disable"), "SELECT 1")
    assert result.returncode != 0 and "TLS connections only" in result.stderr, result.stderr
    assert psql(conninfo(proxy.port, sslmode="require"), "SELECT 1").returncode == 0


def test_plaintext_bytes_after_ssl_request_close_the_connection(pgmask_factory, certs):
    """CVE-2021-23222 class: a startup packet pipelined behind the SSLRequest, in clear, is not
    taken as if it came over TLS."""
    proxy = pgmask_factory(*tls_flags(certs))
    sock = wire.connect(proxy.port)
    sock.sendall(wire.request_code_packet(wire.SSL_REQUEST_CODE) + wire.startup_message("postgres", "postgres"))
    wire.assert_closed(sock)
    sock.close()
    proxy.wait_for_log("received unencrypted data after SSL request")
    assert_healthy(proxy.port)


def test_gssenc_is_declined_then_ssl_works_on_the_same_connection(pgmask_factory, certs):
    proxy = pgmask_factory(*tls_flags(certs))
    sock = wire.connect(proxy.port)
    sock.sendall(wire.request_code_packet(wire.GSSENC_REQUEST_CODE))
    assert wire.recv_exactly(sock, 1) == b"N"
    sock.sendall(wire.request_code_packet(wire.SSL_REQUEST_CODE))
    assert wire.recv_exactly(sock, 1) == b"S"
    tls = client_context(certs).wrap_socket(sock, server_hostname="127.0.0.1")
    wire.login(tls, "postgres", "postgres")
    tls.sendall(wire.query_message("SELECT 7"))
    rows = [body for tag, body in wire.read_until_ready(tls) if tag == b"D"]
    assert rows and rows[0].endswith(b"7")
    tls.close()


def test_direct_tls_needs_alpn_postgresql(pgmask_factory, certs):
    proxy = pgmask_factory(*tls_flags(certs))
    # PostgreSQL 17's sslnegotiation=direct: a ClientHello first, naming ALPN "postgresql".
    tls = client_context(certs, ["postgresql"]).wrap_socket(wire.connect(proxy.port), server_hostname="127.0.0.1")
    assert tls.selected_alpn_protocol() == "postgresql"
    wire.login(tls, "postgres", "postgres")
    tls.close()
    # No ALPN: the handshake completes, then pgmask refuses the connection.
    tls = client_context(certs).wrap_socket(wire.connect(proxy.port), server_hostname="127.0.0.1")
    tls.sendall(wire.startup_message("postgres", "postgres"))
    fields = wire.read_error_then_close(tls)
    assert fields["C"] == "08P01" and "ALPN" in fields["M"]
    tls.close()
    # ALPN for another protocol: the handshake itself fails.
    with pytest.raises(ssl.SSLError):
        client_context(certs, ["http/1.1"]).wrap_socket(wire.connect(proxy.port), server_hostname="127.0.0.1")
    assert_healthy(proxy.port)


def test_sighup_reloads_the_certificate_for_new_sessions_only(pgmask_factory, certs, tmp_path):
    live_cert, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(certs / "server.crt", live_cert)
    shutil.copy(certs / "server.key", live_key)
    proxy = pgmask_factory("--tls-cert", str(live_cert), "--tls-key", str(live_key))
    before = ssl_request_then_tls(proxy.port, client_context(certs))
    wire.login(before, "postgres", "postgres")
    first_cert = before.getpeercert(binary_form=True)

    shutil.copy(certs / "server2.crt", live_cert)
    shutil.copy(certs / "server2.key", live_key)
    proxy.signal(signal.SIGHUP)
    proxy.wait_for_log("TLS certificate and key reloaded")
    after = ssl_request_then_tls(proxy.port, client_context(certs))
    wire.login(after, "postgres", "postgres")
    assert after.getpeercert(binary_form=True) == (certs / "server2.crt").read_bytes() or \
        after.getpeercert(binary_form=True) != first_cert
    # The session that started before the reload goes on.
    before.sendall(wire.query_message("SELECT 1"))
    wire.read_until_ready(before)
    # A broken file keeps the certificate in force.
    live_key.write_text("not a key\n")
    proxy.signal(signal.SIGHUP)
    proxy.wait_for_log("TLS certificate not reloaded")
    third = ssl_request_then_tls(proxy.port, client_context(certs))
    wire.login(third, "postgres", "postgres")
    assert third.getpeercert(binary_form=True) == after.getpeercert(binary_form=True)
    for s in (before, after, third):
        s.close()


# Upstream side -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, expected", [("disable", "f"), ("prefer", "t"), ("require", "t")])
def test_upstream_sslmode(pgmask_factory, mode, expected):
    proxy = pgmask_factory("--upstream-sslmode", mode)
    result = psql(conninfo(proxy.port), UPSTREAM_SSL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_upstream_verify_full_checks_the_server_certificate(pgmask_factory, certs):
    good = pgmask_factory("--upstream-sslmode", "verify-full", "--upstream-sslrootcert", str(certs / "ca.crt"))
    result = psql(conninfo(good.port), UPSTREAM_SSL)
    assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr
    bad = pgmask_factory("--upstream-sslmode", "verify-ca", "--upstream-sslrootcert", str(certs / "other_ca.crt"))
    sock = wire.connect(bad.port)
    with pytest.raises(wire.ServerError) as refused:
        wire.login(sock, "postgres", "postgres")
    assert refused.value.sqlstate == "08001"
    sock.close()
    bad.wait_for_log("upstream TLS handshake failed")


def sasl_mechanisms(port: int, certs: Path) -> list[bytes]:
    """The mechanisms a TLS client of pgmask is offered for the SCRAM role."""
    tls = ssl_request_then_tls(port, client_context(certs))
    tls.sendall(wire.startup_message(SCRAM_USER, "postgres"))
    tag, body = wire.read_message(tls)
    tls.close()
    assert tag == b"R" and struct.unpack("!i", body[:4])[0] == wire.AUTH_SASL
    return [name for name in body[4:].split(b"\0") if name]


def scram_psql(port: int, sql: str, **params: str):
    return psql(conninfo(port, SCRAM_USER, sslmode="require", **params), sql, PGPASSWORD=SCRAM_PASSWORD)


def test_scram_channel_binding_end_to_end_when_pgmask_presents_the_database_certificate(pgmask_factory, certs):
    """pgmask holds the database's own certificate and key: the client binds to the certificate
    PostgreSQL binds to, so SCRAM-SHA-256-PLUS is relayed and verifies through both hops."""
    proxy = pgmask_factory(*tls_flags(certs, "server"), "--upstream-sslmode", "require")
    assert sasl_mechanisms(proxy.port, certs) == [b"SCRAM-SHA-256-PLUS", b"SCRAM-SHA-256"]
    for binding in ("require", "prefer", "disable"):
        result = scram_psql(proxy.port, UPSTREAM_SSL, channel_binding=binding)
        assert result.returncode == 0 and result.stdout.strip() == "t", (binding, result.stderr)


def test_scram_channel_binding_removed_when_pgmask_presents_another_certificate(pgmask_factory, certs):
    proxy = pgmask_factory(*tls_flags(certs, "server2"), "--upstream-sslmode", "require")
    # The server offers SCRAM-SHA-256-PLUS over its TLS; pgmask relays the list without it.
    assert sasl_mechanisms(proxy.port, certs) == [b"SCRAM-SHA-256"]
    # A client that does not ask for channel binding logs in through both hops.
    result = scram_psql(proxy.port, UPSTREAM_SSL, channel_binding="disable")
    assert result.returncode == 0 and result.stdout.strip() == "t", result.stderr
    # One that requires it is told clearly that it is not available.
    result = scram_psql(proxy.port, "SELECT 1", channel_binding="require")
    assert result.returncode != 0
    assert "channel binding is required, but server did not offer" in result.stderr, result.stderr


def test_scram_channel_binding_prefer_with_another_certificate_is_refused_by_pgmask(pgmask_factory, certs):
    """A TLS client that could bind tells the server so ('y' flag, part of what the proof
    signs); PostgreSQL over TLS would refuse that as a downgrade with an obscure message.
    pgmask cannot rewrite the flag, so it refuses the login itself and says what to change."""
    proxy = pgmask_factory(*tls_flags(certs, "server2"), "--upstream-sslmode", "require")
    result = scram_psql(proxy.port, "SELECT 1", channel_binding="prefer")
    assert result.returncode != 0
    assert "pgmask cannot relay SCRAM channel binding" in result.stderr, result.stderr
    assert "channel_binding=disable" in result.stderr, result.stderr
    # The same on the wire: SASLInitialResponse with GS2 flag 'y', answered by pgmask with 08P01.
    tls = ssl_request_then_tls(proxy.port, client_context(certs))
    tls.sendall(wire.startup_message(SCRAM_USER, "postgres"))
    tag, _ = wire.read_message(tls)
    assert tag == b"R"
    first = b"y,,n=,r=pgmasktestnonce"
    tls.sendall(wire.message(b"p", wire.cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
    fields = wire.read_error_then_close(tls)
    assert fields["C"] == "08P01" and fields["S"] == "FATAL", fields
    tls.close()
    proxy.wait_for_log("refused: channel binding cannot cross pgmask")
    assert_healthy(proxy.port)


def test_scram_channel_binding_with_a_plaintext_upstream(pgmask_factory, certs):
    """Over TLS to pgmask with a plaintext upstream the server offers no channel binding: psql's
    default, channel_binding=prefer, logs in; require fails with libpq's own message."""
    proxy = pgmask_factory(*tls_flags(certs), "--upstream-sslmode", "disable")
    result = scram_psql(proxy.port, UPSTREAM_SSL, channel_binding="prefer")
    assert result.returncode == 0 and result.stdout.strip() == "f", result.stderr
    result = scram_psql(proxy.port, "SELECT 1", channel_binding="require")
    assert result.returncode != 0
    assert "channel binding is required, but server did not offer" in result.stderr, result.stderr
