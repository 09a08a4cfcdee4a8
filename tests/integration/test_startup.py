"""Startup negotiation without a certificate: SSLRequest and GSSENCRequest are declined with 'N'
and a normal startup then works on the same connection (TLS itself is test_tls.py);
BackendKeyData comes from pgmask."""

import struct

import psycopg
import pytest

import wire

REQUESTS = {"SSLRequest": wire.SSL_REQUEST_CODE, "GSSENCRequest": wire.GSSENC_REQUEST_CODE}


@pytest.mark.parametrize("code", REQUESTS.values(), ids=REQUESTS.keys())
def test_encryption_request_declined_then_startup(pgmask, code):
    with wire.connect(pgmask.port) as sock:
        sock.sendall(wire.request_code_packet(code))
        assert wire.recv_exactly(sock, 1) == b"N"
        wire.login(sock, "postgres", "postgres")
        sock.sendall(wire.query_message("select 'plain after N'"))
        rows = [body for tag, body in wire.read_until_ready(sock) if tag == b"D"]
        assert rows and rows[0].endswith(b"plain after N")


def test_gssenc_then_ssl_then_startup(pgmask):
    """libpq with gssencmode=prefer and sslmode=prefer sends both, one after the other."""
    with wire.connect(pgmask.port) as sock:
        sock.sendall(wire.request_code_packet(wire.GSSENC_REQUEST_CODE))
        assert wire.recv_exactly(sock, 1) == b"N"
        sock.sendall(wire.request_code_packet(wire.SSL_REQUEST_CODE))
        assert wire.recv_exactly(sock, 1) == b"N"
        wire.login(sock, "postgres", "postgres")


def test_libpq_sslmode_prefer_and_require(pgmask, connect):
    conn = connect(pgmask.port, sslmode="prefer", gssencmode="prefer")
    assert conn.execute("select 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="(?i)ssl"):
        connect(pgmask.port, sslmode="require")


def test_startup_parameters_reported(pgmask):
    """ParameterStatus and BackendKeyData reach the client before the first ReadyForQuery;
    the BackendKeyData is pgmask's own, not the upstream backend's."""
    with wire.connect(pgmask.port) as sock:
        startup = wire.startup_message("postgres", "postgres", application_name="wire test")
        messages = wire.login(sock, "postgres", "postgres", startup=startup)
        sock.sendall(wire.query_message("select pg_backend_pid()"))
        rows = [body for tag, body in wire.read_until_ready(sock) if tag == b"D"]
        # DataRow: int16 column count, int32 value length, then the value as text.
        upstream_pid = int(rows[0][6:])
    statuses = dict(body.rstrip(b"\0").split(b"\0", 1) for tag, body in messages if tag == b"S")
    assert statuses.get(b"application_name") == b"wire test", statuses
    assert statuses.get(b"server_version", b"").startswith(b"15"), statuses
    keys = [body for tag, body in messages if tag == b"K"]
    assert len(keys) == 1 and len(keys[0]) == 8, f"expected one BackendKeyData, got {keys}"
    assert messages[-1] == (b"Z", b"I")
    assert struct.unpack("!i", keys[0][:4])[0] != upstream_pid, \
        "pgmask passed the upstream backend's key through instead of its own"


@pytest.mark.parametrize("key", ["user", "replication", "options"])
def test_repeated_startup_parameter_refused(pgmask, key):
    """PostgreSQL lets the last of a repeated key win: a proxy reading the first would check one
    user (or replication mode) while the server logs in another, so pgmask refuses the packet."""
    pairs = [("user", "postgres"), ("database", "postgres"), (key, "postgres" if key == "user" else "off"),
             (key, "nobody" if key == "user" else "database")]
    body = struct.pack("!i", wire.PROTOCOL_3_0)
    for k, v in pairs:
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    with wire.connect(pgmask.port) as sock:
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        fields = wire.read_error_then_close(sock)
    assert fields.get("C") == "08P01", fields
    assert "more than once" in fields.get("M", ""), fields
