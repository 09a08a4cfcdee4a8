"""pgbench through pgmask: initialisation (COPY FROM STDIN) and select-only runs in every
query mode, with every transaction processed and none failed."""

import re

import pytest

from pgharness import run_client

CLIENTS = 4
TRANSACTIONS_PER_CLIENT = 200


def pgbench_init(conninfo: str) -> None:
    result = run_client(["pgbench", "-i", "-s", "2", "-q", "-d", conninfo], timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def bench_db(postgres):
    """A database initialised directly, so the select-only runs do not depend on the init test."""
    postgres.psql("CREATE DATABASE bench")
    pgbench_init(postgres.conninfo(dbname="bench"))
    return "bench"


def test_pgbench_init_through_pgmask(postgres, pgmask):
    postgres.psql("CREATE DATABASE bench_init")
    pgbench_init(pgmask.conninfo(dbname="bench_init"))
    count = postgres.psql("select count(*) from pgbench_accounts", dbname="bench_init").strip()
    assert count == "200000", f"pgbench_accounts has {count} rows after init through pgmask"


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_select_only(pgmask, bench_db, mode):
    result = run_client(
        ["pgbench", "-S", "-M", mode, "-c", str(CLIENTS), "-j", "2",
         "-t", str(TRANSACTIONS_PER_CLIENT), "-n", "-d", pgmask.conninfo(dbname=bench_db)],
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    expected = CLIENTS * TRANSACTIONS_PER_CLIENT
    assert f"number of transactions actually processed: {expected}/{expected}" in output, output
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert failed and failed.group(1) == "0", output
