"""libpq as a C application uses it (tests/clients/libpq_client.c): PQexecParams with text and
binary results, PQprepare/PQexecPrepared executed repeatedly, pipeline mode with an error in the
middle of a pipeline. The clear role must see through pgmask byte for byte what it sees
directly; masked roles must see the policy's values on every path; refusals are ErrorResponses
that leave the connection usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from clientout import (Result, assert_error, assert_patient_rows_masked, assert_payment_rows_masked, ok_rows,
                       parse, read_truth, run_client)


DB = "clinic_client_libpq"

PATIENT_LABELS = {  # label -> ids the query returns
    "params-text": [1, 2, 3, 4, 5], "params-binary": [1, 2, 3, 4, 5],
    **{f"prepared{i}": list(range(1, i + 1)) for i in range(1, 9)},
    "pipe1": [1, 2], "pipe2": [1, 2, 3],
}
PAYMENT_LABELS = {"payments-text": [1, 2, 3], "payments-binary": [1, 2, 3],
                  **{f"prepared-payments{i}": [1, 2] for i in range(1, 4)}}


@pytest.fixture(scope="module")
def truth(clinic):
    return read_truth(clinic.port, DB)


def run(libpq_client_bin: Path, port: int, user: str) -> tuple[str, dict[str, Result]]:
    output = run_client([str(libpq_client_bin),
                         f"host=127.0.0.1 port={port} user={user} dbname={DB} connect_timeout=10"])
    return output, parse(output)


def test_clear_role_sees_what_postgres_sends(libpq_client_bin, clinic, masked, truth):
    direct, _ = run(libpq_client_bin, clinic.port, "app_backend")
    proxied, results = run(libpq_client_bin, masked.port, "app_backend")
    assert proxied == direct
    # And what it sees is the real data, in text and binary alike.
    for label in ("params-text", "params-binary", "prepared5", "prepared6", "pipe1"):
        for row in ok_rows(results, label):
            assert tuple(row[1:]) == truth.patients[int(row[0])], (label, row)
    for label in ("payments-text", "payments-binary"):
        for row in ok_rows(results, label):
            card, amount = truth.payments[int(row[0])]
            assert row[1:] == [card, str(amount)], (label, row)
    assert ok_rows(results, "pipe4") and ok_rows(results, "pipe6")


def test_masked_role_sees_masks_on_every_path(libpq_client_bin, masked, truth):
    _, results = run(libpq_client_bin, masked.port, "auditor")
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=False)
    for label, ids in PAYMENT_LABELS.items():
        assert_payment_rows_masked(label, ok_rows(results, label), truth, ids)
    assert_patient_rows_masked("pipe4", ok_rows(results, "pipe4"), truth, [1, 2, 3, 4], tokenized_pii=False)
    assert_patient_rows_masked("pipe6", ok_rows(results, "pipe6"), truth, [1, 2, 3, 4, 5], tokenized_pii=False)
    assert_payment_rows_masked("pipe3", ok_rows(results, "pipe3"), truth, [1, 2])
    # Text and binary results carry the same masked values.
    assert ok_rows(results, "params-text") == ok_rows(results, "params-binary")
    assert ok_rows(results, "denied") and ok_rows(results, "denied")[0][0] == "*" * 12 + truth.payments[1][0][-4:]
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "after-sql-error") == [["2"]]
    assert ok_rows(results, "final") == [["99"]]


def test_tokenizing_role_gets_tokens(libpq_client_bin, masked, truth):
    _, results = run(libpq_client_bin, masked.port, "analyst")
    tokens: dict[str, str] = {}
    for label, ids in PATIENT_LABELS.items():
        assert_patient_rows_masked(label, ok_rows(results, label), truth, ids, tokenized_pii=True, tokens=tokens)
    assert ok_rows(results, "pipe7") == [["5"]]
    assert_error(results, "sql-error", "42P01")
    assert ok_rows(results, "after-sql-error") == [["2"]]
    assert ok_rows(results, "final") == [["99"]]


def test_refused_column_is_an_error_response_with_42501(libpq_client_bin, masked):
    """analyst may not see PCI: every statement that outputs card_number fails with SQLSTATE
    42501 -- from PQexecParams with and without declared parameter types, from a prepared
    statement, and in a pipeline, where it aborts the rest up to the sync exactly like a
    PostgreSQL error -- and the connection goes on working."""
    _, results = run(libpq_client_bin, masked.port, "analyst")
    assert_error(results, "denied-no-params", "42501")
    assert_error(results, "denied-typed", "42501")
    assert_error(results, "denied", "42501")
    assert ok_rows(results, "after-denied") == [["9"]]
    for label in ("payments-text", "payments-binary", "pipe3"):
        assert_error(results, label, "42501")
    # pgmask may refuse at PQprepare or at each execution, but never with another SQLSTATE.
    if results["prepare-payments"].status == "ERROR":
        assert_error(results, "prepare-payments", "42501")
    else:
        for i in range(1, 4):
            assert_error(results, f"prepared-payments{i}", "42501")
    for label in ("pipe4", "pipe5", "pipe6"):
        assert results[label].status == "ABORTED", (label, results[label])
    assert ok_rows(results, "pipe7") == [["5"]]
    assert ok_rows(results, "final") == [["99"]]
