"""The statement analyzer wired into the proxy (issue: fail-closed query analysis): how pgmask
reads the catalog it analyses against (views, search_path, DDL from other connections), how
named state (PREPARE/EXECUTE, DECLARE/FETCH, protocol-level statements) keeps its plan, and
the side channels it closes (error texts, settings that change how SQL text reads, replication).
The adversarial suite (test_adversarial.py) covers the breadth of SQL; this one the mechanics."""

from __future__ import annotations

import json
import subprocess
import time

import psycopg
import pytest
import yaml

from conftest import DEMO_POLICY, demo_policy_protecting, key_flags

DB = "clinic_analysis"
REDACTED_TEXT = "***"


@pytest.fixture
def proxy(pgmask_factory, clinic, tmp_path):
    # Rechecks the catalog after 1 s, so a test can watch another connection's DDL arrive.
    return pgmask_factory("--policy", str(DEMO_POLICY), "--catalog-recheck", "1", *key_flags(tmp_path))


def rows(conn: psycopg.Connection, sql: str, params=None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def clear_ssns(clinic) -> set[str]:
    return set(clinic.psql("SELECT ssn FROM patients", dbname=DB).split())


def test_an_expression_over_a_protected_column_is_redacted(proxy, connect, clinic):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    got = rows(conn, "SELECT upper(ssn), ssn, id FROM patients ORDER BY id LIMIT 5")
    ssns = clear_ssns(clinic)
    for derived, direct, _ in got:
        assert derived == REDACTED_TEXT
        assert direct.startswith("XXX-XX-") and direct not in ssns


def test_a_clear_role_sees_expressions_unchanged(proxy, connect, clinic):
    conn = connect(proxy.port, user="app_backend", dbname=DB)
    got = [r[0] for r in rows(conn, "SELECT upper(ssn) FROM patients ORDER BY id")]
    assert got == clinic.psql("SELECT upper(ssn) FROM patients ORDER BY id", dbname=DB).split()


def test_views_are_traced_through_their_definition(proxy, connect, clinic):
    clinic.psql("CREATE OR REPLACE VIEW patient_ids AS SELECT id, ssn AS tax_id, lower(email) AS mail FROM patients;"
                "GRANT SELECT ON patient_ids TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    ssns = clear_ssns(clinic)
    for _, tax_id, mail in rows(conn, "SELECT * FROM patient_ids"):
        # A view column that is a plain protected column gets the column's own mask.
        assert tax_id.startswith("XXX-XX-") and tax_id not in ssns
        assert mail == REDACTED_TEXT


def test_a_relation_created_by_another_connection_is_read_at_once(proxy, connect, clinic):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "SELECT 1")
    clinic.psql("DROP VIEW IF EXISTS late_view; CREATE VIEW late_view AS SELECT id, ssn FROM patients;"
                "GRANT SELECT ON late_view TO auditor", dbname=DB)
    ssns = clear_ssns(clinic)
    # Unknown to the session's catalog: pgmask reads the catalog again before it judges.
    got = rows(conn, "SELECT id, ssn FROM late_view ORDER BY id")
    assert got and all(ssn.startswith("XXX-XX-") and ssn not in ssns for _, ssn in got)
    assert [r[0] for r in got] == sorted(int(i) for i in clinic.psql("SELECT id FROM patients", dbname=DB).split())
    # A relation that does not exist even then gets PostgreSQL's own error.
    with pytest.raises(psycopg.errors.UndefinedTable):
        rows(conn, "SELECT * FROM no_such_table WHERE ssn = '1'")


def test_a_temporary_table_of_the_session_is_usable_with_its_columns_untraceable(proxy, connect):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "CREATE TEMP TABLE scratch_notes (note text)")
    rows(conn, "INSERT INTO scratch_notes VALUES ('a'), ('b')")
    # Not in the shared catalog: every column counts as derived from every protected one.
    assert rows(conn, "SELECT note FROM scratch_notes") == [(REDACTED_TEXT,), (REDACTED_TEXT,)]
    assert rows(conn, "SELECT count(*) FROM scratch_notes") == [(2,)]
    with pytest.raises(psycopg.errors.UndefinedTable, match="temporary table"):
        rows(conn, "SELECT note FROM scratch_notes WHERE note = 'a'")


def test_a_view_redefined_by_another_connection_is_seen_after_the_recheck(proxy, connect, clinic):
    clinic.psql("DROP VIEW IF EXISTS shifty; CREATE VIEW shifty AS SELECT id, 'nothing'::text AS t FROM patients;"
                "GRANT SELECT ON shifty TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    assert {r[0] for r in rows(conn, "SELECT t FROM shifty")} == {"nothing"}
    clinic.psql("CREATE OR REPLACE VIEW shifty AS SELECT id, ssn AS t FROM patients", dbname=DB)
    time.sleep(1.2)
    ssns = clear_ssns(clinic)
    assert all(t.startswith("XXX-XX-") and t not in ssns for (t,) in rows(conn, "SELECT t FROM shifty"))


def test_search_path_is_followed(proxy, connect, clinic):
    clinic.psql("DROP SCHEMA IF EXISTS shadow CASCADE; CREATE SCHEMA shadow;"
                "CREATE TABLE shadow.patients (id int, ssn text); INSERT INTO shadow.patients VALUES (1, 'not-secret');"
                "GRANT USAGE ON SCHEMA shadow TO auditor; GRANT SELECT ON shadow.patients TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "SET search_path = shadow, public")
    # shadow.patients is not in the policy: its column is nobody's secret.
    assert rows(conn, "SELECT upper(ssn) FROM patients") == [("NOT-SECRET",)]
    rows(conn, "SET search_path = public")
    assert {r[0] for r in rows(conn, "SELECT upper(ssn) FROM patients")} == {REDACTED_TEXT}


def test_a_set_in_a_rolled_back_transaction_is_undone(proxy, connect, clinic):
    clinic.psql("DROP SCHEMA IF EXISTS shadow2 CASCADE; CREATE SCHEMA shadow2;"
                "CREATE TABLE shadow2.patients (id int, ssn text); INSERT INTO shadow2.patients VALUES (1, 'plain');"
                "GRANT USAGE ON SCHEMA shadow2 TO auditor; GRANT SELECT ON shadow2.patients TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "BEGIN")
    rows(conn, "SET search_path = shadow2, public")
    assert rows(conn, "SELECT upper(ssn) FROM patients") == [("PLAIN",)]
    rows(conn, "ROLLBACK")
    assert {r[0] for r in rows(conn, "SELECT upper(ssn) FROM patients")} == {REDACTED_TEXT}


def test_prepare_and_execute_keep_the_plan(proxy, connect, clinic):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "PREPARE p AS SELECT upper(ssn) AS u, id FROM patients ORDER BY id")
    got = rows(conn, "EXECUTE p")
    assert got and all(u == REDACTED_TEXT for u, _ in got)
    rows(conn, "DEALLOCATE p")
    # An EXECUTE pgmask cannot attribute is redacted whole.
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        rows(conn, "EXECUTE p")


def redefine_after_recheck(clinic, sql: str) -> None:
    """DDL from another connection, then a wait past the proxy's catalog recheck (1 s)."""
    clinic.psql(sql, dbname=DB)
    time.sleep(1.2)


def test_a_prepared_statement_is_analysed_again_when_what_it_reads_is_redefined(proxy, connect, clinic):
    """PostgreSQL analyses a prepared statement again when a view it reads is replaced: so does
    pgmask, or the first analysis would let the new definition's SSNs through in clear."""
    clinic.psql("DROP VIEW IF EXISTS swap_v; CREATE VIEW swap_v AS SELECT id, 'safe'::text AS t, 'x'::text AS u "
                "FROM patients; GRANT SELECT ON swap_v TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "PREPARE swap_p AS SELECT t, u FROM swap_v ORDER BY id")
    assert {r for r in rows(conn, "EXECUTE swap_p")} == {("safe", "x")}
    redefine_after_recheck(clinic, "CREATE OR REPLACE VIEW swap_v AS SELECT id, ssn AS t, email || '' AS u FROM patients")
    ssns = clear_ssns(clinic)
    got = rows(conn, "EXECUTE swap_p")
    assert got and all(t.startswith("XXX-XX-") and t not in ssns and u == REDACTED_TEXT for t, u in got)


def test_a_prepared_statement_whose_condition_now_reads_a_protected_column_is_refused(proxy, connect, clinic):
    clinic.psql("DROP VIEW IF EXISTS swap_w; CREATE VIEW swap_w AS SELECT id, 'safe'::text AS t FROM patients;"
                "GRANT SELECT ON swap_w TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "PREPARE swap_q AS SELECT count(*) FROM swap_w WHERE t LIKE '9%'")
    assert rows(conn, "EXECUTE swap_q") == [(0,)]
    redefine_after_recheck(clinic, "CREATE OR REPLACE VIEW swap_w AS SELECT id, ssn AS t FROM patients")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="ssn"):
        rows(conn, "EXECUTE swap_q")
    assert rows(conn, "SELECT 1") == [(1,)]


@pytest.mark.parametrize("binary", [False, True])
def test_a_protocol_level_statement_is_analysed_again_when_what_it_reads_is_redefined(proxy, connect, clinic,
                                                                                        binary):
    clinic.psql("DROP VIEW IF EXISTS swap_x; CREATE VIEW swap_x AS SELECT id, 'safe'::text AS t FROM patients;"
                "GRANT SELECT ON swap_x TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    query = "SELECT t FROM swap_x WHERE id > %s ORDER BY id"
    with conn.cursor(binary=binary) as cur:
        for _ in range(2):  # psycopg prepares a named statement on the second run
            cur.execute(query, (0,), prepare=True)
            assert {r[0] for r in cur.fetchall()} == {"safe"}
    redefine_after_recheck(clinic, "CREATE OR REPLACE VIEW swap_x AS SELECT id, name AS t FROM patients")
    names = set(clinic.psql("SELECT name FROM patients", dbname=DB).splitlines())
    with conn.cursor(binary=binary) as cur:
        cur.execute(query, (0,), prepare=True)
        got = [r[0] for r in cur.fetchall()]
    assert got and not set(got) & names
    redefine_after_recheck(clinic, "DROP VIEW swap_x; CREATE VIEW swap_x AS SELECT id, ssn AS t FROM patients;"
                                   "GRANT SELECT ON swap_x TO auditor")
    ssns = clear_ssns(clinic)
    with conn.cursor(binary=binary) as cur:
        cur.execute(query, (0,), prepare=True)
        got = [r[0] for r in cur.fetchall()]
    assert got and all(t not in ssns for t in got)


def test_a_protocol_level_statement_that_is_refused_after_ddl_is_refused_and_the_session_goes_on(proxy, connect,
                                                                                                 clinic):
    """The server holds the statement as prepared: pgmask replaces it with its refusal before the
    Bind reaches it."""
    clinic.psql("DROP VIEW IF EXISTS swap_y; CREATE VIEW swap_y AS SELECT id, 'safe'::text AS t FROM patients;"
                "GRANT SELECT ON swap_y TO auditor", dbname=DB)
    conn = connect(proxy.port, user="auditor", dbname=DB)
    query = "SELECT count(*) FROM swap_y WHERE t LIKE %s"
    with conn.cursor() as cur:
        for _ in range(2):
            cur.execute(query, ("9%",), prepare=True)
            assert cur.fetchall() == [(0,)]
    redefine_after_recheck(clinic, "CREATE OR REPLACE VIEW swap_y AS SELECT id, ssn AS t FROM patients")
    for _ in range(2):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="analysed again after DDL.*ssn"):
            with conn.cursor() as cur:
                cur.execute(query, ("9%",), prepare=True)
                cur.fetchall()
    assert rows(conn, "SELECT 1") == [(1,)]


def test_declare_and_fetch_keep_the_plan(proxy, connect, clinic):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    rows(conn, "BEGIN")
    rows(conn, "DECLARE c CURSOR FOR SELECT lower(email), id FROM patients ORDER BY id")
    got = rows(conn, "FETCH 3 FROM c") + rows(conn, "FETCH ALL FROM c")
    rows(conn, "COMMIT")
    assert len(got) == int(clinic.psql("SELECT count(*) FROM patients", dbname=DB))
    assert all(mail == REDACTED_TEXT for mail, _ in got)


@pytest.mark.parametrize("binary", [False, True])
def test_protocol_level_prepared_statements_keep_the_plan(proxy, connect, clinic, binary):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    for _ in range(3):  # psycopg prepares on the second run: named statement, then reuse
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT upper(ssn), id FROM patients WHERE id > %s ORDER BY id", (0,), prepare=True)
            assert all(u == REDACTED_TEXT for u, _ in cur.fetchall())


def test_error_texts_of_protected_statements_are_hidden(pgmask_factory, connect, clinic, tmp_path):
    # inference: allow, so that the cast that fails on an SSN runs: PostgreSQL's text quotes it.
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy.setdefault("settings", {})["inference"] = "allow"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    port = pgmask_factory("--policy", str(policy_file), *key_flags(tmp_path)).port
    conn = connect(port, user="auditor", dbname=DB)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        rows(conn, "SELECT ssn::int FROM patients")
    diag = failure.value.diag
    assert "hidden" in diag.message_primary
    # Which server routine raised it says more than the SQLSTATE: gone too.
    assert (diag.source_file, diag.source_line, diag.source_function) == (None, None, None)
    for ssn in clear_ssns(clinic):
        assert ssn not in str(failure.value)
    # A statement that touches nothing protected keeps PostgreSQL's own text.
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as plain:
        rows(conn, "SELECT 'abc'::int")
    assert "abc" in plain.value.diag.message_primary
    assert plain.value.diag.source_function is not None


def test_under_inference_allow_stored_values_and_sorted_inputs_stay_hidden(pgmask_factory, connect, clinic, tmp_path):
    """inference: allow lets conditions run, but a value kept in a sequence or an advisory lock key
    is a copy the next statement reads in clear, and percentile_disc returns one of the values it
    sorts: refused, refused and redacted."""
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy.setdefault("settings", {})["inference"] = "allow"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    port = pgmask_factory("--policy", str(policy_file), *key_flags(tmp_path)).port
    clinic.psql("DROP SEQUENCE IF EXISTS probe_seq; CREATE SEQUENCE probe_seq; "
                "GRANT SELECT, UPDATE ON probe_seq TO auditor", dbname=DB)
    conn = connect(port, user="auditor", dbname=DB)
    got = rows(conn, "SELECT percentile_disc(0) WITHIN GROUP (ORDER BY ssn), "
                     "mode() WITHIN GROUP (ORDER BY email) FROM patients")
    assert got == [(REDACTED_TEXT, REDACTED_TEXT)]
    for sql, channel in (("SELECT setval('probe_seq', ascii(ssn)) FROM patients LIMIT 1", "sequence"),
                         ("SELECT pg_advisory_lock(hashtext(ssn)) FROM patients LIMIT 1", "advisory lock key")):
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            rows(conn, sql)
        assert channel in refused.value.diag.message_primary
    assert rows(conn, "SELECT last_value, is_called FROM probe_seq") == [(1, False)]
    assert rows(conn, "SELECT objid FROM pg_locks WHERE locktype = 'advisory'") == []
    # Keys and values of the caller's own still work.
    rows(conn, "SELECT pg_advisory_lock(42), setval('probe_seq', 7)")
    assert rows(conn, "SELECT objid FROM pg_locks WHERE locktype = 'advisory'") == [(42,)]
    assert rows(conn, "SELECT last_value FROM probe_seq") == [(7,)]


def test_computations_that_can_fail_on_a_protected_value_are_refused(proxy, connect, clinic):
    """Whether the division fails tells whether the first digit is 8, though the result would be
    redacted: under inference: deny it is refused before it runs, like a condition."""
    conn = connect(proxy.port, user="auditor", dbname=DB)
    for sql in ("SELECT 1/(ascii(substr(ssn, 1, 1)) - 56) FROM patients", "SELECT ssn::int FROM patients"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            rows(conn, sql)
        assert "computation that can fail" in refused.value.diag.message_primary
    # What cannot fail still runs, redacted.
    assert rows(conn, "SELECT upper(ssn), length(ssn) FROM patients")
    clear = connect(proxy.port, user="app_backend", dbname=DB)
    with pytest.raises(psycopg.errors.DivisionByZero):
        rows(clear, "SELECT 1/(ascii(substr(ssn, 1, 1)) - ascii(substr(ssn, 1, 1))) FROM patients")


VAULT_CODE = "vault-code-7731"


def proxy_protecting(pgmask_factory, tmp_path, table: str, column: str) -> int:
    """The port of a pgmask with the demo policy plus `table`.`column` (PII, redacted)."""
    policy_file = demo_policy_protecting(tmp_path, table, column)
    return pgmask_factory("--policy", str(policy_file), *key_flags(tmp_path)).port


def test_generated_columns_are_derived_from_what_they_are_computed_from(pgmask_factory, connect, clinic, tmp_path):
    clinic.psql("DROP TABLE IF EXISTS lab_codes; CREATE TABLE lab_codes (id int, code text, "
                "code_upper text GENERATED ALWAYS AS (upper(code)) STORED, "
                "id_twice int GENERATED ALWAYS AS (id * 2) STORED); "
                "INSERT INTO lab_codes (id, code) VALUES (1, 'hidden-lab-code'); "
                "GRANT SELECT ON lab_codes TO auditor, app_backend", dbname=DB)
    port = proxy_protecting(pgmask_factory, tmp_path, "public.lab_codes", "code")
    conn = connect(port, user="auditor", dbname=DB)
    assert rows(conn, "SELECT code_upper, id_twice FROM lab_codes") == [(REDACTED_TEXT, 2)]
    assert rows(conn, "SELECT * FROM lab_codes") == [(1, REDACTED_TEXT, REDACTED_TEXT, 2)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="lab_codes.code"):
        rows(conn, "SELECT id FROM lab_codes WHERE code_upper LIKE 'H%'")
    clear = connect(port, user="app_backend", dbname=DB)
    assert rows(clear, "SELECT code_upper, id_twice FROM lab_codes") == [("HIDDEN-LAB-CODE", 2)]


def test_deferred_constraint_errors_are_hidden_when_the_transaction_commits(pgmask_factory, connect, clinic,
                                                                          tmp_path):
    """A deferred check runs at COMMIT, SET CONSTRAINTS or the Sync that ends an implicit
    transaction, none of which names a protected column; its error quotes the conflicting row
    (here the key of the row a DELETE would leave referenced)."""
    clinic.psql("DROP TABLE IF EXISTS vault_ref, vault; CREATE TABLE vault (code text PRIMARY KEY); "
                "CREATE TABLE vault_ref (code text REFERENCES vault (code) DEFERRABLE INITIALLY DEFERRED); "
                f"INSERT INTO vault VALUES ('{VAULT_CODE}'); INSERT INTO vault_ref VALUES ('{VAULT_CODE}'); "
                "GRANT SELECT, DELETE ON vault TO auditor, app_backend", dbname=DB)
    port = proxy_protecting(pgmask_factory, tmp_path, "public.vault", "code")

    def commit_fails(user: str, steps) -> psycopg.errors.ForeignKeyViolation:
        conn = connect(port, user=user, dbname=DB)
        with pytest.raises(psycopg.errors.ForeignKeyViolation) as failure:
            steps(conn)
        if not conn.autocommit:
            conn.rollback()
        assert rows(conn, "SELECT 1") == [(1,)]
        return failure.value

    def commit(conn):
        conn.autocommit = False
        conn.execute("DELETE FROM vault")
        conn.commit()

    def set_constraints(conn):
        conn.autocommit = False
        conn.execute("DELETE FROM vault")
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def implicit_commit_at_sync(conn):
        conn.execute("DELETE FROM vault WHERE %s", (True,))

    for steps in (commit, set_constraints, implicit_commit_at_sync):
        error = commit_fails("auditor", steps)
        shown = " ".join(str(v) for v in (error, error.diag.message_primary, error.diag.message_detail,
                                          error.diag.message_hint, error.diag.context))
        assert VAULT_CODE not in shown, steps.__name__
        assert "hidden" in error.diag.message_primary, steps.__name__
        # A clear role sees PostgreSQL's own text.
        assert VAULT_CODE in commit_fails("app_backend", steps).diag.message_detail
    assert clinic.psql("SELECT count(*) FROM vault", dbname=DB).strip() == "1"


def test_settings_that_change_how_sql_reads(proxy, connect, clinic):
    conn = connect(proxy.port, user="auditor", dbname=DB)
    for sql in ["SET standard_conforming_strings = off",
                "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'standard_conforming_strings'",
                "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
                "ALTER ROLE CURRENT_USER SET client_encoding = 'LATIN1'"]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            rows(conn, sql)
    # pg_dump's way of setting what it read from pg_settings: no text-reading setting takes it.
    rows(conn, "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings "
               "WHERE name = 'restrict_nonsystem_relation_kind'")
    assert rows(conn, "SELECT 1") == [(1,)]


@pytest.mark.parametrize("how", ["options", "parameter", "role default"])
def test_sessions_reading_sql_differently_are_refused_at_startup(proxy, connect, clinic, how):
    extra = {}
    if how == "options":
        extra["options"] = "-c standard_conforming_strings=off"
    elif how == "parameter":
        extra["client_encoding"] = "LATIN1"
    else:
        # PostgreSQL reports it in a ParameterStatus; nothing in the startup packet says so.
        clinic.psql("ALTER ROLE auditor SET client_encoding = 'LATIN1'", dbname=DB)
    try:
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(host="127.0.0.1", port=proxy.port, user="auditor", dbname=DB, connect_timeout=10, **extra)
        assert "42501" in str(refused.value.sqlstate) or "may only be" in str(refused.value)
        # A role that sees everything in clear reads SQL however it likes.
        clear = connect(proxy.port, user="app_backend", dbname=DB, **extra)
        assert rows(clear, "SELECT 1") == [(1,)]
    finally:
        clinic.psql("ALTER ROLE auditor RESET client_encoding", dbname=DB)


def test_unparsable_statements(proxy, connect, clinic):
    restricted = connect(proxy.port, user="auditor", dbname=DB)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        rows(restricted, "SELEC ssn FROM patients")
    assert rows(restricted, "SELECT 1") == [(1,)]
    clear = connect(proxy.port, user="app_backend", dbname=DB)
    with pytest.raises(psycopg.errors.SyntaxError):
        rows(clear, "SELEC ssn FROM patients")


def test_replication_connections_of_restricted_roles_are_refused(proxy, clinic):
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(host="127.0.0.1", port=proxy.port, user="auditor", dbname=DB, replication="database",
                        connect_timeout=10)
    assert "replication" in str(refused.value)


def explain(pgmask_bin, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(pgmask_bin), "explain", "--policy", str(DEMO_POLICY), *args],
                          capture_output=True, text=True, timeout=60)


def test_explain_against_the_live_catalog(pgmask_bin, clinic):
    clinic.psql("CREATE OR REPLACE VIEW contact_card AS SELECT id, lower(email) AS mail FROM patients", dbname=DB)
    live = ["--upstream", f"127.0.0.1:{clinic.port}", "--user", "postgres", "--dbname", DB]
    report = explain(pgmask_bin, "--role", "analyst_jr", *live, "SELECT mail, id FROM contact_card")
    assert report.returncode == 0, report.stderr
    # Through the view's definition, and with analyst_jr's membership in analyst.
    assert "mail <- public.patients.email [PII] (derived): redact" in report.stdout
    assert "policy entries: analyst" in report.stdout
    assert "live: 127.0.0.1" in report.stdout
    as_json = explain(pgmask_bin, "--role", "support", *live, "--json", "SELECT diagnosis FROM visits")
    assert as_json.returncode == 2
    parsed = json.loads(as_json.stdout)
    assert "diagnosis" in parsed["statements"][0]["refusal"]
    # Offline, the view is unknown: an ordinary table without protected columns.
    offline = explain(pgmask_bin, "--role", "analyst", "SELECT mail FROM contact_card")
    assert offline.returncode == 0 and "offline" in offline.stdout


def test_explain_reports_bad_arguments(pgmask_bin, clinic):
    assert explain(pgmask_bin, "--role", "analyst").returncode == 2
    unreachable = explain(pgmask_bin, "--role", "analyst", "--upstream", "127.0.0.1:1", "SELECT 1")
    assert unreachable.returncode == 1 and "could not connect" in unreachable.stderr
    missing = explain(pgmask_bin, "--role", "nobody_at_all", "--upstream", f"127.0.0.1:{clinic.port}",
                      "--user", "postgres", "--dbname", DB, "SELECT 1")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_writes_checked_against_a_unique_index_or_foreign_key_of_a_protected_column_are_refused(
        pgmask_factory, connect, clinic, tmp_path):
    """Whether INSERT ... ON CONFLICT DO NOTHING inserts a row, or a write fails on a unique
    violation or a foreign key, tells whether the value exists. A key constraint, an expression
    index, and a foreign key from an unprotected column."""
    clinic.psql("DROP TABLE IF EXISTS badge_uses, badge_codes; CREATE TABLE badge_codes (id int, "
                "code text PRIMARY KEY, alias text, note text); CREATE UNIQUE INDEX ON badge_codes (lower(alias)); "
                "CREATE TABLE badge_uses (badge text REFERENCES badge_codes (code)); "
                f"INSERT INTO badge_codes VALUES (1, '{VAULT_CODE}', 'Vault', 'n'); "
                "GRANT SELECT, INSERT, UPDATE ON badge_codes, badge_uses TO auditor, app_backend", dbname=DB)
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["tables"]["public.badge_codes"] = {"columns": {
        "code": {"class": "PII", "mask": "redact"}, "alias": {"class": "PII", "mask": "redact"}}}
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    port = pgmask_factory("--policy", str(policy_file), *key_flags(tmp_path)).port
    conn = connect(port, user="auditor", dbname=DB)
    for sql, column in ((f"INSERT INTO badge_codes (id, code) VALUES (2, '{VAULT_CODE}') ON CONFLICT DO NOTHING", "code"),
                        ("UPDATE badge_codes SET alias = 'VAULT' WHERE id = 1", "alias")):
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            rows(conn, sql)
        assert "unique index" in refused.value.diag.message_primary
        assert f"badge_codes.{column}" in refused.value.diag.message_primary
        conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        rows(conn, f"INSERT INTO badge_uses VALUES ('{VAULT_CODE}')")
    assert "foreign key" in refused.value.diag.message_primary
    assert "badge_codes.code" in refused.value.diag.message_primary
    conn.rollback()
    # A write that leaves the unique columns alone runs.
    rows(conn, "UPDATE badge_codes SET note = 'm' WHERE id = 1")
    conn.commit()
    clear = connect(port, user="app_backend", dbname=DB)
    with clear.cursor() as cur:
        cur.execute(f"INSERT INTO badge_codes (id, code) VALUES (2, '{VAULT_CODE}') ON CONFLICT DO NOTHING")
        assert cur.rowcount == 0
        cur.execute(f"INSERT INTO badge_uses VALUES ('{VAULT_CODE}')")
    clear.commit()


def test_a_foreign_key_added_by_another_connection_is_seen_after_the_recheck(pgmask_factory, connect, clinic,
                                                                             tmp_path):
    """A foreign key added between tables that already have foreign keys writes none of the
    catalog rows of its tables' relations or columns (only constraints, triggers, dependencies):
    the catalog fingerprint must still change, or a write is checked without the new key."""
    clinic.psql("DROP TABLE IF EXISTS late_uses, late_codes; CREATE TABLE late_codes (code text PRIMARY KEY); "
                "CREATE TABLE late_uses (a text REFERENCES late_codes (code), b text); "
                f"INSERT INTO late_codes VALUES ('{VAULT_CODE}'); "
                "GRANT SELECT, INSERT ON late_codes, late_uses TO auditor", dbname=DB)
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["tables"]["public.late_codes"] = {"columns": {"code": {"class": "PII", "mask": "redact"}}}
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    port = pgmask_factory("--policy", str(policy_file), "--catalog-recheck", "1", *key_flags(tmp_path)).port
    conn = connect(port, user="auditor", dbname=DB)
    rows(conn, f"INSERT INTO late_uses (b) VALUES ('{VAULT_CODE}')")  # no key on b yet: nothing to learn
    redefine_after_recheck(clinic, "ALTER TABLE late_uses ADD FOREIGN KEY (b) REFERENCES late_codes (code)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        rows(conn, f"INSERT INTO late_uses (b) VALUES ('{VAULT_CODE}')")
    assert "foreign key" in refused.value.diag.message_primary
