"""A minimal PostgreSQL v3 wire client over a raw socket, for tests that need to see or send
exact bytes: malformed packets, SQLSTATEs of login failures (libpq hides them), SSLRequest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct

PROTOCOL_3_0 = 196608
CANCEL_REQUEST_CODE = 80877102
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104

AUTH_OK = 0
AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12


class ServerError(Exception):
    """An ErrorResponse; `fields` maps field codes ('S', 'C', 'M', ...) to values."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(f"{fields.get('S')} {fields.get('C')}: {fields.get('M')}")
        self.fields = fields

    @property
    def sqlstate(self) -> str | None:
        return self.fields.get("C")


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset) before a complete message arrived."""


def connect(port: int, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def startup_message(user: str, database: str, **params: str) -> bytes:
    body = struct.pack("!i", PROTOCOL_3_0)
    for key, value in {"user": user, "database": database, **params}.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def request_code_packet(code: int) -> bytes:
    """SSLRequest, GSSENCRequest: an 8-byte packet holding only a request code."""
    return struct.pack("!ii", 8, code)


def cancel_request(pid: int, secret: int) -> bytes:
    return struct.pack("!iiii", 16, CANCEL_REQUEST_CODE, pid, secret)


def message(tag: bytes, body: bytes = b"") -> bytes:
    return tag + struct.pack("!i", len(body) + 4) + body


def query_message(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def parse_message(name: str, sql: str, types: tuple[int, ...] = ()) -> bytes:
    return message(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types))
                        + b"".join(struct.pack("!i", t) for t in types))


def bind_message(portal: str, statement: str, params: tuple[str | None, ...] = (),
                 result_formats: tuple[int, ...] = ()) -> bytes:
    body = cstr(portal) + cstr(statement) + struct.pack("!hh", 0, len(params))
    for value in params:
        if value is None:
            body += struct.pack("!i", -1)
        else:
            data = value.encode()
            body += struct.pack("!i", len(data)) + data
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return message(b"B", body)


def describe_message(kind: bytes, name: str) -> bytes:
    return message(b"D", kind + cstr(name))


def execute_message(portal: str, max_rows: int = 0) -> bytes:
    return message(b"E", cstr(portal) + struct.pack("!i", max_rows))


def close_message(kind: bytes, name: str) -> bytes:
    return message(b"C", kind + cstr(name))


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError as e:
            raise ConnectionClosed(f"reset after {len(data)} of {n} bytes") from e
        if not chunk:
            raise ConnectionClosed(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    """One backend message as (tag, body). Raises ConnectionClosed, socket.timeout."""
    header = recv_exactly(sock, 5)
    tag, length = header[:1], struct.unpack("!i", header[1:])[0]
    assert 4 <= length <= 1 << 30, f"server sent message {tag!r} with bad length {length}"
    return tag, recv_exactly(sock, length - 4)


def error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def read_error_then_close(sock: socket.socket) -> dict[str, str]:
    """Expects an ErrorResponse as the next message and then EOF; returns the error's fields."""
    tag, body = read_message(sock)
    assert tag == b"E", f"expected ErrorResponse, got {tag!r} {body[:200]!r}"
    fields = error_fields(body)
    assert_closed(sock)
    return fields


def assert_closed(sock: socket.socket) -> None:
    """Asserts the server closes the connection without sending anything more."""
    try:
        rest = sock.recv(4096)
    except ConnectionResetError:
        return
    assert rest == b"", f"expected the connection to be closed, got more bytes: {rest[:200]!r}"


def read_until_ready(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    """Reads messages through ReadyForQuery; raises ServerError on an ErrorResponse."""
    messages = []
    while True:
        tag, body = read_message(sock)
        if tag == b"E":
            raise ServerError(error_fields(body))
        messages.append((tag, body))
        if tag == b"Z":
            return messages


def login(sock: socket.socket, user: str, database: str, password: str | None = None,
          startup: bytes | None = None) -> list[tuple[bytes, bytes]]:
    """Completes startup and authentication (trust, cleartext, md5 or SCRAM-SHA-256) and
    returns the messages after AuthenticationOk up to ReadyForQuery. Raises ServerError."""
    sock.sendall(startup or startup_message(user, database))
    scram: _Scram | None = None
    while True:
        tag, body = read_message(sock)
        if tag == b"E":
            raise ServerError(error_fields(body))
        assert tag == b"R", f"expected an Authentication message, got {tag!r}"
        code = struct.unpack("!i", body[:4])[0]
        if code == AUTH_OK:
            return read_until_ready(sock)
        assert password is not None, f"server asked for a password (auth code {code})"
        if code == AUTH_CLEARTEXT:
            sock.sendall(message(b"p", password.encode() + b"\0"))
        elif code == AUTH_MD5:
            inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
            sock.sendall(message(b"p", b"md5" + outer.encode() + b"\0"))
        elif code == AUTH_SASL:
            mechanisms = body[4:].split(b"\0")
            assert b"SCRAM-SHA-256" in mechanisms, f"no SCRAM-SHA-256 in {mechanisms}"
            scram = _Scram(password)
            first = scram.client_first()
            sock.sendall(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        elif code == AUTH_SASL_CONTINUE:
            assert scram is not None, "SASLContinue before SASL"
            sock.sendall(message(b"p", scram.client_final(body[4:])))
        elif code == AUTH_SASL_FINAL:
            assert scram is not None, "SASLFinal before SASL"
            scram.verify_server(body[4:])
        else:
            raise AssertionError(f"unsupported authentication request {code}")


class _Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it."""

    def __init__(self, password: str):
        self._password = password.encode()
        self._nonce = base64.b64encode(os.urandom(18)).decode()
        self._first_bare = f"n=,r={self._nonce}"
        self._auth_message = b""
        self._salted = b""

    def client_first(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def client_final(self, server_first: bytes) -> bytes:
        attrs = dict(part.split("=", 1) for part in server_first.decode().split(","))
        assert attrs["r"].startswith(self._nonce), "server nonce does not extend ours"
        self._salted = hashlib.pbkdf2_hmac("sha256", self._password,
                                           base64.b64decode(attrs["s"]), int(attrs["i"]))
        without_proof = f"c=biws,r={attrs['r']}"
        self._auth_message = f"{self._first_bare},{server_first.decode()},{without_proof}".encode()
        client_key = hmac.digest(self._salted, b"Client Key", "sha256")
        signature = hmac.digest(hashlib.sha256(client_key).digest(), self._auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify_server(self, server_final: bytes) -> None:
        server_key = hmac.digest(self._salted, b"Server Key", "sha256")
        expected = hmac.digest(server_key, self._auth_message, "sha256")
        assert server_final.decode() == f"v={base64.b64encode(expected).decode()}", \
            "SCRAM server signature does not verify"
