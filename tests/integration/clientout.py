"""The normalized output of the real-client programs in tests/clients/ and the checks the
test_client_*.py suites share.

Every client prints one line per row, `<label>\\tROW\\t<v1>|<v2>|...`, and one status line per
statement, `<label>\\tOK[\\t<tag>]`, `<label>\\tERROR\\t<sqlstate>` or `<label>\\tABORTED` (the
libpq client also prints `SYNC` for a pipeline sync). The values are the demo clinic's
(tests/testdata/demo/clinic.sql) seen through tests/testdata/policy/clinic.yaml."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

CLIENT_TIMEOUT_SECONDS = 120


@dataclass
class Result:
    rows: list[list[str | None]] = field(default_factory=list)
    status: str = ""           # OK, ERROR, ABORTED
    detail: str = ""           # command tag or SQLSTATE


def run_client(args: list[str], env: dict | None = None) -> str:
    """Runs a client program; it must exit 0 (SQL errors are output, not failures)."""
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=CLIENT_TIMEOUT_SECONDS)
    assert proc.returncode == 0, (f"{args[0]} exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
                                  f"stderr:\n{proc.stderr[-4000:]}")
    return proc.stdout


def parse(output: str) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for line in output.splitlines():
        if not line or line == "SYNC":
            continue
        label, kind, *rest = line.split("\t", 2)
        result = results.setdefault(label, Result())
        if kind == "ROW":
            result.rows.append([None if v == "\\N" else v for v in rest[0].split("|")])
        else:
            assert not result.status, f"two status lines for {label!r}"
            result.status, result.detail = kind, (rest[0] if rest else "")
    return results


@dataclass
class Truth:
    """The demo data as PostgreSQL has it, read directly."""
    patients: dict[int, tuple[str, str, str]]     # id -> (ssn, email, dob as YYYY-MM-DD)
    payments: dict[int, tuple[str, Decimal]]      # id -> (card_number, amount)


def read_truth(port: int, dbname: str) -> Truth:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname,
                         connect_timeout=10, autocommit=True) as conn:
        patients = {r[0]: (r[1], r[2], r[3].isoformat())
                    for r in conn.execute("SELECT id, ssn, email, dob FROM patients ORDER BY id")}
        payments = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, card_number, amount FROM payments")}
    return Truth(patients, payments)


def ok_rows(results: dict[str, Result], label: str) -> list[list[str | None]]:
    result = results.get(label)
    assert result is not None, f"no output for {label!r}"
    assert result.status == "OK", f"{label}: {result.status} {result.detail}"
    return result.rows


def assert_error(results: dict[str, Result], label: str, sqlstate: str) -> None:
    result = results.get(label)
    assert result is not None, f"no output for {label!r}"
    assert (result.status, result.detail) == ("ERROR", sqlstate), f"{label}: {result}"
    assert not result.rows, f"{label}: rows before the error: {result.rows}"


def masked_email(real: str) -> str:
    return real[0] + "***@***." + real.rsplit(".", 1)[1]


def assert_patient_rows_masked(label: str, rows, truth: Truth, expected_ids: list[int], *,
                               tokenized_pii: bool, tokens: dict | None = None) -> None:
    """Rows of (id, ssn, email, dob). auditor: the policy's masks; analyst: PII tokenized (never
    the clear value, the same token for the same value on every path: `tokens` collects them)
    and dob generalized to the year."""
    assert [int(r[0]) for r in rows] == expected_ids, f"{label}: ids {[r[0] for r in rows]}"
    for row in rows:
        assert len(row) == 4, f"{label}: {row}"
        ssn, email, dob = truth.patients[int(row[0])]
        assert row[3] == dob[:4] + "-01-01", f"{label}: dob {row[3]!r} for {dob}"
        if tokenized_pii:
            assert row[1] != ssn and row[2] != email, f"{label}: PII in clear: {row}"
            assert row[1] and row[2], f"{label}: empty token {row}"
            if tokens is not None:
                for real, seen in ((ssn, row[1]), (email, row[2])):
                    assert tokens.setdefault(real, seen) == seen, \
                        f"{label}: token for {real!r} is {seen!r}, was {tokens[real]!r} elsewhere"
        else:
            assert row[1] == "XXX-XX-" + ssn[-4:], f"{label}: ssn {row[1]!r} for {ssn}"
            assert row[2] == masked_email(email), f"{label}: email {row[2]!r} for {email}"


def assert_payment_rows_masked(label: str, rows, truth: Truth, expected_ids: list[int]) -> None:
    """Rows of (id, card_number, amount) for auditor: card masked to its last 4 digits, amount
    generalized to the hundred below."""
    assert [int(r[0]) for r in rows] == expected_ids, f"{label}: ids {[r[0] for r in rows]}"
    for row in rows:
        card, amount = truth.payments[int(row[0])]
        assert row[1] == "*" * 12 + card[-4:], f"{label}: card {row[1]!r} for {card}"
        assert Decimal(row[2]) == (amount // 100) * 100, f"{label}: amount {row[2]!r} for {amount}"
