"""The adversarial suite of issue #4: every way a protected value could leave the database.

Every case connects through pgmask as a *restricted* role (one whose action for some class is not
`clear`) with the raw wire client below, runs its steps, sends a follow-up `SELECT 1` in the same
connection (after a ROLLBACK when a transaction is open), and then scans every byte the client
received — authentication, ParameterStatus, RowDescription, DataRow, CommandComplete, COPY data,
ErrorResponse/NoticeResponse fields, NotificationResponse, FunctionCallResponse — for each seeded
secret in several encodings: the text (case-insensitive), fragments no mask keeps, the hex and
base64 of its bytes, its reverse, its md5/sha256, server-computed forms (hashtext, Julian day) and,
for dates, timestamps and numbers, their binary wire encodings. A case fails if any of them shows
up, whatever else happened; besides that each step states what the spec (issue #4, BRIEF "How a
decision is made") demands of it:

    OK       the statement must succeed (derived values redacted, direct references masked)
    REFUSED  an ErrorResponse with SQLSTATE 42501, and the connection keeps working
    INFER    like REFUSED, and the refusal's message or detail names the protected column
    SAFE     any outcome (e.g. Postgres' own error, a refusal or a redacted result): only the
             leak scan and the follow-up `SELECT 1` decide

Nothing is skipped or marked xfail: the suite is written to the spec, not to the current build.

Secrets (seeded by the module fixture; the demo data has nothing that looks like them):

    patients id 90001        name 'Zebulon Quaxwright', ssn '919-27-3645',
                             email 'zq.vault.keeper@hidden-clinic.test', phone '+44-7700-900461',
                             dob 1931-11-23, address '1 Evergreen Vaultway, Nowhereton'
    visits 90001..90300      (patient 90001) diagnosis 'X99.1 Glimmerfang neuropathy', notes
                             'Confided passphrase: orchid-7741-lantern', visited_at
                             2019-06-21 13:37:42.123456+00 (300 copies, so the diagnosis is one of
                             pg_stats' most common values)
    payments 90001           card_number '4929871365790017', amount 31337.77
    "Patients" (quoted)      "SSN" '933-08-1177' (its unquoted column ssn is unprotected)
    lab_results (partitioned by taken_on; leaves lab_results_2024 and, one level further down,
                             lab_results_2025_all)  result 'HbA1c 13.7 percent Snarkwhistle'
    contacts / contacts_vip  (inheritance child) note 'Next of kin: Bramblethorn Oakes'

The secret patient's SSN, e-mail, name and phone are the largest values of their columns and the
address the smallest, so they are bounds of pg_stats.histogram_bounds. An idle session of the
clear role app_backend, connected straight to Postgres, last ran a query whose text holds the SSN
(for pg_stat_activity).

Suite objects: views patient_contacts (renamed direct columns), patient_shout (upper/lower
expressions), patient_contacts_v2 (a view over a view), visit_texts (UNION ALL of two PHI
columns); materialized views mv_diagnoses, mv_emails; decoy.patients (same column names,
harmless values, unprotected) for search_path games; scratch (unprotected, writable by clerk);
functions peek_ssn(int) (SQL, reads an SSN; not trusted), operator ### backed by leak_op (not
trusted), add_one(int), noisy_note(text) (RAISE NOTICE of its argument) and picky_check(text)
(RAISE EXCEPTION quoting its argument), the last three listed in settings.trusted_functions; the
dblink and hstore extensions; a unique index on patients.email; table intake_log with an
administrator's rule intake_log_echo (ON INSERT DO ALSO SELECT of a patient's ssn, email and
diagnosis). The suite runs on a cluster of its own with max_prepared_transactions = 10.

Policy: the demo policy (tests/testdata/policy/clinic.yaml: inference deny) plus
public."Patients"."SSN" (PII), public.lab_results.result (PHI, redact, declared on the partitioned
parent only), public.contacts.note (PII, redact, declared on the inheritance parent only) and
settings.trusted_functions [public.add_one, public.noisy_note, public.picky_check].

Roles (all restricted):

    analyst       PII tokenize, PHI mask, PCI deny (demo)
    support       PII mask, PHI deny, PCI mask (demo)
    auditor       mask everything (demo)
    clerk         unlisted, so "*": mask. Not a superuser, but Postgres itself would let it do
                  everything the refusals are about: DML on every table, CREATE on public,
                  REPLICATION, pg_read_server_files, pg_write_server_files,
                  pg_execute_server_program, pg_read_all_stats, and EXECUTE on the file and
                  server-side large-object functions. So a 42501 it gets is pgmask's.
    masked_super  unlisted superuser ("*": mask), for what only a superuser could do at all:
                  SET SESSION AUTHORIZATION, dblink without a password, pg_statistic
    tinkerer      unlisted, used only by the ALTER ROLE ... SET case (reset afterwards)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

import psycopg
import pytest
import yaml

import wire
from wire import bind_message, close_message, cstr, describe_message, execute_message, parse_message
from conftest import DEMO_POLICY, key_flags, load_demo, running_cluster
from pgharness import Pgmask

DB = "clinic_adversarial"
READ_TIMEOUT_SECONDS = 20

# ----------------------------------------------------------------------------------------------
# The secrets and what their leaks look like on the wire


@dataclass(frozen=True)
class Secret:
    label: str
    value: str
    fragments: tuple[str, ...] = ()  # parts of the value that no mask function keeps


SSN = "919-27-3645"
EMAIL = "zq.vault.keeper@hidden-clinic.test"
NAME = "Zebulon Quaxwright"
PHONE = "+44-7700-900461"
ADDRESS = "1 Evergreen Vaultway, Nowhereton"
DOB = dt.date(1931, 11, 23)
DIAGNOSIS = "X99.1 Glimmerfang neuropathy"
NOTES = "Confided passphrase: orchid-7741-lantern"
VISITED_AT = dt.datetime(2019, 6, 21, 13, 37, 42, 123456, tzinfo=dt.timezone.utc)
CARD = "4929871365790017"
AMOUNT = "31337.77"
QUOTED_SSN = "933-08-1177"
LAB_RESULT = "HbA1c 13.7 percent Snarkwhistle"
CONTACT_NOTE = "Next of kin: Bramblethorn Oakes"

EPOCH = f"{int(VISITED_AT.timestamp())}.{VISITED_AT.microsecond:06d}"

SECRETS = [
    Secret("patients.name", NAME, ("Quaxwright",)),
    Secret("patients.ssn", SSN, ("919273645",)),
    Secret("patients.email", EMAIL, ("zq.vault.keeper", "hidden-clinic")),
    Secret("patients.phone", PHONE, ("7700-900461", "447700900461")),
    Secret("patients.dob", DOB.isoformat(), ("11/23/1931", "23/11/1931", "23.11.1931", "19311123",
                                             "Nov 23 1931", "23 Nov 1931")),
    Secret("patients.address", ADDRESS, ("Evergreen Vaultway", "Nowhereton")),
    Secret("visits.diagnosis", DIAGNOSIS, ("Glimmerfang",)),
    Secret("visits.notes", NOTES, ("orchid-7741-lantern",)),
    Secret("visits.visited_at", "2019-06-21 13:37:42.123456+00", ("37:42.123456", "2019-06-21", EPOCH)),
    Secret("payments.card_number", CARD, ("492987136579",)),
    Secret("payments.amount", AMOUNT, ("3133777",)),
    Secret('"Patients"."SSN"', QUOTED_SSN, ("933081177",)),
    Secret("lab_results.result", LAB_RESULT, ("Snarkwhistle",)),
    Secret("contacts.note", CONTACT_NOTE, ("Bramblethorn",)),
]

PG_EPOCH_DATE = dt.date(2000, 1, 1)
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def numeric_digits(text: str) -> bytes:
    """The base-10000 digit words of a numeric's binary encoding (the part that does not depend on
    the display scale): enough to recognise the value in a binary DataRow or COPY."""
    value = Decimal(text)
    integer, _, fraction = format(value, "f").partition(".")
    integer = integer.lstrip("-").lstrip("0")
    integer = integer.rjust((len(integer) + 3) // 4 * 4, "0")
    fraction = fraction.ljust((len(fraction) + 3) // 4 * 4, "0")
    words = [int(integer[i:i + 4]) for i in range(0, len(integer), 4)]
    words += [int(fraction[i:i + 4]) for i in range(0, len(fraction), 4)]
    while words and words[-1] == 0:
        words.pop()
    return struct.pack(f"!{len(words)}h", *words)


def binary_needles() -> list[tuple[str, str, bytes]]:
    """(secret, form, bytes) for the binary wire encodings of the non-text secrets."""
    dob_days = (DOB - PG_EPOCH_DATE).days
    visited_us = (VISITED_AT - PG_EPOCH) // dt.timedelta(microseconds=1)
    cents = int(Decimal(AMOUNT) * 100)
    return [
        ("patients.dob", "binary date", struct.pack("!i", dob_days)),
        ("patients.dob", "binary timestamp", struct.pack("!q", dob_days * 86_400_000_000)),
        ("visits.visited_at", "binary timestamptz", struct.pack("!q", visited_us)),
        ("visits.visited_at", "binary numeric epoch", numeric_digits(EPOCH)),
        ("payments.amount", "binary numeric", numeric_digits(AMOUNT)),
        ("payments.amount", "binary float8", struct.pack("!d", float(AMOUNT))),
        ("payments.amount", "binary float4", struct.pack("!f", float(AMOUNT))),
        ("payments.amount", "binary int4 cents", struct.pack("!i", cents)),
        ("payments.amount", "binary int8 cents", struct.pack("!q", cents)),
        ("payments.amount", "hex cents", format(cents, "x").encode()),
    ]


@dataclass
class Needles:
    text: list[tuple[str, str, bytes]] = field(default_factory=list)  # matched case-insensitively
    exact: list[tuple[str, str, bytes]] = field(default_factory=list)  # matched byte for byte

    def add_text(self, label: str, form: str, value: str) -> None:
        self.text.append((label, form, value.encode().lower()))

    def find(self, stream: bytes) -> list[str]:
        lowered = stream.lower()
        hits = []
        for haystack, entries in ((lowered, self.text), (stream, self.exact)):
            for label, form, needle in entries:
                at = haystack.find(needle)
                if at < 0:
                    continue
                first, channels = at, []
                while at >= 0:
                    channel = channel_at(stream, at)
                    if channel not in channels:
                        channels.append(channel)
                    at = haystack.find(needle, at + 1)
                hits.append(f"{label} as {form} in {', '.join(channels)}: "
                            f"…{stream[max(0, first - 40):first + len(needle) + 40]!r}…")
        return hits


MESSAGE_NAMES = {
    b"R": "Authentication", b"S": "ParameterStatus", b"K": "BackendKeyData", b"Z": "ReadyForQuery",
    b"T": "RowDescription", b"D": "DataRow", b"C": "CommandComplete", b"E": "ErrorResponse",
    b"N": "NoticeResponse", b"A": "NotificationResponse", b"V": "FunctionCallResponse",
    b"H": "CopyOutResponse", b"G": "CopyInResponse", b"d": "CopyData", b"c": "CopyDone",
    b"1": "ParseComplete", b"2": "BindComplete", b"3": "CloseComplete", b"t": "ParameterDescription",
    b"n": "NoData", b"s": "PortalSuspended", b"I": "EmptyQueryResponse",
}
ERROR_FIELDS = {"M": "message", "D": "detail", "H": "hint", "W": "context", "q": "internal query",
                "P": "position", "S": "severity", "C": "sqlstate"}


def channel_at(stream: bytes, offset: int) -> str:
    """Which backend message (and for errors and notices, which field) holds byte `offset`."""
    pos = 0
    while pos + 5 <= len(stream):
        tag, length = stream[pos:pos + 1], struct.unpack("!i", stream[pos + 1:pos + 5])[0]
        end = pos + 1 + length
        if offset < end:
            name = MESSAGE_NAMES.get(tag, f"message {tag!r}")
            if tag in (b"E", b"N"):
                field_start = pos + 5
                for part in stream[pos + 5:end].split(b"\0"):
                    if field_start <= offset < field_start + len(part) + 1 and part:
                        code = chr(part[0])
                        return f"{name} {ERROR_FIELDS.get(code, code)} field"
                    field_start += len(part) + 1
            return name
        pos = end
    return f"byte {offset}"


def build_needles(extra: list[tuple[str, str, str]]) -> Needles:
    needles = Needles()
    for secret in SECRETS:
        raw = secret.value.encode()
        needles.add_text(secret.label, "text", secret.value)
        for fragment in secret.fragments:
            needles.add_text(secret.label, f"fragment {fragment!r}", fragment)
        needles.add_text(secret.label, "hex", raw.hex())
        needles.add_text(secret.label, "reversed", secret.value[::-1])
        needles.add_text(secret.label, "md5", hashlib.md5(raw).hexdigest())
        needles.add_text(secret.label, "sha256", hashlib.sha256(raw).hexdigest())
        whole = len(raw) // 3 * 3  # base64 of the complete 3-byte groups does not depend on what follows
        needles.exact.append((secret.label, "base64", base64.b64encode(raw[:whole])))
    for label, form, value in extra:
        needles.add_text(label, form, value)
    needles.exact.extend(binary_needles())
    return needles


# ----------------------------------------------------------------------------------------------
# The raw wire client: records every byte it receives


def function_call_message(oid: int, args: tuple[bytes, ...], result_format: int = 0) -> bytes:
    body = struct.pack("!ihhh", oid, 1, 0, len(args))
    for arg in args:
        body += struct.pack("!i", len(arg)) + arg
    body += struct.pack("!h", result_format)
    return wire.message(b"F", body)


SYNC = wire.message(b"S")


def data_row_values(body: bytes) -> list[bytes | None]:
    (count,) = struct.unpack_from("!h", body)
    pos, values = 2, []
    for _ in range(count):
        (size,) = struct.unpack_from("!i", body, pos)
        pos += 4
        values.append(None if size < 0 else body[pos:pos + size])
        pos += max(size, 0)
    return values


@dataclass
class Result:
    messages: list[tuple[bytes, bytes]]

    @property
    def errors(self) -> list[dict[str, str]]:
        return [wire.error_fields(body) for tag, body in self.messages if tag == b"E"]

    @property
    def rows(self) -> list[list[str | None]]:
        return [[None if v is None else v.decode(errors="replace") for v in data_row_values(body)]
                for tag, body in self.messages if tag == b"D"]

    @property
    def tags(self) -> list[str]:
        return [body.rstrip(b"\0").decode() for tag, body in self.messages if tag == b"C"]

    def summary(self) -> str:
        if self.errors:
            return "; ".join(f"{e.get('S')} {e.get('C')}: {e.get('M')}" for e in self.errors)
        return f"success {self.tags} with {len(self.rows)} row(s)"


class Session:
    """One client connection; `received` holds every byte read from pgmask, in order."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_SECONDS)
        self.sock.settimeout(READ_TIMEOUT_SECONDS)
        self.received = bytearray()
        self._buffer = bytearray()
        self.status = b"I"

    def close(self) -> None:
        try:
            self.sock.sendall(wire.message(b"X"))
        except OSError:
            pass
        self.sock.close()

    def send(self, *messages: bytes) -> None:
        self.sock.sendall(b"".join(messages))

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as e:
                raise wire.ConnectionClosed("connection reset") from e
            if not chunk:
                raise wire.ConnectionClosed(f"EOF with {len(self._buffer)} of {n} bytes buffered")
            self.received += chunk
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read(self) -> tuple[bytes, bytes]:
        header = self._take(5)
        tag, length = header[:1], struct.unpack("!i", header[1:])[0]
        assert 4 <= length <= 1 << 30, f"message {tag!r} with bad length {length}"
        return tag, self._take(length - 4)

    def startup(self, user: str, **params: str) -> Result:
        """Startup and trust authentication; stops at ReadyForQuery or at an ErrorResponse."""
        self.send(wire.startup_message(user, DB, **params))
        messages = []
        while True:
            tag, body = self.read()
            messages.append((tag, body))
            if tag == b"R":
                code = struct.unpack("!i", body[:4])[0]
                assert code == wire.AUTH_OK, f"unexpected authentication request {code} (the suite uses trust)"
            elif tag == b"E":
                return Result(messages)
            elif tag == b"Z":
                self.status = body[:1]
                return Result(messages)

    def until_ready(self) -> Result:
        messages = []
        while True:
            tag, body = self.read()
            messages.append((tag, body))
            if tag == b"G":  # COPY FROM STDIN: the suite never sends data
                self.send(wire.message(b"f", cstr("adversarial suite sends no COPY data")))
            elif tag == b"Z":
                self.status = body[:1]
                return Result(messages)

    def exchange(self, *messages: bytes) -> Result:
        self.send(*messages)
        return self.until_ready()

    def query(self, sql: str) -> Result:
        return self.exchange(wire.query_message(sql))


# ----------------------------------------------------------------------------------------------
# Cases

OK, REFUSED, INFER, SAFE = "ok", "refused", "infer", "safe"


class Context:
    """What steps need at run time: the upstream port (dblink), function OIDs (FunctionCall)."""

    def __init__(self, pg_port: int, oids: dict[str, int]):
        self.pg_port = pg_port
        self.oids = oids

    def fill(self, sql: str) -> str:
        return sql.replace("{PGPORT}", str(self.pg_port))


DIRECT = "direct"  # rows: the same as the superuser gets directly from Postgres


@dataclass
class Step:
    label: str
    send: Callable[[Session, Context], Result]
    expect: str = SAFE
    names: tuple[str, ...] = ()
    rows: list[list[str | None]] | str | None = None
    sql: str | None = None  # for rows=DIRECT
    check: Callable[[Result], str | None] | None = None


def Q(sql: str, expect: str = SAFE, names: tuple[str, ...] = (), rows=None, check=None) -> Step:
    """A simple Query message."""
    return Step(sql[:100], lambda s, c: s.query(c.fill(sql)), expect, names, rows, sql, check)


def I(sql: str, *names: str) -> Step:
    """A statement that uses protected columns in a condition: refused under inference: deny."""
    return Q(sql, INFER, names)


def X(sql: str, params: tuple[str | None, ...] = (), *, fmt: int = 0, expect: str = SAFE,
      names: tuple[str, ...] = (), describe: bool = True, rows=None, check=None) -> Step:
    """Parse/Bind/(Describe portal)/Execute/Sync on the unnamed statement and portal."""
    def send(s: Session, c: Context) -> Result:
        messages = [parse_message("", c.fill(sql)), bind_message("", "", params, (fmt,))]
        if describe:
            messages.append(describe_message(b"P", ""))
        return s.exchange(*messages, execute_message(""), SYNC)
    label = f"extended{' binary' if fmt else ''}{'' if describe else ' no-describe'}: {sql[:80]}"
    return Step(label, send, expect, names, rows, sql, check)


def RAW(label: str, build: Callable[[Context], list[bytes]], expect: str = SAFE) -> Step:
    """Protocol messages built at run time, up to ReadyForQuery."""
    return Step(label, lambda s, c: s.exchange(*build(c)), expect)


def DIRECT_AS(role: str, *sql: str) -> Step:
    """Statements straight to PostgreSQL as `role`, in autocommit: another session of the role
    that pgmask does not see. What they return does not reach the case's client."""
    def send(s: Session, c: Context) -> Result:
        with psycopg.connect(host="127.0.0.1", port=c.pg_port, user=role, dbname=DB, autocommit=True,
                             connect_timeout=10) as conn:
            for statement in sql:
                conn.execute(statement)
        return Result([])
    return Step(f"direct as {role}: {' ; '.join(sql)[:80]}", send, OK)


def FN(label: str, oid_key: str, args: tuple[bytes, ...]) -> Step:
    """A FunctionCall message: refused for restricted roles, whatever the function."""
    return Step(label, lambda s, c: s.exchange(function_call_message(c.oids[oid_key], args)), REFUSED)


@dataclass
class Case:
    id: str
    role: str
    steps: list[Step]
    startup: dict[str, str] = field(default_factory=dict)
    cleanup_sql: tuple[str, ...] = ()
    cleanup_files: tuple[str, ...] = ()
    refuse_startup: bool = False  # the startup itself must be answered with 42501


def case(id: str, role: str, *steps: Step | str, **kwargs) -> Case:
    return Case(id, role, [Q(s) if isinstance(s, str) else s for s in steps], **kwargs)


def one(id: str, role: str, sql: str, expect: str = SAFE, **kwargs) -> Case:
    return Case(id, role, [Q(sql, expect)], **kwargs)


def in_transaction(*steps: Step) -> list[Step]:
    return [Q("BEGIN", OK), *steps, Q("ROLLBACK")]


A, AN, SU, CL, MS = "auditor", "analyst", "support", "clerk", "masked_super"
W = "WHERE id = 90001"

# Under standard_conforming_strings = on (what pgmask's parser assumes) this is one harmless
# string literal; under off it is the string a' followed by upper(ssn) and a comment.
SCS_TRICK = r"SELECT 'a\'', upper(ssn) FROM patients WHERE id = 90001 --'"

LINEAGE = [
    # direct references: each gets the column's own action
    one("lineage/direct-columns", A, f"SELECT id, name, ssn, email, phone, dob, address FROM patients {W}", OK),
    one("lineage/alias", A, f"SELECT ssn AS harmless, email AS id FROM patients {W}", OK),
    one("lineage/table-command", A, "TABLE patients", OK),
    # expressions: a derived value gets a full redaction
    one("lineage/upper", A, f"SELECT upper(ssn), lower(email), initcap(name) FROM patients {W}", OK),
    one("lineage/concat", A, f"SELECT ssn || '' AS s, '' || email AS e, concat(name, '') AS n FROM patients {W}", OK),
    one("lineage/format", A, f"SELECT format('%s|%s', name, address) FROM patients {W}", OK),
    one("lineage/substr", A, f"SELECT substr(email, 1, 100), substring(email FROM 2 FOR 5) FROM patients {W}", OK),
    # A function that searches the value for a pattern, characters or a delimiter compares them
    # (its run time shows a match: replace(lpad(x, 4000000, x), '9', repeat('x', 64))).
    case("lineage/substr-split", A, I(f"SELECT substr(email, 1, 100), split_part(email, '@', 1), split_part(email, '@', 2) FROM patients {W}", "email")),
    one("lineage/reverse", A, f"SELECT reverse(ssn), reverse(name) FROM patients {W}", OK),
    case("lineage/replace-translate", A, I(f"SELECT replace(ssn, '-', ''), translate(phone, '-+', '') FROM patients {W}", "ssn", "phone")),
    one("lineage/hex-base64", A, f"SELECT encode(convert_to(ssn, 'UTF8'), 'hex'), encode(convert_to(email, 'UTF8'), 'base64') FROM patients {W}", OK),
    one("lineage/hashes", A, f"SELECT md5(ssn), sha256(convert_to(email, 'UTF8')), hashtext(ssn) FROM patients {W}", OK),
    # text to bytea reads backslash escapes: a value with a stray backslash fails.
    one("lineage/bytea-cast", A, f"SELECT ssn::bytea, name::bytea FROM patients {W}", REFUSED),
    one("lineage/array-constructor", A, f"SELECT ARRAY[ssn, email], ARRAY[address] FROM patients {W}", OK),
    case("lineage/string-to-array", A, I(f"SELECT ARRAY[ssn, email], string_to_array(address, ' ') FROM patients {W}", "address")),
    one("lineage/quote-functions", A, f"SELECT quote_literal(ssn), quote_ident(name), quote_nullable(email) FROM patients {W}", OK),
    case("lineage/regexp", A, I("SELECT regexp_replace(diagnosis, '^X', 'Y'), (regexp_match(notes, '[a-z]+-[0-9]+-[a-z]+'))[1] FROM visits WHERE id = 90001", "diagnosis", "notes")),
    one("lineage/collate", A, f"SELECT upper(ssn COLLATE \"C\") FROM patients {W}", OK),
    one("lineage/operator-syntax", A, f"SELECT ssn OPERATOR(pg_catalog.||) '' FROM patients {W}", OK),
    # subqueries
    one("lineage/subquery-from", A, f"SELECT s.x FROM (SELECT upper(ssn) AS x FROM patients {W}) AS s", OK),
    one("lineage/subquery-scalar", A, f"SELECT (SELECT email FROM patients {W}) AS e", OK),
    one("lineage/subquery-scalar-expression", A, f"SELECT (SELECT lower(email) FROM patients {W}) || '' AS e", OK),
    one("lineage/subquery-nested", A, f"SELECT a.z FROM (SELECT y AS z FROM (SELECT name || '' AS y FROM patients {W}) b) a", OK),
    one("lineage/values-subquery", A, f"VALUES ((SELECT ssn FROM patients {W})), ('x')", OK),
    one("lineage/array-subquery", A, "SELECT ARRAY(SELECT diagnosis FROM visits WHERE patient_id = 90001 ORDER BY id LIMIT 2)", OK),
    # CTEs
    one("lineage/cte", A, f"WITH c AS (SELECT upper(email) AS e FROM patients {W}) SELECT e FROM c", OK),
    one("lineage/cte-materialized", A, f"WITH c AS MATERIALIZED (SELECT ssn AS s FROM patients {W}) SELECT s || '' FROM c", OK),
    one("lineage/cte-chain", A, f"WITH a AS (SELECT name AS n FROM patients {W}), b AS (SELECT n || '!' AS m FROM a) SELECT m FROM b", OK),
    one("lineage/cte-recursive", A, f"WITH RECURSIVE r(s, n) AS (SELECT ssn, 1 FROM patients {W} UNION ALL SELECT s, n + 1 FROM r WHERE n < 3) SELECT s, n FROM r", OK),
    one("lineage/cte-recursive-term-only", A, f"WITH RECURSIVE r(s, n) AS (SELECT 'seed'::text, 1 UNION ALL SELECT (SELECT email FROM patients {W}), n + 1 FROM r WHERE n < 2) SELECT s FROM r", OK),
    one("lineage/cte-recursive-derived", A, f"WITH RECURSIVE r(s, n) AS (SELECT address, 1 FROM patients {W} UNION ALL SELECT upper(s), n + 1 FROM r WHERE n < 2) SELECT lower(s) FROM r", OK),
    # set operations: every branch counts
    one("lineage/union-all-second-branch", A, f"SELECT 'x'::text AS v UNION ALL SELECT ssn FROM patients {W}", OK),
    one("lineage/union-all-third-branch", A, "SELECT 'a'::text UNION ALL SELECT 'b' UNION ALL SELECT diagnosis FROM visits WHERE id = 90001", OK),
    one("lineage/union-parenthesized", A, f"(SELECT 'x'::text) UNION ALL ((SELECT name FROM patients {W}))", OK),
    one("lineage/union-derived", A, f"SELECT 1 AS k, 'x'::text AS v UNION SELECT 2, upper(email) FROM patients {W}"),
    one("lineage/intersect", A, f"SELECT ssn FROM patients {W} INTERSECT SELECT ssn FROM patients"),
    one("lineage/except", A, f"SELECT email FROM patients {W} EXCEPT SELECT 'nobody@example.com'"),
    # LATERAL
    one("lineage/lateral", A, "SELECT l.x FROM patients p, LATERAL (SELECT p.ssn AS x) l WHERE p.id = 90001", OK),
    one("lineage/lateral-derived-star", A, "SELECT l.* FROM patients p CROSS JOIN LATERAL (SELECT upper(p.email), p.name || '') AS l(a, b) WHERE p.id = 90001", OK),
    one("lineage/lateral-left-join", A, "SELECT l.d FROM patients p LEFT JOIN LATERAL (SELECT v.diagnosis || '' AS d FROM visits v WHERE v.patient_id = p.id ORDER BY v.id LIMIT 1) l ON true WHERE p.id = 90001", OK),
    # A set-returning function's row count depends on its argument: a condition on it.
    case("lineage/lateral-function", A, I("SELECT u FROM patients p, LATERAL unnest(ARRAY[p.ssn, p.email]) AS u WHERE p.id = 90001", "ssn")),
    # *, t.* and whole rows
    one("lineage/star", A, f"SELECT * FROM patients {W}", OK),
    one("lineage/star-over-derived-subquery", A, f"SELECT * FROM (SELECT upper(ssn), lower(email) FROM patients {W}) s", OK),
    one("lineage/table-star", A, "SELECT p.* FROM patients p WHERE p.id = 90001", OK),
    one("lineage/table-star-join", A, "SELECT v.*, p.* FROM visits v JOIN patients p ON p.id = v.patient_id WHERE v.id = 90001", OK),
    one("lineage/whole-row", A, "SELECT p FROM patients p WHERE p.id = 90001", OK),
    one("lineage/whole-row-text", A, "SELECT p::text, (p.*)::text FROM patients p WHERE p.id = 90001", OK),
    one("lineage/whole-row-field", A, "SELECT (p).ssn, (p).email FROM patients p WHERE p.id = 90001", OK),
    one("lineage/whole-row-by-table-name", A, f"SELECT patients FROM patients {W}", OK),
    one("lineage/row-to-json", A, "SELECT row_to_json(p) FROM patients p WHERE p.id = 90001", OK),
    one("lineage/to-jsonb-row", A, "SELECT to_jsonb(v) FROM visits v WHERE v.id = 90001", OK),
    one("lineage/hstore-row", A, "SELECT hstore(p)::text FROM patients p WHERE p.id = 90001"),
    # row / JSON / XML constructors
    one("lineage/row-constructor", A, "SELECT ROW(ssn, email), ROW(p.*) FROM patients p WHERE p.id = 90001", OK),
    one("lineage/json-build", A, f"SELECT json_build_object('s', ssn, 'e', email), jsonb_build_array(name, address) FROM patients {W}", OK),
    one("lineage/json-object", A, f"SELECT json_object(ARRAY['k', ssn]) FROM patients {W}", REFUSED),  # a NULL key fails
    one("lineage/to-json-scalar", A, f"SELECT to_json(ssn), to_jsonb(dob) FROM patients {W}", OK),
    one("lineage/jsonb-path", A, "SELECT jsonb_path_query(to_jsonb(p), '$.ssn') FROM patients p WHERE p.id = 90001", REFUSED),  # a path can do arithmetic on the value
    one("lineage/jsonb-each-from", A, "SELECT * FROM jsonb_each_text((SELECT to_jsonb(p) FROM patients p WHERE p.id = 90001))", REFUSED),  # fails on a non-object
    one("lineage/xml-element-forest", A, f"SELECT xmlelement(name s, ssn), xmlforest(email, name) FROM patients {W}", OK),
    one("lineage/xml-concat", A, f"SELECT xmlconcat(xmlelement(name a, address), xmlelement(name b, name)) FROM patients {W}", OK),
    one("lineage/xml-comment", A, f"SELECT xmlcomment(name) FROM patients {W}", REFUSED),  # fails on a value with "--"
    # aggregates
    one("lineage/string-agg", A, "SELECT string_agg(ssn, ',') FROM patients WHERE id IN (1, 90001)", OK),
    one("lineage/array-agg", A, "SELECT array_agg(email) FROM patients WHERE id IN (1, 90001)", OK),
    one("lineage/json-agg", A, "SELECT json_agg(diagnosis), jsonb_agg(notes) FROM visits WHERE id IN (90001, 90002)", OK),
    one("lineage/json-agg-row", A, "SELECT json_agg(p) FROM patients p WHERE p.id = 90001", OK),
    one("lineage/json-object-agg", A, f"SELECT json_object_agg(id, ssn) FROM patients {W}", OK),
    one("lineage/xml-agg", A, "SELECT xmlagg(xmlelement(name d, diagnosis)) FROM visits WHERE id IN (90001, 90002)", OK),
    one("lineage/string-agg-whole-table", A, "SELECT string_agg(name, ',') FROM patients", OK),
    one("lineage/agg-filter-on-unprotected", A, "SELECT string_agg(address, ';') FILTER (WHERE id = 90001) FROM patients", OK),
    one("lineage/min-max", A, f"SELECT min(ssn), max(email) FROM patients {W}"),
    # window functions
    one("lineage/window-first-value", A, f"SELECT first_value(ssn) OVER () FROM patients {W}", OK),
    one("lineage/window-lag", A, "SELECT lag(diagnosis) OVER (ORDER BY id) FROM visits WHERE id IN (90001, 90002)", OK),
    one("lineage/window-string-agg", A, f"SELECT string_agg(email, ',') OVER (PARTITION BY id) FROM patients {W}", OK),
    one("lineage/window-named", A, f"SELECT nth_value(name, 1) OVER w FROM patients {W} WINDOW w AS (ORDER BY id)", OK),
    # casts
    one("lineage/cast-text-types", A, f"SELECT ssn::varchar(20), CAST(email AS char(60)), name::name FROM patients {W}", OK),
    one("lineage/cast-date", A, f"SELECT dob::text, to_char(dob, 'YYYYMMDD'), to_char(dob, 'J'), date_trunc('month', dob) FROM patients {W}", OK),
    one("lineage/cast-date-to-timestamp", A, f"SELECT dob::timestamp FROM patients {W}", REFUSED),
    one("lineage/cast-date-arithmetic", A, f"SELECT dob + 0, dob - date '2000-01-01' FROM patients {W}", REFUSED),
    one("lineage/cast-timestamptz", A, "SELECT visited_at::text, visited_at AT TIME ZONE 'UTC', extract(epoch FROM visited_at) FROM visits WHERE id = 90001", OK),
    one("lineage/cast-numeric", A, "SELECT amount::text, to_char(amount, '999999D99') FROM payments WHERE id = 90001", OK),
    one("lineage/cast-numeric-to-int", A, "SELECT amount::float8, (amount * 100)::int, to_hex((amount * 100)::int) FROM payments WHERE id = 90001", REFUSED),
    # CASE / COALESCE
    one("lineage/case-then", A, f"SELECT CASE WHEN id > 0 THEN ssn ELSE 'none' END FROM patients {W}", OK),
    one("lineage/case-else", A, f"SELECT CASE WHEN id < 0 THEN 'none' ELSE email END FROM patients {W}", OK),
    one("lineage/coalesce", A, f"SELECT COALESCE(ssn, 'none'), COALESCE(NULL, name) FROM patients {W}"),
    one("lineage/greatest", A, f"SELECT GREATEST(email, '') FROM patients {W}"),
    # set-returning functions and FROM-clause functions
    case("lineage/srf-unnest", A, I(f"SELECT unnest(ARRAY[ssn, email]) FROM patients {W}", "ssn")),
    case("lineage/srf-regexp-split", A, I(f"SELECT regexp_split_to_table(address, ',') FROM patients {W}", "address")),
    case("lineage/from-unnest-subquery", A, I(f"SELECT * FROM unnest(ARRAY(SELECT ssn FROM patients {W})) AS u", "ssn")),
    case("lineage/from-rows-from", A, I(f"SELECT * FROM ROWS FROM (unnest(ARRAY(SELECT name FROM patients {W}))) AS r", "name")),
    one("lineage/join-star", A, "SELECT * FROM patients JOIN visits ON visits.patient_id = patients.id WHERE visits.id = 90001", OK),
    one("lineage/values-join-lateral", A, f"SELECT v.x || '' FROM (VALUES (1)) t(k) JOIN LATERAL (SELECT ssn AS x FROM patients {W}) v ON true", OK),
    one("lineage/group-by-unprotected", A, "SELECT patient_id, string_agg(notes, '|') FROM visits WHERE id IN (90001, 90002) GROUP BY patient_id", OK),
    one("lineage/distinct-derived", A, "SELECT DISTINCT diagnosis || '' FROM visits WHERE patient_id = 90001"),
]

DENIED_CLASS = [
    one("deny/analyst-pci-direct", AN, "SELECT card_number FROM payments WHERE id = 90001", REFUSED),
    one("deny/analyst-pci-expression", AN, "SELECT upper(card_number) FROM payments WHERE id = 90001", REFUSED),
    one("deny/analyst-pci-cast", AN, "SELECT amount::text FROM payments WHERE id = 90001", REFUSED),
    one("deny/analyst-pci-whole-row", AN, "SELECT row_to_json(y) FROM payments y WHERE y.id = 90001", REFUSED),
    one("deny/analyst-pci-star", AN, "SELECT * FROM payments WHERE id = 90001", REFUSED),
    one("deny/analyst-pci-union-branch", AN, "SELECT 'x'::text UNION ALL SELECT card_number FROM payments WHERE id = 90001", REFUSED),
    one("deny/analyst-pci-cte", AN, "WITH c AS (SELECT card_number AS k FROM payments WHERE id = 90001) SELECT k FROM c", REFUSED),
    one("deny/analyst-pci-lateral", AN, "SELECT l.k FROM patients p, LATERAL (SELECT y.card_number || '' AS k FROM payments y WHERE y.patient_id = p.id) l WHERE p.id = 90001", REFUSED),
    one("deny/analyst-pci-scalar-subquery", AN, "SELECT (SELECT card_number FROM payments WHERE id = 90001)", REFUSED),
    one("deny/analyst-pci-aggregate", AN, "SELECT string_agg(card_number, ',') FROM payments WHERE id = 90001", REFUSED),
    one("deny/support-phi-direct", SU, "SELECT diagnosis FROM visits WHERE id = 90001", REFUSED),
    one("deny/support-phi-json-agg", SU, "SELECT json_agg(v) FROM visits v WHERE v.id = 90001", REFUSED),
    one("deny/support-phi-matview", SU, "SELECT dx FROM mv_diagnoses WHERE id = 90001", REFUSED),
    one("deny/support-phi-partition", SU, "SELECT result FROM lab_results_2024 WHERE id = 90001", REFUSED),
    one("deny/support-phi-date-format", SU, f"SELECT to_char(dob, 'YYYYMMDD') FROM patients {W}", REFUSED),
    one("deny/support-phi-copy", SU, "COPY (SELECT notes FROM visits WHERE id = 90001) TO STDOUT", REFUSED),
]

RELATIONS = [
    one("view/direct-renamed-columns", A, "SELECT tax_id, email, full_name FROM patient_contacts WHERE id = 90001", OK),
    one("view/expression-columns", A, "SELECT loud_ssn, quiet_email FROM patient_shout WHERE id = 90001", OK),
    one("view/derived-over-view", A, "SELECT upper(tax_id) FROM patient_contacts WHERE id = 90001", OK),
    one("view/star", A, "SELECT * FROM patient_shout WHERE id = 90001", OK),
    one("view/whole-row", A, "SELECT s FROM patient_shout s WHERE s.id = 90001", OK),
    one("view/row-to-json", A, "SELECT row_to_json(c) FROM patient_contacts c WHERE c.id = 90001", OK),
    one("view/view-over-view", A, "SELECT * FROM patient_contacts_v2 WHERE id = 90001", OK),
    one("view/union-view", A, "SELECT txt FROM visit_texts WHERE id = 90001", OK),
    one("view/table-command", A, "TABLE patient_shout", OK),
    case("view/temp-view-made-by-the-role", CL,
         Q("CREATE TEMP VIEW my_view AS SELECT id, lower(email) AS e, ssn || '' AS s FROM patients"),
         Q("SELECT e, s FROM my_view WHERE id = 90001")),
    case("view/temp-view-and-use-in-one-query", CL,
         Q("CREATE TEMP VIEW my_view2 AS SELECT upper(ssn) AS u FROM patients WHERE id = 90001; SELECT u FROM my_view2")),
    one("matview/direct", A, "SELECT dx FROM mv_diagnoses WHERE id = 90001", OK),
    one("matview/expression", A, "SELECT e FROM mv_emails WHERE id = 90001", OK),
    one("matview/star", A, "SELECT * FROM mv_diagnoses WHERE id = 90001", OK),
    one("matview/whole-row", A, "SELECT to_jsonb(m) FROM mv_emails m WHERE m.id = 90001", OK),
    one("partition/leaf", A, "SELECT result FROM lab_results_2024 WHERE id = 90001", OK),
    one("partition/leaf-derived", A, "SELECT upper(result) FROM lab_results_2024 WHERE id = 90001", OK),
    one("partition/leaf-star", A, "SELECT * FROM lab_results_2024", OK),
    one("partition/leaf-whole-row", A, "SELECT l FROM lab_results_2024 l", OK),
    one("partition/parent", A, "SELECT result, upper(result) FROM lab_results WHERE id = 90001", OK),
    one("partition/second-level-leaf", A, "SELECT result FROM lab_results_2025_all WHERE id = 90002", OK),
    one("partition/second-level-parent", A, "SELECT result || '' FROM lab_results_2025", OK),
    one("inherit/child", A, "SELECT note FROM contacts_vip WHERE id = 90001", OK),
    one("inherit/child-derived", A, "SELECT note || '', tier FROM contacts_vip WHERE id = 90001", OK),
    one("inherit/child-star", A, "SELECT * FROM contacts_vip", OK),
    one("inherit/child-whole-row", A, "SELECT row_to_json(c) FROM contacts_vip c", OK),
    one("inherit/parent-scan", A, "SELECT note, upper(note) FROM contacts", OK),
    one("copy/partition-leaf", A, "COPY lab_results_2024 TO STDOUT", OK),
    one("copy/inheritance-child", A, "COPY contacts_vip TO STDOUT", OK),
    one("copy/matview-query", A, "COPY (SELECT * FROM mv_emails WHERE id = 90001) TO STDOUT", OK),
    one("copy/view-query", A, "COPY (SELECT * FROM patient_shout WHERE id = 90001) TO STDOUT", OK),
    one("copy/derived", A, "COPY (SELECT upper(ssn), row_to_json(p) FROM patients p WHERE id = 90001) TO STDOUT", OK),
    one("copy/derived-csv", A, f"COPY (SELECT email || '' FROM patients {W}) TO STDOUT WITH (FORMAT csv, HEADER)", OK),
    one("copy/derived-binary", A, f"COPY (SELECT coalesce(dob, dob), ssn || '' FROM patients {W}) TO STDOUT (FORMAT binary)", OK),
    # SJIS characters that end in the delimiter, quote or backslash byte would shift the fields of
    # data the proxy reads as UTF-8 (the SSN would land in an unmasked column).
    one("copy/encoding-sjis-csv-shifted-fields", A, f"COPY (SELECT 'ポ' AS a, ssn, 'ァ' AS b, 'ァ' AS c FROM patients {W}) TO STDOUT WITH (FORMAT csv, ENCODING 'SJIS', DELIMITER '|', QUOTE '@')", REFUSED),
    one("copy/encoding-sjis-text-backslash", A, f"COPY (SELECT '表' AS a, ssn FROM patients {W}) TO STDOUT WITH (ENCODING 'SJIS')", REFUSED),
    one("copy/encoding-old-syntax", AN, f"COPY (SELECT ssn FROM patients {W}) TO STDOUT ENCODING 'BIG5'", REFUSED),
    one("copy/derived-binary-timestamp", A, "COPY (SELECT date_trunc('second', visited_at), coalesce(amount, amount) FROM visits, payments WHERE visits.id = 90001 AND payments.id = 90001) TO STDOUT (FORMAT binary)", OK),
]

RETURNING = [
    case("returning/update-derived", CL, *in_transaction(Q(f"UPDATE patients SET id = id {W} RETURNING upper(ssn), email || ''", OK))),
    case("returning/update-star", CL, *in_transaction(Q(f"UPDATE patients SET id = id {W} RETURNING *", OK))),
    case("returning/update-whole-row", CL, *in_transaction(Q(f"UPDATE patients SET id = id {W} RETURNING patients", OK))),
    case("returning/update-row-to-json", CL, *in_transaction(Q("UPDATE patients p SET id = id WHERE p.id = 90001 RETURNING row_to_json(p)", OK))),
    case("returning/update-from-other-table", CL, *in_transaction(Q("UPDATE scratch s SET note = s.note FROM patients p WHERE p.id = 90001 AND s.id = 1 RETURNING p.ssn || '', p.name", OK))),
    case("returning/delete", CL, *in_transaction(Q("DELETE FROM visits WHERE id = 90001 RETURNING diagnosis || '', notes", OK))),
    case("returning/delete-using", CL, *in_transaction(Q("DELETE FROM scratch s USING patients p WHERE p.id = 90001 AND s.id = 1 RETURNING upper(p.email)", OK))),
    case("returning/delete-partition-leaf", CL, *in_transaction(Q("DELETE FROM lab_results_2024 WHERE id = 90001 RETURNING result || ''", OK))),
    case("returning/insert-scalar-subquery", CL, *in_transaction(Q(f"INSERT INTO scratch (note) VALUES ('x') RETURNING (SELECT upper(email) FROM patients {W})", OK))),
    case("returning/insert-whole-row-subquery", CL, *in_transaction(Q("INSERT INTO scratch (note) VALUES ('x') RETURNING (SELECT p FROM patients p WHERE p.id = 90001)::text", OK))),
    case("returning/writable-cte", CL, *in_transaction(Q(f"WITH d AS (UPDATE patients SET id = id {W} RETURNING ssn, dob) SELECT ssn || '', dob::text FROM d", OK))),
    # PostgreSQL 15 has no MERGE ... RETURNING: the parser rejects it, so it is refused (fail closed)
    case("returning/merge", CL, *in_transaction(Q(f"MERGE INTO scratch s USING (SELECT 1 AS k) src ON s.id = src.k WHEN MATCHED THEN UPDATE SET note = s.note RETURNING (SELECT ssn FROM patients {W})", REFUSED))),
]

COPYING = [
    case("copying/create-table-as", CL, Q(f"CREATE TEMP TABLE stolen AS SELECT ssn FROM patients {W}", REFUSED), Q("SELECT * FROM stolen")),
    case("copying/create-table-as-execute", CL, Q(f"PREPARE grab AS SELECT email FROM patients {W}"),
         Q("CREATE TEMP TABLE stolen_exec AS EXECUTE grab", REFUSED), Q("SELECT * FROM stolen_exec")),
    case("copying/select-into", CL, Q(f"SELECT email INTO TEMP stolen2 FROM patients {W}", REFUSED), Q("SELECT * FROM stolen2")),
    case("copying/create-materialized-view", CL, Q(f"CREATE MATERIALIZED VIEW stolen_mv AS SELECT ssn FROM patients {W}", REFUSED),
         Q("SELECT * FROM stolen_mv"), cleanup_sql=("DROP MATERIALIZED VIEW IF EXISTS stolen_mv",)),
    case("copying/insert-select", CL, *in_transaction(Q(f"INSERT INTO scratch (note) SELECT ssn FROM patients {W}", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/insert-select-derived", CL, *in_transaction(Q(f"INSERT INTO scratch (note) SELECT upper(name) FROM patients {W}", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/insert-values-subquery", CL, *in_transaction(Q(f"INSERT INTO scratch (note) VALUES ((SELECT address FROM patients {W}))", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/insert-cte", CL, *in_transaction(Q(f"WITH x AS (SELECT email FROM patients {W}) INSERT INTO scratch (note) SELECT email FROM x", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/insert-into-protected-table", CL, *in_transaction(Q(f"INSERT INTO patients (name, ssn, email, phone, dob, address) SELECT name, ssn, 'copy.' || email, phone, dob, address FROM patients {W} RETURNING id", REFUSED))),
    case("copying/update-set-subquery", CL, *in_transaction(Q("UPDATE scratch SET note = (SELECT diagnosis FROM visits WHERE id = 90001) WHERE id = 1", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/update-from", CL, *in_transaction(Q("UPDATE scratch s SET note = p.email FROM patients p WHERE p.id = 90001 AND s.id = 1", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/insert-on-conflict-update", CL, *in_transaction(Q(f"INSERT INTO scratch (id, note) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET note = (SELECT ssn FROM patients {W})", REFUSED), Q("SELECT note FROM scratch"))),
    case("copying/merge", CL, *in_transaction(Q(f"MERGE INTO scratch s USING (SELECT ssn FROM patients {W}) src ON false WHEN NOT MATCHED THEN INSERT (note) VALUES (src.ssn)", REFUSED), Q("SELECT note FROM scratch"))),
    # A write inside EXPLAIN ANALYZE, a WITH or COPY (...) TO fails quoting the whole row.
    case("errors/explain-analyze-update", CL, Q("EXPLAIN ANALYZE UPDATE patients SET id = NULL WHERE id = 90001"),
         Q("EXPLAIN ANALYZE UPDATE lab_results_2025_all SET id = NULL"), Q("EXPLAIN ANALYZE UPDATE contacts_vip SET id = NULL"),
         Q('EXPLAIN ANALYZE UPDATE "Patients" SET id = NULL'),
         Q("EXPLAIN ANALYZE MERGE INTO patients p USING (SELECT 90001 AS id) s ON p.id = s.id WHEN MATCHED THEN UPDATE SET id = NULL")),
    case("errors/write-in-with", CL, Q("WITH u AS (UPDATE visits SET patient_id = NULL WHERE id = 90001 RETURNING 1) SELECT 1"),
         Q("CREATE TABLE public.ctx_w AS WITH u AS (UPDATE visits SET patient_id = NULL WHERE id = 90001 RETURNING 1) SELECT 1 AS one"),
         X("WITH u AS (UPDATE patients SET id = NULL WHERE id = 90001 RETURNING 1) SELECT 1"),
         cleanup_sql=("DROP TABLE IF EXISTS public.ctx_w",)),
    case("errors/write-in-copy", CL,
         Q("COPY (WITH u AS (UPDATE payments SET id = NULL WHERE id = 90001 RETURNING 1) SELECT * FROM u) TO STDOUT"),
         Q("COPY (UPDATE patients SET id = NULL WHERE id = 90001 RETURNING 1) TO STDOUT")),
    # Views and policies built on a view were checked against its definition then.
    case("utility/replace-inner-view", CL, Q("CREATE VIEW public.vin_own AS SELECT id, 'x'::text AS t FROM patients"),
         Q("CREATE VIEW public.vout_own AS SELECT id FROM vin_own WHERE t::int > 0 AND id = 90001"),
         Q("CREATE VIEW public.vout_own2 AS SELECT id FROM vin_own WHERE t LIKE '919-27%'"),
         Q("CREATE OR REPLACE VIEW public.vin_own AS SELECT id, ssn AS t FROM patients", REFUSED),
         Q("SELECT id FROM vout_own"), Q("SELECT id FROM vout_own2"),
         cleanup_sql=("DROP VIEW IF EXISTS public.vout_own, public.vout_own2, public.vin_own",)),
    case("utility/replace-view-appending-a-column", CL, Q("CREATE VIEW public.w_in AS SELECT id, 'x'::text AS t FROM patients"),
         Q("CREATE VIEW public.w_cast AS SELECT v.id FROM w_in v WHERE (v::text)::int > 0 AND v.id = 90001"),
         Q("CREATE VIEW public.w_like AS SELECT v.id FROM w_in v WHERE v::text LIKE '%919-27%'"),
         Q("CREATE OR REPLACE VIEW public.w_in AS SELECT id, 'x'::text AS t, ssn AS u FROM patients", REFUSED),
         Q("SELECT * FROM w_cast"), Q("SELECT * FROM w_like"),
         cleanup_sql=("DROP VIEW IF EXISTS public.w_cast, public.w_like, public.w_in",)),
    # A temporary view is found before every relation of its name, and pgmask cannot see it.
    case("refuse/temporary-view-shadowing", SU,
         Q("CREATE TEMP VIEW pg_roles AS SELECT notes AS rolname, diagnosis AS x FROM visits WHERE id = 90001", REFUSED),
         Q("SELECT * FROM pg_roles"),
         Q("CREATE TEMP VIEW scratch AS SELECT id, ssn || '' AS note FROM patients WHERE id = 90001", REFUSED),
         Q("SELECT note FROM scratch")),
    case("refuse/view-over-a-temporary-table", A, Q("CREATE TEMP TABLE tt_base (id int)"), Q("INSERT INTO tt_base VALUES (1)"),
         # pgmask answers as for a relation it cannot see: 42P01, naming the temporary table.
         Q("CREATE VIEW scratch AS SELECT p.id, p.ssn || '' AS note FROM patients p, tt_base WHERE p.id = 90001",
           check=lambda r: None if [e.get("C") for e in r.errors] == ["42P01"] else f"expected 42P01, got {r.summary()}"),
         Q("SELECT note FROM scratch")),
    # Operators, aggregates and casts put functions under names pgmask takes for built-in or
    # trusted ones.
    case("refuse/create-operator", A, Q("CREATE OPERATOR pg_temp.#@ (RIGHTARG = text, FUNCTION = pg_catalog.ts_stat)", REFUSED),
         Q("SELECT (OPERATOR(pg_temp.#@) 'SELECT array_to_tsvector(ARRAY[ssn, email, name, address, phone, dob::text]) "
           "FROM patients WHERE id = 90001').word", REFUSED),
         Q("CREATE OPERATOR pg_temp.@ (RIGHTARG = int, FUNCTION = public.peek_ssn)", REFUSED),
         Q("SELECT OPERATOR(pg_temp.@) 90001", REFUSED)),
    case("refuse/create-operator-overloading-a-symbol", CL,
         Q("CREATE OPERATOR public.-> (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_catalog.pg_notify)", REFUSED),
         Q("LISTEN chan"), Q(f"SELECT 'chan' -> email FROM patients {W}"), Q("UNLISTEN chan"),
         cleanup_sql=("DROP OPERATOR IF EXISTS public.-> (text, text)",)),
    case("refuse/create-aggregate-with-a-trusted-name", CL,
         Q("CREATE AGGREGATE public.noisy_note(text, boolean) (sfunc = pg_catalog.set_config, stype = text, "
           "initcond = 'x.leak2')", REFUSED),
         Q(f"SELECT noisy_note(email, false) FROM patients {W}"), Q("SHOW x.leak2"),
         cleanup_sql=("DROP AGGREGATE IF EXISTS public.noisy_note(text, boolean)",)),
    case("refuse/create-cast-and-extension", CL, Q("CREATE CAST (int4 AS text) WITH FUNCTION public.peek_ssn(int)", REFUSED),
         Q("CREATE EXTENSION IF NOT EXISTS citext", REFUSED), cleanup_sql=("DROP EXTENSION IF EXISTS citext",)),
    case("refuse/range-with-a-multirange-named-text", A,
         Q("CREATE TYPE pg_temp.rr AS RANGE (subtype = int8, multirange_type_name = pg_temp.text)", REFUSED)),
    # Indexes and statistics a role creates on its own materialized view run over every row.
    case("utility/matview-index-and-statistics", CL,
         Q("CREATE MATERIALIZED VIEW mi_own AS SELECT v.id, v.notes, v.diagnosis FROM visits v WHERE v.id = 90001 WITH NO DATA", OK),
         Q("REFRESH MATERIALIZED VIEW mi_own", REFUSED),
         Q("CREATE UNIQUE INDEX ON mi_own (notes)", REFUSED), Q("CREATE INDEX ON mi_own ((diagnosis::int))", REFUSED),
         I("CREATE INDEX ON mi_own (id) WHERE notes LIKE 'Conf%'", "notes"),
         Q("CREATE STATISTICS mi_own_st ON (notes::int), id FROM mi_own", REFUSED), Q("ANALYZE mi_own"),
         cleanup_sql=("DROP MATERIALIZED VIEW IF EXISTS mi_own",)),
    # A subscript of an assignment target chooses where the value goes: a jsonb key or an array
    # position stored from a protected value is a copy of it.
    case("copying/update-jsonb-subscript", CL, *in_transaction(Q("CREATE TABLE j_scratch (j jsonb)", OK), Q("INSERT INTO j_scratch VALUES ('{}')", OK),
                                                             Q(f"UPDATE j_scratch SET j[(SELECT ssn FROM patients {W})] = '1'", REFUSED), Q("SELECT j::text FROM j_scratch"))),
    case("copying/insert-array-subscript", CL, *in_transaction(Q("CREATE TABLE a_scratch (id int, a int[])", OK),
                                                             Q(f"INSERT INTO a_scratch (id, a[ascii(substr((SELECT ssn FROM patients {W}), 1, 1))]) VALUES (1, 1)", REFUSED),
                                                             Q("SELECT array_lower(a, 1)::text FROM a_scratch"))),
    case("copying/merge-update-subscript", CL, *in_transaction(Q("CREATE TABLE j_scratch (id int, j jsonb)", OK), Q("INSERT INTO j_scratch VALUES (1, '{}')", OK),
                                                             Q(f"MERGE INTO j_scratch t USING (SELECT 1 AS k) s ON t.id = s.k WHEN MATCHED THEN UPDATE SET j[(SELECT email FROM patients {W})] = '1'", REFUSED),
                                                             Q("SELECT j::text FROM j_scratch"))),
]

QUERY_TO_XML_SQL_HEX = f"SELECT ssn FROM patients {W}".encode().hex()

REFUSALS = [
    # functions that run SQL text
    one("refuse/query-to-xml", A, f"SELECT query_to_xml('SELECT ssn FROM patients {W}', true, false, '')", REFUSED),
    one("refuse/query-to-xml-qualified", A, f"SELECT pg_catalog.query_to_xml('SELECT email FROM patients {W}', false, false, '')", REFUSED),
    one("refuse/query-to-xml-quoted", A, f"SELECT \"query_to_xml\"('SELECT name FROM patients {W}', true, false, '')", REFUSED),
    one("refuse/query-to-xml-unicode-escaped", A, r"SELECT U&" + '"query\\005fto\\005fxml"' + f"('SELECT address FROM patients {W}', true, false, '')", REFUSED),
    one("refuse/query-to-xml-computed-sql", A, f"SELECT query_to_xml(convert_from(decode('{QUERY_TO_XML_SQL_HEX}', 'hex'), 'UTF8'), true, false, '')", REFUSED),
    one("refuse/query-to-xml-in-from", A, f"SELECT * FROM xpath('//ssn/text()', query_to_xml('SELECT ssn FROM patients {W}', true, false, '')) AS x", REFUSED),
    one("refuse/query-to-xml-and-xmlschema", A, f"SELECT query_to_xml_and_xmlschema('SELECT phone FROM patients {W}', true, false, '')", REFUSED),
    one("refuse/table-to-xml", A, "SELECT table_to_xml('public.patients'::regclass, true, false, '')", REFUSED),
    one("refuse/table-to-xml-view", A, "SELECT table_to_xml('patient_shout', true, false, '')", REFUSED),
    case("refuse/cursor-to-xml", A, *in_transaction(Q(f"DECLARE xc CURSOR FOR SELECT ssn FROM patients {W}"),
                                                      Q("SELECT cursor_to_xml('xc', 10, true, false, '')", REFUSED))),
    one("refuse/schema-to-xml", A, "SELECT schema_to_xml('public', true, false, '')", REFUSED),
    one("refuse/database-to-xml", A, "SELECT database_to_xml(true, false, '')", REFUSED),
    # files and programs (clerk holds the privileges, so Postgres alone would allow them)
    one("refuse/pg-read-file", CL, "SELECT pg_read_file('/etc/hostname')", REFUSED),
    one("refuse/pg-read-file-data-directory", CL, "SELECT pg_read_file('postgresql.conf')", REFUSED),
    one("refuse/pg-read-binary-file", CL, "SELECT pg_read_binary_file('/etc/hostname')", REFUSED),
    one("refuse/pg-ls-dir", CL, "SELECT pg_ls_dir('.')", REFUSED),
    one("refuse/pg-stat-file", CL, "SELECT pg_stat_file('postgresql.conf')", REFUSED),
    case("refuse/copy-to-file-and-read-back", CL,
         Q(f"COPY (SELECT ssn FROM patients {W}) TO '/tmp/pgmask-adversarial-ssn.txt'", REFUSED),
         Q("SELECT pg_read_file('/tmp/pgmask-adversarial-ssn.txt')", REFUSED),
         cleanup_files=("/tmp/pgmask-adversarial-ssn.txt",)),
    case("refuse/copy-from-file", CL, *in_transaction(Q("COPY scratch (note) FROM '/etc/hostname'", REFUSED))),
    # Types are looked up in pg_temp before pg_catalog: a domain named like a safe cast target
    # turns that cast into a yes/no test, and would take over pgmask's own catalog query.
    case("refuse/shadowing-temp-domain", A, Q("CREATE DOMAIN pg_temp.name AS pg_catalog.text CHECK (value !~ '^9')", REFUSED),
         Q(f"SELECT ssn::name FROM patients {W}")),
    case("refuse/shadowing-temp-text", A, Q("CREATE DOMAIN pg_temp.text AS pg_catalog.varchar(3)", REFUSED),
         Q("CREATE TABLE pg_temp.t (x int)"), Q(f"SELECT ssn, upper(email) FROM patients {W}", OK)),
    one("refuse/copy-to-program", CL, "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'", REFUSED),
    case("refuse/copy-from-program", CL, *in_transaction(Q("COPY scratch (note) FROM PROGRAM 'echo hello'", REFUSED))),
    # large objects
    one("refuse/lo-roundtrip", A, f"SELECT lo_from_bytea(424201, convert_to(ssn, 'UTF8')) FROM patients {W}; SELECT lo_get(424201)", REFUSED),
    case("refuse/lo-from-bytea-then-read", A,
         Q(f"SELECT lo_from_bytea(0, convert_to(email, 'UTF8')) FROM patients {W}", REFUSED),
         Q("SELECT lo_get(oid) FROM pg_largeobject_metadata WHERE lomowner = current_user::regrole", REFUSED)),
    one("refuse/lo-create", A, "SELECT lo_create(0)", REFUSED),
    case("refuse/loread", A, *in_transaction(Q("SELECT loread(lo_open(0, 262144), 100)", REFUSED))),
    one("refuse/lo-import", CL, "SELECT lo_import('/etc/hostname')", REFUSED),
    one("refuse/lo-export", CL, "SELECT lo_export(0, '/tmp/pgmask-adversarial-lo')", REFUSED,
        cleanup_files=("/tmp/pgmask-adversarial-lo",)),
    # dblink (installed; masked_super needs no password for it)
    one("refuse/dblink", MS, f"SELECT * FROM dblink('host=127.0.0.1 port={{PGPORT}} dbname={DB} user=app_backend', 'SELECT ssn FROM patients {W}') AS t(s text)", REFUSED),
    one("refuse/dblink-connect", MS, f"SELECT dblink_connect('leak', 'host=127.0.0.1 port={{PGPORT}} dbname={DB} user=app_backend')", REFUSED),
    one("refuse/dblink-exec", MS, f"SELECT dblink_exec('host=127.0.0.1 port={{PGPORT}} dbname={DB} user=app_backend', 'CREATE TEMP TABLE dblink_probe (x int)')", REFUSED),
    # user-defined functions that are not trusted
    one("refuse/udf", A, "SELECT public.peek_ssn(90001)", REFUSED),
    one("refuse/udf-unqualified", A, "SELECT peek_ssn(90001)", REFUSED),
    one("refuse/udf-quoted", A, 'SELECT "peek_ssn"(90001)', REFUSED),
    one("refuse/udf-in-from", A, "SELECT * FROM peek_ssn(90001) AS t(s)", REFUSED),
    one("refuse/udf-in-where", A, "SELECT 1 WHERE peek_ssn(90001) IS NOT NULL", REFUSED),
    one("refuse/udf-behind-operator", A, "SELECT 90001 OPERATOR(public.###) 0", REFUSED),
    # DO blocks, CREATE FUNCTION / PROCEDURE
    one("refuse/do-notice", CL, f"DO $$BEGIN RAISE NOTICE '%', (SELECT ssn FROM patients {W}); END$$", REFUSED),
    one("refuse/do-harmless", CL, "DO $$BEGIN PERFORM 1; END$$", REFUSED),
    one("refuse/do-language-exception", CL, f"DO LANGUAGE plpgsql 'BEGIN RAISE EXCEPTION ''%'', (SELECT email FROM patients {W}); END'", REFUSED),
    case("refuse/create-function-sql", CL,
         Q(f"CREATE FUNCTION pg_temp.leak() RETURNS text LANGUAGE sql AS $$SELECT ssn FROM patients {W}$$", REFUSED),
         Q("SELECT pg_temp.leak()")),
    case("refuse/create-function-sql-body", CL,
         Q(f"CREATE FUNCTION pg_temp.leak2() RETURNS text BEGIN ATOMIC SELECT email FROM patients {W}; END", REFUSED),
         Q("SELECT pg_temp.leak2()")),
    case("refuse/create-function-plpgsql", CL,
         Q(f"CREATE OR REPLACE FUNCTION public.leak_notice() RETURNS void LANGUAGE plpgsql AS $f$BEGIN RAISE NOTICE '%', (SELECT name FROM patients {W}); END$f$", REFUSED),
         Q("SELECT public.leak_notice()"), cleanup_sql=("DROP FUNCTION IF EXISTS public.leak_notice()",)),
    case("refuse/create-procedure", CL,
         Q(f"CREATE PROCEDURE public.leak_proc() LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE '%', (SELECT address FROM patients {W}); END$$", REFUSED),
         Q("CALL public.leak_proc()"), cleanup_sql=("DROP PROCEDURE IF EXISTS public.leak_proc()",)),
    # the FunctionCall protocol message
    case("refuse/function-call-udf", A, FN("FunctionCall peek_ssn(90001)", "peek_ssn", (b"90001",))),
    case("refuse/function-call-builtin", A, FN("FunctionCall int4pl(1, 2)", "int4pl", (b"1", b"2"))),
    case("refuse/function-call-large-object", A, FN("FunctionCall lo_create(0)", "lo_create", (b"0",))),
    # catalog views with column statistics or other sessions' query text
    one("refuse/pg-stats-histogram", A, "SELECT histogram_bounds::text FROM pg_stats WHERE tablename = 'patients' AND attname = 'ssn'", REFUSED),
    one("refuse/pg-stats-most-common", A, "SELECT most_common_vals::text FROM pg_catalog.pg_stats WHERE tablename = 'visits'", REFUSED),
    one("refuse/pg-stats-star", AN, "SELECT * FROM pg_stats WHERE schemaname = 'public'", REFUSED),
    one("refuse/pg-stats-quoted", A, "SELECT \"histogram_bounds\" FROM \"pg_catalog\".\"pg_stats\" WHERE attname = 'email'", REFUSED),
    one("refuse/pg-stats-ext", A, "SELECT * FROM pg_stats_ext", REFUSED),
    case("refuse/pg-stats-through-temp-view", A,
         Q("CREATE TEMP VIEW my_stats AS SELECT attname, histogram_bounds::text AS h FROM pg_stats WHERE tablename = 'patients'"),
         Q("SELECT h FROM my_stats")),
    one("refuse/pg-statistic", MS, "SELECT s.stavalues1::text, s.stavalues2::text FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid WHERE c.relname = 'patients'", REFUSED),
    one("refuse/pg-stat-activity", CL, "SELECT query FROM pg_stat_activity", REFUSED),
    one("refuse/pg-stat-activity-star", CL, "SELECT * FROM pg_catalog.pg_stat_activity", REFUSED),
    one("refuse/pg-stat-get-activity", CL, "SELECT query FROM pg_stat_get_activity(NULL)", REFUSED),
    one("refuse/pg-stat-get-backend-activity", CL, "SELECT pg_stat_get_backend_activity(b) FROM pg_stat_get_backend_idset() AS b", REFUSED),
]

SETTINGS = [
    case("settings/scs-off", A, Q("SET standard_conforming_strings = off", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-set-to-quoted", A, Q("SET standard_conforming_strings TO 'off'", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-session-false", A, Q("SET SESSION standard_conforming_strings = false", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-quoted-name", A, Q('SET "standard_conforming_strings" = off', REFUSED), Q(SCS_TRICK)),
    case("settings/scs-local", A, *in_transaction(Q("SET LOCAL standard_conforming_strings = off", REFUSED), Q(SCS_TRICK))),
    case("settings/scs-set-config", A, Q("SELECT set_config('standard_conforming_strings', 'off', false)", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-set-config-computed-name", A, Q("SELECT set_config(lower('STANDARD_CONFORMING_STRINGS'), 'off', false)", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-set-config-computed-value", A, Q("SELECT set_config('standard_conforming_strings', (SELECT 'of' || 'f'), false)", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-update-pg-settings", A, Q("UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", REFUSED), Q(SCS_TRICK)),
    case("settings/scs-alter-role", "tinkerer", Q("ALTER ROLE CURRENT_USER SET standard_conforming_strings = off", REFUSED),
         cleanup_sql=("ALTER ROLE tinkerer RESET ALL",)),
    case("settings/backslash-quote", A, Q("SET backslash_quote = on", REFUSED)),
    case("settings/backslash-quote-set-config", A, Q("SELECT set_config('backslash_quote', 'on', false)", REFUSED)),
    case("settings/client-encoding-sjis", A, Q("SET client_encoding = 'SJIS'", REFUSED), Q(f"SELECT upper(ssn) FROM patients {W}")),
    case("settings/client-encoding-latin1", A, Q("SET client_encoding TO 'LATIN1'", REFUSED)),
    case("settings/set-names", A, Q("SET NAMES 'BIG5'", REFUSED)),
    case("settings/client-encoding-set-config", A, Q("SELECT set_config('client_encoding', 'GBK', false)", REFUSED)),
    case("settings/session-authorization", MS, Q("SET SESSION AUTHORIZATION app_backend", REFUSED),
         Q(f"SELECT ssn, upper(email) FROM patients {W}")),
    case("settings/session-authorization-set-config", MS, Q("SELECT set_config('session_authorization', 'app_backend', false)", REFUSED),
         Q(f"SELECT ssn, upper(email) FROM patients {W}")),
    case("settings/set-role-does-not-widen", MS, Q("SET ROLE app_backend"),
         Q(f"SELECT ssn, email FROM patients {W}", OK, rows=[["XXX-XX-3645", "z***@***.test"]]),
         Q(f"SELECT upper(ssn) FROM patients {W}")),
]

STARTUP = [
    Case("startup/replication-database", CL, [Q(f"SELECT upper(ssn) FROM patients {W}")], {"replication": "database"}, refuse_startup=True),
    Case("startup/replication-physical", CL, [Q("IDENTIFY_SYSTEM")], {"replication": "true"}, refuse_startup=True),
    Case("startup/options-scs-off", A, [Q(SCS_TRICK)], {"options": "-c standard_conforming_strings=off"}, refuse_startup=True),
    Case("startup/options-scs-off-long-form", A, [Q(SCS_TRICK)], {"options": "--standard_conforming_strings=off"}, refuse_startup=True),
    Case("startup/parameter-scs-off", A, [Q(SCS_TRICK)], {"standard_conforming_strings": "off"}, refuse_startup=True),
    Case("startup/options-backslash-quote", A, [Q(SCS_TRICK)], {"options": "-c backslash_quote=on"}, refuse_startup=True),
    Case("startup/client-encoding-sjis", A, [Q(f"SELECT upper(ssn) FROM patients {W}")], {"client_encoding": "SJIS"}, refuse_startup=True),
    Case("startup/client-encoding-latin1", A, [Q(f"SELECT upper(ssn) FROM patients {W}")], {"client_encoding": "LATIN1"}, refuse_startup=True),
    Case("startup/options-client-encoding", A, [Q(f"SELECT upper(ssn) FROM patients {W}")], {"options": "-c client_encoding=BIG5"}, refuse_startup=True),
    # PostgreSQL's getopt clusters switches: -ec is -e, then -c with the next word.
    Case("startup/options-clustered-c", A, [Q("SELECT 1")], {"options": "-ec extra_float_digits=-15"}, refuse_startup=True),
    Case("startup/options-clustered-c-joined", A, [Q("SELECT 1")], {"options": "-ecextra_float_digits=-15"}, refuse_startup=True),
]

LONG_A = "a" * 63
PARSER = [
    one("parse/quoted-lowercase", A, 'SELECT upper("ssn") FROM "patients" WHERE "id" = 90001', OK),
    one("parse/upper-case-unquoted", A, "SELECT UPPER(SSN), LOWER(Email) FROM PATIENTS WHERE ID = 90001", OK),
    one("parse/unicode-escape-column", A, r'SELECT upper(U&"s\0073n") FROM patients WHERE id = 90001', OK),
    one("parse/unicode-escape-uescape", A, "SELECT upper(U&\"!0073sn\" UESCAPE '!') FROM patients WHERE id = 90001", OK),
    one("parse/unicode-escape-table", A, r'SELECT upper(U&"\0065mail") FROM U&"p\0061tients" WHERE id = 90001', OK),
    one("parse/unicode-escape-six-digit", A, r'SELECT upper(U&"\+000073sn") FROM patients WHERE id = 90001', OK),
    one("parse/quoted-mixed-case-direct", A, 'SELECT "SSN", ssn FROM "Patients"', OK),
    one("parse/quoted-mixed-case-derived", A, 'SELECT upper("SSN") FROM "Patients"', OK),
    one("parse/quoted-mixed-case-qualified", A, 'SELECT x."SSN" || \'\' FROM public."Patients" x', OK),
    one("parse/quoted-mixed-case-unicode", A, r'SELECT upper(U&"\0053SN") FROM "Patients"', OK),
    one("parse/quoted-mixed-case-whole-row", A, 'SELECT row_to_json(t) FROM "Patients" t', OK),
    one("parse/dollar-quote", A, "SELECT $q$ ' $q$ AS t, upper(ssn) FROM patients WHERE id = 90001", OK),
    one("parse/dollar-quote-nested-tags", A, "SELECT $a$ $b$ ' $b$ $a$ AS t, lower(email) FROM patients WHERE id = 90001", OK),
    one("parse/dollar-quote-hides-comment", A, "SELECT $$--$$ AS t, upper(name) FROM patients WHERE id = 90001", OK),
    one("parse/nested-comment", A, "SELECT /* outer /* inner */ still comment */ upper(ssn) FROM patients WHERE id = 90001", OK),
    one("parse/nested-comment-differential", A, "SELECT 'ok' /* /* */ AS x, 1 */ , upper(email) FROM patients WHERE id = 90001", OK),
    one("parse/line-comment", A, "SELECT upper(ssn) -- */ ; SELECT 1\nFROM patients WHERE id = 90001", OK),
    one("parse/comments-as-whitespace", A, "SELECT/**/upper(ssn)/**/FROM/**/patients/**/WHERE/**/id=90001", OK),
    one("parse/odd-whitespace", A, "SELECT\fupper(ssn)\fFROM\tpatients\rWHERE\nid = 90001", OK),
    one("parse/e-string-escaped-quote", A, r"SELECT E'\'' AS q, upper(ssn) FROM patients WHERE id = 90001", OK),
    one("parse/e-string-backslash", A, r"SELECT E'\\' AS q, upper(email) FROM patients WHERE id = 90001", OK),
    one("parse/standard-string-backslash", A, r"SELECT 'a\' AS q, upper(name) FROM patients WHERE id = 90001 --'", OK),
    one("parse/scs-differential-literal", A, SCS_TRICK, OK),
    one("parse/unicode-string-quote", A, r"SELECT U&'\0027' AS q, upper(ssn) FROM patients WHERE id = 90001", OK),
    one("parse/doubled-quote-alias", A, 'SELECT upper(ssn) AS "x""y" FROM patients WHERE id = 90001', OK),
    one("parse/schema-qualified-column", A, "SELECT upper(public.patients.ssn) FROM public.patients WHERE id = 90001", OK),
    one("parse/database-qualified-column", A, f"SELECT upper({DB}.public.patients.ssn) FROM {DB}.public.patients WHERE id = 90001", OK),
    one("parse/long-alias-truncation", A, f"SELECT upper({LONG_A}x.ssn) FROM patients AS {LONG_A}y WHERE {LONG_A}z.id = 90001", OK),
    one("parse/alias-swap", A, "SELECT upper(ssn) AS id, id AS ssn FROM patients WHERE id = 90001", OK),
    one("parse/alias-named-like-decoy", A, "SELECT upper(patients.ssn), upper(real.email) FROM public.patients AS real, decoy.patients WHERE real.id = 90001 AND patients.id = 90001", OK),
    one("parse/function-name-spellings", A, 'SELECT "upper"(ssn), pg_catalog.lower(email) FROM patients WHERE id = 90001', OK),
    one("parse/only", A, "SELECT upper(ssn) FROM ONLY patients WHERE id = 90001", OK),
    one("parse/parenthesized-select", A, "((SELECT upper(ssn) FROM patients WHERE id = 90001))", OK),
    one("parse/empty-statements", A, ";;SELECT upper(email) FROM patients WHERE id = 90001;;", OK),
    one("parse/rejected-by-parser", A, "SELEC ssn FROM patients", REFUSED),
    one("parse/unterminated-literal", A, "SELECT 'abc, upper(ssn) FROM patients", REFUSED),
    case("parse/same-text-other-search-path", A,
         Q("SET search_path = decoy, public", OK), Q(f"SELECT upper(ssn) FROM patients {W}", OK),
         Q("SET search_path = public", OK), Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
]

NAMED = [
    # PostgreSQL analyses a prepared statement again when a view it reads is replaced, and so
    # must pgmask: the first analysis saw a constant where the new definition has the SSN.
    case("named/prepare-then-view-replaced", CL, Q("CREATE VIEW public.swap_pv AS SELECT id, 'safe'::text AS t FROM patients"),
         Q("PREPARE swap1 AS SELECT t FROM swap_pv WHERE id = 90001"),
         Q("DROP VIEW public.swap_pv"), Q("CREATE VIEW public.swap_pv AS SELECT id, name AS t FROM patients"),
         Q("EXECUTE swap1", OK)),
    case("named/prepare-then-table-replaced-by-view", CL, Q("CREATE TABLE public.swap_pt (id int, t text)"),
         Q("PREPARE swap2 AS SELECT t FROM swap_pt"), Q("DROP TABLE public.swap_pt"),
         Q("CREATE VIEW public.swap_pt AS SELECT id, address AS t FROM patients WHERE id = 90001"), Q("EXECUTE swap2", OK)),
    case("named/prepare-condition-then-view-replaced", CL,
         Q("CREATE VIEW public.swap_pc AS SELECT id, 'safe'::text AS t FROM patients"),
         Q("PREPARE swap3 AS SELECT id FROM swap_pc WHERE t LIKE 'Zeb%'"),
         Q("DROP VIEW public.swap_pc"), Q("CREATE VIEW public.swap_pc AS SELECT id, name AS t FROM patients"),
         I("EXECUTE swap3", "name")),
    case("named/prepare-execute", A, Q("PREPARE s1 AS SELECT upper(ssn) FROM patients WHERE id = $1"), Q("EXECUTE s1(90001)", OK)),
    case("named/prepare-case-folding", A, Q("PREPARE S2 AS SELECT row_to_json(p) FROM patients p WHERE id = $1"), Q("EXECUTE s2(90001)", OK)),
    case("named/prepare-quoted-name", A, Q("PREPARE \"Mixed\" AS SELECT email || '' FROM patients WHERE id = $1"), Q('EXECUTE "Mixed"(90001)', OK)),
    case("named/prepare-deallocate-reuse", A, Q("PREPARE s3 AS SELECT 'safe'::text"), Q("DEALLOCATE s3"),
         Q(f"PREPARE s3 AS SELECT upper(name) FROM patients {W}"), Q("EXECUTE s3", OK)),
    case("named/prepare-deallocate-all", A, Q("PREPARE s4 AS SELECT 'safe'::text"), Q("DEALLOCATE ALL"),
         Q(f"PREPARE s4 AS SELECT lower(address) FROM patients {W}"), Q("EXECUTE s4", OK)),
    case("named/deallocate-in-failed-transaction", A, Q(f"PREPARE s5 AS SELECT upper(ssn) FROM patients {W}"),
         Q("BEGIN"), Q("SELECT 1/0"), Q("DEALLOCATE s5"), Q("ROLLBACK"),
         Q("PREPARE s5 AS SELECT 'safe'::text"), Q("EXECUTE s5")),
    case("named/prepare-duplicate-name", A, Q(f"PREPARE s6 AS SELECT upper(email) FROM patients {W}"),
         Q("PREPARE s6 AS SELECT 'safe'::text"), Q("EXECUTE s6")),
    case("named/prepare-and-execute-in-one-query", A, Q(f"PREPARE s7 AS SELECT upper(ssn) FROM patients {W}; EXECUTE s7")),
    case("named/prepare-survives-rollback", A, Q("BEGIN"), Q(f"PREPARE s8 AS SELECT to_jsonb(p) FROM patients p WHERE p.id = 90001"),
         Q("ROLLBACK"), Q("EXECUTE s8")),
    # A prepared statement refused once it went stale stays refused, and EXPLAIN ANALYZE EXECUTE
    # runs it like EXECUTE does.
    case("named/stale-refused-every-time", SU, Q("SET search_path = decoy, public"),
         Q(f"PREPARE st1 AS SELECT ssn::int FROM patients {W}", OK), Q("SET search_path = public"),
         Q("EXECUTE st1", REFUSED), Q("EXECUTE st1", REFUSED), Q("EXPLAIN ANALYZE EXECUTE st1", REFUSED)),
    case("named/explain-analyze-execute-stale-condition", SU, Q("SET search_path = decoy, public"),
         Q("PREPARE st2 AS SELECT id FROM patients WHERE ssn LIKE '9%'", OK), Q("SET search_path = public"),
         I("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE st2", "ssn")),
    case("named/explain-analyze-execute-copy", CL, Q("CREATE TABLE public.swap_ex (id int, t text)"),
         Q("PREPARE swap_w AS INSERT INTO scratch (note) SELECT t FROM swap_ex"), Q("DROP TABLE public.swap_ex"),
         Q("CREATE VIEW public.swap_ex AS SELECT id, name AS t FROM patients WHERE id = 90001"),
         Q("EXPLAIN (ANALYZE) EXECUTE swap_w", REFUSED), Q("SELECT note FROM scratch"),
         cleanup_sql=("DROP VIEW IF EXISTS public.swap_ex", "DELETE FROM scratch WHERE id > 1")),
    case("named/protocol-statement-sql-execute", A,
         RAW("Parse ps1 + Sync", lambda c: [parse_message("ps1", f"SELECT upper(ssn) FROM patients {W}"), SYNC]),
         Q("EXECUTE ps1")),
    case("named/sql-prepare-protocol-bind", A, Q(f"PREPARE q1 AS SELECT upper(email) FROM patients {W}"),
         RAW("Bind q1, Execute, Sync (no Describe)", lambda c: [bind_message("", "q1"), execute_message(""), SYNC])),
    case("named/cursor-fetch", A, *in_transaction(Q(f"DECLARE c1 CURSOR FOR SELECT upper(ssn), row_to_json(p) FROM patients p {W}"), Q("FETCH c1", OK))),
    case("named/cursor-with-hold", A, Q("DECLARE c2 CURSOR WITH HOLD FOR SELECT email || '' FROM patients WHERE id IN (1, 90001) ORDER BY id"),
         Q("FETCH ALL FROM c2", OK), Q("CLOSE c2")),
    case("named/cursor-move-and-scroll", A, *in_transaction(
        Q("DECLARE c3 SCROLL CURSOR FOR SELECT upper(name) FROM patients WHERE id IN (1, 90001) ORDER BY id"),
        Q("MOVE LAST IN c3"), Q("FETCH PRIOR FROM c3", OK), Q("FETCH ABSOLUTE 2 c3", OK), Q("FETCH BACKWARD 1 FROM c3", OK))),
    case("named/cursor-quoted-name", A, *in_transaction(Q(f'DECLARE "C4" CURSOR FOR SELECT lower(email) FROM patients {W}'),
                                                         Q('FETCH FORWARD 1 FROM "C4"', OK))),
    case("named/cursor-close-and-redeclare", A, *in_transaction(
        Q("DECLARE c5 CURSOR FOR SELECT 'safe'::text"), Q("CLOSE c5"),
        Q(f"DECLARE c5 CURSOR FOR SELECT ssn || '' FROM patients {W}"), Q("FETCH c5", OK))),
    case("named/cursor-in-one-query", A, Q("BEGIN; DECLARE c6 CURSOR FOR SELECT to_jsonb(v) FROM visits v WHERE v.id = 90001; FETCH ALL c6; COMMIT")),
    case("named/cursor-protocol-execute", A, *in_transaction(
        Q(f"DECLARE c7 CURSOR FOR SELECT upper(ssn) FROM patients {W}"),
        RAW("Execute c7, Sync", lambda c: [execute_message("c7"), SYNC]))),
    case("named/cursor-protocol-describe-execute", A, *in_transaction(
        Q(f"DECLARE c8 CURSOR FOR SELECT upper(phone) FROM patients {W}"),
        RAW("Describe portal c8, Execute c8, Sync", lambda c: [describe_message(b"P", "c8"), execute_message("c8"), SYNC]))),
    case("named/search-path-after-prepare", A, Q("SET search_path = public"),
         Q(f"PREPARE sp1 AS SELECT upper(ssn) FROM patients {W}"), Q("SET search_path = decoy, public"), Q("EXECUTE sp1")),
    case("named/search-path-replanned-at-execute", A, Q("SET search_path = decoy, public"),
         Q(f"PREPARE sp2 AS SELECT upper(ssn) FROM patients {W}"), Q("SET search_path = public"), Q("EXECUTE sp2")),
    case("named/search-path-rolled-back", A, Q("BEGIN"), Q("SET search_path = decoy"), Q("ROLLBACK"),
         Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
    case("named/search-path-set-local", A, Q("BEGIN"), Q("SET LOCAL search_path = decoy"), Q("COMMIT"),
         Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
    case("named/search-path-set-config-local", A, Q("SELECT set_config('search_path', 'decoy', true)"),
         Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
    case("named/search-path-failed-set", A, Q("BEGIN"), Q("SELECT 1/0"), Q("SET search_path = decoy"), Q("ROLLBACK"),
         Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
    case("named/search-path-in-one-query", A,
         Q(f"SET search_path = decoy; SELECT upper(ssn) FROM patients {W}; SET search_path = public; SELECT upper(ssn) FROM patients {W}")),
    # Expressions the server keeps (defaults, constraints, policies) run later, unseen.
    case("stored/default-runs-sql-text", AN,
         Q("CREATE TEMP TABLE sd1 (k int, x text DEFAULT query_to_xml('SELECT card_number FROM payments WHERE id = 90001', "
           "false, false, '')::text)", REFUSED),
         Q("INSERT INTO sd1 (k) VALUES (1)"), Q("SELECT * FROM sd1")),
    case("stored/default-moves-search-path", AN, Q("SET search_path = decoy, public"),
         Q("CREATE TEMP TABLE sd2 (k int, x text DEFAULT set_config('search_path', 'public', false))", REFUSED),
         Q("INSERT INTO sd2 (k) VALUES (1)"), Q(f"SELECT ssn || '' AS s FROM patients {W}")),
    case("stored/alter-default-notifies", A, Q("LISTEN sd3"), Q("CREATE TEMP TABLE sd3 (k int)"),
         Q("ALTER TABLE sd3 ADD COLUMN y text DEFAULT pg_notify('sd3', query_to_xml('SELECT ssn FROM patients "
           "WHERE id = 90001', false, false, '')::text)::text", REFUSED), Q("INSERT INTO sd3 (k) VALUES (1)")),
    case("stored/domain-check-keeps-value", SU,
         Q("CREATE DOMAIN pg_temp.sd4 AS text CHECK (set_config('my.sd4', VALUE, false) IS NOT NULL)", REFUSED),
         Q(f"SELECT card_number::pg_temp.sd4 FROM payments {W}"), Q("SELECT current_setting('my.sd4', true)")),
    case("stored/policy-moves-search-path", SU, Q("CREATE TEMP TABLE sd5 (id int)"), Q("INSERT INTO sd5 VALUES (1)"),
         Q("ALTER TABLE sd5 ENABLE ROW LEVEL SECURITY"), Q("ALTER TABLE sd5 FORCE ROW LEVEL SECURITY"),
         # Refused as untraceable (the temporary table) before the function rules speak.
         Q("CREATE POLICY sd5p ON sd5 USING (set_config('search_path', 'public', false) IS NOT NULL)", SAFE),
         Q("SET search_path = decoy, public"), Q("SELECT count(*) FROM sd5"),
         Q(f"SELECT ssn || '' AS s, email || '' AS e FROM patients {W}")),
    case("stored/schema-element-view", CL,
         Q("CREATE SCHEMA sd6 CREATE VIEW v AS SELECT id FROM public.payments WHERE id = 90001 AND card_number::int > 0",
           INFER),
         Q("SELECT id FROM sd6.v"), cleanup_sql=("DROP SCHEMA IF EXISTS sd6 CASCADE",)),
    # Oracles found by the fifth probe.
    case("oracle/length-in-an-encoding", A,
         Q(f"SELECT length(substr(sha256(convert_to('s0_' || substr(ssn, 1, 1), 'UTF8')), 1, 1), 'UTF8') FROM patients {W}",
           INFER)),
    case("oracle/union-of-an-expression-and-a-literal", AN,
         Q(f"SELECT count(*) FROM (SELECT substr(ssn, 1, 1) FROM patients {W} UNION SELECT '9') s", INFER)),
    case("oracle/distinct-over-rows-mixed-with-a-literal", AN,
         Q(f"SELECT count(*) FROM (SELECT DISTINCT v FROM (SELECT ssn AS v FROM patients {W} UNION ALL "
           f"SELECT '{SSN}') s) d", INFER)),
    case("oracle/wal-bytes-of-an-update", CL, Q("BEGIN"),
         Q(f"EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF) UPDATE patients SET ssn = '{SSN}', address = 'x' {W}",
           REFUSED), Q("ROLLBACK"), Q("SELECT pg_current_wal_insert_lsn()", REFUSED),
         Q("SELECT wal_bytes FROM pg_stat_wal", REFUSED)),
    case("oracle/unique-check-through-a-view", CL,
         Q(f"UPDATE patient_contacts SET email = '{EMAIL}' WHERE id = 1", INFER)),
    # Oracles found by the sixth probe.
    # NATURAL joins on every shared name; a set-returning function's columns are not listed.
    case("oracle/natural-join-with-a-function", SU,
         Q("SELECT key FROM (SELECT substr(diagnosis, 1, 7) AS value FROM visits WHERE id = 90001) a "
           "NATURAL JOIN jsonb_each_text('{\"A\": \"X99.1 G\", \"B\": \"X99.1 H\"}')", REFUSED)),
    case("oracle/natural-join-count", A,
         Q(f"SELECT count(*) FROM (SELECT ssn AS unnest FROM patients {W}) a NATURAL JOIN unnest(ARRAY['{SSN}'])",
           INFER)),
    # PostgreSQL compares an updated value with the one it replaces: a HOT update, the WAL
    # record's size and suppress_redundant_updates_trigger all tell whether the guess was right.
    case("oracle/update-compares-with-the-stored-value", CL, Q("BEGIN"),
         Q(f"UPDATE patients SET dob = '{DOB.isoformat()}' {W}", INFER), Q("ROLLBACK"),
         Q("SELECT pg_logical_emit_message(false, 'a', '')", REFUSED),
         Q("SELECT confirmed_flush_lsn FROM pg_replication_slots", REFUSED)),
    # DISTINCT ON and PARTITION BY sort on the clear values: the order of the rows compares them.
    case("oracle/distinct-on-sorts-on-the-clear-value", AN,
         Q("SELECT string_agg(id::text, ',') FROM (SELECT DISTINCT ON (ssn) id FROM patients "
           "WHERE id IN (1, 2, 3, 90001)) s", INFER)),
    case("oracle/partition-by-sorts-on-the-clear-value", AN,
         Q("SELECT string_agg(id::text, ',') FROM (SELECT id, row_number() OVER (PARTITION BY ssn) FROM patients "
           "WHERE id IN (1, 2, 3, 90001)) s", INFER)),
    # A write through a view of unprotected columns lands in a column with a foreign key to email.
    case("oracle/foreign-key-through-a-view", CL, Q("BEGIN"),
         Q(f"INSERT INTO email_ref_view VALUES (5, '{EMAIL}')", INFER), Q("ROLLBACK")),
    # The generated column computed from the written one is checked against the foreign key.
    case("oracle/foreign-key-of-a-generated-column", CL, Q("BEGIN"),
         Q(f"INSERT INTO email_keys (id, raw_email) VALUES (5, '{EMAIL}')", INFER), Q("ROLLBACK")),
    # A view created in pg_temp however it is named is found before every relation of its name.
    case("temp/view-in-pg-temp-by-name", SU,
         Q(f"CREATE VIEW pg_temp.pg_roles AS SELECT notes AS rolname FROM visits {W}", REFUSED),
         Q("SELECT rolname FROM pg_roles")),
    case("temp/view-in-pg-temp-upper-case", AN,
         Q("CREATE VIEW PG_TEMP.pg_am AS SELECT upper(email) AS amname FROM patients WHERE id = 90001", REFUSED),
         Q("SELECT amname FROM pg_am")),
    case("temp/view-through-search-path", A, Q("SET search_path = pg_temp, public", REFUSED),
         Q("CREATE VIEW pg_roles AS SELECT ssn AS rolname FROM public.patients WHERE id = 90001"),
         Q("SET search_path = public"), Q("SELECT rolname FROM pg_roles")),
    # CREATE OR REPLACE replaces the view where CREATE puts it, not where a read finds the name.
    case("named/replace-view-named-like-pg-catalog", CL,
         Q("CREATE VIEW public.pg_roles AS SELECT id, 'x'::text AS rolname FROM patients"),
         Q("CREATE VIEW rv_dep AS SELECT v.id FROM public.pg_roles v WHERE v.id = 90001 AND (v.rolname)::int > 0"),
         Q("CREATE OR REPLACE VIEW pg_roles AS SELECT id, ssn AS rolname FROM patients", REFUSED),
         Q("SELECT id FROM rv_dep"),
         cleanup_sql=("DROP VIEW IF EXISTS rv_dep", "DROP VIEW IF EXISTS public.pg_roles")),
    # The end of a transaction undoes its SET LOCAL (and a rollback its SET) before the next
    # statement of the same Query runs.
    case("named/search-path-set-local-then-commit-in-one-query", A, Q("BEGIN"),
         Q("SET LOCAL search_path = decoy, public"),
         Q(f"COMMIT; SELECT ssn || '' AS x, email || '' AS e FROM patients {W}", REFUSED)),
    case("named/search-path-rolled-back-to-savepoint-in-one-query", AN, Q("BEGIN"), Q("SAVEPOINT s"),
         Q("SET search_path = decoy, public"), Q(f"ROLLBACK TO s; SELECT ssn || '' AS x FROM patients {W}", REFUSED),
         Q("ROLLBACK")),
    # PostgreSQL matches setting names without regard to case.
    case("named/search-path-quoted-upper-case", A, Q("SET search_path = decoy, public"),
         Q(f"SET \"SEARCH_PATH\" = public; SELECT ssn || '' AS x FROM patients {W}")),
    case("named/search-path-set-config-upper-case", A, Q("SET search_path = decoy, public"),
         Q(f"SELECT set_config('SEARCH_PATH', 'public', false); SELECT ssn || '' AS x FROM patients {W}")),
    case("settings/scs-off-quoted-upper-case", A, Q('SET "STANDARD_CONFORMING_STRINGS" = off', REFUSED),
         Q(r"SET application_name = 'x\' , '; SELECT (p.*)::text::int FROM patients p WHERE id = 90001; SET application_name = ' -- '")),
    case("settings/session-authorization-quoted-upper-case", MS,
         Q('SET "SESSION_AUTHORIZATION" = app_backend', REFUSED), Q(f"SELECT ssn, email FROM patients {W}", OK)),
    case("settings/extra-float-digits-rounding", A, Q("SET extra_float_digits = -12", REFUSED),
         Q("SELECT set_config('Extra_Float_Digits', '-3', false)", REFUSED)),
    case("settings/client-encoding-spaced-name-at-run-time", A,
         Q("SELECT set_config(lower('CLIENT_ENCODING'), 'S J I S', false)", REFUSED)),
    case("named/search-path-temp-table-shadow", CL,
         Q("CREATE TEMP TABLE patients (id int, ssn text)"), Q("INSERT INTO patients VALUES (90001, 'temp-decoy')"),
         Q(f"SELECT upper(ssn) FROM patients {W}"), Q(f"SELECT upper(ssn) FROM public.patients {W}", OK),
         Q("DROP TABLE patients"), Q(f"SELECT upper(ssn) FROM patients {W}", OK)),
]


def _named_twice(c: Context) -> list[bytes]:
    return [parse_message("n1", f"SELECT upper(ssn) FROM patients {W}"),
            bind_message("", "n1"), execute_message(""), bind_message("pn", "n1"), execute_message("pn"), SYNC]


def _close_and_reparse(c: Context) -> list[bytes]:
    return [parse_message("n2", "SELECT 'safe'::text"), describe_message(b"S", "n2"), SYNC]


def _reparsed(c: Context) -> list[bytes]:
    return [close_message(b"S", "n2"), parse_message("n2", f"SELECT lower(email) FROM patients {W}"),
            bind_message("", "n2"), execute_message(""), SYNC]


def _row_limit(c: Context) -> list[bytes]:
    return [parse_message("", "SELECT email || '' FROM patients WHERE id IN (1, 90001) ORDER BY id"),
            bind_message("p1", ""), execute_message("p1", 1), execute_message("p1", 1), execute_message("p1", 0), SYNC]


def _pipeline(c: Context) -> list[bytes]:
    return [parse_message("", "SELECT 1"), bind_message("", ""), execute_message(""),
            parse_message("", f"SELECT name || '' FROM patients {W}"), bind_message("", ""), execute_message(""),
            parse_message("", "SELECT diagnosis || '' FROM visits WHERE id = 90001"), bind_message("", ""),
            execute_message(""), SYNC]


def _describe_statement_first(c: Context) -> list[bytes]:
    return [parse_message("n3", f"SELECT upper(address) FROM patients {W}"), describe_message(b"S", "n3"), SYNC]


EXTENDED = [
    case("extended/unnamed-no-describe", A, X("SELECT upper(ssn) FROM patients WHERE id = $1", ("90001",), describe=False, expect=OK)),
    case("extended/unnamed-describe", A, X("SELECT upper(ssn), row_to_json(p) FROM patients p WHERE id = $1", ("90001",), expect=OK)),
    case("extended/named-statement-two-portals", A, RAW("Parse n1, Bind/Execute twice", _named_twice, OK)),
    case("extended/close-and-reparse-same-name", A, RAW("Parse n2 safe, Describe", _close_and_reparse, OK),
         RAW("Close n2, Parse n2 leaky, Bind/Execute", _reparsed, OK)),
    case("extended/named-portal-row-limit", A, RAW("Execute p1 with row limits", _row_limit, OK)),
    case("extended/pipeline", A, RAW("three Parse/Bind/Execute, one Sync", _pipeline, OK)),
    case("extended/describe-statement-then-execute", A, RAW("Parse n3, Describe S", _describe_statement_first, OK),
         RAW("Bind n3, Execute (no Describe)", lambda c: [bind_message("", "n3"), execute_message(""), SYNC], OK)),
    case("extended/parameter-concatenated", A, X("SELECT $1::text || ssn FROM patients WHERE id = 90001", ("x",), expect=OK)),
    case("extended/error-text", A, X("SELECT ssn::int FROM patients WHERE id = $1", ("90001",))),
    case("extended/copy-out", A, X(f"COPY (SELECT upper(ssn) FROM patients {W}) TO STDOUT", describe=False)),
    case("extended/two-statements-in-parse", A, X("SELECT 1; SELECT upper(ssn) FROM patients WHERE id = 90001")),
    # EXECUTE and FETCH as the text of a Parse run what the SQL name holds, like in a Query.
    case("extended/execute-text", A, Q(f"PREPARE xq AS SELECT ssn || '' AS x, upper(name) AS y FROM patients {W}", OK),
         X("EXECUTE xq", expect=OK), X("EXECUTE xq", describe=False, expect=OK)),
    case("extended/execute-text-binary", A,
         Q("PREPARE xb AS SELECT coalesce(p.dob, p.dob) AS d, coalesce(y.amount, y.amount) AS a FROM patients p "
           "JOIN payments y ON y.patient_id = p.id WHERE p.id = 90001", OK),
         X("EXECUTE xb", fmt=1, expect=OK)),
    case("extended/fetch-text", SU, *in_transaction(
        Q(f"DECLARE xc CURSOR FOR SELECT lower(address) AS x, email || '' AS y FROM patients {W}", OK),
        X("FETCH ALL xc", expect=OK))),
    case("extended/execute-text-stale", A, Q("SET search_path = decoy, public"),
         Q(f"PREPARE xs AS SELECT email || '' AS x FROM patients {W}"),
         RAW("Parse xs1 = EXECUTE xs + Sync", lambda c: [parse_message("xs1", "EXECUTE xs"), SYNC]),
         Q("SET search_path = public"),
         RAW("Bind xs1, Execute", lambda c: [bind_message("", "xs1"), describe_message(b"P", ""), execute_message(""), SYNC])),
]

BINARY = [
    case("binary/numeric-direct", A, X("SELECT amount FROM payments WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/numeric-derived", A, X("SELECT coalesce(amount, amount) FROM payments WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/float8", A, X("SELECT date_part('epoch', visited_at) FROM visits WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/integers", A, X(f"SELECT length(ssn), count(ssn) OVER () FROM patients {W}", fmt=1, expect=OK)),
    case("binary/integer-cents", A, X("SELECT (amount * 100)::int4, (amount * 100)::int8 FROM payments WHERE id = 90001", fmt=1, expect=REFUSED)),
    case("binary/date-direct", A, X(f"SELECT dob FROM patients {W}", fmt=1, expect=OK)),
    case("binary/date-derived", A, X(f"SELECT coalesce(dob, dob) FROM patients {W}", fmt=1, expect=OK)),
    case("binary/timestamp-derived", A, X("SELECT visited_at AT TIME ZONE 'UTC' FROM visits WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/timestamptz-direct", A, X("SELECT visited_at FROM visits WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/timestamptz-derived", A, X("SELECT date_trunc('second', visited_at) FROM visits WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/epoch-numeric", A, X("SELECT extract(epoch FROM visited_at) FROM visits WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/bytea", A, X(f"SELECT convert_to(ssn, 'UTF8') FROM patients {W}", fmt=1, expect=OK)),
    case("binary/text-derived", A, X(f"SELECT upper(email) FROM patients {W}", fmt=1, expect=OK)),
    case("binary/record", A, X(f"SELECT ROW(ssn, dob) FROM patients {W}", fmt=1, expect=OK)),
    case("binary/whole-row", A, X("SELECT p FROM patients p WHERE p.id = 90001", fmt=1, expect=OK)),
    case("binary/arrays", A, X(f"SELECT ARRAY[dob], ARRAY[ssn] FROM patients {W}", fmt=1, expect=OK)),
    case("binary/jsonb", A, X("SELECT to_jsonb(p) FROM patients p WHERE p.id = 90001", fmt=1, expect=OK)),
    case("binary/support-numeric", SU, X("SELECT amount, coalesce(amount, amount) FROM payments WHERE id = 90001", fmt=1, expect=OK)),
    case("binary/analyst-denied", AN, X("SELECT amount::float8 FROM payments WHERE id = 90001", fmt=1, expect=REFUSED)),
]

CHANNELS = [
    # error texts that would quote the value
    one("error/cast-int", A, f"SELECT ssn::int FROM patients {W}"),
    one("error/cast-uuid", A, f"SELECT email::uuid FROM patients {W}"),
    one("error/cast-date", A, "SELECT diagnosis::date FROM visits WHERE id = 90001"),
    one("error/cast-numeric", A, f"SELECT name::numeric FROM patients {W}"),
    one("error/cast-interval", A, f"SELECT address::interval FROM patients {W}"),
    one("error/json-parse", A, f"SELECT ('\"' || ssn)::json FROM patients {W}"),
    one("error/xml-parse", A, "SELECT xmlparse(document notes) FROM visits WHERE id = 90001"),
    one("error/regclass", A, f"SELECT ssn::regclass FROM patients {W}"),
    one("error/current-setting", A, f"SELECT current_setting(email) FROM patients {W}"),
    one("error/scalar-subquery-cast", A, f"SELECT (SELECT phone FROM patients {W})::int"),
    one("error/to-date", A, f"SELECT to_date(ssn, 'YYYY-MM-DD') FROM patients {W}"),
    one("error/copy-query", A, f"COPY (SELECT ssn::int FROM patients {W}) TO STDOUT"),
    one("error/view-column-cast", A, "SELECT tax_id::int FROM patient_contacts WHERE id = 90001"),
    one("error/partition-column-cast", A, "SELECT result::int FROM lab_results_2024 WHERE id = 90001"),
    case("error/execute-prepared", A, Q("PREPARE e1 AS SELECT email::int FROM patients WHERE id = $1"), Q("EXECUTE e1(90001)")),
    case("error/fetch-cursor", A, *in_transaction(Q(f"DECLARE ce CURSOR FOR SELECT ssn::int FROM patients {W}"), Q("FETCH ce"))),
    case("error/unique-violation-detail", CL, *in_transaction(Q(f"UPDATE patients SET email = (SELECT email FROM patients {W}) WHERE id = 1"))),
    case("error/not-null-failing-row", CL, *in_transaction(Q(f"UPDATE patients SET phone = NULL {W}"))),
    case("error/not-null-failing-row-visits", CL, *in_transaction(Q("UPDATE visits SET notes = NULL WHERE id = 90001"))),
    one("error/trusted-function-raises", A, f"SELECT public.picky_check(ssn) FROM patients {W}"),
    # notices
    one("notice/trusted-function", A, f"SELECT public.noisy_note(ssn) FROM patients {W}"),
    one("notice/trusted-function-derived-argument", A, f"SELECT public.noisy_note(upper(email)) FROM patients {W}"),
    # notifications
    case("notify/pg-notify", A, Q("LISTEN leak"), Q(f"SELECT pg_notify('leak', ssn) FROM patients {W}"), Q("SELECT 1")),
    case("notify/pg-notify-row", A, Q("LISTEN leak"), Q("SELECT pg_notify('leak', row_to_json(p)::text) FROM patients p WHERE p.id = 90001")),
    case("notify/pg-notify-cte", A, Q("LISTEN leak"), Q(f"WITH x AS (SELECT email FROM patients {W}) SELECT pg_notify('leak', email) FROM x")),
    case("notify/pg-notify-in-transaction", A, Q("LISTEN leak"), Q("BEGIN"),
         Q("SELECT pg_notify('leak', diagnosis) FROM visits WHERE id = 90001"), Q("COMMIT")),
    # reported parameters and settings used as storage
    one("param/application-name", A, f"SELECT set_config('application_name', ssn, false) FROM patients {W}"),
    one("param/application-name-subquery", A, f"SELECT set_config('application_name', (SELECT email FROM patients {W}), false)"),
    case("param/custom-setting-stash", A, Q(f"SELECT set_config('adversarial.stash', name, false) FROM patients {W}"),
         Q("SHOW adversarial.stash"), Q("SELECT current_setting('adversarial.stash')"),
         Q("SELECT setting FROM pg_settings WHERE name = 'adversarial.stash'")),
    # several statements in one simple Query
    one("multi/second-statement", A, f"SELECT 1; SELECT upper(ssn) FROM patients {W}", OK),
    one("multi/error-in-second-statement", A, f"SELECT 'first'; SELECT email::int FROM patients {W}; SELECT 'third'"),
    one("multi/refused-in-the-middle", AN, "SELECT 1; SELECT card_number FROM payments WHERE id = 90001; SELECT 2", REFUSED),
    one("multi/transaction-block", A, f"BEGIN; SELECT lower(address) FROM patients {W}; COMMIT", OK),
    case("multi/inference-in-second", A, I("SELECT 1; SELECT id FROM patients WHERE ssn LIKE '9%'", "ssn")),
]

INFERENCE = [
    case("infer/where-like", A, I("SELECT id FROM patients WHERE ssn LIKE '9%'", "ssn")),
    case("infer/where-range", A, I("SELECT id FROM patients WHERE dob < '1935-01-01'", "dob")),
    case("infer/where-regex", A, I("SELECT id FROM patients WHERE email ~ '^zq'", "email")),
    case("infer/where-in-list", A, I("SELECT id FROM patients WHERE phone IN ('+1-555-000-0000')", "phone")),
    case("infer/where-between", A, I("SELECT count(*) FROM patients WHERE ssn BETWEEN '900' AND '999'", "ssn")),
    case("infer/where-function", A, I("SELECT id FROM patients WHERE length(address) > 30", "address")),
    # Errors tell one bit even of a redacted result: whether the first digit is 8, whether the
    # value is a number, whether it exceeds what int4 holds.
    case("infer/error-oracle-division", A, I("SELECT 1/(ascii(substr(ssn, 1, 1)) - 56) FROM patients WHERE id = 90001", "ssn")),
    case("infer/error-oracle-cast", A, I("SELECT ssn::int FROM patients WHERE id = 90001", "ssn")),
    case("infer/error-oracle-overflow", A, I("SELECT amount::int4 * 1000000 FROM payments WHERE id = 90001", "amount")),
    case("infer/error-oracle-in-from", A, I("SELECT g FROM patients p, generate_series(1, 2, length(p.ssn) - 11) g WHERE p.id = 90001", "ssn")),
    # Tokens may be compared with tokens; a literal routed through a UNION branch is not one.
    case("infer/token-join-through-literal-branch", AN,
         I("SELECT p.id FROM patients p JOIN (SELECT ssn AS v FROM patients WHERE false UNION ALL "
           "SELECT '919-27-3645') x ON p.ssn = x.v", "ssn")),
    # A view's or a row security policy's filter runs whenever the view or table is read: written
    # by a restricted role, it is that role's condition.
    case("infer/own-view-filter", CL, I("CREATE VIEW public.nines AS SELECT id FROM patients WHERE ssn LIKE '9%'", "ssn")),
    case("infer/own-row-security-policy", CL,
         I("CREATE POLICY nines ON scratch USING (EXISTS (SELECT 1 FROM patients WHERE ssn LIKE '9%'))", "ssn")),
    # How many rows a set-returning function returns answers a question about its argument:
    # one test per character extracted whole values, even of denied classes.
    case("infer/srf-row-count", A, I("SELECT count(*) FROM patients p, regexp_matches(p.ssn, '^919') m WHERE p.id = 90001", "ssn")),
    case("infer/srf-row-count-denied", AN, I("SELECT count(*) FROM payments p, regexp_matches(p.card_number, '^4929') m WHERE p.id = 90001", "card_number")),
    case("infer/srf-in-exists", A, I("SELECT id FROM patients p WHERE id = 90001 AND EXISTS (SELECT regexp_matches(p.ssn, '^9'))", "ssn")),
    # TABLESAMPLE's REPEATABLE seed picks the rows: matched against literal seeds, the ids tell
    # the seed, one character at a time, even of a denied class.
    case("infer/tablesample-seed", A, I("SELECT id FROM patients TABLESAMPLE BERNOULLI (2) REPEATABLE "
                                        "((SELECT ascii(substr(ssn, 1, 1)) FROM patients WHERE id = 90001))", "ssn")),
    case("infer/tablesample-seed-denied", AN, I("SELECT count(*) FROM patients TABLESAMPLE BERNOULLI (2) REPEATABLE "
                                                "((SELECT ascii(substr(card_number, 1, 1)) FROM payments WHERE id = 90001))",
                                                "card_number")),
    # A search's run time tells a match, amplified by a long pad (2.5 s against 0.3 s).
    case("infer/timing-search", A, I("SELECT length(replace(lpad(substr(ssn, 1, 1), 400000, substr(ssn, 1, 1)), '9', "
                                     "repeat('x', 64))) FROM patients WHERE id = 90001", "ssn")),
    case("infer/timing-substring-pattern", A, I("SELECT length(substring(lpad(ssn, 40000, ssn) FROM '9+')) "
                                                "FROM patients WHERE id = 90001", "ssn")),
    case("infer/srf-unnest-split", A, I("SELECT count(*) FROM patients p, unnest(string_to_array(p.ssn, '9')) u WHERE p.id = 90001", "ssn")),
    # CYCLE compares each row's columns with those of the rows before it, a literal branch's too.
    case("infer/recursive-cycle", A, I("WITH RECURSIVE t(v, n) AS (SELECT ssn, 1 FROM patients WHERE id = 90001 UNION ALL "
                                       "SELECT '919-27-3645', n + 1 FROM t WHERE n < 5) CYCLE v SET c USING pth "
                                       "SELECT count(*) FROM t", "ssn")),
    case("infer/where-is-null", A, I("SELECT count(*) FROM patients WHERE name IS NULL", "name")),
    case("infer/where-in-subquery", A, I("SELECT id FROM patients WHERE id IN (SELECT patient_id FROM visits WHERE diagnosis LIKE 'X99%')", "diagnosis")),
    case("infer/where-exists", A, I("SELECT id FROM patients p WHERE EXISTS (SELECT 1 FROM visits v WHERE v.patient_id = p.id AND v.notes LIKE '%passphrase%')", "notes")),
    case("infer/join-on", A, I("SELECT p.id FROM patients p JOIN visits v ON v.patient_id = p.id AND v.diagnosis LIKE 'X%'", "diagnosis")),
    case("infer/join-on-masked-equality", A, I("SELECT count(*) FROM patients a JOIN patients b ON a.ssn = b.ssn", "ssn")),
    case("infer/join-using-masked", A, I("SELECT count(*) FROM patients a JOIN patients b USING (email)", "email")),
    case("infer/having", A, I("SELECT patient_id FROM visits GROUP BY patient_id HAVING max(diagnosis) LIKE 'X99%'", "diagnosis")),
    case("infer/order-by", A, I("SELECT id FROM patients ORDER BY ssn DESC LIMIT 1", "ssn")),
    case("infer/order-by-position", A, I("SELECT id, ssn FROM patients ORDER BY 2 DESC LIMIT 1", "ssn")),
    case("infer/order-by-output-alias", A, I("SELECT id, email AS e FROM patients ORDER BY e LIMIT 1", "email")),
    case("infer/group-by", A, I("SELECT count(*) FROM visits GROUP BY diagnosis", "diagnosis")),
    case("infer/distinct-on", A, I("SELECT DISTINCT ON (email) id FROM patients ORDER BY email LIMIT 1", "email")),
    case("infer/window-order", A, I("SELECT id, rank() OVER (ORDER BY dob) FROM patients LIMIT 1", "dob")),
    case("infer/window-partition", A, I("SELECT id, count(*) OVER (PARTITION BY diagnosis) FROM visits WHERE id = 90001", "diagnosis")),
    case("infer/window-clause", A, I("SELECT id, row_number() OVER w FROM patients WINDOW w AS (ORDER BY phone) LIMIT 1", "phone")),
    case("infer/limit-expression", A, I(f"SELECT id FROM patients ORDER BY id LIMIT (SELECT length(ssn) FROM patients {W})", "ssn")),
    case("infer/offset-expression", A, I(f"SELECT id FROM patients ORDER BY id OFFSET (SELECT ascii(name) FROM patients {W}) LIMIT 1", "name")),
    case("infer/case-when-in-select-list", A, I(f"SELECT CASE WHEN ssn LIKE '9%' THEN 'yes' ELSE 'no' END FROM patients {W}", "ssn")),
    case("infer/simple-case", A, I(f"SELECT CASE email WHEN 'a@b.c' THEN 1 ELSE 0 END FROM patients {W}", "email")),
    case("infer/case-error-oracle", A, I(f"SELECT 1 / (CASE WHEN dob < '1935-01-01' THEN 0 ELSE 1 END) FROM patients {W}", "dob")),
    case("infer/comparison-in-select-list", A, I(f"SELECT ssn > '900' FROM patients {W}", "ssn")),
    case("infer/like-in-select-list", A, I(f"SELECT address LIKE '%Vault%' FROM patients {W}", "address")),
    case("infer/aggregate-filter", A, I("SELECT count(*) FILTER (WHERE diagnosis LIKE 'X%') FROM visits", "diagnosis")),
    case("infer/scalar-subquery-where", A, I("SELECT (SELECT count(*) FROM patients WHERE ssn LIKE '9%')", "ssn")),
    case("infer/lateral-where", A, I("SELECT p.id FROM patients p, LATERAL (SELECT 1 WHERE p.email LIKE 'z%') l", "email")),
    case("infer/cte-where", A, I("WITH x AS (SELECT id FROM patients WHERE name LIKE 'Z%') SELECT count(*) FROM x", "name")),
    case("infer/view-column", A, I("SELECT id FROM patient_contacts WHERE tax_id LIKE '9%'", "tax_id", "ssn")),
    case("infer/matview-column", A, I("SELECT count(*) FROM mv_diagnoses WHERE dx LIKE 'X%'", "dx", "diagnosis")),
    case("infer/partition-leaf-column", A, I("SELECT count(*) FROM lab_results_2024 WHERE result LIKE 'HbA1c%'", "result")),
    case("infer/inheritance-child-column", A, I("SELECT count(*) FROM contacts_vip WHERE note LIKE 'Next%'", "note")),
    case("infer/quoted-mixed-case-column", A, I("SELECT count(*) FROM \"Patients\" WHERE \"SSN\" LIKE '9%'", "SSN")),
    case("infer/unicode-escaped-column", A, I(r"SELECT count(*) FROM patients WHERE U&" + '"s\\0073n"' + " LIKE '9%'", "ssn")),
    case("infer/explain-analyze", A, I("EXPLAIN ANALYZE SELECT 1 FROM patients WHERE ssn LIKE '9%'", "ssn")),
    # A subscript bound from a protected value decides the result's shape, which decides whether
    # an array constructor over it fails.
    # A key lookup is NULL or not by whether the key is there, and redaction keeps NULL.
    case("infer/jsonb-key-lookup", A, I("SELECT '{\"9\": 1}'::jsonb ->> substr(ssn, 1, 1) AS a FROM patients " + W, "ssn"),
         I("SELECT jsonb_extract_path_text('{\"9\": 1}'::jsonb, substr(email, 1, 1)) FROM patients " + W, "email")),
    case("infer/array-slice-bound", A, I(f"SELECT ARRAY[((ARRAY[1,2,3,4,5,6,7,8,9,10,11,12])[length(ssn):12])[1:1], ARRAY[1]] "
                                         f"FROM patients {W}", "ssn")),
    case("infer/update-where", CL, *in_transaction(I("UPDATE scratch SET note = 'x' WHERE EXISTS (SELECT 1 FROM patients WHERE ssn LIKE '9%')", "ssn"))),
    case("infer/delete-where", CL, *in_transaction(I("DELETE FROM visits WHERE diagnosis LIKE 'X99%'", "diagnosis"))),
    case("infer/prepared-parameter", A, I("PREPARE f1(text) AS SELECT count(*) FROM patients WHERE ssn = $1", "ssn"),
         Q("EXECUTE f1('123-45-6789')")),
    case("infer/extended-parameter", A, X("SELECT count(*) FROM patients WHERE email = $1", ("a@b.c",), expect=INFER, names=("email",))),
    case("infer/analyst-tokenized-equals-literal", AN, I("SELECT count(*) FROM patients WHERE ssn = '123-45-6789'", "ssn")),
    case("infer/analyst-tokenized-order-by", AN, I("SELECT id FROM patients ORDER BY email LIMIT 1", "email")),
    case("infer/analyst-tokenized-range", AN, I("SELECT count(*) FROM patients WHERE name > 'M'", "name")),
    case("infer/analyst-masked-phi", AN, I("SELECT count(*) FROM visits WHERE diagnosis LIKE 'X%'", "diagnosis")),
]


def _ssn_token(result: Result) -> str | None:
    values = [v for row in result.rows for v in row]
    if len(values) != 1 or not re.fullmatch(r"\d{3}-\d{2}-\d{4}", values[0] or "") or values[0] == SSN:
        return f"expected one format-preserving SSN token, got {values!r}"
    return None


def _three_email_tokens(result: Result) -> str | None:
    values = [row[0] for row in result.rows]
    if len(values) != 3 or any("@" not in (v or "") for v in values) or EMAIL in values:
        return f"expected three tokenized e-mails, got {values!r}"
    return None


UTILITY = [
    case("utility/count-star", A, Q("SELECT count(*) FROM patients", OK, rows=DIRECT)),
    case("utility/count-star-denied-table", AN, Q("SELECT count(*) FROM payments", OK, rows=DIRECT)),
    case("utility/join-on-unprotected-keys", A, Q("SELECT p.id, count(v.id) FROM patients p JOIN visits v ON v.patient_id = p.id WHERE p.id = 90001 GROUP BY p.id", OK, rows=[["90001", "300"]])),
    case("utility/filter-aggregate-unprotected", SU, Q("SELECT count(*), min(patient_id), max(id) FROM payments WHERE patient_id BETWEEN 1 AND 100", OK, rows=DIRECT)),
    case("utility/group-by-unprotected", A, Q("SELECT patient_id, count(*) FROM visits WHERE patient_id IN (1, 2, 90001) GROUP BY patient_id ORDER BY patient_id", OK, rows=DIRECT)),
    case("utility/filter-unprotected-timestamp", SU, Q("SELECT count(*) FROM payments WHERE paid_at >= '2024-01-01'", OK, rows=DIRECT)),
    case("utility/window-on-unprotected", A, Q("SELECT id, row_number() OVER (ORDER BY id) FROM patients WHERE id IN (1, 2, 3) ORDER BY id", OK, rows=DIRECT)),
    case("utility/string-agg-unprotected", A, Q("SELECT string_agg(id::text, ',' ORDER BY id) FROM patients WHERE id <= 3", OK, rows=[["1,2,3"]])),
    case("utility/tokenized-equality-self-join", AN, Q("SELECT a.id, b.id FROM patients a JOIN patients b ON a.ssn = b.ssn WHERE a.id = 90001", OK, rows=[["90001", "90001"]])),
    case("utility/tokenized-join-using", AN, Q("SELECT count(*) FROM patients a JOIN patients b USING (email)", OK, rows=DIRECT)),
    case("utility/tokenized-group-by", AN, Q("SELECT count(*) FROM (SELECT email FROM patients GROUP BY email) g", OK, rows=DIRECT)),
    case("utility/tokenized-distinct", AN, Q("SELECT DISTINCT email FROM patients WHERE id IN (1, 2, 90001)", OK, check=_three_email_tokens)),
    case("utility/tokenized-direct-reference", AN, Q(f"SELECT ssn FROM patients {W}", OK, check=_ssn_token)),
    case("utility/masked-direct-references", A, Q(f"SELECT id, ssn, email, name, phone, dob, address FROM patients {W}", OK,
                                                  rows=[["90001", "XXX-XX-3645", "z***@***.test", "Z***", "***-***-0461", "1931-01-01", "***"]])),
    case("utility/masked-through-alias-and-subquery", A, Q(f"SELECT s.x FROM (SELECT ssn AS x FROM patients {W}) s", OK, rows=[["XXX-XX-3645"]])),
    case("utility/masked-through-cte", A, Q(f"WITH c AS (SELECT ssn FROM patients {W}) SELECT ssn FROM c", OK, rows=[["XXX-XX-3645"]])),
    case("utility/masked-through-view", A, Q("SELECT tax_id FROM patient_contacts WHERE id = 90001", OK, rows=[["XXX-XX-3645"]])),
    case("utility/count-view-partition-child", A, Q("SELECT (SELECT count(*) FROM patient_shout), (SELECT count(*) FROM lab_results), (SELECT count(*) FROM contacts_vip)", OK, rows=DIRECT)),
    case("utility/trusted-function-on-unprotected", CL, Q(f"SELECT public.add_one(id) FROM patients {W}", OK, rows=[["90002"]])),
    case("utility/insert-select-unprotected", CL, *in_transaction(Q(f"INSERT INTO scratch (note) SELECT id::text FROM patients {W}", OK, check=lambda r: None if r.tags == ["INSERT 0 1"] else f"tags {r.tags}"))),
    case("utility/client-encoding-utf8", A, Q("SET client_encoding = 'UTF8'", OK), Q("SELECT count(*) FROM visits WHERE patient_id = 90001", OK, rows=[["300"]])),
    case("utility/set-config-application-name", A, Q("SELECT set_config('application_name', 'adversarial-suite', false)", OK, rows=[["adversarial-suite"]])),
    case("utility/extended-unprotected", A, X("SELECT id, patient_id FROM visits WHERE id = $1", ("90001",), expect=OK, rows=[["90001", "90001"]])),
    case("utility/prepare-execute-unprotected", A, Q("PREPARE u1 AS SELECT count(*) FROM visits WHERE patient_id = $1", OK), Q("EXECUTE u1(90001)", OK, rows=[["300"]])),
    case("utility/cursor-unprotected", A, *in_transaction(Q("DECLARE u2 CURSOR FOR SELECT id FROM patients WHERE id IN (1, 90001) ORDER BY id", OK),
                                                           Q("FETCH ALL u2", OK, rows=[["1"], ["90001"]]))),
    case("utility/returning-masked-direct", CL, *in_transaction(Q(f"UPDATE patients SET id = id {W} RETURNING id, ssn", OK, rows=[["90001", "XXX-XX-3645"]]))),
    Case("utility/startup-utf8-and-options", A, [Q("SELECT current_setting('search_path'), count(*) FROM patients", OK, rows=[["public", "2001"]])],
         {"client_encoding": "UTF8", "options": "-c search_path=public", "application_name": "adversarial"}),
]



def swap_for_view(name: str) -> tuple[str, str]:
    """A table replaced by a view of protected columns under the same name."""
    return (f"DROP TABLE {name}",
            f"CREATE VIEW {name} AS SELECT v.id, v.notes AS note, pay.card_number AS card FROM visits v, payments pay "
            "WHERE v.id = 90001 AND pay.id = 90001")


def dropped(name: str) -> tuple[str]:
    """Drops `name`, a table or a view by then. A prepared transaction a failed case left behind
    would hold its locks: fail rather than wait."""
    return (f"SET lock_timeout = '5s'; DO $$DECLARE r record; BEGIN FOR r IN SELECT c.oid::regclass AS rel, c.relkind "
            f"FROM pg_class c WHERE c.relname = '{name}' AND c.relnamespace = 'public'::regnamespace LOOP "
            "EXECUTE format(CASE r.relkind WHEN 'v' THEN 'DROP VIEW %s' ELSE 'DROP TABLE %s' END, r.rel); END LOOP; END$$",)


# Two-phase commit: DDL becomes visible at COMMIT PREPARED (or is undone at ROLLBACK PREPARED),
# whichever session sends it, long after the statements that ran it.
TWO_PHASE = [
    case("2pc/commit-prepared-own-ddl", CL, Q("CREATE TABLE tp_own (id int, note text, card text)", OK),
         Q("BEGIN", OK), *(Q(sql, OK) for sql in swap_for_view("tp_own")), Q("PREPARE TRANSACTION 'tp_own'", OK),
         Q("COMMIT PREPARED 'tp_own'", OK), Q("SELECT note, card FROM tp_own", OK), cleanup_sql=dropped("tp_own")),
    case("2pc/commit-prepared-of-another-session", CL, Q("CREATE TABLE tp_other (id int, note text, card text)", OK),
         DIRECT_AS(CL, "BEGIN", *swap_for_view("tp_other"), "PREPARE TRANSACTION 'tp_other'"),
         Q("COMMIT PREPARED 'tp_other'", OK), Q("SELECT note, card FROM tp_other", OK), cleanup_sql=dropped("tp_other")),
    case("2pc/prepared-here-committed-elsewhere", CL, Q("CREATE TABLE tp_late (id int, note text, card text)", OK),
         Q("BEGIN", OK), *(Q(sql, OK) for sql in swap_for_view("tp_late")), Q("PREPARE TRANSACTION 'tp_late'", OK),
         Q("SELECT 1", OK), DIRECT_AS(CL, "COMMIT PREPARED 'tp_late'"), Q("SELECT note, card FROM tp_late", OK),
         cleanup_sql=dropped("tp_late")),
]

# An administrator's rule whose action returns rows (intake_log_echo): the server sends them after
# the INSERT that fires it, described with no table, and the INSERT names no protected column.
RULES = [
    case("rules/do-also-select", SU, *in_transaction(Q("INSERT INTO intake_log VALUES (90001)", OK))),
    case("rules/do-also-select-execute", CL, *in_transaction(Q("PREPARE ri AS INSERT INTO intake_log VALUES ($1)", OK),
                                                             Q("EXECUTE ri(90001)", OK))),
]

# Names PostgreSQL finds where pgmask's column lists missed or invented one resolved to an outer
# level's column; targets shadowed by CTEs; unanalysed XMLTABLE parts; sums next to the limit.
SHAPES = [
    one("shapes/search-column-named-like-outer", A,
        "SELECT (WITH RECURSIVE r AS (SELECT ssn, email FROM patients WHERE id = 90001 UNION ALL "
        "SELECT ssn, email FROM r WHERE false) SEARCH DEPTH FIRST BY ssn, email SET ord SELECT ord::text FROM r) "
        "FROM (SELECT 1 AS ord) o"),
    one("shapes/cycle-path-named-like-outer", A,
        "SELECT (WITH RECURSIVE r AS (SELECT card_number FROM payments WHERE id = 90001 UNION ALL "
        "SELECT card_number FROM r WHERE false) CYCLE card_number SET c USING path SELECT path::text FROM r) "
        "FROM (SELECT 1 AS path) o"),
    one("shapes/rows-from-without-definition-list", SU,
        "SELECT (SELECT concat FROM visits v, ROWS FROM (json_to_record('{\"a\":1}') AS (a int), "
        "concat(v.diagnosis, ' | ', v.notes)) WHERE v.id = 90001) FROM (SELECT 1 AS concat) o"),
    one("shapes/ordinality-renamed-by-alias", SU,
        "SELECT (SELECT ordinality::text FROM generate_series(1, 1) WITH ORDINALITY AS t(a, b)) "
        "FROM (SELECT diagnosis AS ordinality FROM visits WHERE id = 90001) o"),
    case("shapes/xmlnamespaces-expression", A,
         Q("SELECT 1 FROM XMLTABLE(XMLNAMESPACES((SELECT set_config('my.x', ssn, false) FROM patients "
           f"{W}) AS n), '/r' PASSING ('<r/>'::xml) COLUMNS v text PATH 'string(1)') x"),
         Q("SELECT current_setting('my.x', true)"),
         Q("SELECT 1 FROM XMLTABLE(XMLNAMESPACES((SELECT ssn::int::text FROM patients "
           f"{W}) AS n), '/r' PASSING ('<r/>'::xml) COLUMNS v text PATH 'string(1)') x")),
    case("shapes/xmltable-path-fails-on-value", A,
         I("SELECT x.v FROM patients p, XMLTABLE('/r' PASSING ('<r/>'::xml) COLUMNS v int PATH "
           "('substring(\"1x\", 1 + (' || substr(p.ssn, 1, 1) || ' > 4), 1)')) x WHERE p.id = 90001", "ssn")),
    case("shapes/cte-named-like-update-target", CL, *in_transaction(
        Q("WITH payments AS (SELECT 1 AS id, 'x'::text AS card_number, 1.0 AS amount) UPDATE payments SET id = id "
          f"{W} RETURNING card_number || '' AS c, amount + 0 AS a"),
        Q("WITH visits AS (SELECT 1 AS id, 'x'::text AS diagnosis, 'x'::text AS notes) UPDATE visits SET id = id "
          f"{W} RETURNING diagnosis || '', notes || ''"))),
    case("shapes/cte-named-like-update-target-condition", CL, *in_transaction(
        I("WITH patients AS (SELECT 1 AS id, 'x'::text AS ssn) UPDATE patients SET id = id "
          "WHERE id = 90001 AND ssn LIKE '919-27%'", "ssn"))),
    case("shapes/cte-named-like-merge-target", CL, *in_transaction(
        I("WITH patients AS (SELECT 1 AS id, 'x'::text AS ssn) MERGE INTO patients p USING (SELECT 90001 AS id) s "
          "ON p.id = s.id AND p.ssn LIKE '919%' WHEN MATCHED THEN UPDATE SET id = p.id", "ssn"))),
    case("shapes/sum-next-to-the-limit", SU,
         I("SELECT sum(x) FROM (SELECT amount AS x FROM payments WHERE id = 90001 UNION ALL "
           "SELECT 1e20) s", "amount"),
         I("SELECT avg(x) FROM (SELECT ascii(substr(ssn, 1, 1)) AS x FROM patients WHERE id = 90001 UNION ALL "
           "SELECT 1) s", "ssn")),
    one("shapes/scalar-subquery-named-by-its-column", SU,
        "SELECT (SELECT zz FROM (SELECT (SELECT v.diagnosis || ' / ' || v.notes AS zz FROM visits v "
        "WHERE v.id = 90001)) s) FROM (SELECT 1 AS zz) o"),
    one("shapes/collate-keeps-the-name", A,
        "SELECT (SELECT ssn FROM (SELECT p.ssn COLLATE \"C\" FROM patients p WHERE p.id = 90001) s) "
        "FROM (SELECT 1 AS ssn) o"),
    one("shapes/case-named-by-its-else", A,
        "SELECT (SELECT \"case\" FROM (SELECT CASE WHEN true THEN 1 ELSE g.x END FROM (SELECT 1 AS x) g) s) "
        "FROM (SELECT ssn AS \"case\" FROM patients WHERE id = 90001) o"),
    case("shapes/order-by-position-past-uncounted-star", A,
         I("SELECT j.*, x.v, x.k FROM (SELECT 0 k, ssn v FROM patients WHERE id = 90001 UNION ALL SELECT 1, '5') x, "
           "jsonb_each('{\"a\":1}') j ORDER BY 3", "ssn"),
         I("SELECT j.key, x.v FROM (SELECT ssn v FROM patients WHERE id = 90001 UNION ALL SELECT '5') x, "
           "jsonb_each('{\"a\":1}') j GROUP BY j.key, j.value, 2", "ssn")),
    # A temporary table named like a relation pgmask knows turns a view over it temporary, and
    # the view shadows the catalog relation it is named like.
    case("shapes/temporary-table-makes-a-view-temporary", SU,
         Q("CREATE TEMP TABLE pg_am (x int)"),
         Q("CREATE VIEW pg_roles AS SELECT v.diagnosis || ' / ' || v.notes AS rolname, v.id AS oid FROM visits v "
           "LEFT JOIN pg_am ON false WHERE v.id = 90001"),  # refused: pg_am is a relation pgmask cannot trace
         Q("SELECT rolname FROM pg_roles"),
         Q("SELECT oid FROM pg_roles WHERE rolname LIKE 'X99.1 G%'")),
    case("shapes/subscript-is-a-key-lookup", A,
         I(f"SELECT (string_to_array(email, '@'))[3] FROM patients {W}", "email"),
         I(f"SELECT (to_jsonb(ssn))['k'] FROM patients {W}", "ssn")),
]

ALL_CASES = (LINEAGE + DENIED_CLASS + RELATIONS + RETURNING + COPYING + REFUSALS + SETTINGS + STARTUP + PARSER
             + NAMED + EXTENDED + BINARY + CHANNELS + INFERENCE + UTILITY + TWO_PHASE + RULES + SHAPES)
assert len({c.id for c in ALL_CASES}) == len(ALL_CASES), "case ids must be unique"

# ----------------------------------------------------------------------------------------------
# Fixtures

SEED_SQL = f"""
SET client_min_messages = warning;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'clerk') THEN CREATE ROLE clerk LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tinkerer') THEN CREATE ROLE tinkerer LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'masked_super') THEN CREATE ROLE masked_super LOGIN SUPERUSER; END IF;
END $$;
ALTER ROLE clerk REPLICATION;
ALTER ROLE tinkerer RESET ALL;
GRANT pg_read_server_files, pg_write_server_files, pg_execute_server_program, pg_read_all_stats,
      pg_read_all_settings TO clerk;

INSERT INTO patients (id, name, ssn, email, phone, dob, address)
  VALUES (90001, '{NAME}', '{SSN}', '{EMAIL}', '{PHONE}', '{DOB.isoformat()}', '{ADDRESS}');
INSERT INTO visits (id, patient_id, visited_at, diagnosis, notes)
  SELECT 90000 + g, 90001, '{VISITED_AT.isoformat()}', '{DIAGNOSIS}', '{NOTES}' FROM generate_series(1, 300) AS g;
INSERT INTO payments (id, patient_id, card_number, amount, paid_at)
  VALUES (90001, 90001, '{CARD}', {AMOUNT}, '2020-02-29 12:00:00+00');
CREATE UNIQUE INDEX patients_email_unique ON patients (email);

CREATE TABLE "Patients" (id int PRIMARY KEY, "SSN" text NOT NULL, ssn text NOT NULL);
INSERT INTO "Patients" VALUES (1, '{QUOTED_SSN}', 'harmless-lower-case-ssn');

CREATE TABLE lab_results (id int NOT NULL, patient_id int NOT NULL, taken_on date NOT NULL, result text NOT NULL)
  PARTITION BY RANGE (taken_on);
CREATE TABLE lab_results_2023 PARTITION OF lab_results FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE lab_results_2024 PARTITION OF lab_results FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE lab_results_2025 PARTITION OF lab_results FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
  PARTITION BY RANGE (patient_id);
CREATE TABLE lab_results_2025_all PARTITION OF lab_results_2025 FOR VALUES FROM (0) TO (1000000);
INSERT INTO lab_results VALUES (1, 1, '2023-05-01', 'LDL 130 mg/dL'),
  (90001, 90001, '2024-03-03', '{LAB_RESULT}'), (90002, 90001, '2025-02-02', '{LAB_RESULT}');

CREATE TABLE contacts (id int NOT NULL, patient_id int NOT NULL, note text NOT NULL);
CREATE TABLE contacts_vip (tier text NOT NULL) INHERITS (contacts);
INSERT INTO contacts VALUES (1, 1, 'ordinary contact');
INSERT INTO contacts_vip VALUES (90001, 90001, '{CONTACT_NOTE}', 'gold');

CREATE SCHEMA decoy;
CREATE TABLE decoy.patients (id int, ssn text, email text);
INSERT INTO decoy.patients VALUES (90001, 'decoy-ssn', 'decoy@example.invalid');

CREATE TABLE scratch (id serial PRIMARY KEY, note text);
INSERT INTO scratch (note) VALUES ('scratch row');

CREATE VIEW patient_contacts AS SELECT id, name AS full_name, ssn AS tax_id, email FROM patients;
CREATE VIEW patient_shout AS SELECT id, upper(ssn) AS loud_ssn, lower(email) AS quiet_email FROM patients;
CREATE VIEW patient_contacts_v2 AS SELECT * FROM patient_contacts;
CREATE VIEW visit_texts AS SELECT id, diagnosis AS txt FROM visits UNION ALL SELECT id, notes FROM visits;
CREATE TABLE email_refs (id int PRIMARY KEY, email text REFERENCES patients (email));
CREATE VIEW email_ref_view AS SELECT id, email AS contact FROM email_refs;
CREATE TABLE email_keys (id int PRIMARY KEY, raw_email text,
  email_key text GENERATED ALWAYS AS (lower(raw_email)) STORED REFERENCES patients (email));
CREATE MATERIALIZED VIEW mv_diagnoses AS SELECT id, patient_id, diagnosis AS dx FROM visits;
CREATE MATERIALIZED VIEW mv_emails AS SELECT id, upper(email) AS e FROM patients;

CREATE FUNCTION public.peek_ssn(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT ssn FROM patients WHERE id = $1';
CREATE FUNCTION public.leak_op(int, int) RETURNS text LANGUAGE sql STABLE AS 'SELECT ssn FROM patients WHERE id = $1';
CREATE OPERATOR public.### (LEFTARG = int, RIGHTARG = int, FUNCTION = public.leak_op);
CREATE FUNCTION public.add_one(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
CREATE FUNCTION public.noisy_note(text) RETURNS text LANGUAGE plpgsql
  AS $f$BEGIN RAISE NOTICE 'noted: %', $1; RETURN 'ok'; END$f$;
CREATE FUNCTION public.picky_check(text) RETURNS boolean LANGUAGE plpgsql
  AS $f$BEGIN RAISE EXCEPTION 'rejected value: %', $1; END$f$;
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE STATISTICS patients_contact_stats (mcv) ON email, ssn FROM patients;
CREATE TABLE intake_log (pid int);
CREATE RULE intake_log_echo AS ON INSERT TO intake_log DO ALSO
  SELECT p.ssn || '' AS s, p.email, v.diagnosis FROM patients p JOIN visits v ON v.patient_id = p.id
  WHERE p.id = NEW.pid AND v.id = 90001;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO analyst, support, auditor, clerk, tinkerer;
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO clerk;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO clerk;
GRANT CREATE ON SCHEMA public TO clerk;
GRANT INSERT ON intake_log TO support;
GRANT CREATE ON DATABASE clinic_adversarial TO clerk;
GRANT USAGE ON SCHEMA decoy TO analyst, support, auditor, clerk;
GRANT SELECT ON decoy.patients TO analyst, support, auditor, clerk;
GRANT EXECUTE ON FUNCTION pg_read_file(text), pg_read_file(text, bigint, bigint), pg_read_binary_file(text),
  pg_ls_dir(text), pg_stat_file(text), lo_import(text), lo_export(oid, text) TO clerk;
ANALYZE;
"""


def suite_policy() -> dict:
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["tables"]['public."Patients"'] = {
        "columns": {'"SSN"': {"class": "PII", "mask": "partial(0, 'XXX-XX-', 4)"}}}
    policy["tables"]["public.lab_results"] = {"columns": {"result": {"class": "PHI", "mask": "redact"}}}
    policy["tables"]["public.contacts"] = {"columns": {"note": {"class": "PII", "mask": "redact"}}}
    policy.setdefault("settings", {})["inference"] = "deny"
    policy["settings"]["trusted_functions"] = ["public.add_one", "public.noisy_note", "public.picky_check"]
    return policy


@pytest.fixture(scope="module")
def postgres():
    """A cluster of the suite's own, with prepared transactions enabled (PostgreSQL allows none by
    default) for the two-phase cases; the other suites' shared cluster keeps the default."""
    with running_cluster({"max_prepared_transactions": "10"}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def clinic(postgres):
    load_demo(postgres, DB)
    postgres.psql(SEED_SQL, dbname=DB)
    return postgres


def direct_rows(clinic, sql: str) -> list[list[str]]:
    out = clinic.psql(sql, dbname=DB)
    return [line.split("|") for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def context(clinic) -> Context:
    oids = dict(row for row in (line.split("|") for line in clinic.psql(
        "SELECT 'peek_ssn', 'public.peek_ssn(int)'::regprocedure::oid "
        "UNION ALL SELECT 'int4pl', 'pg_catalog.int4pl(int4, int4)'::regprocedure::oid "
        "UNION ALL SELECT 'lo_create', 'pg_catalog.lo_create(oid)'::regprocedure::oid", dbname=DB).splitlines()))
    return Context(clinic.port, {k: int(v) for k, v in oids.items()})


@pytest.fixture(scope="module")
def needles(clinic) -> Needles:
    ssn_hash, email_hash, julian = direct_rows(
        clinic, f"SELECT hashtext(ssn), hashtext(email), to_char(dob, 'J') FROM patients {W}")[0]
    return build_needles([("patients.ssn", "hashtext", ssn_hash), ("patients.email", "hashtext", email_hash),
                          ("patients.dob", "julian day", julian)])


@pytest.fixture(scope="module")
def clear_app_session(clinic):
    """A clear application session, straight to Postgres, idle after a lookup by SSN: what
    pg_stat_activity would show a restricted role."""
    conn = psycopg.connect(host="127.0.0.1", port=clinic.port, user="app_backend", dbname=DB,
                           connect_timeout=10, autocommit=True)
    conn.execute(f"SELECT count(*) FROM patients WHERE ssn = '{SSN}'").fetchall()
    yield conn
    conn.close()


AUDIT_KEY_HEX = "44" * 32
# Members of an audit record that are keyed hashes or random: hex that could match a short
# needle by chance, and never a value.
AUDIT_HASH_MEMBERS = ("id", "prev", "hmac", "fingerprint", "policy", "keys")


class ProxyHandle:
    """The module's pgmask; restarted (and the test failed) if a case kills it."""

    def __init__(self, binary: Path, upstream_port: int, directory: Path, args: list[str]):
        self.binary, self.upstream_port, self.directory, self.args = binary, upstream_port, directory, args
        self.instances: list[Pgmask] = []

    @property
    def current(self) -> Pgmask:
        return self.instances[-1]

    @property
    def port(self) -> int:
        return self.current.port

    def start(self) -> None:
        proxy = Pgmask(self.binary, self.upstream_port, self.directory / f"pgmask-{len(self.instances)}.log", self.args)
        self.instances.append(proxy)
        proxy.start()

    def exited(self) -> int | None:
        try:
            return self.current.wait(0)
        except subprocess.TimeoutExpired:
            return None

    def stop_all(self) -> list[str]:
        problems = []
        for proxy in self.instances:
            failure = proxy.stop()
            if failure:
                problems.append(f"{proxy.log_path.name}: {failure}")
            report = proxy.sanitizer_report()
            if report:
                problems.append(f"{proxy.log_path.name}: sanitizer report:\n{report[:6000]}")
        return problems


@pytest.fixture(scope="module")
def proxy(pgmask_bin, clinic, clear_app_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("adversarial")
    policy_path = directory / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(suite_policy(), sort_keys=False))
    # Every case also writes the audit trail, which the last test scans for the secrets.
    (directory / "audit.key").write_text(AUDIT_KEY_HEX + "\n")
    handle = ProxyHandle(pgmask_bin, clinic.port, directory,
                         ["--policy", str(policy_path), *key_flags(directory),
                          "--audit-file", str(directory / "audit.jsonl"),
                          "--audit-key-file", str(directory / "audit.key")])
    handle.start()
    yield handle
    problems = handle.stop_all()
    assert not problems, "pgmask teardown:\n" + "\n".join(problems)


@pytest.fixture
def pgm(proxy):
    yield proxy
    code = proxy.exited()
    if code is not None:
        log = proxy.current.log_text()[-4000:]
        proxy.start()
        pytest.fail(f"pgmask exited with {code} during this case; log tail:\n{log}")


# ----------------------------------------------------------------------------------------------
# Running a case


def step_problem(step: Step, result: Result, clinic) -> str | None:
    refusals = [e for e in result.errors if e.get("C") == "42501"]
    if step.expect == OK and result.errors:
        return f"expected success, got {result.summary()}"
    if step.expect in (REFUSED, INFER):
        if not refusals:
            return f"expected a 42501 refusal, got {result.summary()}"
        if step.expect == INFER and step.names:
            text = " ".join(f"{e.get('M', '')} {e.get('D', '')}" for e in refusals).lower()
            if not any(name.lower() in text for name in step.names):
                return f"the refusal names none of {step.names}: {refusals[0].get('M')!r} / {refusals[0].get('D')!r}"
    if step.rows is not None:
        expected = direct_rows(clinic, step.sql) if step.rows == DIRECT else step.rows
        got = [["" if v is None and step.rows == DIRECT else v for v in row] for row in result.rows]
        if got != expected:
            return f"expected rows {expected!r}, got {got!r}"
    if step.check is not None:
        return step.check(result)
    return None


def still_usable(session: Session) -> str | None:
    if session.status in (b"T", b"E"):
        session.query("ROLLBACK")
    result = session.query("SELECT 1")
    if result.errors or result.rows != [["1"]]:
        return f"the connection does not work afterwards: SELECT 1 gave {result.summary()}"
    return None


def run_case(c: Case, pgm: ProxyHandle, ctx: Context, needles: Needles, clinic) -> None:
    problems: list[str] = []
    session = Session(pgm.port)
    try:
        login = session.startup(c.role, **c.startup)
        if c.refuse_startup:
            codes = [e.get("C") for e in login.errors]
            if "42501" not in codes:
                problems.append(f"startup {c.startup} must be refused with 42501, got "
                                f"{login.summary() if login.errors else 'a session'}")
        elif login.errors:
            problems.append(f"login as {c.role} failed: {login.summary()}")
        if not login.errors:
            for number, step in enumerate(c.steps, 1):
                result = step.send(session, ctx)
                problem = step_problem(step, result, clinic)
                if problem:
                    problems.append(f"step {number} [{step.label}]: {problem}")
            if not c.refuse_startup:
                problem = still_usable(session)
                if problem:
                    problems.append(problem)
    except (wire.ConnectionClosed, socket.timeout, OSError) as e:
        problems.append(f"connection failed: {e!r}")
    finally:
        session.close()
        for sql in c.cleanup_sql:
            clinic.psql(sql, dbname=DB)
        for path in c.cleanup_files:
            Path(path).unlink(missing_ok=True)
    leaks = needles.find(bytes(session.received))
    report = []
    if leaks:
        report.append("LEAKED to the client:\n  " + "\n  ".join(leaks))
    report += problems
    if report:
        pytest.fail(f"{c.id} as {c.role}:\n" + "\n".join(report), pytrace=False)


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in ALL_CASES])
def test_adversarial(c: Case, pgm, context, needles, clinic):
    run_case(c, pgm, context, needles, clinic)


def test_suite_has_at_least_80_restricted_cases():
    restricted = {"analyst", "support", "auditor", "clerk", "masked_super", "tinkerer"}
    assert all(c.role in restricted for c in ALL_CASES)
    assert len(ALL_CASES) >= 80


def test_the_secrets_are_really_there(clinic, needles):
    """The leak scan is only meaningful if the seeded values are what the needles look for: a clear
    role straight to Postgres must trip it."""
    out = clinic.psql(
        "SELECT row_to_json(p) FROM patients p WHERE id = 90001 UNION ALL "
        "SELECT row_to_json(v) FROM visits v WHERE id = 90001 UNION ALL "
        "SELECT row_to_json(y) FROM payments y WHERE id = 90001 UNION ALL "
        "SELECT row_to_json(q) FROM \"Patients\" q UNION ALL "
        "SELECT row_to_json(l) FROM lab_results l WHERE id = 90001 UNION ALL "
        "SELECT row_to_json(c) FROM contacts_vip c", dbname=DB)
    found = {hit.split(" as ")[0] for hit in needles.find(out.encode())}
    assert found >= {s.label for s in SECRETS}, found


def test_the_binary_needles_match_what_postgres_sends(clinic, needles):
    """The same for the binary encodings: straight to Postgres, in binary, every form is found."""
    session = Session(clinic.port)
    try:
        assert not session.startup("app_backend").errors
        sql = ("SELECT p.dob, p.dob::timestamp, v.visited_at, extract(epoch FROM v.visited_at), y.amount, "
               "y.amount::float8, y.amount::float4, (y.amount * 100)::int4, (y.amount * 100)::int8, "
               "to_hex((y.amount * 100)::int) FROM patients p, visits v, payments y "
               "WHERE p.id = 90001 AND v.id = 90001 AND y.id = 90001")
        result = X(sql, fmt=1, expect=OK).send(session, Context(clinic.port, {}))
        assert not result.errors, result.summary()
    finally:
        session.close()
    stream = bytes(session.received)
    missing = [f"{label} {form}" for label, form, needle in binary_needles() if needle not in stream]
    assert not missing, missing


# ----------------------------------------------------------------------------------------------
# Under `inference: allow`

@pytest.fixture(scope="module")
def allow_proxy(pgmask_bin, clinic, tmp_path_factory):
    """A second pgmask with the suite's policy under `inference: allow`: conditions and failing
    computations run, and only masking and hidden texts stand between them and the client."""
    directory = tmp_path_factory.mktemp("adversarial-allow")
    policy = suite_policy()
    policy["settings"]["inference"] = "allow"
    policy_path = directory / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy, sort_keys=False))
    handle = ProxyHandle(pgmask_bin, clinic.port, directory, ["--policy", str(policy_path), *key_flags(directory)])
    handle.start()
    yield handle
    problems = handle.stop_all()
    assert not problems, "pgmask teardown:\n" + "\n".join(problems)


# Cases for `inference: allow`, where conditions and failing computations run: their texts must
# still be hidden wherever they surface.
ALLOW_CASES = [
    case("allow/temp-table-row-security", A, Q("CREATE TEMP TABLE g5 (id int)"), Q("INSERT INTO g5 VALUES (1)"),
         Q("ALTER TABLE g5 ENABLE ROW LEVEL SECURITY"), Q("ALTER TABLE g5 FORCE ROW LEVEL SECURITY"),
         Q(f"CREATE POLICY g5p ON g5 USING ((SELECT address FROM patients {W})::int > 0)"), Q("SELECT count(*) FROM g5")),
    case("allow/own-table-row-security", CL, Q("CREATE TABLE public.g3 (id int)"), Q("INSERT INTO g3 VALUES (1)"),
         Q("ALTER TABLE g3 ENABLE ROW LEVEL SECURITY"), Q("ALTER TABLE g3 FORCE ROW LEVEL SECURITY"),
         Q(f"CREATE POLICY g3p ON g3 USING ((SELECT ssn FROM patients {W})::int > 0)"), Q("SELECT * FROM g3"),
         Q("SELECT count(*) FROM g3"), cleanup_sql=("DROP TABLE IF EXISTS public.g3",)),
    case("allow/refresh-own-matview", CL,
         Q(f"CREATE MATERIALIZED VIEW mr_allow AS SELECT id, (name || '')::int AS x FROM patients {W} WITH NO DATA"),
         Q("REFRESH MATERIALIZED VIEW mr_allow"), cleanup_sql=("DROP MATERIALIZED VIEW IF EXISTS mr_allow",)),
    case("allow/domain-check-keeps-value", SU,
         Q("CREATE DOMAIN pg_temp.ad1 AS text CHECK (set_config('my.ad1', VALUE, false) IS NOT NULL)", REFUSED),
         Q(f"SELECT card_number::pg_temp.ad1 FROM payments {W}"), Q("SELECT current_setting('my.ad1', true)")),
    case("allow/domain-check-notifies", SU, Q("LISTEN ad2"),
         Q("CREATE DOMAIN pg_temp.ad2 AS text CHECK (pg_notify('ad2', VALUE) IS NOT NULL)", REFUSED),
         Q(f"SELECT card_number::pg_temp.ad2 FROM payments {W}")),
    case("allow/explain-analyze-execute", SU, Q(f"PREPARE an AS SELECT noisy_note(ssn) FROM patients {W}", OK),
         Q("EXPLAIN (ANALYZE) EXECUTE an"), Q(f"PREPARE aq AS SELECT name::int FROM patients {W}", OK),
         Q("EXPLAIN ANALYZE EXECUTE aq"), Q(f"EXPLAIN ANALYZE SELECT noisy_note(email) FROM patients {W}")),
]


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in ALLOW_CASES])
def test_allow_mode(c: Case, allow_proxy, context, needles, clinic):
    run_case(c, allow_proxy, context, needles, clinic)


# ----------------------------------------------------------------------------------------------
# Mutants: blind spots of the analysis, searched for mechanically
#
# Statements over unprotected data only (decoy.patients, scratch, the id columns), written to put
# a leaf expression (a constant, a column, current_user, DEFAULT) in every kind of place.
# pgmask_sql_mutants (tests/policy/sql_mutants_main.cc) replaces each leaf in turn by each graft,
# a scalar subquery over a secret, and each mutant runs through pgmask as clerk, in its own
# transaction, under both inference settings. Whatever PostgreSQL makes of a mutant (rows, an
# error, a notice, a refusal), no secret may reach the client.

MUTANT_CORPUS = [
    "SELECT d.id, upper(d.ssn), d.email || 'x' FROM decoy.patients d WHERE d.id = 90001 AND d.ssn <> 'y'",
    'SELECT DISTINCT ON (v.patient_id) v.patient_id, v.id FROM visits v WHERE v.id > 90290 ORDER BY v.patient_id, v.id DESC',
    'SELECT v.patient_id, count(*) FROM visits v GROUP BY v.patient_id HAVING count(*) > 1 ORDER BY 2 LIMIT 10 OFFSET 0',
    'SELECT d.email, max(d.id) FROM decoy.patients d GROUP BY GROUPING SETS ((d.email), (d.ssn), ())',
    'SELECT count(*) FILTER (WHERE d.id > 1), count(DISTINCT d.ssn) FROM decoy.patients d',
    "SELECT string_agg(d.ssn, ',' ORDER BY d.email), array_agg(d.email ORDER BY d.ssn) FROM decoy.patients d",
    'SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d.ssn), mode() WITHIN GROUP (ORDER BY d.email) FROM decoy.patients d',
    "SELECT rank('x') WITHIN GROUP (ORDER BY d.ssn) FROM decoy.patients d",
    "SELECT row_number() OVER (PARTITION BY d.email ORDER BY d.ssn), lag(d.ssn, 1, 'none') OVER w FROM decoy.patients d WINDOW w AS (ORDER BY d.id)",
    'SELECT first_value(d.ssn) OVER (ORDER BY d.id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM decoy.patients d',
    "SELECT CASE d.ssn WHEN 'a' THEN 'b' ELSE d.email END, CASE WHEN d.id > 1 THEN d.ssn ELSE 'z' END FROM decoy.patients d",
    "SELECT coalesce(d.ssn, 'x'), nullif(d.email, 'y'), greatest(d.ssn, 'a'), least(d.email, 'b') FROM decoy.patients d",
    "SELECT d.ssn IS NOT NULL, d.ssn LIKE 'd%', d.email ILIKE '%x%', d.ssn SIMILAR TO 'd%', d.ssn ~ '^d' FROM decoy.patients d",
    "SELECT d.ssn = ANY (ARRAY['a', 'b']), d.ssn IN ('c', 'd'), d.id BETWEEN 1 AND 100000 FROM decoy.patients d",
    "SELECT ARRAY[d.ssn, 'x'], (ARRAY[d.email])[1], ROW(d.ssn, d.id), (ROW(d.ssn, 1)).f1 FROM decoy.patients d",
    'SELECT d.ssn::varchar(40), CAST(d.email AS text), d.ssn COLLATE "C", d.id::text FROM decoy.patients d',
    'SELECT EXISTS (SELECT 1 FROM visits v WHERE v.patient_id = d.id), (SELECT max(v.id) FROM visits v), d.id IN (SELECT patient_id FROM visits) FROM decoy.patients d',
    "SELECT ARRAY(SELECT d.ssn FROM decoy.patients d WHERE d.email <> 'x')",
    "SELECT concat(d.ssn, 'a'), format('%s-%s', d.ssn, d.email), substring(d.ssn FROM 1 FOR 4), btrim(d.email, 'x') FROM decoy.patients d",
    "SELECT left(d.ssn, 3), substr(d.email, 2), repeat(d.ssn, 2), replace(d.ssn, 'd', 'e'), lpad(d.ssn, 20, '*') FROM decoy.patients d",
    "SELECT split_part(d.email, '@', 1), regexp_replace(d.ssn, 'y', 'z'), translate(d.ssn, 'abc', 'xyz'), reverse(d.ssn) FROM decoy.patients d",
    "SELECT json_build_object('k', d.ssn), to_json(d.email), row_to_json(d), to_jsonb(d.ssn) FROM decoy.patients d",
    "SELECT jsonb_build_object('a', d.ssn) -> 'a', jsonb_build_object('b', d.email) ->> 'b', jsonb_build_array(d.ssn) FROM decoy.patients d",
    'SELECT xmlelement(name x, xmlattributes(d.ssn AS a), d.email), xmlforest(d.ssn AS s), xmlconcat(xmlelement(name y, d.email)) FROM decoy.patients d',
    "SELECT md5(d.ssn), length(d.email), ascii(d.ssn), quote_literal(d.ssn), encode(convert_to(d.ssn, 'UTF8'), 'hex') FROM decoy.patients d",
    "SELECT to_char(d.id, '999999'), to_hex(d.id), d.id + 1, d.id * 2, abs(d.id), d.id / 3 FROM decoy.patients d",
    "SELECT to_char(date '2001-02-03', 'YYYY-MM-DD'), date '2001-02-03' + d.id, extract(year FROM date '2001-02-03'), make_date(2001, 2, 3) FROM decoy.patients d",
    "SELECT round(1.5 + d.id, 1), trunc(2.5), 3.25 * d.id, numeric '7.5' FROM decoy.patients d",
    "SELECT d.ssn FROM decoy.patients d WHERE (d.id, d.ssn) = (90001, 'decoy-ssn')",
    "SELECT v.id, d.ssn FROM visits v JOIN decoy.patients d ON d.id = v.patient_id AND d.email <> 'x' WHERE v.id = 90001",
    "SELECT * FROM decoy.patients d LEFT JOIN payments y USING (id) WHERE y.patient_id IS NOT NULL OR d.ssn = 'q'",
    "SELECT * FROM decoy.patients d, LATERAL (SELECT d.ssn || '!' AS x, d.email AS y) l",
    'SELECT * FROM generate_series(1, 3) AS g(n) WHERE n > 1',
    "SELECT * FROM unnest(ARRAY['a', 'b'], ARRAY['c', 'd']) WITH ORDINALITY AS u(a, b, o)",
    "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['x', 'y'])) AS r(a, b)",
    'SELECT count(*) FROM visits TABLESAMPLE BERNOULLI (50) REPEATABLE (7)',
    "SELECT * FROM XMLTABLE('/r' PASSING xmlelement(name r, xmlelement(name a, 'val')) COLUMNS a text PATH 'a' DEFAULT 'dflt') AS t",
    "SELECT * FROM jsonb_to_record(jsonb_build_object('a', 'x')) AS r(a text)",
    "SELECT * FROM jsonb_each_text(jsonb_build_object('k', 'v'))",
    'WITH a AS (SELECT d.ssn, d.email FROM decoy.patients d) SELECT a.ssn, upper(a.email) FROM a',
    "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x'::text UNION ALL SELECT n + 1, s || 'y' FROM r WHERE n < 3) SELECT s FROM r",
    "SELECT d.ssn FROM decoy.patients d UNION ALL SELECT 'u' ORDER BY 1",
    "SELECT d.ssn FROM decoy.patients d UNION SELECT 'u' EXCEPT SELECT 'v'",
    "SELECT * FROM (VALUES ('a', 1), ('b', 2)) AS t(x, y) WHERE y > 0",
    'SELECT d.ssn, d.email FROM decoy.patients d WHERE d.id = 90001 FOR UPDATE',
    'SELECT * FROM decoy.patients d ORDER BY d.ssn DESC NULLS LAST LIMIT 1 OFFSET 0',
    "SELECT to_char(now(), 'YYYY'), current_user, current_date, d.ssn FROM decoy.patients d",
    'SELECT generate_series(1, 2), d.ssn FROM decoy.patients d',
    "SELECT 'lit', 42, 4.5, TRUE, NULL, B'101', X'1F', interval '1 day'",
    "SELECT set_config('application_name', 'mut', false)",
    "SELECT set_config('mutants.value', 'x', true), current_setting('mutants.value')",
    "SELECT pg_notify('mutants', 'payload')",
    'SELECT format_type(23, NULL), pg_typeof(d.ssn), quote_ident(d.email) FROM decoy.patients d',
    "SELECT hashtext(d.ssn), d.ssn::bytea, decode('00ff', 'hex'), sha256(d.email::bytea) FROM decoy.patients d",
    "SELECT starts_with(d.ssn, 'd'), strpos(d.ssn, '-'), position('y' IN d.email), octet_length(d.ssn) FROM decoy.patients d",
    "SELECT num_nulls(d.ssn, NULL), num_nonnulls(d.email), d.ssn IS DISTINCT FROM 'a' FROM decoy.patients d",
    "INSERT INTO scratch (note) VALUES ('a'), ('b') RETURNING note, id",
    'INSERT INTO scratch (note) SELECT d.ssn FROM decoy.patients d RETURNING note',
    "INSERT INTO scratch (id, note) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET note = excluded.note || 'y' WHERE scratch.id > 0 RETURNING note",
    "UPDATE scratch SET note = 'x' WHERE id = 1 RETURNING note",
    'UPDATE scratch s SET note = d.ssn FROM decoy.patients d WHERE d.id = 90001 RETURNING s.note',
    'UPDATE scratch SET (note, id) = (SELECT d.email, 1 FROM decoy.patients d) WHERE id = 1 RETURNING note',
    "DELETE FROM scratch s USING decoy.patients d WHERE d.email = 'zzz' RETURNING s.note",
    "MERGE INTO scratch t USING (SELECT 1 AS k, 'm' AS v) s ON t.id = s.k WHEN MATCHED AND s.v <> 'q' THEN UPDATE SET note = s.v WHEN NOT MATCHED THEN INSERT (note) VALUES (s.v)",
    "WITH w AS (UPDATE scratch SET note = 'w' WHERE id = 1 RETURNING note) SELECT * FROM w",
    "CREATE TABLE mut_ja (id int, a int[], j jsonb); INSERT INTO mut_ja VALUES (1, '{}', '{}'); UPDATE mut_ja SET j['k'] = '1', a[2] = 5 WHERE id = 1; INSERT INTO mut_ja (id, a[3]) VALUES (2, 7); SELECT id, j::text, array_lower(a, 1), a::text FROM mut_ja",
    "CREATE TABLE mut_t (id int, note text DEFAULT 'dflt'); INSERT INTO mut_t (id) VALUES (1); SELECT note FROM mut_t",
    'CREATE VIEW mut_v AS SELECT d.ssn, d.email FROM decoy.patients d WHERE d.id > 0; SELECT * FROM mut_v',
    'CREATE TEMP TABLE mut_tt AS SELECT d.ssn FROM decoy.patients d; SELECT * FROM mut_tt',
    "PREPARE mut_q(text) AS SELECT $1 || d.ssn FROM decoy.patients d WHERE d.email <> 'x'; EXECUTE mut_q('a'); DEALLOCATE mut_q",
    'DECLARE mut_c CURSOR FOR SELECT d.ssn, d.email FROM decoy.patients d WHERE d.id > 0; FETCH ALL FROM mut_c',
    'COPY (SELECT d.ssn, d.email FROM decoy.patients d WHERE d.id > 0) TO STDOUT',
    'COPY (SELECT d.ssn FROM decoy.patients d) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)',
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT d.ssn FROM decoy.patients d WHERE d.email = 'x'",
    "EXPLAIN (VERBOSE, COSTS OFF) SELECT d.ssn || 'v' FROM decoy.patients d WHERE d.email = 'x'",
    'SELECT noisy_note(d.ssn), add_one(d.id) FROM decoy.patients d',
    'SELECT picky_check(d.ssn) FROM decoy.patients d',
    'SELECT d.id FROM decoy.patients d WHERE d.id = 1 / (d.id - 90001)',
    'SELECT d.ssn::int FROM decoy.patients d',
    "SELECT to_date(d.ssn, 'YYYY'), d.email::json FROM decoy.patients d",
    "SELECT CAST('12' AS int) + d.id, '2001-02-03'::date FROM decoy.patients d",
]

MUTANT_GRAFTS = [
    f"(SELECT ssn FROM patients {W})",
    f"(SELECT dob FROM patients {W})",
    f"(SELECT amount FROM payments {W})",
    f"(SELECT notes FROM visits {W})",
    f"(SELECT p FROM patients p {W})",
]


@pytest.fixture(scope="module")
def mutants(sql_mutants_bin) -> list[tuple[str, list[str]]]:
    args = [str(sql_mutants_bin)]
    for graft in MUTANT_GRAFTS:
        args += ["--graft", graft]
    run = subprocess.run(args, input="\n".join(MUTANT_CORPUS) + "\n", capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    found = [(m["path"], m["statements"]) for m in map(json.loads, run.stdout.splitlines())]
    assert len(found) > 1500, f"only {len(found)} mutants: {run.stderr}"
    return found


@dataclass
class MutantRun:
    leaks: list[str] = field(default_factory=list)
    served: int = 0  # every statement of the mutant succeeded
    exposed: int = 0  # mutants whose answers held a secret


def run_mutants(port: int, role: str, mutants: list[tuple[str, list[str]]], needles: Needles,
                binary: bool = False) -> MutantRun:
    """Each mutant in a transaction of its own; with `binary`, each statement as Parse, Bind
    asking for binary results, Describe, Execute and Sync."""
    def connect() -> Session:
        session = Session(port)
        login = session.startup(role)
        assert not login.errors, login.summary()
        session.query("SET statement_timeout = '5s'")
        return session

    outcome = MutantRun()
    session = connect()
    try:
        for path, statements in mutants:
            start = len(session.received)
            try:
                session.query("BEGIN")
                ok = True
                for sql in statements:
                    if binary:
                        result = session.exchange(parse_message("", sql), bind_message("", "", (), (1,)),
                                                  describe_message(b"P", ""), execute_message(""), SYNC)
                    else:
                        result = session.query(sql)
                    if result.errors:
                        ok = False
                        break
                outcome.served += ok
                session.query("ROLLBACK")
                if any(sql.startswith("PREPARE") for sql in statements):
                    session.query("DEALLOCATE ALL")  # PREPARE outlives ROLLBACK
                stream = bytes(session.received[start:])
            except (wire.ConnectionClosed, socket.timeout, OSError):
                stream = bytes(session.received[start:])  # ended by pgmask (FATAL) or stuck: a new session
                session.close()
                session = connect()
            found = needles.find(stream)
            if found:
                outcome.exposed += 1
                outcome.leaks.append(f"{path}: {' ; '.join(statements)[:400]}\n      {found[0][:300]}")
    finally:
        session.close()
    return outcome


def test_mutants_show_secrets_straight_from_postgres(clinic, mutants, needles):
    """The mutants are worth running: straight to PostgreSQL as a role that may read everything
    (masked_super is a superuser; pgmask masks it, PostgreSQL does not), many put a secret on the
    wire."""
    outcome = run_mutants(clinic.port, MS, mutants, needles)
    assert outcome.exposed > len(mutants) // 4, f"only {outcome.exposed} of {len(mutants)} mutants show a secret"


@pytest.mark.parametrize("inference, binary", [("deny", False), ("allow", False), ("allow", True)],
                         ids=["deny", "allow", "allow-extended-binary"])
def test_mutants_leak_nothing(inference, binary, mutants, proxy, allow_proxy, needles):
    handle = proxy if inference == "deny" else allow_proxy
    outcome = run_mutants(handle.port, CL, mutants, needles, binary)
    assert handle.exited() is None, "pgmask exited while running the mutants"
    assert not outcome.leaks, f"{len(outcome.leaks)} of {len(mutants)} mutants leaked:\n  " + "\n  ".join(outcome.leaks[:40])
    # Most mutants must still be served: a pgmask that refused everything would pass the scan.
    assert outcome.served > len(mutants) // 5, f"only {outcome.served} of {len(mutants)} mutants were served"


def test_the_audit_trail_holds_no_secret(proxy, needles):
    """Runs last (pytest keeps the file's order): every case above went through the audited
    pgmask, with secrets in literals, comments, parameters, identifiers and application_name,
    so the trail it wrote must hold none of them in any textual form."""
    time.sleep(0.5)  # refusals' records are written without anyone waiting for them
    lines = []
    for path in sorted(proxy.directory.glob("audit.jsonl*")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            for member in AUDIT_HASH_MEMBERS:
                record.pop(member, None)
            lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines).lower().encode()
    assert text.count(b'"type": "statement"') > 100, "the suite's statements were not recorded"
    hits = [f"{label} as {form}" for label, form, needle in needles.text if needle in text]
    assert not hits, hits
