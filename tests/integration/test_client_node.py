"""node-postgres (`pg` and `pg-cursor` from the npm registry, installed by scripts/setup into
/opt/pgmask-tools/node) running tests/clients/node_client.js: parameterised queries, a named
statement executed again and again, binary results, a Cursor read in batches. The clear role
must see through pgmask exactly what it sees directly; masked roles the policy's values; a
refused column is an error with code 42501 and the connection goes on working."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clientout import (assert_error, assert_patient_rows_masked, assert_payment_rows_masked, ok_rows, parse,
                       read_truth, run_client)
from conftest import REPO_ROOT, load_demo

DB = "clinic_client_node"
NODE_MODULES = Path("/opt/pgmask-tools/node/node_modules")  # scripts/setup installs pg and pg-cursor here
SCRIPT = REPO_ROOT / "tests" / "clients" / "node_client.js"

PATIENT_LABELS = {"params": [1, 2, 3, 4, 5], **{f"prepared{i}": list(range(1, i + 1)) for i in range(1, 7)},
                  "prepared-again": [1, 2]}
CURSOR_BATCHES = {"cursor1": [1, 2, 3], "cursor2": [4, 5, 6], "cursor3": [7, 8, 9], "cursor4": [10]}


@pytest.fixture(scope="module")
def clinic(postgres):
    for package in ("pg", "pg-cursor"):
        assert (NODE_MODULES / package / "package.json").is_file(), \
            f"{NODE_MODULES / package} is missing: run scripts/setup"
    return load_demo(postgres, DB)


@pytest.fixture(scope="module")
def truth(clinic):
    return read_truth(clinic.port, DB)


def run(port: int, user: str) -> tuple[str, dict]:
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "PGHOST": "127.0.0.1", "PGPORT": str(port),
           "PGUSER": user, "PGDATABASE": DB, "PGCONNECT_TIMEOUT": "10"}
    env.pop("PGPASSWORD", None)
    output = run_client(["node", str(SCRIPT)], env=env)
    return output, parse(output)


def test_clear_role_sees_what_postgres_sends(clinic, masked, truth):
    direct, _ = run(clinic.port, "app_backend")
    proxied, results = run(masked.port, "app_backend")
    assert proxied == direct
    assert ok_rows(results, "cursor") == []
    for label in [*PATIENT_LABELS, *CURSOR_BATCHES]:
        for row in results[label].rows if label in CURSOR_BATCHES else ok_rows(results, label):
            assert tuple(row[1:]) == truth.patients[int(row[0])], (label, row)
    for row in ok_rows(results, "binary"):
        assert tuple(row[1:]) == truth.patients[int(row[0])][:2], row
    for row in ok_rows(results, "payments"):
        card, amount = truth.payments[int(row[0])]
        assert row[1:] == [card, str(amount)], row


def test_masked_role_sees_masks_on_every_path(masked, truth):
    _, results = run(masked.port, "auditor")
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=False)
    assert ok_rows(results, "cursor") == []
    for label, ids in CURSOR_BATCHES.items():
        assert_patient_rows_masked(label, results[label].rows, truth, ids, tokenized_pii=False)
    binary = ok_rows(results, "binary")
    assert [int(r[0]) for r in binary] == [1, 2, 3, 4]
    for row in binary:
        ssn, email, _ = truth.patients[int(row[0])]
        assert row[1:] == ["XXX-XX-" + ssn[-4:], email[0] + "***@***." + email.rsplit(".", 1)[1]], row
    assert_payment_rows_masked("payments", ok_rows(results, "payments"), truth, [1, 2, 3])
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "final") == [["99"]]


def test_tokenizing_role_gets_tokens(masked, truth):
    _, results = run(masked.port, "analyst")
    tokens: dict[str, str] = {}
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=True, tokens=tokens)
    for label, ids in CURSOR_BATCHES.items():
        assert_patient_rows_masked(label, results[label].rows, truth, ids, tokenized_pii=True, tokens=tokens)
    for row in ok_rows(results, "binary"):
        ssn, email, _ = truth.patients[int(row[0])]
        assert row[1:] == [tokens[ssn], tokens[email]], row   # the same tokens in binary format
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "final") == [["99"]]


def test_refused_column_is_an_error_with_code_42501(masked):
    """analyst may not see PCI: an unnamed and a named statement outputting card_number fail
    with code 42501, and the connection goes on working (the named statement prepared before
    still runs)."""
    _, results = run(masked.port, "analyst")
    assert_error(results, "payments", "42501")
    assert_error(results, "denied", "42501")
    assert ok_rows(results, "after-denied") == [["9"]]
    assert_error(results, "denied-named", "42501")
    assert [int(r[0]) for r in ok_rows(results, "prepared-again")] == [1, 2]
