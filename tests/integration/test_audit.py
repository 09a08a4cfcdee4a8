"""The audit trail written by live sessions (issue: tamper-evident audit trail).

Each test starts pgmask with the demo policy and an audit file (and, for the outage test, an
audit database), runs statements through it as a restricted role, and reads the trail back:
one record per statement that touches a protected column, on every protocol path, none for the
others, no value in any record, and the whole trail verifiable with `pgmask audit verify`."""

from __future__ import annotations

import json
import struct
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

import wire
from conftest import DEMO_POLICY, key_flags, load_demo
from pgharness import PostgresCluster

DB = "clinic_audit"
AUDIT_KEY = "33" * 32


@pytest.fixture(scope="module")
def clinic(postgres):
    return load_demo(postgres, DB)


class Trail:
    """The audit file of one pgmask, and the flags that make pgmask write it."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / "audit.jsonl"
        self.key_file = directory / "audit.key"
        self.key_file.write_text(AUDIT_KEY + "\n")

    def flags(self, *extra: str) -> list[str]:
        return ["--audit-file", str(self.path), "--audit-key-file", str(self.key_file), *extra]

    def records(self) -> list[dict]:
        files = sorted(self.directory.glob("audit.jsonl.*"), key=lambda p: int(p.suffix[1:]))
        files.append(self.path)
        out = []
        for f in files:
            if f.exists():
                out.extend(json.loads(line) for line in f.read_text().splitlines() if line)
        return out

    def statements(self) -> list[dict]:
        return [r for r in self.records() if r["type"] == "statement"]

    def wait_for_statements(self, count: int, timeout: float = 10) -> list[dict]:
        """Records nobody waits for (refusals) are written a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.statements()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture
def trail(tmp_path: Path) -> Trail:
    return Trail(tmp_path)


@pytest.fixture
def audited(pgmask_factory, clinic, trail, tmp_path):
    return pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), *trail.flags())


def run(conn: psycopg.Connection, sql: str, params=None, prepare=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params, prepare=prepare)
        return cur.fetchall() if cur.description is not None else []


def test_simple_query_gives_one_record_with_columns_and_keys(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    rows = run(conn, "SELECT id, ssn, dob FROM patients /* a comment */ WHERE id IN (1, 2) ORDER BY id")
    assert [r[0] for r in rows] == [1, 2]
    records = trail.statements()
    assert len(records) == 1, records
    r = records[0]
    assert r["protocol"] == "simple" and r["command"] == "SELECT"
    assert r["user"] == "analyst" and "analyst" in r["roles"] and r["database"] == DB
    assert r["outcome"] == "masked" and r["rows"] == 2 and r["sqlstate"] is None
    assert r["query"] == "SELECT id, ssn, dob FROM patients WHERE id IN ($1, $2) ORDER BY id"
    columns = {(c["column"], c["use"]): c["action"] for c in r["columns"]}
    assert columns[("public.patients.ssn", "output")] == "tokenize"
    assert columns[("public.patients.dob", "output")] == "mask"
    assert r["keys"][0]["table"] == "public.patients" and len(r["keys"][0]["hmac"]) == 2
    assert r["fingerprint"]


def test_each_statement_of_a_multi_statement_query_is_recorded_once(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    with conn.cursor() as cur:
        cur.execute("SELECT ssn FROM patients WHERE id = 1; SELECT count(*) FROM visits; "
                    "SELECT email FROM patients WHERE id <= 3")
    records = trail.statements()
    assert [(r["query"], r["rows"]) for r in records] == [
        ("SELECT ssn FROM patients WHERE id = $1", 1),
        ("SELECT email FROM patients WHERE id <= $1", 3),
    ]


def test_statements_without_protected_columns_are_not_recorded(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    run(conn, "SELECT count(*) FROM patients")
    run(conn, "SELECT id, patient_id FROM visits WHERE id < 5")
    run(conn, "SELECT 1")
    assert trail.statements() == []


def test_extended_protocol_records_each_execute(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    for patient in (1, 2):
        rows = run(conn, "SELECT id, email FROM patients WHERE id = %s", (patient,), prepare=True)
        assert rows[0][0] == patient
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT id, phone FROM patients WHERE id = %s", (3,))
        assert cur.fetchall()[0][0] == 3
    records = trail.statements()
    assert [(r["protocol"], r["command"], r["rows"]) for r in records] == [("extended", "SELECT", 1)] * 3
    assert records[0]["query"] == "SELECT id, email FROM patients WHERE id = $1"
    assert len(records[0]["keys"][0]["hmac"]) == 1
    assert records[0]["keys"][0]["hmac"] != records[1]["keys"][0]["hmac"]
    # The binary result's key is hashed from the integer's text form, like the text result's.
    assert records[2]["keys"][0]["table"] == "public.patients"


def test_copy_to_stdout_is_one_record(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, ssn FROM patients WHERE id <= 3 ORDER BY id) TO STDOUT") as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
    assert data.count(b"\n") == 3
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, email FROM patients WHERE id IN (2, 5) ORDER BY id) TO STDOUT "
                      "(FORMAT binary)") as copy:
            assert len(b"".join(bytes(chunk) for chunk in copy)) > 0
    records = trail.statements()
    assert len(records) == 2, records
    assert (records[0]["protocol"], records[0]["command"], records[0]["rows"]) == ("copy", "COPY", 3)
    # The rows' keys are read from the COPY data, in either format: who-accessed finds them.
    assert [(k["table"], len(k["hmac"])) for k in records[0]["keys"]] == [("public.patients", 3)]
    assert [(k["table"], len(k["hmac"])) for k in records[1]["keys"]] == [("public.patients", 2)]
    assert records[1]["rows"] == 2
    # Patient 2 is in both: the same key hashes alike whatever the format it was sent in.
    assert len(set(records[0]["keys"][0]["hmac"]) & set(records[1]["keys"][0]["hmac"])) == 1


def test_copy_from_stdin_into_a_protected_column_is_one_record(audited, clinic, connect, trail):
    clinic.psql("GRANT INSERT ON patients TO auditor", dbname=DB)
    try:
        conn = connect(audited.port, user="auditor", dbname=DB)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            with cur.copy("COPY patients (id, name, ssn, email, phone, dob, address) FROM STDIN") as copy:
                copy.write_row((9001, "Test Intake", "111-22-3333", "intake@example.org", "555-0100", "1990-01-01",
                                "1 Intake Road"))
    finally:
        clinic.psql("REVOKE INSERT ON patients FROM auditor", dbname=DB)
    records = trail.statements()
    assert len(records) == 1, records
    r = records[0]
    assert (r["protocol"], r["command"]) == ("copy", "COPY"), r
    assert r["query"] == "COPY patients (id, name, ssn, email, phone, dob, address) FROM STDIN", r
    assert (r["sqlstate"], r["outcome"], r["rows"]) == (None, "allowed", 1), r
    assert {c["column"] for c in r["columns"]} == {
        f"public.patients.{c}" for c in ("name", "ssn", "email", "phone", "dob", "address")}, r
    assert {c["use"] for c in r["columns"]} == {"other"}, r
    assert "111-22-3333" not in json.dumps(records) and "Test Intake" not in json.dumps(records)


def test_cursor_fetches_are_recorded_not_the_declare(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("DECLARE c CURSOR FOR SELECT id, email FROM patients ORDER BY id")
        cur.execute("FETCH 2 FROM c")
        assert len(cur.fetchall()) == 2
        cur.execute("FETCH 3 FROM c")
        assert len(cur.fetchall()) == 3
        cur.execute("COMMIT")
    records = trail.statements()
    assert [(r["command"], r["rows"], r["query"]) for r in records] == [
        ("FETCH", 2, "FETCH $1 FROM c"), ("FETCH", 3, "FETCH $1 FROM c")]
    assert {c["column"] for c in records[0]["columns"]} == {"public.patients.email"}


def test_sql_prepare_execute_records_the_execute(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    run(conn, "PREPARE p(int) AS SELECT ssn FROM patients WHERE id = $1")
    assert len(run(conn, "EXECUTE p(7)")) == 1
    records = trail.statements()
    assert [(r["command"], r["rows"], r["query"]) for r in records] == [("EXECUTE", 1, "EXECUTE p($1)")]
    assert records[0]["columns"][0]["column"] == "public.patients.ssn"


def test_refusals_are_recorded(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(conn, "SELECT card_number FROM payments WHERE id = 1")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(conn, "SELECT card_number FROM payments WHERE id = %s", (2,), prepare=True)
    records = trail.wait_for_statements(2)
    assert [(r["protocol"], r["outcome"], r["sqlstate"], r["rows"]) for r in records] == [
        ("simple", "refused", "42501", None), ("extended", "refused", "42501", None)]
    assert records[0]["columns"] == [{"column": "public.payments.card_number", "class": "PCI", "use": "output",
                                      "action": "deny"}]


def test_a_failed_statement_is_recorded_with_its_sqlstate(audited, connect, trail):
    conn = connect(audited.port, user="analyst", dbname=DB)
    with pytest.raises(psycopg.errors.DivisionByZero):
        run(conn, "SELECT ssn, id / (id - 1) FROM patients WHERE id = 1")
    records = trail.statements()
    assert [(r["outcome"], r["sqlstate"]) for r in records] == [("failed", "22012")]


def exchange(port: int, user: str, statements: list[str]) -> list[list[tuple[bytes, bytes]]]:
    """Every message the server sends for each simple Query, raw."""
    sock = wire.connect(port)
    try:
        wire.login(sock, user, DB)
        out = []
        for sql in statements:
            sock.sendall(wire.query_message(sql))
            messages = [wire.read_message(sock)]
            while messages[-1][0] != b"Z":
                messages.append(wire.read_message(sock))
            out.append(messages)
        return out
    finally:
        sock.close()


def test_a_role_that_sees_everything_in_clear_is_recorded_and_sees_what_postgres_sent(
        pgmask_factory, postgres, clinic, connect, trail, tmp_path):
    """app_backend sees every class in clear: its reads of protected columns are recorded as
    "allowed", and everything it receives (rows, COPY data, errors quoting values, syntax errors)
    is byte for byte what PostgreSQL sent."""
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), *trail.flags())
    statements = [
        "SELECT id, ssn, email, dob FROM patients WHERE id <= 3 ORDER BY id",
        "SELECT count(*) FROM visits",
        "SELECT ssn::int FROM patients WHERE id = 1",
        "SELEC ssn FROM patients",
        "COPY (SELECT id, ssn FROM patients WHERE id <= 2 ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
        "SET search_path = pg_catalog, public; SELECT name FROM patients WHERE id = 4",
    ]
    through = exchange(proxy.port, "app_backend", statements)
    direct = exchange(postgres.port, "app_backend", statements)
    assert through == direct
    # The error quotes the clear value, as PostgreSQL would say it.
    assert b"invalid input syntax for type integer" in b"".join(body for _, body in through[2])
    records = trail.statements()
    assert [(r["query"], r["outcome"], r["rows"], r["sqlstate"]) for r in records] == [
        ("SELECT id, ssn, email, dob FROM patients WHERE id <= $1 ORDER BY id", "allowed", 3, None),
        ("SELECT ssn::int FROM patients WHERE id = $1", "failed", 0, "22P02"),
        ("", "failed", 0, "42601"),  # not parsed: no text (a bare word could be a value)
        ("COPY (SELECT id, ssn FROM patients WHERE id <= $1 ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
         "allowed", 2, None),
        ("SELECT name FROM patients WHERE id = $1", "allowed", 1, None),
    ], records
    assert all(r["user"] == "app_backend" for r in records)
    columns = {(c["column"], c["use"]): c["action"] for c in records[0]["columns"]}
    assert columns == {("public.patients.ssn", "output"): "clear", ("public.patients.email", "output"): "clear",
                       ("public.patients.dob", "output"): "clear"}
    # Not parsed: any protected column.
    assert [c["column"] for c in records[2]["columns"]] == ["*"]
    assert "123-45" not in json.dumps(records)


def test_writes_into_protected_columns_are_recorded_and_others_are_not(audited, clinic, connect, trail):
    clinic.psql("GRANT INSERT, UPDATE ON patients, visits TO auditor", dbname=DB)
    try:
        conn = connect(audited.port, user="auditor", dbname=DB)
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("INSERT INTO patients (id, name, ssn, email, phone, dob, address) VALUES "
                        "(9101, 'Write Test', '999-88-7777', 'a@example.org', '555-0101', '1980-01-01', '1 Road'), "
                        "(9102, 'Write Test', '999-88-7776', 'b@example.org', '555-0102', '1980-01-02', '2 Road')")
            cur.execute("UPDATE visits SET patient_id = 9102 WHERE id = 1")
        # An UPDATE of a protected column compares it with its new value (inference: deny).
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute("UPDATE patients SET email = 'w@example.org' WHERE id = 9101")
    finally:
        clinic.psql("REVOKE INSERT, UPDATE ON patients, visits FROM auditor", dbname=DB)
    records = trail.statements()
    assert [(r["command"], r["outcome"]) for r in records] == [("INSERT", "allowed"), ("UPDATE", "refused")], records
    assert records[0]["rows"] == 2, records
    assert {(c["column"], c["use"], c["action"]) for c in records[0]["columns"]} == {
        (f"public.patients.{c}", "other", "mask") for c in ("name", "ssn", "email", "phone", "dob", "address")}
    assert {(c["column"], c["use"]) for c in records[1]["columns"]} == {("public.patients.email", "other")}
    assert "999-88" not in json.dumps(records) and "w@example" not in json.dumps(records)


def pgmask_cli(pgmask_bin: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(pgmask_bin), *args], capture_output=True, text=True, timeout=60)


def test_a_live_trail_verifies_across_rotations_and_is_sealed_at_shutdown(pgmask_factory, pgmask_bin, clinic,
                                                                          connect, trail, tmp_path):
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path),
                           *trail.flags("--audit-rotate-bytes", "4096"))
    conn = connect(proxy.port, user="support", dbname=DB)
    for patient in range(1, 21):
        run(conn, "SELECT id, email FROM patients WHERE id = %s", (patient,))
    conn.close()
    assert proxy.stop() is None
    rotated = sorted(trail.directory.glob("audit.jsonl.*"))
    assert len(rotated) >= 2, rotated
    assert len(trail.statements()) == 20
    files = [str(p) for p in [*rotated, trail.path]]
    result = pgmask_cli(pgmask_bin, "audit", "verify", "--audit-key-file", str(trail.key_file), *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sealed at shutdown" in result.stdout, result.stdout
    # who-accessed finds patient 7 by its key, and only that statement.
    result = pgmask_cli(pgmask_bin, "audit", "who-accessed", "--audit-key-file", str(trail.key_file),
                        "--table", "public.patients", "--key", "7", *files)
    assert result.returncode == 0, result.stderr
    assert "1 statement returned public.patients key 7" in result.stdout, result.stdout
    assert "user=support" in result.stdout


def test_protected_statements_are_refused_while_the_trail_cannot_be_written(pgmask_factory, clinic, connect,
                                                                              trail, tmp_path, pgmask_bin):
    """The rotation of a full file is blocked (its target name is taken), so the sink cannot
    write: protected statements get 58030 before any row, others are served, and once the
    target is free again writing resumes by itself with every record kept."""
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path),
                           *trail.flags("--audit-rotate-bytes", "4096"))
    blocker = trail.directory / "audit.jsonl.1"
    blocker.mkdir()
    conn = connect(proxy.port, user="support", dbname=DB)
    refused = served = 0
    for patient in range(1, 40):
        try:
            run(conn, "SELECT id, email FROM patients WHERE id = %s", (patient,))
            served += 1
        except psycopg.errors.IoError as e:
            assert "audit" in str(e)
            refused += 1
            break
    assert refused == 1 and served > 0
    # Unprotected statements keep working, protected ones are refused fast.
    assert run(conn, "SELECT count(*) FROM patients")[0][0] > 0
    with pytest.raises(psycopg.errors.IoError):
        run(conn, "SELECT email FROM patients WHERE id = 1")
    blocker.rmdir()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert run(conn, "SELECT email FROM patients WHERE id = 2")
            break
        except psycopg.errors.IoError:
            assert time.monotonic() < deadline, "the audit sink did not resume"
            time.sleep(0.2)
    conn.close()
    assert proxy.stop() is None
    records = trail.records()
    types = [r["type"] for r in records]
    assert "audit_degraded" in types and "audit_resumed" in types
    statements = [r for r in records if r["type"] == "statement"]
    outcomes = [r["outcome"] for r in statements]
    assert outcomes.count("refused") >= 2 and all(
        r["sqlstate"] == "58030" for r in statements if r["outcome"] == "refused")
    assert outcomes.count("masked") == served + 1
    files = [str(p) for p in sorted(trail.directory.glob("audit.jsonl.*"))] + [str(trail.path)]
    result = pgmask_cli(pgmask_bin, "audit", "verify", "--audit-key-file", str(trail.key_file), *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_value_reaches_the_trail(audited, clinic, connect, trail):
    """Secrets placed where a client can put them — comments, literals of every kind, bind
    parameters, application_name — and the protected values the statements return."""
    direct = connect(clinic.port, user="postgres", dbname=DB)
    ssn, email = run(direct, "SELECT ssn, email FROM patients WHERE id = 5")[0]
    secrets = ["Quillfeather-8812", "771-93-4410", "hush@vault.test", "6011000990139424", "31337.77",
               "1931-11-23", ssn, email]
    conn = connect(audited.port, user="analyst", dbname=DB, application_name="Quillfeather-8812")
    run(conn, "SELECT ssn FROM patients /* 771-93-4410 */ WHERE id = 5 -- hush@vault.test")
    run(conn, "SELECT email, 'Quillfeather-8812' AS tag, 6011000990139424 AS n, 31337.77 AS m, "
              "E'hush@vault.test' AS e, $$771-93-4410$$ AS d, DATE '1931-11-23' AS dt FROM patients WHERE id = 5")
    run(conn, "SELECT email FROM patients WHERE id = %s AND %s::text <> 'x'", (5, "Quillfeather-8812"), prepare=True)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(conn, "SELECT card_number FROM payments WHERE card_number = '6011000990139424'")
    with pytest.raises(psycopg.Error):
        run(conn, "SELECT ssn FROM patients WHERE id = 5 AND 'hush@vault.test'::int = 1")
    text = "\n".join(trail.path.read_text() for _ in [trail.wait_for_statements(5)])
    assert len(trail.statements()) == 5
    for secret in secrets:
        assert secret.lower() not in text.lower(), secret
    assert '"application":"?17"' in text


def test_break_glass_shows_clear_data_until_it_expires(pgmask_factory, pgmask_bin, clinic, connect, trail,
                                                       tmp_path, monkeypatch):
    """PGMASK_BREAK_GLASS_SECONDS shortens the policy's max_minutes so expiry is testable."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEMO_POLICY.read_text() + "break_glass: { roles: [support], max_minutes: 30 }\n")
    monkeypatch.setenv("PGMASK_BREAK_GLASS_SECONDS", "2")
    proxy = pgmask_factory("--policy", str(policy), *key_flags(tmp_path), *trail.flags())
    clear_ssn = run(connect(clinic.port, user="postgres", dbname=DB), "SELECT ssn FROM patients WHERE id = 3")[0][0]

    analyst = connect(proxy.port, user="analyst", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(analyst, "SET pgmask.break_glass = 'INC-1: curious'")
    support = connect(proxy.port, user="support", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="reason"):
        run(support, "SET pgmask.break_glass = '  '")
    assert run(support, "SELECT ssn FROM patients WHERE id = 3")[0][0] != clear_ssn
    run(support, "SET pgmask.break_glass = 'INC-77: billing outage'")
    assert run(support, "SELECT ssn FROM patients WHERE id = 3")[0][0] == clear_ssn
    assert run(support, "SHOW pgmask.break_glass")[0][0] == "INC-77: billing outage"
    time.sleep(2.5)
    assert run(support, "SELECT ssn FROM patients WHERE id = 3")[0][0] != clear_ssn
    support.close()
    analyst.close()
    assert proxy.stop() is None

    records = trail.records()
    start = next(r for r in records if r["type"] == "break_glass_start")
    assert start["user"] == "support" and start["reason"] == "INC-77: billing outage" and start["expires"]
    end = next(r for r in records if r["type"] == "break_glass_end")
    assert end["outcome"] == "expired" and end["ts"] == start["expires"]
    statements = [r for r in records if r["type"] == "statement" and r["command"] == "SELECT"]
    assert [(r["outcome"], r["break_glass"]) for r in statements] == [
        ("masked", None), ("allowed", "INC-77: billing outage"), ("masked", None)]
    refusals = [r for r in records if r["type"] == "statement" and r["outcome"] == "refused"]
    assert [r["user"] for r in refusals] == ["analyst", "support"]
    assert all(r["query"] == "SET pgmask.break_glass = $1" for r in refusals)

    result = pgmask_cli(pgmask_bin, "audit", "break-glass", "--audit-key-file", str(trail.key_file),
                        "--since", "1h", str(trail.path))
    assert result.returncode == 0, result.stderr
    assert 'reason="INC-77: billing outage"' in result.stdout and "end outcome=expired" in result.stdout
    assert "1 break-glass session, 1 statement" in result.stdout, result.stdout


def test_break_glass_ends_when_a_reloaded_policy_no_longer_allows_it(pgmask_factory, clinic, connect, trail,
                                                                      tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEMO_POLICY.read_text() + "break_glass: { roles: [support], max_minutes: 30 }\n")
    proxy = pgmask_factory("--policy", str(policy), *key_flags(tmp_path), *trail.flags())
    sql = "SELECT ssn FROM patients WHERE id = 3"
    clear_ssn = run(connect(clinic.port, user="postgres", dbname=DB), sql)[0][0]
    support = connect(proxy.port, user="support", dbname=DB)
    run(support, "SET pgmask.break_glass = 'INC-78: outage'")
    assert run(support, sql)[0][0] == clear_ssn
    # pgmask notices the file's change itself (policy_poll, 1 s); the next statement waits for
    # the session to take the new policy, and sees the data masked again.
    policy.write_text(DEMO_POLICY.read_text() + "break_glass: { roles: [analyst], max_minutes: 30 }\n")
    proxy.wait_for_log("policy reloaded")
    assert run(support, sql)[0][0] != clear_ssn
    support.close()
    assert proxy.stop() is None
    ends = [r for r in trail.records() if r["type"] == "break_glass_end"]
    assert [r["outcome"] for r in ends] == ["revoked"], ends


@pytest.fixture
def audit_database():
    """A PostgreSQL cluster of its own for the trail, apart from the application's data."""
    cluster = PostgresCluster(["all all 127.0.0.1/32 trust"])
    try:
        cluster.init()
        cluster.start()
        cluster.psql("CREATE DATABASE audit")
        yield cluster
    finally:
        cluster.destroy()


def test_audit_database_outage_refuses_protected_statements_and_loses_no_record(
        pgmask_factory, pgmask_bin, clinic, connect, trail, tmp_path, audit_database):
    dsn = audit_database.conninfo(dbname="audit")
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), *trail.flags("--audit-dsn", dsn))
    conn = connect(proxy.port, user="support", dbname=DB)
    assert run(conn, "SELECT id, email FROM patients WHERE id = 1")
    audit_database.stop()
    with pytest.raises(psycopg.errors.IoError):
        run(conn, "SELECT id, email FROM patients WHERE id = 2")
    assert run(conn, "SELECT count(*) FROM patients")[0][0] > 0  # nothing protected: served
    with pytest.raises(psycopg.errors.IoError):
        run(conn, "SELECT id, email FROM patients WHERE id = 3")
    audit_database.start()
    deadline = time.monotonic() + 15
    while True:
        try:
            assert run(conn, "SELECT id, email FROM patients WHERE id = 4")
            break
        except psycopg.errors.IoError:
            assert time.monotonic() < deadline, "the audit database sink did not resume"
            time.sleep(0.2)
    conn.close()
    assert proxy.stop() is None

    lines = audit_database.psql("SELECT line FROM pgmask_audit ORDER BY seq", dbname="audit").splitlines()
    records = [json.loads(line) for line in lines]
    types = [r["type"] for r in records]
    assert types[0] == "start" and types[-1] == "seal"
    assert "audit_degraded" in types and "audit_resumed" in types
    statements = [r for r in records if r["type"] == "statement"]
    outcomes = [r["outcome"] for r in statements]
    assert outcomes[0] == "masked" and outcomes[-1] == "masked"
    assert outcomes.count("refused") >= 2
    assert all((r["sqlstate"], r["rows"], r["keys"]) == ("58030", None, [])
               for r in statements if r["outcome"] == "refused")
    # Both sinks were on, each chaining its own copy: the file holds the same statements, with the
    # same ids, in the same order. The one whose record the database could not take in time
    # (id = 2) was refused for it: the database wrote it late as that refusal, while the file had
    # already made it durable as it stood (masked), so the file says so with a correction.
    in_file = trail.statements()
    assert [(r["id"], r["query"]) for r in in_file] == [(r["id"], r["query"]) for r in statements]
    pairs = [(f["outcome"], d["outcome"]) for f, d in zip(in_file, statements)]
    assert pairs[1] == ("masked", "refused"), pairs
    assert all(f == d for f, d in pairs[2:]), pairs
    corrections = [r for r in trail.records() if r["type"] == "record_corrected"]
    assert [(r["record"], r["outcome"], r["sqlstate"]) for r in corrections] == [(in_file[1]["id"], "refused", "58030")]
    assert "record_corrected" not in types
    assert [r["seq"] for r in records] == list(range(records[0]["seq"], records[0]["seq"] + len(records)))
    for source in (["--dsn", dsn], [str(p) for p in sorted(trail.directory.glob("audit.jsonl*"))]):
        result = pgmask_cli(pgmask_bin, "audit", "who-accessed", "--audit-key-file", str(trail.key_file),
                            "--table", "public.patients", "--key", "4", *source)
        assert result.returncode == 0, result.stderr
        assert "1 statement returned public.patients key 4" in result.stdout, result.stdout
        # Both trails agree that the refused statement returned nothing.
        result = pgmask_cli(pgmask_bin, "audit", "who-accessed", "--audit-key-file", str(trail.key_file),
                            "--table", "public.patients", "--key", "2", *source)
        assert result.returncode == 0, result.stderr
        assert "no statement in the trail returned public.patients key 2" in result.stdout, result.stdout
    verified = pgmask_cli(pgmask_bin, "audit", "verify", "--audit-key-file", str(trail.key_file),
                          *[str(p) for p in sorted(trail.directory.glob("audit.jsonl*"))])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_policy_reloads_and_refused_connections_are_recorded(pgmask_factory, clinic, connect, trail, tmp_path):
    policy = tmp_path / "policy.yaml"
    shutil.copy(DEMO_POLICY, policy)
    proxy = pgmask_factory("--policy", str(policy), *key_flags(tmp_path), *trail.flags("--max-client-conn", "1"))
    first = connect(proxy.port, user="analyst", dbname=DB)
    with pytest.raises(psycopg.OperationalError, match="too many clients"):
        connect(proxy.port, user="support", dbname=DB)
    # pgmask notices the file's changes itself (policy_poll, 1 s).
    policy.write_text(DEMO_POLICY.read_text() + "# reviewed\n")
    proxy.wait_for_log("policy reloaded")
    policy.write_text("version: [\n")
    proxy.wait_for_log("policy reload rejected")
    deadline = time.monotonic() + 10
    while True:
        events = [r for r in trail.records() if r["type"] in ("policy_reload", "connection_refused")]
        if len(events) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    first.close()
    refused = [r for r in events if r["type"] == "connection_refused"]
    assert [(r["reason"], r["user"], r["database"]) for r in refused] == [("too_many_clients", "support", DB)]
    reloads = [(r["outcome"], len(r["policy"])) for r in events if r["type"] == "policy_reload"]
    assert reloads == [("ok", 64), ("rejected", 64)], events


def simple(sock, sql: str) -> list[tuple[bytes, bytes]]:
    sock.sendall(wire.query_message(sql))
    return wire.read_until_ready(sock)


def extended(sock, sql: str) -> list[tuple[bytes, bytes]]:
    """`sql` through Parse, Bind, Execute and Sync of the unnamed statement and portal."""
    sock.sendall(wire.parse_message("", sql) + wire.bind_message("", "") + wire.execute_message("")
                 + wire.message(b"S"))
    return wire.read_until_ready(sock)


def function_call(oid: int, *args: str) -> bytes:
    """A FunctionCall message with text arguments and a text result."""
    body = struct.pack("!Ihh", oid, 0, len(args))
    for a in args:
        body += struct.pack("!i", len(a.encode())) + a.encode()
    return wire.message(b"F", body + struct.pack("!h", 0))


QUERY_TO_XML = 2924  # query_to_xml(text, boolean, boolean, text)


def test_fetch_and_execute_through_the_extended_protocol_are_recorded(audited, trail):
    """A FETCH or EXECUTE sent as Parse/Bind/Execute reads what its DECLARE or PREPARE names, like
    the same text in a simple Query: one record each, for clear and masked roles."""
    for user in ("app_backend", "support"):
        sock = wire.connect(audited.port)
        try:
            wire.login(sock, user, DB)
            simple(sock, "BEGIN")
            simple(sock, "DECLARE k2 CURSOR FOR SELECT id, ssn FROM patients WHERE id <= 2 ORDER BY id")
            assert [tag for tag, _ in extended(sock, "FETCH ALL FROM k2")].count(b"D") == 2
            simple(sock, "COMMIT")
            simple(sock, "PREPARE q AS SELECT id, email FROM patients WHERE id = 3")
            assert [tag for tag, _ in extended(sock, "EXECUTE q")].count(b"D") == 1
        finally:
            sock.close()
    records = trail.wait_for_statements(4)
    assert [(r["user"], r["protocol"], r["command"], r["query"], r["rows"], r["outcome"]) for r in records] == [
        ("app_backend", "extended", "FETCH", "FETCH ALL FROM k2", 2, "allowed"),
        ("app_backend", "extended", "EXECUTE", "EXECUTE q", 1, "allowed"),
        ("support", "extended", "FETCH", "FETCH ALL FROM k2", 2, "masked"),
        ("support", "extended", "EXECUTE", "EXECUTE q", 1, "masked"),
    ], records
    assert [[c["column"] for c in r["columns"]] for r in records] == [
        ["public.patients.ssn"], ["public.patients.email"]] * 2


def test_function_calls_are_recorded_as_touching_everything(pgmask_factory, clinic, trail, tmp_path):
    """A FunctionCall cannot be analysed: a clear role's (and a break-glass session's) is recorded
    over every protected column with the function's OID and no argument; a restricted role's is
    refused, and that refusal is recorded too."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEMO_POLICY.read_text() + "break_glass: { roles: [support], max_minutes: 30 }\n")
    proxy = pgmask_factory("--policy", str(policy), *key_flags(tmp_path), *trail.flags())
    inner = "SELECT ssn FROM patients WHERE id = 1"
    for user in ("app_backend", "support", "analyst"):
        sock = wire.connect(proxy.port)
        try:
            wire.login(sock, user, DB)
            if user == "support":
                simple(sock, "SET pgmask.break_glass = 'INC-5: function call'")
            sock.sendall(function_call(QUERY_TO_XML, inner, "f", "f", ""))
            if user == "analyst":
                with pytest.raises(wire.ServerError) as refused:
                    wire.read_until_ready(sock)
                assert refused.value.fields["C"] == "42501"
            else:
                messages = wire.read_until_ready(sock)
                assert [tag for tag, _ in messages] == [b"V", b"Z"]
                assert b"<ssn>" in messages[0][1]
        finally:
            sock.close()
    records = trail.wait_for_statements(3)
    assert [(r["user"], r["command"], r["query"], r["outcome"], r["sqlstate"], r["break_glass"])
            for r in records] == [
        ("app_backend", "FUNCTION CALL", f"<function oid {QUERY_TO_XML}>", "allowed", None, None),
        ("support", "FUNCTION CALL", f"<function oid {QUERY_TO_XML}>", "allowed", None, "INC-5: function call"),
        ("analyst", "FUNCTION CALL", f"<function oid {QUERY_TO_XML}>", "refused", "42501", None),
    ], records
    assert all([c["column"] for c in r["columns"]] == ["*"] for r in records)
    assert [r["rows"] for r in records] == [1, 1, None]
    assert "ssn FROM" not in trail.path.read_text()


def test_writes_are_refused_before_they_run_while_the_trail_cannot_be_written(
        pgmask_factory, clinic, connect, trail, tmp_path, pgmask_bin):
    """With audit_on_failure block and the sink degraded, a write of a clear or a masked role that
    would be recorded never reaches PostgreSQL: the client gets 58030 in order, the row is as it
    was, and the trail says refused. Writes that store nothing protected still run."""
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path),
                           *trail.flags("--audit-rotate-bytes", "4096"))
    clinic.psql("GRANT INSERT ON patients TO support", dbname=DB)
    direct = connect(clinic.port, user="postgres", dbname=DB)
    before = run(direct, "SELECT id, email, name FROM patients WHERE id IN (5, 6) ORDER BY id")
    blocker = trail.directory / "audit.jsonl.1"
    blocker.mkdir()
    try:
        app = connect(proxy.port, user="app_backend", dbname=DB)
        support = connect(proxy.port, user="support", dbname=DB)
        for patient in range(1, 60):
            try:
                run(app, "SELECT id, email FROM patients WHERE id = %s", (patient,))
            except psycopg.errors.IoError:
                break
        else:
            raise AssertionError("the trail never failed")
        with pytest.raises(psycopg.errors.IoError, match="audit"):
            run(app, "UPDATE patients SET email = 'written-while-degraded@example.org' WHERE id = 5")
        with pytest.raises(psycopg.errors.IoError, match="audit"):
            run(app, "DELETE FROM patients WHERE email = %s", (before[1][1],))
        with pytest.raises(psycopg.errors.IoError, match="audit"):
            run(app, "INSERT INTO patients (id, name, ssn) VALUES (9301, 'Degraded', '999-00-1111')")
        with pytest.raises(psycopg.errors.IoError, match="audit"):
            run(support, "INSERT INTO patients (id, name) VALUES (9302, 'Support Wrote This')")
        # In a transaction the refusal fails it, as any error would.
        with pytest.raises(psycopg.errors.IoError):
            with app.transaction():
                run(app, "UPDATE patients SET email = 'in-transaction@example.org' WHERE id = 5")
        assert run(direct, "SELECT id, email, name FROM patients WHERE id IN (5, 6) ORDER BY id") == before
        assert run(direct, "SELECT count(*) FROM patients WHERE id IN (9301, 9302)")[0][0] == 0
        # A FunctionCall touches everything: refused too, in order.
        sock = wire.connect(proxy.port)
        try:
            wire.login(sock, "app_backend", DB)
            sock.sendall(function_call(QUERY_TO_XML, "SELECT 1", "f", "f", ""))
            with pytest.raises(wire.ServerError) as refused:
                wire.read_until_ready(sock)
            assert refused.value.fields["C"] == "58030"
            assert wire.read_message(sock)[0] == b"Z"
        finally:
            sock.close()
        # Nothing protected stored or filtered on: served.
        assert run(app, "SELECT count(*) FROM visits")[0][0] > 0
    finally:
        clinic.psql("REVOKE INSERT ON patients FROM support", dbname=DB)
        blocker.rmdir()
    deadline = time.monotonic() + 10
    while True:
        try:
            run(app, "SELECT email FROM patients WHERE id = 2")
            break
        except psycopg.errors.IoError:
            assert time.monotonic() < deadline, "the audit sink did not resume"
            time.sleep(0.2)
    app.close()
    support.close()
    assert proxy.stop() is None
    writes = [r for r in trail.statements() if r["command"] in ("UPDATE", "DELETE", "INSERT", "FUNCTION CALL")]
    assert [(r["user"], r["command"], r["outcome"], r["sqlstate"], r["rows"]) for r in writes] == [
        ("app_backend", "UPDATE", "refused", "58030", None),
        ("app_backend", "DELETE", "refused", "58030", None),
        ("app_backend", "INSERT", "refused", "58030", None),
        ("support", "INSERT", "refused", "58030", None),
        ("app_backend", "UPDATE", "refused", "58030", None),
        ("app_backend", "FUNCTION CALL", "refused", "58030", None),
    ], writes
    files = [str(p) for p in sorted(trail.directory.glob("audit.jsonl.*"))] + [str(trail.path)]
    result = pgmask_cli(pgmask_bin, "audit", "verify", "--audit-key-file", str(trail.key_file), *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_query_texts_hold_no_value_whatever_the_quoting(audited, connect, trail):
    """The recorded text follows the session's standard_conforming_strings, keeps a U&"..."
    identifier whole, and is left out for SQL that does not parse (bare words could be values)."""
    conn = connect(audited.port, user="app_backend", dbname=DB)
    run(conn, "SET standard_conforming_strings = off")
    email = run(conn, "SELECT email FROM patients WHERE id = 4")[0][0]
    found = run(conn, f"SELECT id, ssn FROM patients WHERE email = substr('\\'{email}\\'', 2, {len(email)})")
    assert [row[0] for row in found] == [4]
    run(conn, "SET standard_conforming_strings = on")
    assert run(conn, 'SELECT U&"\\0073sn" FROM patients WHERE id = 1')
    with pytest.raises(psycopg.errors.SyntaxError):
        run(conn, "SELECT ssn FROM patients WHERE name = Zebulon Quaxwright")
    records = trail.statements()
    queries = [r["query"] for r in records]
    assert queries[-3:] == [
        "SELECT id, ssn FROM patients WHERE email = substr($1, $2, $3)",
        'SELECT U&"\\0073sn" FROM patients WHERE id = $1',
        "",
    ], queries
    assert records[-1]["outcome"] == "failed" and records[-1]["sqlstate"] == "42601"
    # Analysed as pgmask's parser reads it, which the server did not: any protected column.
    assert [c["column"] for c in records[-3]["columns"]] == ["*"]
    assert [c["column"] for c in records[-1]["columns"]] == ["*"]
    text = trail.path.read_text()
    assert email not in text and "Zebulon" not in text and "Quaxwright" not in text


def test_verify_does_not_call_a_trail_cut_before_a_restart_complete(pgmask_factory, pgmask_bin, clinic, connect,
                                                                   trail, tmp_path):
    """Records cut off the end of the trail, then a restart: the new run's start record chains onto
    the cut, so every record authenticates and links; verify cannot show the trail complete and
    exits 3 with a warning, until the operator accepts that reopen as a crash."""
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), *trail.flags())
    conn = connect(proxy.port, user="support", dbname=DB)
    for patient in (1, 2, 3):
        run(conn, "SELECT id, email FROM patients WHERE id = %s", (patient,))
    conn.close()
    assert proxy.stop() is None
    verify = ("audit", "verify", "--audit-key-file", str(trail.key_file), str(trail.path))
    assert pgmask_cli(pgmask_bin, *verify).returncode == 0
    lines = trail.path.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["type"] == "seal" and json.loads(lines[-2])["type"] == "statement"
    trail.path.write_text("".join(lines[:-2]))  # the last statement and the seal
    proxy = pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path), *trail.flags())
    assert proxy.stop() is None
    start = next(r for r in trail.records() if r["type"] == "start" and r.get("previous") == "unsealed")
    result = pgmask_cli(pgmask_bin, *verify)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "WARNING" in result.stdout and "cannot be shown complete" in result.stdout, result.stdout
    assert "audit verify: OK" not in result.stdout
    # A crash the operator has looked into: accepted by the start record's seq.
    result = pgmask_cli(pgmask_bin, *verify, "--accept-unsealed", str(start["seq"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit verify: OK" in result.stdout
