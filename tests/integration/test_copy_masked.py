"""COPY TO STDOUT masked per column in text, CSV and binary; COPY FROM passes unchanged; pg_dump
through pgmask as a masked role gives a dump that restores cleanly (static masking)."""

from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

from conftest import load_demo
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
