"""JDBC (Debian's pgjdbc, /usr/share/java/postgresql.jar) running tests/clients/JdbcClient.java,
compiled here with javac: PreparedStatements executed again and again (pgjdbc moves to a named
server-side statement executed without Describe, with binary int4/date, after prepareThreshold
executions: the default 5, and 1), cursor-based fetching, and the simple query mode. The clear
role must see through pgmask exactly what it sees directly; masked roles the policy's values;
a refused column is an SQLException with SQLState 42501 and the connection goes on working."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clientout import (assert_error, assert_patient_rows_masked, assert_payment_rows_masked, ok_rows, parse,
                       read_truth, run_client)
from conftest import REPO_ROOT

DB = "clinic_client_jdbc"
JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian libpostgresql-jdbc-java (scripts/setup)
SOURCE = REPO_ROOT / "tests" / "clients" / "JdbcClient.java"

# Connection properties: server-side statements after 5 executions (the default), at once, and
# the simple query protocol.
MODES = {"default": "", "threshold1": "&prepareThreshold=1", "simple": "&preferQueryMode=simple"}

PATIENT_LABELS = {**{f"prepared{i}": list(range(1, i + 1)) for i in range(1, 9)},
                  "statement": [1, 2, 3, 4], "fetch": list(range(1, 11))}


@pytest.fixture(scope="module")
def jdbc_classes(tmp_path_factory) -> Path:
    assert JDBC_JAR.is_file(), f"{JDBC_JAR} is missing: run scripts/setup (libpostgresql-jdbc-java)"
    out = tmp_path_factory.mktemp("jdbc-classes")
    proc = subprocess.run(["javac", "-d", str(out), "-cp", str(JDBC_JAR), str(SOURCE)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"javac failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="module")
def truth(clinic):
    return read_truth(clinic.port, DB)


def run(classes: Path, port: int, user: str, mode: str) -> tuple[str, dict]:
    url = f"jdbc:postgresql://127.0.0.1:{port}/{DB}?user={user}&connectTimeout=10&socketTimeout=60{MODES[mode]}"
    output = run_client(["java", "-cp", f"{JDBC_JAR}:{classes}", "JdbcClient", url])
    return output, parse(output)


@pytest.mark.parametrize("mode", MODES)
def test_clear_role_sees_what_postgres_sends(jdbc_classes, clinic, masked, truth, mode):
    direct, _ = run(jdbc_classes, clinic.port, "app_backend", mode)
    proxied, results = run(jdbc_classes, masked.port, "app_backend", mode)
    assert proxied == direct
    for label in PATIENT_LABELS:
        for row in ok_rows(results, label):
            assert tuple(row[1:]) == truth.patients[int(row[0])], (label, row)
    for row in ok_rows(results, "payments6"):
        card, amount = truth.payments[int(row[0])]
        assert row[1:] == [card, str(amount)], row


@pytest.mark.parametrize("mode", MODES)
def test_masked_role_sees_masks_on_every_path(jdbc_classes, masked, truth, mode):
    _, results = run(jdbc_classes, masked.port, "auditor", mode)
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=False)
    for i in range(1, 7):
        assert_payment_rows_masked(f"payments{i}", ok_rows(results, f"payments{i}"), truth, [1, 2, 3])
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "after-sql-error") == [["2"]]
    assert ok_rows(results, "final") == [["99"]]


@pytest.mark.parametrize("mode", MODES)
def test_tokenizing_role_gets_tokens_and_refusals(jdbc_classes, masked, truth, mode):
    _, results = run(jdbc_classes, masked.port, "analyst", mode)
    tokens: dict[str, str] = {}
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=True, tokens=tokens)
    # PCI is refused: an SQLException with SQLState 42501, and the connection keeps working.
    assert_error(results, "payments", "42501")
    assert_error(results, "denied", "42501")
    assert ok_rows(results, "after-denied") == [["9"]]
    assert_error(results, "denied-in-tx", "42501")
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "final") == [["99"]]
