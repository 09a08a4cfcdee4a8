"""Malformed input: pgmask answers FATAL 08P01 where the protocol lets it, closes that one
connection, and a session opened before the bad client keeps working (checked in each test)."""

import random
import struct
import time

import pytest

import wire

MAX_STARTUP_PACKET = 10000


@pytest.fixture
def bystander(pgmask, connect):
    """A healthy session, open before the bad client arrives."""
    conn = connect(pgmask.port)
    assert conn.execute("select 1").fetchone() == (1,)
    return conn


def assert_still_serving(pgmask, bystander) -> None:
    assert bystander.execute("select 'bystander ok'").fetchone() == ("bystander ok",), \
        "the concurrent session broke"
    with wire.connect(pgmask.port) as sock:
        wire.login(sock, "postgres", "postgres")


def assert_protocol_violation(fields: dict[str, str]) -> None:
    assert fields.get("C") == "08P01", f"expected SQLSTATE 08P01, got {fields}"
    assert fields.get("S") == "FATAL", f"expected severity FATAL, got {fields}"


def oversized_startup_packet() -> bytes:
    body = struct.pack("!i", wire.PROTOCOL_3_0) + b"user\0postgres\0options\0"
    body += b"x" * (MAX_STARTUP_PACKET + 1 - 4 - len(body) - 2) + b"\0\0"
    packet = struct.pack("!i", len(body) + 4) + body
    assert len(packet) == MAX_STARTUP_PACKET + 1
    return packet


STARTUP_LENGTHS = {
    "length 0": 0,
    "length 3": 3,
    "length 7, below the minimum": 7,
    "length 2^31-1": 2**31 - 1,
    "length 0x80000000": -(2**31),
    "length 0xFFFFFFFF": -1,
}


@pytest.mark.parametrize("length", STARTUP_LENGTHS.values(), ids=STARTUP_LENGTHS.keys())
def test_bad_startup_length(pgmask, bystander, length):
    with wire.connect(pgmask.port) as sock:
        sock.sendall(struct.pack("!i", length))
        assert_protocol_violation(wire.read_error_then_close(sock))
    assert_still_serving(pgmask, bystander)


def test_startup_packet_over_limit(pgmask, bystander):
    with wire.connect(pgmask.port) as sock:
        sock.sendall(oversized_startup_packet())
        assert_protocol_violation(wire.read_error_then_close(sock))
    assert_still_serving(pgmask, bystander)


def test_http_request_instead_of_startup(pgmask, bystander):
    with wire.connect(pgmask.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert_protocol_violation(wire.read_error_then_close(sock))
    assert_still_serving(pgmask, bystander)


def test_truncated_startup_then_close(pgmask, bystander):
    packet = wire.startup_message("postgres", "postgres")
    for cut in (1, 4, 7, len(packet) - 1):
        with wire.connect(pgmask.port) as sock:
            sock.sendall(packet[:cut])
    assert_still_serving(pgmask, bystander)


def test_truncated_startup_times_out(pgmask_factory, connect):
    pgmask = pgmask_factory("--startup-timeout", "1")
    bystander = connect(pgmask.port)
    with wire.connect(pgmask.port) as sock:
        sock.sendall(wire.startup_message("postgres", "postgres")[:10])
        start = time.monotonic()
        try:
            tag, body = wire.read_message(sock)
            assert tag == b"E", f"expected ErrorResponse or close, got {tag!r}"
            # PostgreSQL's own code for an authentication timeout.
            assert wire.error_fields(body).get("C") == "57014", wire.error_fields(body)
            wire.assert_closed(sock)
        except wire.ConnectionClosed:
            pass
        elapsed = time.monotonic() - start
    assert elapsed < 4, f"a stalled startup was closed only after {elapsed:.1f}s (timeout 1s)"
    assert_still_serving(pgmask, bystander)


def test_random_garbage(pgmask_factory, connect):
    """Random bytes end in a FATAL error and a close, fast. When the first four bytes cannot be
    a startup packet length the error is 08P01; otherwise pgmask may wait for the rest (and time
    out) or reject the protocol version."""
    pgmask = pgmask_factory("--startup-timeout", "1")
    bystander = connect(pgmask.port)
    rng = random.Random(20261123)
    for attempt in range(12):
        garbage = rng.randbytes(rng.choice([4, 9, 64, 512, 4096]))
        length = struct.unpack("!i", garbage[:4])[0]
        context = f"garbage #{attempt} starting {garbage[:8].hex()}"
        with wire.connect(pgmask.port, timeout=5) as sock:
            try:
                sock.sendall(garbage)
            except (BrokenPipeError, ConnectionResetError):
                pass
            tag, body = wire.read_message(sock)
            assert tag == b"E", f"{context}: expected ErrorResponse, got {tag!r}"
            fields = wire.error_fields(body)
            assert fields.get("S") == "FATAL", (context, fields)
            if not 8 <= length <= MAX_STARTUP_PACKET:
                assert fields.get("C") == "08P01", (context, fields)
            wire.assert_closed(sock)
    assert_still_serving(pgmask, bystander)


def logged_in(pgmask):
    sock = wire.connect(pgmask.port)
    wire.login(sock, "postgres", "postgres")
    return sock


MESSAGES_AFTER_LOGIN = {
    "unknown tag 0x01": b"\x01" + struct.pack("!i", 4),
    "unknown tag with body": b"\x01" + struct.pack("!i", 8) + b"abcd",
    "query length 0": b"Q" + struct.pack("!i", 0),
    "query length 3": b"Q" + struct.pack("!i", 3),
    "query length 2^31-1": b"Q" + struct.pack("!i", 2**31 - 1),
    "query length 0x80000000": b"Q" + struct.pack("!i", -(2**31)),
    "sync length 0xFFFFFFFF": b"S" + struct.pack("!i", -1),
}


@pytest.mark.parametrize("data", MESSAGES_AFTER_LOGIN.values(), ids=MESSAGES_AFTER_LOGIN.keys())
def test_bad_message_after_login(pgmask, bystander, data):
    with logged_in(pgmask) as sock:
        sock.sendall(data)
        assert_protocol_violation(wire.read_error_then_close(sock))
    assert_still_serving(pgmask, bystander)


def test_message_over_max_message_size(pgmask_factory, connect):
    pgmask = pgmask_factory("--max-message-size", "4096")
    bystander = connect(pgmask.port)
    with logged_in(pgmask) as sock:
        sock.sendall(wire.query_message("select '" + "a" * 3000 + "'"))
        assert any(tag == b"D" for tag, _ in wire.read_until_ready(sock)), \
            "a query under the limit failed"
        sock.sendall(wire.query_message("select '" + "a" * 5000 + "'"))
        assert_protocol_violation(wire.read_error_then_close(sock))
    assert_still_serving(pgmask, bystander)


def test_disconnect_mid_message(pgmask, bystander):
    with logged_in(pgmask) as sock:
        sock.sendall(b"Q" + struct.pack("!i", 100) + b"select 1")
    with logged_in(pgmask) as sock:
        sock.sendall(b"Q\x00\x00")
    # Both sessions end (and are logged as ended) although neither message was complete.
    pgmask.wait_for_log(r"session=\S+ close\b", count=2)
    assert_still_serving(pgmask, bystander)
