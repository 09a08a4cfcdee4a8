"""pgmask keeps track of the extended protocol the way the server does, or ends the session.

Each case here was a way, found by probing a running proxy, to make pgmask apply the wrong plan
(or none) to a restricted session's rows: a message pgmask read differently from PostgreSQL,
names PostgreSQL cuts to 63 bytes, and answers that stopped lining up with requests after an
error or during COPY FROM STDIN. Every case sends an analysable statement that derives values
from protected columns (`upper(ssn)`, `lower(email)`), and the check is the same: no true value
in any byte the client receives.
"""

from __future__ import annotations

import socket
import struct
import time

import psycopg
import pytest

import wire

from conftest import DEMO_POLICY, key_flags


DB = "clinic_protocol_state"
EVIL = "SELECT upper(ssn) AS a, lower(email) AS b FROM patients WHERE id < 4"
DECOY = "SELECT 'x'::text AS a, 'y'::text AS b"
SYNC = wire.message(b"S")
FLUSH = wire.message(b"H")


@pytest.fixture
def secrets(clinic, connect):
    conn = connect(clinic.port, dbname=DB)
    rows = conn.execute("SELECT upper(ssn), lower(email) FROM patients WHERE id < 4").fetchall()
    return [value.encode() for row in rows for value in row]


@pytest.fixture
def writable(clinic):
    clinic.psql("DROP TABLE IF EXISTS intake; CREATE TABLE intake (note text);"
                "GRANT INSERT, SELECT ON intake TO auditor", dbname=DB)


def open_session(port: int, user: str = "auditor") -> socket.socket:
    sock = wire.connect(port, timeout=15)
    wire.login(sock, user, DB)
    return sock


def messages_through(sock: socket.socket, ready: int = 1) -> list[tuple[bytes, bytes]]:
    """The messages up to the `ready`-th ReadyForQuery, or until the connection closes."""
    messages = []
    while ready > 0:
        try:
            tag, body = wire.read_message(sock)
        except wire.ConnectionClosed:
            break
        messages.append((tag, body))
        if tag == b"Z":
            ready -= 1
    return messages


def read_through(sock: socket.socket, ready: int = 1) -> bytes:
    """Every byte of the messages up to the `ready`-th ReadyForQuery (or until the close)."""
    return b"".join(tag + body for tag, body in messages_through(sock, ready))


def error_of_or_none(messages: list[tuple[bytes, bytes]]) -> dict[str, str] | None:
    errors = [wire.error_fields(body) for tag, body in messages if tag == b"E"]
    return errors[0] if errors else None


def error_of(messages: list[tuple[bytes, bytes]]) -> dict[str, str]:
    errors = [wire.error_fields(body) for tag, body in messages if tag == b"E"]
    assert len(errors) == 1, errors
    return errors[0]


def assert_no_secret(received: bytes, secrets: list[bytes]) -> None:
    found = [s for s in secrets if s in received]
    assert not found, f"protected values reached the client: {found}"


def test_parse_with_32768_parameter_types_is_analysed(masked, secrets):
    # PostgreSQL reads the count as unsigned; read as signed it was "malformed" and went through.
    sock = open_session(masked.port, "analyst")
    count = 0x8000
    parse = wire.message(b"P", wire.cstr("") + wire.cstr(EVIL) + struct.pack("!H", count) + struct.pack("!I", 25) * count)
    bind = wire.message(b"B", wire.cstr("") + wire.cstr("") + struct.pack("!hH", 0, count)
                        + struct.pack("!i", -1) * count + struct.pack("!h", 0))
    sock.sendall(parse + bind + wire.describe_message(b"P", "") + wire.execute_message("") + SYNC)
    received = read_through(sock)
    assert_no_secret(received, secrets)
    assert b"C" + b"SELECT 3\0" in received, "the statement should run, its outputs redacted"


def test_bind_with_a_format_code_postgres_does_not_check_is_tracked(masked, secrets):
    sock = open_session(masked.port)
    odd_bind = wire.message(b"B", wire.cstr("") + wire.cstr("evil") + struct.pack("!hhhh", 1, 7, 0, 0))
    sock.sendall(wire.parse_message("", DECOY) + wire.parse_message("evil", EVIL) + odd_bind
                 + wire.describe_message(b"P", "") + wire.execute_message("") + SYNC)
    assert_no_secret(read_through(sock), secrets)


@pytest.mark.parametrize("kind", [b"S", b"P"])
def test_names_postgres_cuts_to_63_bytes_are_one_name(masked, secrets, kind):
    sock = open_session(masked.port)
    first, second = "A" * 63 + "1", "A" * 63 + "2"
    if kind == b"S":
        # The server closes and redefines "A"*63; binding `first` binds the evil statement.
        steps = (wire.parse_message(first, DECOY) + wire.close_message(b"S", second)
                 + wire.parse_message(second, EVIL) + wire.bind_message("", first)
                 + wire.describe_message(b"P", "") + wire.execute_message(""))
    else:
        steps = (wire.query_message("BEGIN") + wire.parse_message("decoy", DECOY) + wire.parse_message("evil", EVIL)
                 + wire.bind_message(first, "decoy") + wire.close_message(b"P", second)
                 + wire.bind_message(second, "evil") + wire.describe_message(b"P", first)
                 + wire.execute_message(first))
    sock.sendall(steps + SYNC)
    assert_no_secret(read_through(sock, 2 if kind == b"P" else 1), secrets)


def test_messages_skipped_after_an_error_leave_pgmask_in_step(masked, secrets):
    sock = open_session(masked.port)
    sock.sendall(wire.parse_message("decoy", DECOY) + wire.parse_message("evil", EVIL) + SYNC)
    read_through(sock)
    # The error comes back before the client sends the rest of the batch: the server skips the
    # Bind of the decoy, and answers the Sync.
    sock.sendall(wire.bind_message("", "no_such_statement") + FLUSH)
    tag, _ = wire.read_message(sock)
    assert tag == b"E"
    sock.sendall(wire.bind_message("", "decoy") + SYNC)
    received = read_through(sock)
    sock.sendall(wire.bind_message("", "evil") + wire.describe_message(b"P", "") + wire.execute_message("") + SYNC)
    received += read_through(sock)
    assert_no_secret(received, secrets)
    assert b"SELECT 3\0" in received


def test_a_failed_pipeline_leaves_later_queries_masked(masked, connect, secrets):
    conn = connect(masked.port, user="auditor", dbname=DB)
    with pytest.raises(psycopg.errors.DivisionByZero):
        with conn.pipeline():
            conn.execute("SELECT 1/0")
            conn.execute("SELECT pg_sleep(0.05)")
            conn.execute("SELECT 2")
    rows = conn.execute(EVIL).fetchall()
    assert len(rows) == 3
    assert_no_secret(repr(rows).encode(), secrets)


def test_sync_ignored_during_copy_in_leaves_pgmask_in_step(masked, secrets, writable):
    sock = open_session(masked.port)
    # PostgreSQL ignores the Sync sent while it is in copy-in mode: it gets no ReadyForQuery.
    sock.sendall(wire.query_message("COPY intake FROM STDIN"))
    tag, _ = wire.read_message(sock)
    assert tag == b"G"
    sock.sendall(SYNC + wire.message(b"d", b"hello\n") + wire.message(b"c"))
    received = read_through(sock)
    sock.sendall(wire.parse_message("", EVIL) + wire.bind_message("", "") + wire.describe_message(b"P", "")
                 + wire.execute_message("") + SYNC)
    received += read_through(sock)
    assert_no_secret(received, secrets)
    assert b"SELECT 3\0" in received


def start_copy_the_way_libpq_does(sock: socket.socket) -> None:
    """COPY intake FROM STDIN in the extended protocol, up to the server's CopyInResponse: libpq
    sends Sync right after the Execute, before it learns that it started a COPY."""
    sock.sendall(wire.parse_message("", "COPY intake FROM STDIN") + wire.bind_message("", "")
                 + wire.execute_message("") + SYNC)
    tags = []
    while not tags or tags[-1] != b"G":
        tags.append(wire.read_message(sock)[0])


def test_copy_from_stdin_the_way_libpq_sends_it_in_the_extended_protocol(masked, secrets, writable):
    sock = open_session(masked.port)
    start_copy_the_way_libpq_does(sock)
    sock.sendall(wire.message(b"d", b"one\ntwo\n") + wire.message(b"c") + SYNC)
    received = read_through(sock)
    assert b"COPY 2\0" in received
    sock.sendall(wire.query_message(EVIL))
    received = read_through(sock)
    assert_no_secret(received, secrets)
    assert b"SELECT 3\0" in received


def test_a_message_pgmask_cannot_read_ends_a_restricted_session(masked, secrets):
    sock = open_session(masked.port)
    truncated_bind = wire.message(b"B", wire.cstr("") + wire.cstr("") + struct.pack("!h", 3))
    sock.sendall(wire.parse_message("", EVIL) + truncated_bind + wire.execute_message("") + SYNC)
    messages = messages_through(sock, ready=2)  # none comes: pgmask closes the connection
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    error = error_of(messages)
    assert error.get("S") == "FATAL" and error.get("C") == "08P01", error
    assert "unreadable Bind" in error.get("M", "")
    wire.assert_closed(sock)


def test_a_clear_role_gets_postgres_own_answer_to_an_unreadable_message(masked):
    sock = open_session(masked.port, "app_backend")
    truncated_bind = wire.message(b"B", wire.cstr("") + wire.cstr("") + struct.pack("!h", 3))
    sock.sendall(wire.parse_message("", "SELECT 1") + truncated_bind + SYNC)
    error = error_of(messages_through(sock))
    assert error.get("C") == "08P01", error  # PostgreSQL's "invalid message format"
    assert "pgmask" not in error.get("M", "")


@pytest.fixture
def shadow(clinic):
    """A schema the restricted role auditor owns, with a harmless table named like a protected one."""
    clinic.psql("DROP SCHEMA IF EXISTS shadow CASCADE; CREATE SCHEMA shadow AUTHORIZATION auditor;"
                "CREATE TABLE shadow.patients (id int, ssn text, email text);"
                "INSERT INTO shadow.patients SELECT g, 'fake', 'fake' FROM generate_series(1, 3) g;"
                "ALTER TABLE shadow.patients OWNER TO auditor;"
                "CREATE VIEW shadow.v AS SELECT 1 AS id, 'x'::text AS x; ALTER VIEW shadow.v OWNER TO auditor",
                dbname=DB)


def query(sock: socket.socket, sql: str) -> tuple[bytes, dict[str, str]]:
    """Runs one simple Query; returns the bytes received and the error's fields (empty if none)."""
    sock.sendall(wire.query_message(sql))
    messages = messages_through(sock)
    errors = [wire.error_fields(body) for tag, body in messages if tag == b"E"]
    return b"".join(tag + body for tag, body in messages), errors[0] if errors else {}


def test_execute_after_a_search_path_change_in_the_same_query_is_refused(masked, secrets, shadow):
    sock = open_session(masked.port)
    assert query(sock, "SET search_path = shadow, public")[1] == {}
    _, error = query(sock, "PREPARE q AS SELECT upper(ssn) AS a, lower(email) AS b FROM patients WHERE id < 4")
    assert error == {}
    # PostgreSQL plans q again under the new path: it would read public.patients.
    received, error = query(sock, "SET search_path = public; EXECUTE q")
    assert_no_secret(received, secrets)
    assert error.get("C") == "42501" and "search_path" in error.get("M", ""), error
    # Sent on its own, after the server has answered the SET, it runs, redacted.
    assert query(sock, "SET search_path = public")[1] == {}
    received, error = query(sock, "EXECUTE q")
    assert error == {} and b"SELECT 3\0" in received
    assert_no_secret(received, secrets)


def test_a_view_redefined_and_read_in_the_same_message_is_refused(masked, secrets, shadow):
    sock = open_session(masked.port)
    # (A restricted role may not give a view's columns protected data with CREATE OR REPLACE,
    # which would leave views built on it with their old analysis: it drops and creates it.)
    redefine = "DROP VIEW shadow.v; CREATE VIEW shadow.v AS SELECT id, ssn AS x FROM public.patients"
    received, error = query(sock, f"{redefine}; SELECT upper(x) FROM shadow.v WHERE id < 4")
    assert_no_secret(received, secrets)
    assert error.get("C") == "42501", error
    # The same in one extended-protocol batch.
    batch = b""
    for sql in redefine.split("; "):
        batch += wire.parse_message("", sql) + wire.bind_message("", "") + wire.execute_message("")
    sock.sendall(batch + wire.parse_message("read", "SELECT upper(x) FROM shadow.v WHERE id < 4")
                 + wire.bind_message("", "read") + wire.execute_message("") + SYNC)
    messages = messages_through(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    assert error_of(messages).get("C") == "42501"
    # The refusal failed the batch's transaction, so the view is unchanged. Redefined in a Query
    # of its own, the new definition is read before the next statement, and its column redacted.
    for sql in redefine.split("; "):
        assert query(sock, sql)[1] == {}
    received, error = query(sock, "SELECT upper(x) FROM shadow.v WHERE id < 4")
    assert error == {} and b"SELECT 3\0" in received
    assert_no_secret(received, secrets)


def run_extended(sock: socket.socket, sql: str) -> bytes:
    sock.sendall(wire.parse_message("", sql) + wire.bind_message("", "") + wire.execute_message("") + SYNC)
    return read_through(sock)


def test_cursors_declared_through_the_extended_protocol_are_tracked(masked, secrets):
    sock = open_session(masked.port)
    # pgmask remembers c as the decoy; the cursor itself ends with its transaction.
    assert query(sock, f"BEGIN; DECLARE c CURSOR FOR {DECOY}; COMMIT")[1] == {}
    assert query(sock, "BEGIN")[1] == {}
    received = run_extended(sock, f"DECLARE c CURSOR FOR {EVIL}")
    assert b"DECLARE CURSOR\0" in received
    received, error = query(sock, "FETCH ALL FROM c")
    assert error == {} and b"FETCH 3\0" in received
    assert_no_secret(received, secrets)


def test_statements_prepared_through_the_extended_protocol_are_tracked(masked, secrets):
    sock = open_session(masked.port)
    assert query(sock, f"PREPARE q AS {DECOY}")[1] == {}
    assert b"DEALLOCATE\0" in run_extended(sock, "DEALLOCATE q")
    assert b"PREPARE\0" in run_extended(sock, f"PREPARE q AS {EVIL}")
    received, error = query(sock, "EXECUTE q")
    assert error == {} and b"SELECT 3\0" in received
    assert_no_secret(received, secrets)


def test_a_catalog_read_that_fails_is_not_retried_in_a_loop(pgmask_factory, clinic, tmp_path, secrets, connect):
    # A lock held on a view makes pgmask's catalog read fail after catalog_timeout (the session's
    # own statement_timeout no longer can: the read sets its own). The statement that waited for
    # it must still be answered, judged against the catalog in force, and the read tried again
    # later rather than at once, over and over.
    clinic.psql("DROP VIEW IF EXISTS retry_v; DROP TABLE IF EXISTS retry_bump;"
                "CREATE VIEW retry_v AS SELECT 1 AS x", dbname=DB)
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", "--catalog-timeout", "0.2",
                           *key_flags(tmp_path))
    sock = open_session(proxy.port)
    select = "SELECT upper(ssn), lower(email) FROM patients WHERE id < 4"
    assert query(sock, select)[1] == {}
    holder = connect(clinic.port, dbname=DB)
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE retry_v IN ACCESS EXCLUSIVE MODE")
    # Any DDL changes the catalog's fingerprint, after which the views are read again.
    connect(clinic.port, dbname=DB).execute("CREATE TABLE retry_bump (i int)")
    time.sleep(1.2)
    # Answered, not held: refused, since the catalog in force is older than catalog_recheck and
    # other connections' DDL since is unknown.
    refused = ("42501", "57014")
    received, error = query(sock, select)
    assert_no_secret(received, secrets)
    assert error.get("C") in refused and b"SELECT" not in received, error
    assert error.get("C") == "57014" or "could not read the catalog" in error.get("M", ""), error
    time.sleep(0.5)
    received, error = query(sock, "SELECT 1")
    assert error.get("C") in refused and b"SELECT" not in received, error
    failures = proxy.log_text().count("catalog refresh failed")
    assert 1 <= failures <= 5, failures
    # Settings stay possible, and once a read succeeds statements run again.
    assert query(sock, "SET statement_timeout = 0")[1] == {}
    holder.execute("ROLLBACK")
    time.sleep(1.1)
    received, error = query(sock, select)
    assert error == {} and b"SELECT 3\0" in received
    assert_no_secret(received, secrets)
    clinic.psql("DROP TABLE retry_bump; DROP VIEW retry_v", dbname=DB)


def test_the_catalog_recheck_leaves_the_unnamed_statement_and_portal_alone(pgmask_factory, clinic, tmp_path, secrets):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    sock.sendall(wire.parse_message("", EVIL) + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    time.sleep(1.2)  # the next message is preceded by pgmask's catalog read
    sock.sendall(wire.bind_message("", "") + wire.execute_message("") + SYNC)
    messages = messages_through(sock)
    assert error_of_or_none(messages) is None
    received = b"".join(tag + body for tag, body in messages)
    assert b"SELECT 3\0" in received
    assert_no_secret(received, secrets)
    # A row-limited Execute of the unnamed portal, resumed after the read, in a transaction.
    assert query(sock, "BEGIN")[1] == {}
    sock.sendall(wire.parse_message("", EVIL) + wire.bind_message("", "") + wire.execute_message("", 1) + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    time.sleep(1.2)
    sock.sendall(wire.execute_message("", 0) + SYNC)
    messages = messages_through(sock)
    assert error_of_or_none(messages) is None
    received = b"".join(tag + body for tag, body in messages)
    assert b"SELECT 2\0" in received
    assert_no_secret(received, secrets)
    assert query(sock, "COMMIT")[1] == {}
    assert "refresh failed" not in proxy.log_text()


def test_a_bind_of_a_statement_refused_after_ddl_gets_the_refusal_and_the_session_goes_on(masked, secrets, shadow):
    sock = open_session(masked.port)
    sock.sendall(wire.parse_message("st", "SELECT id FROM shadow.v WHERE x LIKE $1") + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    for sql in ("DROP VIEW shadow.v", "CREATE VIEW shadow.v AS SELECT id, ssn AS x FROM public.patients"):
        assert query(sock, sql)[1] == {}
    # The server would run the statement against the new view: a condition on ssn. Refused on
    # every Bind, not only the first; the client gets the answers to its own messages only.
    for _ in range(2):
        sock.sendall(wire.bind_message("", "st", ("9%",)) + wire.execute_message("") + SYNC)
        messages = messages_through(sock)
        assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
        assert [tag for tag, _ in messages] == [b"2", b"E", b"Z"], messages
        error = error_of(messages)
        assert error.get("S") == "ERROR" and error.get("C") == "42501", error
        message = error.get("M", "")
        assert ('prepared statement "st" was analysed again after DDL and is now refused: column public.patients.ssn'
                in message), message
        assert message.count("pgmask:") == 1, message
    # An earlier error in the batch makes the server skip the replacement and the Bind alike: the
    # next Bind is judged again.
    sock.sendall(wire.bind_message("x", "nosuch") + wire.bind_message("", "st", ("9%",)) + wire.execute_message("")
                 + SYNC)
    messages = messages_through(sock)
    assert [tag for tag, _ in messages] == [b"E", b"Z"], messages
    assert error_of(messages).get("C") == "26000"
    sock.sendall(wire.bind_message("p", "st", ("9%",)) + wire.describe_message(b"P", "p") + wire.execute_message("p")
                 + SYNC)
    messages = messages_through(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    assert [tag for tag, _ in messages] == [b"2", b"n", b"E", b"Z"], messages
    assert error_of(messages).get("C") == "42501"
    # The session goes on, and the name can be prepared again.
    assert query(sock, "SELECT 1")[1] == {}
    sock.sendall(wire.close_message(b"S", "st") + wire.parse_message("st", "SELECT id FROM shadow.v WHERE id = $1")
                 + wire.bind_message("", "st", ("1",)) + wire.execute_message("") + SYNC)
    messages = messages_through(sock)
    assert error_of_or_none(messages) is None, messages
    assert b"SELECT 1\0" in b"".join(tag + body for tag, body in messages)


def test_a_sync_sent_after_a_copy_failed_on_the_server_is_answered(masked, secrets, writable):
    sock = open_session(masked.port)
    sock.sendall(wire.query_message("COPY intake FROM STDIN"))
    assert wire.read_message(sock)[0] == b"G"
    # A row with one field too many: the server leaves copy-in and answers, and answers the Syncs
    # it reads from then on, where it ignored them during the COPY.
    sock.sendall(wire.message(b"d", b"a\tb\n"))
    assert error_of(messages_through(sock)).get("C") == "22P04"
    sock.sendall(SYNC + wire.query_message(EVIL) + wire.query_message(DECOY))
    messages = messages_through(sock, ready=3)
    received = b"".join(tag + body for tag, body in messages)
    assert_no_secret(received, secrets)
    assert error_of_or_none(messages) is None, messages
    assert b"SELECT 3\0" in received and [tag for tag, _ in messages].count(b"Z") == 3


def test_a_request_sent_during_a_copy_that_fails_ends_the_session(masked, secrets, writable):
    # Sent before the failure was known: whether the server read the Sync during the COPY (and
    # ignored it) or after it (and answered it) only the server knows.
    sock = open_session(masked.port)
    sock.sendall(wire.query_message("COPY intake FROM STDIN") + wire.message(b"d", b"a\tb\n") + SYNC
                 + wire.message(b"c") + wire.query_message(EVIL) + wire.query_message(DECOY))
    messages = messages_through(sock, ready=4)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    fatal = [wire.error_fields(body) for tag, body in messages if tag == b"E"][-1]
    assert fatal.get("S") == "FATAL" and fatal.get("C") == "08P01", fatal
    assert "COPY FROM STDIN failed" in fatal.get("M", "")


def test_a_failed_copy_the_way_libpq_sends_it_leaves_pgmask_in_step(masked, secrets, writable):
    sock = open_session(masked.port)
    start_copy_the_way_libpq_does(sock)
    # The Sync after the Execute was read during the COPY; the one after CopyDone ends the error.
    sock.sendall(wire.message(b"d", b"a\tb\n") + wire.message(b"c") + SYNC)
    assert error_of(messages_through(sock)).get("C") == "22P04"
    for sql in (EVIL, ""):
        received, error = query(sock, sql)
        assert error == {}
        assert_no_secret(received, secrets)
    assert b"SELECT 3\0" in query(sock, EVIL)[0]


def test_an_empty_query_still_ends_with_its_ready_for_query(masked):
    # A Query is answered before its ReadyForQuery; an empty one with EmptyQueryResponse.
    sock = open_session(masked.port)
    for sql in ("", ";", "-- nothing"):
        received, error = query(sock, sql)
        assert error == {} and received.startswith(b"I"), received
    assert b"SELECT 1\0" in query(sock, "SELECT 1")[0]


def run_batch(sock: socket.socket, *steps: bytes) -> list[tuple[bytes, bytes]]:
    sock.sendall(b"".join(steps) + SYNC)
    return messages_through(sock)


@pytest.mark.parametrize("redefine", ["close", "rollback"])
def test_a_cursor_declared_again_is_described_again(masked, secrets, redefine):
    sock = open_session(masked.port)
    assert query(sock, "BEGIN; DECLARE c CURSOR FOR SELECT")[1] == {}
    # pgmask learns that c has no columns: rows described so would pass as they are.
    assert error_of_or_none(run_batch(sock, wire.describe_message(b"P", "c"))) is None
    ending = "CLOSE c" if redefine == "close" else "ROLLBACK; BEGIN"
    assert query(sock, f"{ending}; DECLARE c CURSOR FOR {EVIL}")[1] == {}
    messages = run_batch(sock, wire.execute_message("c"))
    received = b"".join(tag + body for tag, body in messages)
    assert_no_secret(received, secrets)
    assert error_of_or_none(messages) is None and b"SELECT 3\0" in received


def zero_column_statement(sock: socket.socket) -> None:
    """Prepares s as a statement with no columns, and lets pgmask learn them from a portal."""
    messages = run_batch(sock, wire.parse_message("s", "SELECT"), wire.bind_message("p1", "s"),
                         wire.describe_message(b"P", "p1"), wire.execute_message("p1"), wire.close_message(b"P", "p1"))
    assert error_of_or_none(messages) is None


def redefine_s_by_sql() -> bytes:
    return (wire.parse_message("x1", "DEALLOCATE s") + wire.bind_message("", "x1") + wire.execute_message("")
            + wire.parse_message("x2", f"PREPARE s AS {EVIL}") + wire.bind_message("", "x2")
            + wire.execute_message(""))


def test_a_statement_prepared_again_by_sql_is_described_again(masked, secrets):
    sock = open_session(masked.port)
    zero_column_statement(sock)
    assert error_of_or_none(run_batch(sock, redefine_s_by_sql())) is None
    messages = run_batch(sock, wire.bind_message("p2", "s"), wire.execute_message("p2"))
    received = b"".join(tag + body for tag, body in messages)
    assert_no_secret(received, secrets)
    assert error_of_or_none(messages) is None and b"SELECT 3\0" in received


def test_rows_that_do_not_match_their_description_are_refused(masked, secrets):
    # In one batch the Bind of s is sent before the server has run the PREPARE that redefines it:
    # pgmask takes s for the statement it described, whose rows have no columns.
    sock = open_session(masked.port)
    zero_column_statement(sock)
    messages = run_batch(sock, redefine_s_by_sql(), wire.bind_message("p2", "s"), wire.execute_message("p2"))
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    error = error_of(messages)
    assert error.get("C") == "42501" and "do not match the description" in error.get("M", ""), error
    assert b"SELECT 1\0" in query(sock, "SELECT 1")[0]


@pytest.fixture
def notes(clinic):
    """A table auditor reads, that another connection turns into a view of ssn."""
    clinic.psql("DROP VIEW IF EXISTS notes; DROP TABLE IF EXISTS notes; CREATE TABLE notes (id int, note text);"
                "INSERT INTO notes SELECT g, 'n' FROM generate_series(1, 3) g; GRANT SELECT ON notes TO auditor",
                dbname=DB)

    def redefine():
        clinic.psql("DROP TABLE notes; CREATE VIEW notes AS SELECT id, ssn AS note FROM patients;"
                    "GRANT SELECT ON notes TO auditor", dbname=DB)
    return redefine


def skip_a_query(sock: socket.socket) -> None:
    # The server skips the Query after the Execute's error; it answers only the Sync.
    sock.sendall(wire.execute_message("no_such_portal") + wire.query_message("SELECT 1") + SYNC)
    assert error_of(messages_through(sock)).get("C") == "34000"


FREEZES = {
    "own statement name": lambda sock: query(sock, 'PREPARE "pgmask.catalog" AS SELECT 1'),
    "skipped query": skip_a_query,
    "repeatable read": lambda sock: query(sock, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1"),
}


@pytest.mark.parametrize("freeze", FREEZES)
def test_other_connections_ddl_is_seen_within_catalog_recheck(pgmask_factory, clinic, tmp_path, secrets, notes,
                                                             freeze):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    assert query(sock, "SELECT note FROM notes")[1] == {}
    FREEZES[freeze](sock)
    notes()
    time.sleep(1.5)
    received, error = query(sock, "SELECT note FROM notes WHERE id < 4")
    assert_no_secret(received, secrets)
    if freeze == "repeatable read":
        # Its snapshot predates the view: the catalog cannot be read in it, and nothing that
        # names a relation runs on the one read before, until the transaction ends.
        assert error.get("C") == "42501" and "catalog" in error.get("M", ""), error
        assert query(sock, "COMMIT")[1] == {}
        received, error = query(sock, "SELECT note FROM notes WHERE id < 4")
        assert_no_secret(received, secrets)
    assert error == {} and b"SELECT 3\0" in received, (error, received)


def test_statement_names_like_pgmask_own_are_the_clients(masked, secrets):
    # pgmask's own names are per session: taking the names it once used disturbs nothing.
    sock = open_session(masked.port)
    for name in ("pgmask.catalog", "pgmask.copy_columns"):
        assert query(sock, f'PREPARE "{name}" AS SELECT 1')[1] == {}
    copy = f"COPY ({EVIL}) TO STDOUT"
    messages = run_batch(sock, wire.parse_message("", copy), wire.bind_message("", ""), wire.execute_message(""))
    received = b"".join(tag + body for tag, body in messages)
    assert_no_secret(received, secrets)
    assert error_of_or_none(messages) is None and b"COPY 3\0" in received, messages


@pytest.mark.parametrize("undo", ["rollback", "rollback to savepoint", "failed transaction"])
def test_ddl_the_session_rolls_back_is_rolled_back_in_the_catalog(masked, secrets, shadow, undo):
    sock = open_session(masked.port)
    for sql in ("DROP VIEW shadow.v", "CREATE VIEW shadow.v AS SELECT id, ssn AS x FROM public.patients"):
        assert query(sock, sql)[1] == {}
    assert query(sock, "BEGIN; SAVEPOINT s")[1] == {}
    assert query(sock, "CREATE OR REPLACE VIEW shadow.v AS SELECT id, 'x'::text AS x FROM public.patients")[1] == {}
    # Read again before this statement: the replaced view, with nothing protected in x.
    assert query(sock, "SELECT 1")[1] == {}
    if undo == "rollback":
        assert query(sock, "ROLLBACK")[1] == {}
    elif undo == "rollback to savepoint":
        assert query(sock, "ROLLBACK TO SAVEPOINT s")[1] == {}
    else:
        assert query(sock, "SELECT 1/0")[1].get("C") == "22012"
        assert query(sock, "COMMIT")[1] == {}  # answered ROLLBACK
    received, error = query(sock, "SELECT upper(x) FROM shadow.v WHERE id < 4")
    assert_no_secret(received, secrets)
    assert error == {} and b"SELECT 3\0" in received, (error, received)


@pytest.mark.parametrize("value", ["t", "TRU", "ye", "On", "1", "nonsense"])
def test_every_spelling_of_physical_replication_is_refused(masked, value):
    sock = wire.connect(masked.port)
    sock.sendall(wire.startup_message("auditor", DB, replication=value))
    error = wire.read_error_then_close(sock)
    assert error.get("C") == "42501" and "physical replication" in error.get("M", ""), error


@pytest.mark.parametrize("value", ["f", "FALSE", "n", "of", "Off", "0"])
def test_a_false_replication_value_is_an_ordinary_session(masked, value):
    sock = wire.connect(masked.port)
    wire.login(sock, "auditor", DB, startup=wire.startup_message("auditor", DB, replication=value))
    assert b"SELECT 1\0" in query(sock, "SELECT 1")[0]


def test_a_lock_on_a_view_fails_catalog_reads_within_catalog_timeout(pgmask_factory, clinic, tmp_path, connect):
    """Reading a view's definition waits for locks on it: a transaction holding one (a prepared
    transaction holds it across restarts) made every catalog read, so every login and every
    restricted session's next statement, wait forever."""
    clinic.psql("DROP VIEW IF EXISTS locked_v; DROP TABLE IF EXISTS locked_bump;"
                "CREATE VIEW locked_v AS SELECT 1 AS x", dbname=DB)
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", "--catalog-timeout", "1",
                           *key_flags(tmp_path))
    restricted = open_session(proxy.port)
    clear = open_session(proxy.port, "app_backend")
    holder = connect(clinic.port, dbname=DB)
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE locked_v IN ACCESS EXCLUSIVE MODE")
    # Any DDL changes the catalog's fingerprint, after which the views are read again.
    connect(clinic.port, dbname=DB).execute("CREATE TABLE locked_bump (i int)")
    try:
        started = time.monotonic()
        with wire.connect(proxy.port, timeout=15) as sock:
            with pytest.raises(wire.ServerError) as refused:
                wire.login(sock, "auditor", DB)
        assert refused.value.sqlstate == "55P03" and "catalog" in refused.value.fields["M"], refused.value.fields
        assert time.monotonic() - started < 10
        # A restricted session's next read fails the same way, and its statement is refused.
        time.sleep(1.5)
        started = time.monotonic()
        _, error = query(restricted, "SELECT count(*) FROM patients")
        assert error.get("C") == "42501" and "catalog" in error.get("M", ""), error
        assert time.monotonic() - started < 10
        # A clear session reads the catalog only at login: it keeps working.
        received, error = query(clear, "SELECT count(*) FROM patients")
        assert error == {} and b"SELECT 1\0" in received, (error, received)
    finally:
        holder.execute("ROLLBACK")
    time.sleep(0.5)  # the failed read is tried again after 200 ms
    received, error = query(restricted, "SELECT count(*) FROM patients")
    assert error == {} and b"SELECT 1\0" in received, (error, received)
    later = open_session(proxy.port)
    assert query(later, "SELECT count(*) FROM patients")[1] == {}
    clinic.psql("DROP TABLE locked_bump; DROP VIEW locked_v", dbname=DB)


def test_a_transaction_on_an_older_imported_snapshot_does_not_take_the_catalog_back(masked, clinic, connect,
                                                                                      secrets, notes):
    # A snapshot exported before another connection renamed notes away and made a view of ssn in
    # its place. Read through it, the catalog says notes is the harmless table; the server
    # resolves the name against the current catalog: the view.
    exporter = connect(clinic.port, dbname=DB)
    exporter.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    snapshot = exporter.execute("SELECT pg_export_snapshot()").fetchone()[0]
    clinic.psql("ALTER TABLE notes RENAME TO notes_old; CREATE VIEW notes AS SELECT id, ssn AS note FROM patients;"
                "GRANT SELECT ON notes TO auditor", dbname=DB)
    sock = open_session(masked.port)
    select = "SELECT upper(note) FROM notes WHERE id < 4"
    received, error = query(sock, select)
    assert_no_secret(received, secrets)
    assert query(sock, f"BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'")[1] == {}
    assert query(sock, "SELECT 1")[1] == {}  # the SET made a catalog read due: it ran now
    received, error = query(sock, select)
    assert_no_secret(received, secrets)
    assert "older than the catalog already read" in masked.log_text()
    assert query(sock, "COMMIT")[1] == {}
    exporter.execute("COMMIT")


def test_a_bind_after_a_failed_catalog_read_of_an_outdated_catalog_is_refused(pgmask_factory, clinic, tmp_path,
                                                                              secrets, notes, connect):
    clinic.psql("DROP VIEW IF EXISTS bind_locked_v; CREATE VIEW bind_locked_v AS SELECT 1 AS x", dbname=DB)
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", "--catalog-timeout", "1",
                           *key_flags(tmp_path))
    sock = open_session(proxy.port)
    select = "SELECT upper(note) FROM notes WHERE id < 4"
    assert query(sock, select)[1] == {}
    sock.sendall(wire.parse_message("st", select) + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    # Every catalog read fails from now on: reading the views waits for a lock held elsewhere.
    holder = connect(clinic.port, dbname=DB)
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE bind_locked_v IN ACCESS EXCLUSIVE MODE")
    try:
        notes()
        time.sleep(1.5)
        for _ in range(2):
            sock.sendall(wire.bind_message("", "st") + wire.describe_message(b"P", "") + wire.execute_message("")
                         + SYNC)
            messages = messages_through(sock)
            assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
            error = error_of_or_none(messages)
            assert error is not None and error.get("C") == "42501", error
    finally:
        holder.execute("ROLLBACK")
    clinic.psql("DROP VIEW bind_locked_v", dbname=DB)


def read_until_result(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    """Messages up to the first CommandComplete or ErrorResponse (the batch has no Sync yet)."""
    messages = []
    while not messages or messages[-1][0] not in (b"C", b"E"):
        messages.append(wire.read_message(sock))
    return messages


def test_a_bind_in_a_batch_never_synced_is_refused_once_the_catalog_is_outdated(pgmask_factory, clinic, tmp_path,
                                                                                 secrets, notes):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    select = "SELECT upper(note) FROM notes WHERE id < 4"
    assert query(sock, select)[1] == {}
    # The COMMIT inside the batch releases the statement's lock on notes: another connection can
    # redefine it while the batch stays open, and no catalog read can run before its Sync.
    sock.sendall(wire.parse_message("st", select) + wire.parse_message("c", "COMMIT") + wire.bind_message("", "c")
                 + wire.execute_message("") + FLUSH)
    assert error_of_or_none(read_until_result(sock)) is None
    notes()
    time.sleep(1.5)
    sock.sendall(wire.bind_message("p1", "st") + wire.describe_message(b"P", "p1") + wire.execute_message("p1")
                 + FLUSH)
    messages = read_until_result(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    assert error_of(messages).get("C") == "42501"
    sock.sendall(SYNC)
    messages_through(sock)
    assert b"SELECT 1\0" in query(sock, "SELECT 1")[0]


def demo_policy_without_ssn_and_email() -> str:
    lines = [line for line in DEMO_POLICY.read_text().splitlines(keepends=True)
             if not line.lstrip().startswith(("ssn:", "email:"))]
    return "".join(lines)


@pytest.mark.parametrize("hold", ["failing read", "open batch"])
def test_a_policy_reload_reaches_a_session_whose_catalog_cannot_be_read(pgmask_factory, clinic, tmp_path, secrets,
                                                                        hold):
    policy = tmp_path / "policy.yaml"
    policy.write_text(demo_policy_without_ssn_and_email())
    proxy = pgmask_factory("--policy", str(policy), *key_flags(tmp_path))
    sock = open_session(proxy.port)
    if hold == "failing read":
        sock.sendall(wire.parse_message("st", EVIL) + SYNC)
        assert error_of_or_none(messages_through(sock)) is None
        assert query(sock, "SET statement_timeout = 1")[1] == {}
    else:
        sock.sendall(wire.parse_message("st", EVIL) + FLUSH)
        assert wire.read_message(sock)[0] == b"1"
    # The columns are protected from now on: rows of plans made before are redacted whole.
    policy.write_text(DEMO_POLICY.read_text())
    proxy.wait_for_log("policy reloaded")
    tail = SYNC if hold == "failing read" else FLUSH
    sock.sendall(wire.bind_message("", "st") + wire.describe_message(b"P", "") + wire.execute_message("") + tail)
    messages = messages_through(sock) if hold == "failing read" else read_until_result(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    if hold == "open batch":
        sock.sendall(SYNC)
        messages_through(sock)
    assert query(sock, "SET statement_timeout = 0")[1] == {}


@pytest.fixture
def swapped(clinic):
    """A view auditor reads whose unprotected column another connection swaps with ssn by
    renaming: nothing is dropped, and no lock of a bound COPY or EXECUTE portal stops it."""
    clinic.psql("DROP VIEW IF EXISTS swap_v; CREATE VIEW swap_v AS SELECT id, ssn AS a, id::text AS b FROM patients;"
                "GRANT SELECT ON swap_v TO auditor", dbname=DB)

    def swap():
        clinic.psql("ALTER VIEW swap_v RENAME COLUMN a TO t; ALTER VIEW swap_v RENAME COLUMN b TO a;"
                    "ALTER VIEW swap_v RENAME COLUMN t TO b", dbname=DB)
    return swap


# Portals whose query PostgreSQL resolves (views expanded, EXECUTE's statement found) only when
# they run, so their Bind takes no lock that would hold the other connection's DDL back.
LATE_PORTALS = {
    "copy": "COPY (SELECT b FROM swap_v WHERE id < 4) TO STDOUT",
    "execute": "EXECUTE q",
}


@pytest.mark.parametrize("late", LATE_PORTALS)
def test_a_portal_resolved_when_it_runs_is_refused_after_the_catalog_changed(pgmask_factory, clinic, tmp_path,
                                                                              secrets, swapped, late):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    assert query(sock, "PREPARE q AS SELECT b FROM swap_v WHERE id < 4")[1] == {}
    sock.sendall(wire.parse_message("s", LATE_PORTALS[late]) + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    assert query(sock, "BEGIN")[1] == {}
    sock.sendall(wire.bind_message("p1", "s") + SYNC)
    assert error_of_or_none(messages_through(sock)) is None
    swapped()
    time.sleep(1.5)
    assert query(sock, "SELECT 1")[1] == {}  # the catalog is read again: b is ssn now
    sock.sendall(wire.execute_message("p1") + SYNC)
    messages = messages_through(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    error = error_of(messages)
    assert error.get("C") == "42501" and "changed since it was bound" in error.get("M", ""), error
    # Refused like a real error: the transaction failed, and the session goes on.
    assert messages[-1] == (b"Z", b"E")
    assert query(sock, "ROLLBACK")[1] == {}
    assert b"SELECT 1\0" in query(sock, "SELECT 1")[0]


@pytest.mark.parametrize("portal", ["execute", "select"])
def test_an_execute_in_a_batch_never_synced_is_refused_once_the_catalog_is_outdated(pgmask_factory, clinic, tmp_path,
                                                                                     secrets, swapped, portal):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    assert query(sock, "PREPARE q AS SELECT b FROM swap_v WHERE id < 4")[1] == {}
    sql = "EXECUTE q" if portal == "execute" else "SELECT b FROM swap_v WHERE id < 4"
    sock.sendall(wire.parse_message("s", sql) + wire.bind_message("p1", "s") + FLUSH)
    assert [wire.read_message(sock)[0] for _ in range(2)] == [b"1", b"2"]
    # A bound SELECT holds its lock on swap_v: only EXECUTE's portal lets the view change.
    if portal == "execute":
        swapped()
    time.sleep(1.5)
    sock.sendall(wire.describe_message(b"P", "p1") + wire.execute_message("p1") + FLUSH)
    messages = read_until_result(sock)
    assert_no_secret(b"".join(tag + body for tag, body in messages), secrets)
    error = error_of(messages)
    assert error.get("C") == "42501" and "cannot run now" in error.get("M", ""), error
    sock.sendall(SYNC)
    messages_through(sock)
    received, error = query(sock, "EXECUTE q")
    assert error == {} and b"SELECT 3\0" in received
    assert_no_secret(received, secrets)


def test_an_execute_of_a_statement_that_resolves_nothing_runs_in_a_batch_never_synced(pgmask_factory, clinic,
                                                                                       tmp_path):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port)
    sock.sendall(wire.parse_message("s", "SHOW search_path") + wire.bind_message("p1", "s") + FLUSH)
    assert [wire.read_message(sock)[0] for _ in range(2)] == [b"1", b"2"]
    time.sleep(1.5)
    sock.sendall(wire.execute_message("p1") + FLUSH)
    assert error_of_or_none(read_until_result(sock)) is None
    sock.sendall(SYNC)
    messages_through(sock)


def test_a_session_in_clear_reads_the_catalog_again_only_between_transactions(pgmask_factory, clinic, tmp_path,
                                                                             connect):
    """A read inside the client's transaction holds its locks to the end, and one that waits on
    another connection's lock past catalog_timeout fails the transaction: a session in clear has
    nothing to hide, so its periodic read waits for the transaction to end."""
    clinic.psql("DROP VIEW IF EXISTS held_v; DROP TABLE IF EXISTS held_bump;"
                "CREATE VIEW held_v AS SELECT 1 AS x", dbname=DB)
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", "--catalog-timeout", "1",
                           *key_flags(tmp_path))
    clear = open_session(proxy.port, "app_backend")
    holder = connect(clinic.port, dbname=DB)
    try:
        assert query(clear, "BEGIN")[1] == {}
        assert query(clear, "SELECT count(*) FROM patients")[1] == {}
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE held_v IN ACCESS EXCLUSIVE MODE")
        connect(clinic.port, dbname=DB).execute("CREATE TABLE held_bump (i int)")  # the catalog changed
        time.sleep(1.5)
        received, error = query(clear, "SELECT count(*) FROM patients")
        assert error == {} and b"SELECT 1\0" in received, (error, received)
        assert query(clear, "COMMIT")[1] == {}
    finally:
        holder.execute("ROLLBACK")
        clear.close()
        clinic.psql("DROP VIEW IF EXISTS held_v; DROP TABLE IF EXISTS held_bump", dbname=DB)


def test_a_session_in_clear_becomes_restricted_when_its_membership_is_revoked(pgmask_factory, clinic, tmp_path,
                                                                              secrets):
    # clear_scratch: an unprotected table the session's temporary view of the same name shadows.
    clinic.psql("DROP ROLE IF EXISTS clear_then_not; CREATE ROLE clear_then_not LOGIN;"
                "GRANT SELECT ON patients TO clear_then_not; GRANT app_backend TO clear_then_not;"
                "DROP TABLE IF EXISTS clear_scratch; CREATE TABLE clear_scratch (id int, a text, b text);"
                "GRANT SELECT ON clear_scratch TO clear_then_not", dbname=DB)
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))
    sock = open_session(proxy.port, user="clear_then_not")
    try:
        assert query(sock, "PREPARE q AS SELECT upper(ssn) AS a, lower(email) AS b FROM patients WHERE id < 4")[1] == {}
        # A temporary view made while in clear outlives the membership: it must not read in clear after.
        assert query(sock, "CREATE TEMP VIEW clear_scratch AS SELECT id, upper(ssn) AS a, lower(email) AS b "
                           "FROM public.patients")[1] == {}
        received, error = query(sock, "EXECUTE q")
        assert error == {} and all(s in received for s in secrets)  # app_backend sees everything in clear
        clinic.psql("REVOKE app_backend FROM clear_then_not", dbname=DB)
        time.sleep(1.5)
        for sql in ("SELECT upper(ssn) AS a, lower(email) AS b FROM patients WHERE id < 4", "EXECUTE q"):
            received, error = query(sock, sql)
            assert error == {} and b"SELECT 3\0" in received, (sql, error)
            assert_no_secret(received, secrets)
        # The temporary view's columns are untraceable now: refused like any temporary relation's.
        received, error = query(sock, "SELECT a, b FROM clear_scratch WHERE id < 4")
        assert error.get("C") == "42P01", error
        assert_no_secret(received, secrets)
    finally:
        sock.close()
        clinic.psql("DROP OWNED BY clear_then_not; DROP ROLE clear_then_not; DROP TABLE clear_scratch", dbname=DB)
