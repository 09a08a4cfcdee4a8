"""Fixtures: one PostgreSQL 15 cluster per test run (each test file is its own ctest entry,
so its own run), and a fresh pgmask per test in front of it.

Options: --pgmask=PATH (or the PGMASK_BIN environment variable) names the pgmask binary."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest
import yaml

from pgharness import Pgmask, PostgresCluster

# Every test gets this long before SIGALRM fails it, so a stuck socket never hangs the suite.
TEST_DEADLINE_SECONDS = 180



class AuthUser(NamedTuple):
    method: str  # pg_hba method for this role over TCP
    stored_as: str  # password_encryption when the password is set (md5 needs an md5 hash)
    password: str


# Roles for the authentication tests: one per method.
AUTH_USERS = {
    "auth_scram": AuthUser("scram-sha-256", "scram-sha-256", "scram secret"),
    "auth_md5": AuthUser("md5", "md5", "md5 secret"),
    "auth_password": AuthUser("password", "scram-sha-256", "cleartext secret"),
}

# First match wins: the auth roles use their own method, everyone else is trusted over TCP so
# tools like pgbench and pg_dump need no password.
HBA_HOST_RULES = [
    *(f"all {name} 127.0.0.1/32 {user.method}" for name, user in AUTH_USERS.items()),
    "all all 127.0.0.1/32 trust",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SQL = REPO_ROOT / "tests" / "testdata" / "demo" / "clinic.sql"
DEMO_POLICY = REPO_ROOT / "tests" / "testdata" / "policy" / "clinic.yaml"


def load_demo(cluster: PostgresCluster, dbname: str) -> PostgresCluster:
    """A fresh database with the demo clinic data; each suite uses its own name so suites can
    share a cluster."""
    cluster.psql(f"DROP DATABASE IF EXISTS {dbname}")
    cluster.psql(f"CREATE DATABASE {dbname}")
    cluster.psql_file(DEMO_SQL, dbname=dbname)
    return cluster


def key_flags(directory: Path, token_hex: str = "11" * 32, hash_hex: str = "22" * 32) -> list[str]:
    """Writes a token and a hash key into `directory` and returns the pgmask flags naming them."""
    (directory / "token.key").write_text(token_hex + "\n")
    (directory / "hash.key").write_text(hash_hex + "\n")
    return ["--token-key-file", str(directory / "token.key"), "--hash-key-file", str(directory / "hash.key")]


def demo_policy_protecting(directory: Path, table: str, column: str) -> Path:
    """Writes the demo policy plus `table`.`column` (PII, redacted) into `directory`."""
    policy = yaml.safe_load(DEMO_POLICY.read_text())
    policy["tables"][table] = {"columns": {column: {"class": "PII", "mask": "redact"}}}
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def pytest_configure(config: pytest.Config) -> None:
    # Turn SIGTERM (a stopped CI run) into an interrupt, so fixtures still tear down clusters.
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pgmask", default=os.environ.get("PGMASK_BIN"),
                     help="path of the pgmask binary (default: $PGMASK_BIN)")
    parser.addoption("--libpq-client", default=os.environ.get("PGMASK_LIBPQ_CLIENT"),
                     help="path of the libpq test client, tests/clients/libpq_client.c "
                          "(default: $PGMASK_LIBPQ_CLIENT, else next to the pgmask binary's build)")
    parser.addoption("--sql-mutants", default=os.environ.get("PGMASK_SQL_MUTANTS"),
                     help="path of the SQL mutant generator, tests/policy/sql_mutants_main.cc "
                          "(default: $PGMASK_SQL_MUTANTS, else next to the pgmask binary's build)")


@pytest.fixture(scope="session")
def pgmask_bin(request: pytest.FixtureRequest) -> Path:
    value = request.config.getoption("--pgmask")
    if not value:
        raise pytest.UsageError("pass --pgmask=PATH or set PGMASK_BIN")
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise pytest.UsageError(f"pgmask binary {path} is missing or not executable")
    return path


def built_tool(request: pytest.FixtureRequest, option: str, default: Path, what: str, target: str) -> Path:
    """A test tool CMake builds: the path given by `option`, else `default`."""
    value = request.config.getoption(option)
    path = Path(value) if value else default
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise pytest.UsageError(f"{what} {path} is missing or not executable: "
                                f"build the {target} target or pass {option}=PATH")
    return path


@pytest.fixture(scope="session")
def libpq_client_bin(request: pytest.FixtureRequest, pgmask_bin: Path) -> Path:
    """The libpq client built by CMake (target pgmask_libpq_client); without the option, the one
    in the same build tree as --pgmask."""
    return built_tool(request, "--libpq-client", pgmask_bin.parent / "tests" / "clients" / "pgmask_libpq_client",
                      "libpq client", "pgmask_libpq_client")


@pytest.fixture(scope="session")
def sql_mutants_bin(request: pytest.FixtureRequest, pgmask_bin: Path) -> Path:
    """The SQL mutant generator built by CMake (target pgmask_sql_mutants); without the option,
    the one in the same build tree as --pgmask."""
    return built_tool(request, "--sql-mutants", pgmask_bin.parent / "tests" / "policy" / "pgmask_sql_mutants",
                      "SQL mutant generator", "pgmask_sql_mutants")


@pytest.fixture(scope="session")
def postgres():
    with running_cluster() as cluster:
        for name, user in AUTH_USERS.items():
            cluster.psql(f"SET password_encryption = '{user.stored_as}';"
                         f"CREATE ROLE {name} LOGIN PASSWORD '{user.password}'")
        yield cluster


@contextlib.contextmanager
def running_cluster(settings: dict[str, str] | None = None):
    """A throwaway cluster (as an unprivileged user), destroyed on leaving the block; a test
    module that needs server settings the shared one lacks starts its own with this."""
    cluster = PostgresCluster(HBA_HOST_RULES, settings)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pgmask_factory(pgmask_bin: Path, postgres: PostgresCluster, tmp_path: Path):
    """Starts pgmask with extra command-line flags; each gets its own log file. At teardown
    every instance must have exited, or exit on SIGTERM, with status 0 and no sanitizer
    report: a crash during a test fails it even if the test's own checks passed."""
    started: list[Pgmask] = []

    def start(*extra_args: str) -> Pgmask:
        proxy = Pgmask(pgmask_bin, postgres.port, tmp_path / f"pgmask-{len(started)}.log",
                       list(extra_args))
        started.append(proxy)
        proxy.start()
        return proxy

    yield start

    problems = []
    for proxy in started:
        failure = proxy.stop()
        # Captured output: pytest shows it only for a test that failed.
        print(f"--- {proxy.log_path.name} (last 4000 characters) ---\n{proxy.log_text()[-4000:]}")
        if failure:
            problems.append(f"{proxy.log_path.name}: {failure}")
        report = proxy.sanitizer_report()
        if report:
            problems.append(f"{proxy.log_path.name}: sanitizer report:\n{report[:6000]}")
    assert not problems, "pgmask teardown:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def clinic(postgres, request) -> PostgresCluster:
    """The demo clinic data in the database the test module names as DB."""
    return load_demo(postgres, request.module.DB)


@pytest.fixture
def masked(pgmask_factory, clinic, tmp_path: Path) -> Pgmask:
    """pgmask with the demo policy and throwaway keys in front of the clinic database."""
    return pgmask_factory("--policy", str(DEMO_POLICY), *key_flags(tmp_path))


@pytest.fixture
def pgmask(pgmask_factory) -> Pgmask:
    return pgmask_factory()


@pytest.fixture
def connect(pgmask_factory):
    """Opens psycopg connections (autocommit) to a port; all are closed at teardown, before
    any pgmask stops (hence the dependency), so shutdown never waits on them."""
    opened: list[psycopg.Connection] = []

    def open_connection(port: int, user: str = "postgres", dbname: str = "postgres",
                        **kwargs) -> psycopg.Connection:
        conn = psycopg.connect(host="127.0.0.1", port=port, user=user, dbname=dbname,
                               connect_timeout=10, autocommit=True, **kwargs)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture(autouse=True)
def _deadline():
    def expire(signum, frame):
        raise TimeoutError(f"test exceeded its {TEST_DEADLINE_SECONDS}s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_DEADLINE_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
