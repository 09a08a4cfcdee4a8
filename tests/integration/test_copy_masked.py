"""COPY TO STDOUT masked per column in text, CSV and binary; COPY FROM passes unchanged; pg_dump
through pgmask as a masked role gives a dump that restores cleanly (static masking)."""

from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

import wire

from conftest import demo_policy_protecting, key_flags, load_demo
from pgharness import client_env, run_client

DB = "clinic_copy"


@pytest.fixture(scope="module")
def clinic(postgres):
    load_demo(postgres, DB)
    postgres.psql("CREATE TABLE IF NOT EXISTS inbox (id int, note text); GRANT ALL ON inbox TO app_backend", dbname=DB)
    return postgres


def psql(port: int, user: str, command: str, dbname: str = DB) -> subprocess.CompletedProcess:
    return run_client(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                       "-d", dbname, "-c", command])


def real_ssns(clinic) -> dict[str, str]:
    out = clinic.psql("SELECT id, ssn FROM patients ORDER BY id", dbname=DB)
    return dict(line.split("|") for line in out.strip().splitlines())


@pytest.mark.parametrize("command", [
    "COPY patients TO STDOUT",
    "COPY patients (id, ssn, email) TO STDOUT",
    "COPY (SELECT id, ssn FROM patients ORDER BY id) TO STDOUT",
    "COPY patients TO STDOUT WITH (FORMAT csv, HEADER)",
    "COPY patients TO STDOUT WITH CSV DELIMITER '|' NULL 'none'",
    "\\copy patients (id, ssn) to stdout",
])
def test_clear_role_copy_is_identical(clinic, masked, command):
    direct = psql(clinic.port, "app_backend", command)
    through = psql(masked.port, "app_backend", command)
    assert direct.returncode == 0, direct.stderr
    assert through.stdout == direct.stdout and through.returncode == 0, through.stderr


@pytest.mark.parametrize("command, separator", [
    ("COPY patients (id, ssn) TO STDOUT", "\t"),
    ("COPY (SELECT id, ssn FROM patients) TO STDOUT", "\t"),
    ("COPY patients (id, ssn) TO STDOUT WITH (FORMAT csv, HEADER true)", ","),
    ("COPY patients (id, ssn) TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '''')", ";"),
    ("\\copy patients (id, ssn) to stdout with csv", ","),
])
def test_masked_role_copy_is_masked_per_column(clinic, masked, command, separator):
    result = psql(masked.port, "auditor", command)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    if "HEADER" in command:
        assert lines.pop(0) == "id,ssn"
    truth = real_ssns(clinic)
    assert len(lines) == len(truth)
    for line in lines:
        pid, ssn = line.split(separator)
        assert ssn == "XXX-XX-" + truth[pid][-4:], line


def test_binary_copy_is_masked(clinic, masked, connect):
    truth = real_ssns(clinic)
    conn = connect(masked.port, user="auditor", dbname=DB)
    with conn.cursor() as cur:
        with cur.copy("COPY patients (id, ssn, dob) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text", "date"])
            rows = list(copy.rows())
    assert len(rows) == len(truth)
    for pid, ssn, dob in rows:
        assert ssn == "XXX-XX-" + truth[str(pid)][-4:]
        assert (dob.month, dob.day) == (1, 1)


def test_copy_of_a_denied_column_is_refused_before_it_runs(clinic, masked):
    result = psql(masked.port, "analyst", "COPY payments TO STDOUT")
    assert result.returncode != 0
    assert "card_number" in result.stderr and "PCI" in result.stderr, result.stderr
    assert result.stdout == ""


# In SJIS 'ポ' ends in the byte '|' and 'ァ' in '@': read as UTF-8 with those as delimiter and
# quote, the first adds a field and the two others merge two, so the row keeps its field count
# but the SSN moves to a column that is not masked.
SHIFTING_COPY = ("COPY (SELECT 'ポ' AS a, ssn, 'ァ' AS b, 'ァ' AS c FROM patients ORDER BY id) TO STDOUT "
                 "WITH (FORMAT csv, ENCODING 'SJIS', DELIMITER '|', QUOTE '@')")


def copy_bytes(conn: psycopg.Connection, command: str) -> bytes:
    with conn.cursor() as cur:
        with cur.copy(command) as copy:
            return b"".join(bytes(chunk) for chunk in copy)


def test_copy_in_an_encoding_that_embeds_ascii_is_refused_for_a_masked_role(clinic, masked, connect):
    direct = copy_bytes(connect(clinic.port, user="app_backend", dbname=DB), SHIFTING_COPY)
    assert b"\x83|" in direct and b"\x83@" in direct, direct[:80]
    assert copy_bytes(connect(masked.port, user="app_backend", dbname=DB), SHIFTING_COPY) == direct
    conn = connect(masked.port, user="auditor", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="ENCODING other than UTF8"):
        copy_bytes(conn, SHIFTING_COPY)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    # UTF8 spelled another way is still UTF8, and masked.
    masked_rows = copy_bytes(conn, "COPY (SELECT id, ssn FROM patients ORDER BY id) TO STDOUT WITH (ENCODING 'utf-8')")
    truth = real_ssns(clinic)
    assert masked_rows.decode().splitlines()[0] == f"1\tXXX-XX-{truth['1'][-4:]}"


def test_copy_with_a_null_string_a_value_could_equal_is_refused_for_a_masked_role(clinic, masked, connect):
    # In text format the server writes a value equal to the NULL string as it is: masked as if it
    # were NULL, the clear value would come back wherever it matched (an equality oracle).
    truth = real_ssns(clinic)
    guess = truth["3"]
    command = f"COPY (SELECT id, ssn FROM patients WHERE id < 6 ORDER BY id) TO STDOUT (NULL '{guess}')"
    clear = copy_bytes(connect(masked.port, user="app_backend", dbname=DB), command)
    assert guess.encode() in clear
    conn = connect(masked.port, user="auditor", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="NULL string"):
        copy_bytes(conn, command)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    # The default NULL string, and CSV (which quotes a value equal to its NULL string), are masked.
    text = copy_bytes(conn, "COPY (SELECT id, ssn FROM patients WHERE id < 6 ORDER BY id) TO STDOUT")
    csv = copy_bytes(conn, f"COPY (SELECT id, ssn FROM patients WHERE id < 6 ORDER BY id) TO STDOUT (FORMAT csv, NULL '{guess}')")
    for data in (text, csv):
        assert guess.encode() not in data
        assert len(data.decode().splitlines()) == 5


# PostgreSQL quotes a CSV field whose value holds the delimiter, the quote character, CR or LF, or
# equals the NULL string. A masked field is written as the server would write the masked value:
# were it quoted whenever the server quoted the clear value, the masked output would tell those
# facts about the clear value (with NULL '<a guess>', an exact-match oracle).

def oracle_ids(truth: dict[str, str]) -> tuple[str, list[str]]:
    """A digit, and ids whose id and visible last four SSN digits lack it: some with it in the
    hidden part of the SSN (the server quotes those), some without."""
    for char in "7234568901":
        hit = [pid for pid, ssn in truth.items() if char not in pid + ssn[-4:] and char in ssn[:-4]]
        miss = [pid for pid, ssn in truth.items() if char not in pid + ssn]
        if hit and miss:
            return char, sorted(hit[:5] + miss[:5], key=int)
    raise AssertionError("no usable digit in the demo data")


def id_list(ids: list[str]) -> str:
    return ", ".join(ids)


@pytest.mark.parametrize("case", ["null", "delimiter", "quote"])
def test_csv_quoting_of_a_masked_field_tells_nothing_of_the_clear_value(clinic, masked, connect, case):
    truth = real_ssns(clinic)
    char, ids = oracle_ids(truth)
    separator = ","
    if case == "null":
        ids = ["1", "2", "3", "4", "5"]
        guess = truth["3"]
        probe, reference, clue = f"NULL '{guess}'", "NULL 'no such value'", f',"{guess}"'
    elif case == "delimiter":
        separator = char
        probe, reference, clue = f"DELIMITER '{char}'", "DELIMITER '|'", f'{char}"'
    else:
        separator = "|"
        probe, reference, clue = f"QUOTE '{char}', DELIMITER '|'", "DELIMITER '|'", f"|{char}"
    select = f"COPY (SELECT id, ssn FROM patients WHERE id IN ({id_list(ids)}) ORDER BY id) TO STDOUT"
    # In clear, the server quotes some of the SSNs for what they hold.
    clear = copy_bytes(connect(clinic.port, user="app_backend", dbname=DB), f"{select} (FORMAT csv, {probe})")
    assert clue.encode() in clear, clear
    conn = connect(masked.port, user="auditor", dbname=DB)
    probed = copy_bytes(conn, f"{select} (FORMAT csv, {probe})")
    referenced = copy_bytes(conn, f"{select} (FORMAT csv, {reference})")
    expected = "".join(f"{pid}{separator}XXX-XX-{truth[pid][-4:]}\n" for pid in ids).encode()
    assert probed == expected
    assert referenced.replace(b"|", separator.encode()) == expected


@pytest.mark.parametrize("command, line", [
    ("COPY (SELECT id, ssn FROM patients WHERE id < 6 ORDER BY id) TO STDOUT (FORMAT csv, FORCE_QUOTE (ssn))",
     '{id},"{ssn}"'),
    ("COPY (SELECT id, ssn AS s FROM patients WHERE id < 6 ORDER BY id) TO STDOUT (FORMAT csv, FORCE_QUOTE *)",
     '"{id}","{ssn}"'),
    # Names are the query's output columns: here `id` is the SSN.
    ("COPY (SELECT id AS ssn, ssn AS id FROM patients WHERE id < 6 ORDER BY 1) TO STDOUT "
     "(FORMAT csv, FORCE_QUOTE (id))", '{id},"{ssn}"'),
    ("COPY (SELECT id, ssn FROM patients WHERE id < 6 ORDER BY id) TO STDOUT CSV FORCE QUOTE id", '"{id}",{ssn}'),
])
def test_force_quote_quotes_a_masked_field_as_the_server_would(clinic, masked, connect, command, line):
    truth = real_ssns(clinic)
    data = copy_bytes(connect(masked.port, user="auditor", dbname=DB), command)
    expected = "".join(line.format(id=pid, ssn="XXX-XX-" + truth[pid][-4:]) + "\n" for pid in "12345")
    assert data == expected.encode()


def test_force_quote_names_columns_of_a_table_column_list(clinic, masked, connect):
    truth = real_ssns(clinic)
    data = copy_bytes(connect(masked.port, user="auditor", dbname=DB),
                      "COPY patients (id, ssn) TO STDOUT (FORMAT csv, FORCE_QUOTE (ssn))")
    expected = [f'{pid},"XXX-XX-{ssn[-4:]}"' for pid, ssn in truth.items()]
    assert sorted(data.decode().splitlines()) == sorted(expected)


def test_copy_of_a_table_with_a_generated_column_is_masked(clinic, pgmask_factory, tmp_path):
    """COPY leaves generated columns out unless listed, so pgmask must not describe them either:
    with `SELECT *`, the fields after one would be taken for the columns before them."""
    clinic.psql("CREATE TABLE IF NOT EXISTS readings (id int, twice int GENERATED ALWAYS AS (id * 2) STORED, "
                "secret text, tail text); TRUNCATE readings; "
                "INSERT INTO readings (id, secret, tail) VALUES (1, 'sealed-value-1', 'open-1'), (2, NULL, 'open-2'); "
                "GRANT SELECT ON readings TO auditor", dbname=DB)
    policy_file = demo_policy_protecting(tmp_path, "public.readings", "secret")
    proxy = pgmask_factory("--policy", str(policy_file), *key_flags(tmp_path))
    for command, expected in [
        ("COPY readings TO STDOUT", "1\t***\topen-1\n2\t\\N\topen-2\n"),
        ("COPY public.readings TO STDOUT WITH (FORMAT csv, HEADER)", "id,secret,tail\n1,***,open-1\n2,,open-2\n"),
    ]:
        result = psql(proxy.port, "auditor", command)
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected, command


def test_copy_from_stdin_passes_unchanged(clinic, masked):
    data = "1\tfirst line\n2\tsecond\\ttabbed\n"
    result = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(masked.port), "-U",
                             "app_backend", "-d", DB, "-c", "COPY inbox FROM STDIN"], input=data,
                            capture_output=True, text=True, timeout=60, env=client_env())
    assert result.returncode == 0, result.stderr
    assert clinic.psql("SELECT id, note FROM inbox ORDER BY id", dbname=DB) == "1|first line\n2|second\ttabbed\n"


def test_pg_dump_as_a_masked_role_restores_cleanly(clinic, masked, tmp_path):
    dump = tmp_path / "masked.sql"
    result = run_client(["pg_dump", "-h", "127.0.0.1", "-p", str(masked.port), "-U", "auditor", "-d", DB,
                         "--no-owner", "--no-privileges", "-t", "patients", "-t", "visits", "-t", "payments",
                         "-f", str(dump)], timeout=300)
    assert result.returncode == 0, result.stderr
    text = dump.read_text()
    truth = real_ssns(clinic)
    assert not any(ssn in text for ssn in list(truth.values())[:200]), "a clear SSN is in the masked dump"
    clinic.psql("DROP DATABASE IF EXISTS restored")
    clinic.psql("CREATE DATABASE restored")
    restore = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", clinic.socket_conninfo("restored"),
                              "-f", str(dump)], capture_output=True, text=True, timeout=300, env=client_env())
    assert restore.returncode == 0, restore.stderr
    for table in ("patients", "visits", "payments"):
        count = f"SELECT count(*) FROM {table}"
        assert clinic.psql(count, dbname="restored") == clinic.psql(count, dbname=DB)
    restored = clinic.psql("SELECT ssn FROM patients ORDER BY id LIMIT 50", dbname="restored").split()
    assert all(re.fullmatch(r"XXX-XX-\d{4}", s) for s in restored), restored[:5]


# COPY TO STDOUT through the extended protocol (libpq's PQexecParams, drivers' prepared COPY):
# pgmask describes the COPY's columns inside the client's batch, without a Sync of its own.

def extended_copy(port: int, user: str, batch: list[bytes]) -> tuple[list[bytes], list[dict[str, str]], bytes]:
    """Logs in, sends `batch` (ending in a Sync) and returns the CopyData payloads, the
    ErrorResponses and the tag sequence up to ReadyForQuery."""
    with wire.connect(port) as sock:
        wire.login(sock, user, DB)
        sock.sendall(b"".join(batch))
        return read_copy_results(sock)


def read_copy_results(sock) -> tuple[list[bytes], list[dict[str, str]], bytes]:
    data, errors, tags = [], [], b""
    while True:
        tag, body = wire.read_message(sock)
        tags += tag
        if tag == b"d":
            data.append(body)
        elif tag == b"E":
            errors.append(wire.error_fields(body))
        elif tag == b"Z":
            return data, errors, tags


def copy_batch(statement: str, sql: str, describe: bool = False) -> list[bytes]:
    return [wire.parse_message(statement, sql), wire.bind_message("", statement)] + \
        ([wire.describe_message(b"P", "")] if describe else []) + [wire.execute_message(""), wire.message(b"S")]


@pytest.mark.parametrize("describe", [False, True])
def test_extended_protocol_copy_is_masked(clinic, masked, describe):
    truth = real_ssns(clinic)
    data, errors, tags = extended_copy(masked.port, "auditor",
                                       copy_batch("", "COPY patients (id, ssn) TO STDOUT", describe))
    assert not errors, errors
    # The client sees exactly the answers to its own messages: pgmask's Describe is invisible.
    assert tags == b"12" + (b"n" if describe else b"") + b"H" + b"d" * len(truth) + b"cCZ"
    for line in data:
        pid, ssn = line.decode().rstrip("\n").split("\t")
        assert ssn == "XXX-XX-" + truth[pid][-4:], line


def test_extended_protocol_copy_of_a_clear_role_is_identical(clinic, masked):
    batch = copy_batch("", "COPY patients TO STDOUT (FORMAT csv)")
    assert extended_copy(masked.port, "app_backend", batch) == extended_copy(clinic.port, "app_backend", batch)


def test_prepared_copies_keep_their_own_columns(clinic, masked):
    # Two prepared COPYs of the same width, run in the opposite order: each is masked by its
    # own columns, not by whichever was described last.
    truth = real_ssns(clinic)
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)
        sock.sendall(wire.parse_message("ssns", "COPY patients (id, ssn) TO STDOUT")
                     + wire.parse_message("ids", "COPY (SELECT id, 'n' || id FROM patients) TO STDOUT")
                     + wire.message(b"S"))
        assert read_copy_results(sock) == ([], [], b"11Z")
        for statement in ("ssns", "ids", "ssns"):
            sock.sendall(b"".join(copy_batch(statement, "")[1:]))
            data, errors, _ = read_copy_results(sock)
            assert not errors and len(data) == len(truth), errors
            for line in data:
                pid, second = line.decode().rstrip("\n").split("\t")
                assert second == ("XXX-XX-" + truth[pid][-4:] if statement == "ssns" else "n" + pid), line


def test_extended_protocol_copy_that_fails_gives_the_client_its_error(clinic, masked):
    with wire.connect(masked.port) as sock:
        wire.login(sock, "auditor", DB)
        sock.sendall(b"".join(copy_batch("", "COPY patients (id, no_such_column) TO STDOUT")))
        data, errors, tags = read_copy_results(sock)
        assert data == [] and tags == b"EZ", tags
        assert errors[0]["C"] == "42703", errors
        # The session goes on.
        sock.sendall(wire.query_message("SELECT 1"))
        assert [tag for tag, _ in wire.read_until_ready(sock)] == [b"T", b"D", b"C", b"Z"]
