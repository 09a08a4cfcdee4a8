"""Masking on every path a driver takes (issue: extended query, binary results, COPY, cursors).

The clear role must see what PostgreSQL sent; a masked role must never see a protected value,
whatever protocol path the rows take."""

from __future__ import annotations

import struct

import psycopg
import pytest

import wire


DB = "clinic_drivers"
SSN_SQL = "SELECT id, ssn, email FROM patients WHERE id <= %s ORDER BY id"


@pytest.fixture
def truth(clinic, connect):
    conn = connect(clinic.port, dbname=DB)
    with conn.cursor() as cur:
        cur.execute("SELECT id, ssn, email FROM patients ORDER BY id")
        return {row[0]: row for row in cur.fetchall()}


def assert_masked(rows, truth):
    assert rows, "no rows came back"
    for row in rows:
        real = truth[row[0]]
        assert row[1] != real[1] and row[2] != real[2], f"protected value in clear for id {row[0]}"


def test_clear_role_sees_postgres_values_on_every_path(masked, connect, truth):
    conn = connect(masked.port, user="app_backend", dbname=DB)
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute(SSN_SQL, (20,))
            assert cur.fetchall() == [truth[i] for i in range(1, 21)]
    for _ in range(3):
        assert conn.execute(SSN_SQL, (5,), prepare=True).fetchall() == [truth[i] for i in range(1, 6)]


def test_parameterised_query_is_masked(masked, connect, truth):
    conn = connect(masked.port, user="auditor", dbname=DB)
    assert_masked(conn.execute(SSN_SQL, (20,)).fetchall(), truth)


def test_prepared_statement_executed_again_is_masked(masked, connect, truth):
    conn = connect(masked.port, user="auditor", dbname=DB)
    for limit in (3, 4, 5, 6, 7):
        assert_masked(conn.execute(SSN_SQL, (limit,), prepare=True).fetchall(), truth)


def test_binary_results_are_never_clear(masked, connect, truth):
    conn = connect(masked.port, user="auditor", dbname=DB)
    with conn.cursor(binary=True) as cur:
        cur.execute(SSN_SQL, (20,))
        rows = cur.fetchall()
    assert len(rows) == 20
    for row in rows:
        real = truth[row[0]]
        # Masked in the binary encoding itself: the same masks as in text format.
        assert row[1] == "XXX-XX-" + real[1][-4:], (row, real)
        assert row[2].endswith("@***." + real[2].rsplit(".", 1)[1]), (row, real)


def test_binary_results_of_other_types_are_masked_in_their_encoding(masked, connect, clinic):
    direct = connect(clinic.port, dbname=DB)
    conn = connect(masked.port, user="auditor", dbname=DB)
    sql = "SELECT payments.id, dob, amount FROM patients JOIN payments ON payments.patient_id = patients.id ORDER BY payments.id LIMIT 20"
    with direct.cursor(binary=True) as cur:
        cur.execute(sql)
        real = cur.fetchall()
    with conn.cursor(binary=True) as cur:
        cur.execute(sql)
        seen = cur.fetchall()
    assert [r[0] for r in seen] == [r[0] for r in real]
    for (_, dob, amount), (_, real_dob, real_amount) in zip(seen, real):
        assert (dob.year, dob.month, dob.day) == (real_dob.year, 1, 1)   # generalize(year), date binary
        assert amount == (real_amount // 100) * 100                     # generalize(100), numeric binary


def test_pipeline_mode_is_masked(masked, connect, truth):
    conn = connect(masked.port, user="auditor", dbname=DB)
    with conn.pipeline():
        cursors = [conn.execute(SSN_SQL, (n,)) for n in (1, 2, 3)]
        conn.execute("SELECT 1")
    for cur in cursors:
        assert_masked(cur.fetchall(), truth)


def test_server_side_cursor_is_masked(masked, connect, truth):
    conn = connect(masked.port, user="auditor", dbname=DB)
    conn.autocommit = False
    with conn.cursor(name="patients_cursor") as cur:
        cur.itersize = 7
        cur.execute("SELECT id, ssn, email FROM patients ORDER BY id")
        rows = cur.fetchmany(30)
    conn.rollback()
    assert_masked(rows, truth)


def test_denied_column_via_extended_protocol_is_refused(masked, connect):
    conn = connect(masked.port, user="analyst", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT card_number FROM payments WHERE id = %s", (1,))
    assert conn.execute("SELECT count(*) FROM patients WHERE id < %s", (10,)).fetchone() == (9,)


def _extended(sock, *messages: bytes) -> list[tuple[bytes, bytes]]:
    sock.sendall(b"".join(messages))
    return wire.read_until_ready(sock)


SYNC = wire.message(b"S")


def _data_rows(messages) -> list[list[bytes | None]]:
    rows = []
    for tag, body in messages:
        if tag != b"D":
            continue
        (count,), pos, values = struct.unpack_from("!h", body), 2, []
        for _ in range(count):
            (size,) = struct.unpack_from("!i", body, pos)
            pos += 4
            values.append(None if size < 0 else body[pos:pos + size])
            pos += max(size, 0)
        rows.append(values)
    return rows


def test_execute_without_describe_is_masked_and_the_client_sees_no_extra_message(masked, truth):
    """JDBC-style: the statement was described once; later Executes come without any Describe.
    pgmask describes the portal itself and must not show its answer to the client."""
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)
        _extended(sock, wire.parse_message("s1", "SELECT id, ssn, email FROM patients ORDER BY id LIMIT 5"), SYNC)
        for portal in ("", "p1"):
            messages = _extended(sock, wire.bind_message(portal, "s1"), wire.execute_message(portal), SYNC)
            tags = [tag for tag, _ in messages]
            assert tags == [b"2"] + [b"D"] * 5 + [b"C", b"Z"], tags
            for values in _data_rows(messages):
                real = truth[int(values[0])]
                assert values[1].decode() != real[1] and values[2].decode() != real[2]


def test_statement_defined_again_under_its_name_is_masked_by_its_new_columns(masked, truth):
    """Executes without Describe reuse the columns pgmask learnt for a prepared statement; a Parse
    of the same name, or a simple Query that may DEALLOCATE and PREPARE it, must not reuse them
    (the two definitions differ in width, so stale columns would break the rows)."""
    clear = "SELECT id, 'x' || id FROM patients ORDER BY id LIMIT 3"
    protected = "SELECT id, ssn, email FROM patients ORDER BY id LIMIT 3"
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)

        def by_parse(sql: str) -> None:
            _extended(sock, wire.close_message(b"S", "s1"), wire.parse_message("s1", sql), SYNC)

        def by_query(sql: str) -> None:
            sock.sendall(wire.query_message(f"DEALLOCATE ALL; PREPARE s1 AS {sql}"))
            wire.read_until_ready(sock)

        for define in (by_parse, by_query, by_parse):
            for sql in (clear, protected, clear):
                define(sql)
                for portal in ("", "p1", ""):
                    messages = _extended(sock, wire.bind_message(portal, "s1"), wire.execute_message(portal),
                                         wire.close_message(b"P", portal), SYNC)
                    assert [tag for tag, _ in messages] == [b"2"] + [b"D"] * 3 + [b"C", b"3", b"Z"], (define, sql)
                    for values in _data_rows(messages):
                        assert len(values) == (3 if sql == protected else 2)
                        real = truth[int(values[0])]
                        if sql == protected:
                            assert values[1].decode() != real[1] and values[2].decode() != real[2], values


def test_execute_without_describe_of_a_missing_portal_gets_the_servers_error(masked):
    """pgmask's own Describe before the Execute fails first: the client must still get one
    ErrorResponse (not a bare ReadyForQuery), and the session goes on."""
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)
        sock.sendall(wire.execute_message("no_such_portal") + SYNC)
        with pytest.raises(wire.ServerError) as error:
            wire.read_until_ready(sock)
        assert error.value.sqlstate == "34000", error.value
        tag, _ = wire.read_message(sock)
        assert tag == b"Z"
        messages = _extended(sock, wire.parse_message("", "SELECT 1"), wire.bind_message("", ""),
                             wire.execute_message(""), SYNC)
        assert [t for t, _ in messages] == [b"1", b"2", b"D", b"C", b"Z"]


def test_refused_statement_with_undeclared_parameter_types_fails_with_42501(masked):
    """libpq's PQexecParams with paramTypes NULL declares no types; the refusal must still be the
    policy's 42501 at Execute, not a Bind error, and the session must stay usable."""
    with wire.connect(masked.port) as sock:
        wire.login(sock, "analyst", DB)
        # One binary int4 parameter (bytes 00 00 00 2a): not valid as text, so only NULLs bind.
        bind = wire.message(b"B", b"\0\0" + struct.pack("!hhh", 1, 1, 1) + struct.pack("!ii", 4, 42)
                            + struct.pack("!h", 0))
        sock.sendall(wire.message(b"P", b"\0SELECT card_number FROM payments WHERE id = $1\0" + struct.pack("!h", 0))
                     + bind + wire.execute_message("") + SYNC)
        with pytest.raises(wire.ServerError) as refused:
            wire.read_until_ready(sock)
        assert refused.value.sqlstate == "42501", refused.value
        tag, _ = wire.read_message(sock)
        assert tag == b"Z"
        messages = _extended(sock, wire.parse_message("", "SELECT 1"), wire.bind_message("", ""), wire.execute_message(""), SYNC)
        assert [t for t, _ in messages] == [b"1", b"2", b"D", b"C", b"Z"]


def test_row_limited_execute_is_masked_across_portal_suspension(masked, truth):
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)
        messages = _extended(sock, wire.parse_message("", "SELECT id, ssn, email FROM patients ORDER BY id LIMIT 10"),
                             wire.bind_message("", ""), wire.execute_message("", 4), wire.execute_message("", 4), wire.execute_message("", 4), SYNC)
        tags = [tag for tag, _ in messages]
        assert tags == [b"1", b"2"] + [b"D"] * 4 + [b"s"] + [b"D"] * 4 + [b"s"] + [b"D"] * 2 + [b"C", b"Z"], tags
        rows = _data_rows(messages)
        assert len(rows) == 10
        for values in rows:
            assert values[1].decode() != truth[int(values[0])][1]
