"""A fake PostgreSQL server for tests that need a hostile upstream: it accepts any login, and
then misbehaves in the way its startup `user` names (see the *_SCENARIOS). User "good" gets a
well-behaved server that answers every query with one row.

pgmask with a policy reads the catalog before it lets a session start (policy/live_catalog.h):
the fake answers that query with a minimal catalog (FAKE_CATALOG), so that sessions of
restricted roles can be driven too."""

from __future__ import annotations

import socket
import struct
import threading

import wire


def msg(tag: bytes, body: bytes = b"") -> bytes:
    return tag + struct.pack("!i", len(body) + 4) + body


def auth(code: int, data: bytes = b"") -> bytes:
    return msg(b"R", struct.pack("!i", code) + data)


READY = msg(b"Z", b"I")
GREETING = (auth(0) + msg(b"K", struct.pack("!ii", 4242, 1234)) +
            msg(b"S", b"server_version\x0015.0\x00") + READY)
ROW_DESCRIPTION = msg(b"T", struct.pack("!h", 1) + b"x\x00" + struct.pack("!ihihih", 0, 0, 25, -1, -1, 0))


def data_row(*values: bytes | None) -> bytes:
    body = struct.pack("!h", len(values))
    for v in values:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return msg(b"D", body)


GOOD_RESULT = ROW_DESCRIPTION + data_row(b"ok") + msg(b"C", b"SELECT 1\x00") + READY

# What the server sends instead of authenticating (at login) or instead of a result (after the
# first query). Each must end only the session that received it.
LOGIN_SCENARIOS = {
    "huge_sasl": auth(11, b"r=" + b"x" * (1 << 20)),
    "sasl_unterminated": auth(10, b"SCRAM-SHA-256"),
    "unknown_tag_at_login": msg(b"\x01", b"hello"),
    "short_length_at_login": b"R" + struct.pack("!i", 2),
    "double_key_data": auth(0) + msg(b"K", struct.pack("!ii", 1, 2)) + msg(b"K", struct.pack("!ii", 3, 4)) + READY,
    "error_without_sqlstate_at_login": msg(b"E", b"SFATAL\x00Mno code here\x00\x00"),
    "close_mid_login": b"R\x00\x00",
}
QUERY_SCENARIOS = {
    "bad_length": b"D" + struct.pack("!i", 2),
    "huge_length": b"D" + struct.pack("!i", 0x7FFFFFF0),
    "unknown_tag": msg(b"\x01", b"surprise"),
    "error_without_sqlstate": msg(b"E", b"SERROR\x00Mno code\x00\x00") + READY,
    "row_with_wrong_field_count": ROW_DESCRIPTION + data_row(b"a", b"b", b"c") + msg(b"C", b"SELECT 1\x00") + READY,
    "row_field_past_end": ROW_DESCRIPTION + msg(b"D", struct.pack("!hi", 1, 1000) + b"abc") + READY,
    "row_before_description": data_row(b"a") + READY,
    "ready_garbage_status": msg(b"Z", b"Q"),
    "close_mid_result": ROW_DESCRIPTION + b"D\x00\x00\x00\x20\x00\x01",
}


# The catalog pgmask's query reads: one table public.people(ssn) whose column 1 is protected
# column 0 of table 0 of the policy in force ('c' row), as in RESTRICTED_POLICY. pgmask reads
# only the DataRows and the ReadyForQuery that ends them; one CommandComplete stands for the
# statements' own. The role row is filled in with the login user.
PEOPLE_OID = 16384
RESTRICTED_POLICY = """version: 1
classifications:
  PII: { tier: confidential }
tables:
  public.people:
    key: ssn
    columns:
      ssn: { class: PII, mask: redact }
roles:
  "*": { default: mask }
"""
FAKE_CATALOG = [
    (b"v", b"fake catalog 1"),
    (b"c", None, str(PEOPLE_OID).encode(), b"1", b"0", b"0"),
    (b"R", str(PEOPLE_OID).encode(), b"public", b"people", b"r", None, b"false"),
    (b"A", str(PEOPLE_OID).encode(), b"ssn", b"1", b""),
    # The isolation level and snapshot the catalog was read under (pg_current_snapshot's text).
    (b"pgmask.snapshot", b"read committed", b"100:100:"),
]
CATALOG_QUERY_MARK = b"pgmask.catalog_fingerprint"


def catalog_answer(user: str) -> bytes:
    rows = [data_row(b"r", user.encode(), None, None, None, None)] + [data_row(*row) for row in FAKE_CATALOG]
    return b"".join(rows) + msg(b"C", b"SELECT 1\x00") + READY


# A result of the protected column people.ssn: pgmask masks its rows value by value.
PEOPLE_DESCRIPTION = msg(b"T", struct.pack("!h", 1) + b"ssn\x00" + struct.pack("!ihihih", PEOPLE_OID, 1, 25, -1, -1, 0))
PEOPLE_RESULT = PEOPLE_DESCRIPTION + data_row(b"123-45-6789") + msg(b"C", b"SELECT 1\x00") + READY

# Results of people.ssn that the masker must refuse to read, for restricted sessions (user
# "restricted_good" gets PEOPLE_RESULT).
RESTRICTED_SCENARIOS = {
    "restricted_wrong_field_count": PEOPLE_DESCRIPTION + data_row(b"a", b"b", b"c") + msg(b"C", b"SELECT 1\x00") + READY,
    "restricted_no_fields": PEOPLE_DESCRIPTION + data_row() + msg(b"C", b"SELECT 1\x00") + READY,
    "restricted_field_past_end": PEOPLE_DESCRIPTION + msg(b"D", struct.pack("!hi", 1, 1000) + b"abc") + READY,
    "restricted_negative_length": PEOPLE_DESCRIPTION + msg(b"D", struct.pack("!hi", 1, -7) + b"abc") + READY,
    "restricted_bytes_after_fields": PEOPLE_DESCRIPTION + msg(b"D", struct.pack("!hi", 1, 3) + b"abcdef") + READY,
    "restricted_cut_length": PEOPLE_DESCRIPTION + msg(b"D", struct.pack("!h", 1) + b"\x00\x00") + READY,
}


class FakeBackend:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            with conn:
                user = self._startup(conn)
                if user is None:
                    return
                if user in LOGIN_SCENARIOS:
                    conn.sendall(LOGIN_SCENARIOS[user])
                    self._linger(conn)
                    return
                conn.sendall(GREETING)
                while True:
                    tag, body = wire.read_message(conn)
                    if tag == b"X":
                        return
                    if tag != b"Q":
                        continue
                    if CATALOG_QUERY_MARK in body:
                        conn.sendall(catalog_answer(user))
                        continue
                    hostile = QUERY_SCENARIOS.get(user) or RESTRICTED_SCENARIOS.get(user)
                    if hostile is None:
                        conn.sendall(PEOPLE_RESULT if user == "restricted_good" else GOOD_RESULT)
                        continue
                    conn.sendall(hostile)
                    self._linger(conn)
                    return
        except (OSError, wire.ConnectionClosed):
            return

    @staticmethod
    def _linger(conn: socket.socket) -> None:
        """Gives pgmask a second to hang up on its own, then hangs up (as a crashed server)."""
        conn.settimeout(1.0)
        try:
            while conn.recv(1 << 16):
                pass
        except OSError:
            pass

    @staticmethod
    def _startup(conn: socket.socket) -> str | None:
        while True:
            length = struct.unpack("!i", wire.recv_exactly(conn, 4))[0]
            body = wire.recv_exactly(conn, length - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (wire.SSL_REQUEST_CODE, wire.GSSENC_REQUEST_CODE):
                conn.sendall(b"N")
                continue
            if code != wire.PROTOCOL_3_0:
                return None
            parts = body[4:].split(b"\0")
            params = dict(zip(parts[0::2], parts[1::2]))
            return params.get(b"user", b"").decode()
