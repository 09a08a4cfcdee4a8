"""The admin listener (issue: operate it): /metrics counts exactly what happened, /healthz
answers while the process lives, /readyz goes unready when PostgreSQL is down and ready again
when it is back, and no label value ever carries SQL text or data. This file stops and starts
its cluster, so it runs in its own ctest entry."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import signal
import socket
import struct
import time
from pathlib import Path

import pytest

import wire
from pgharness import run_client

DB = "metrics_db"
ROLE = "metrics_analyst"
POLICY = """\
version: 1
classifications:
  PII: { tier: confidential }
  PCI: { tier: restricted }
tables:
  public.people:
    columns:
      email: { class: PII, mask: email }
      ssn:   { class: PII, mask: "partial(0, 'XXX-XX-', 4)" }
      card:  { class: PCI, mask: redact }
roles:
  metrics_analyst: { PII: mask, PCI: deny }
  "*": { default: clear }
"""
# Data and statements whose text must never appear in a label value.
SECRETS = ["alice@example.com", "123-45-6789", "4111111111111111", "SELECT", "people"]


@pytest.fixture(scope="module")
def metrics_db(postgres):
    postgres.psql(f"DROP DATABASE IF EXISTS {DB}")
    postgres.psql(f"CREATE DATABASE {DB}")
    postgres.psql(
        "CREATE TABLE people (id int PRIMARY KEY, name text, email text, ssn text, card text);"
        "INSERT INTO people VALUES (1, 'Alice', 'alice@example.com', '123-45-6789', '4111111111111111'),"
        " (2, 'Bob', 'bob@example.com', '987-65-4321', '5500000000000004'),"
        " (3, 'Carol', 'carol@example.com', '555-12-3456', '340000000000009');"
        f"DROP ROLE IF EXISTS {ROLE}; CREATE ROLE {ROLE} LOGIN;"
        f"GRANT SELECT ON people TO {ROLE};",
        dbname=DB)
    return postgres


# --- HTTP and exposition-format helpers ---------------------------------------------------------


def admin_port(proxy) -> int:
    match = proxy.wait_for_log(r"admin listening on 127\.0\.0\.1:(\d+)")[0]
    return int(match.group(1))


def get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(name, ((label, value), ...)): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = tuple(sorted(_LABEL.findall(match.group(2) or "")))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    status, body = get(port, "/metrics")
    assert status == 200, body
    return samples(body)


def value(metrics: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in metrics, f"no sample {key}; have {sorted(k for k in metrics if k[0] == name)}"
    return metrics[key]


def wait_for_value(port: int, name: str, expected: float, timeout: float = 10, falling: bool = False,
                   **labels: str) -> dict:
    """Sessions count when they end, a moment after the client saw the end: poll, then demand
    the exact value (a counter that overshoots fails at once; `falling`: a gauge that comes down
    to `expected`, and fails at once below it)."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = scrape(port)
        got = value(metrics, name, **labels)
        if got == expected:
            return metrics
        assert (got > expected) if falling else (got < expected), f"{name}{labels} = {got}, expected {expected}"
        assert time.monotonic() < deadline, f"{name}{labels} stayed {got}, expected {expected}"
        time.sleep(0.05)


def psql(port: int, user: str, sql: str) -> str:
    result = run_client(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", DB,
                         "-c", sql])
    return result.stdout + result.stderr


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_statements_cells_and_labels(pgmask_factory, metrics_db, policy_file):
    proxy = pgmask_factory("--admin", "127.0.0.1:0", "--policy", str(policy_file), "--threads", "2")
    port = admin_port(proxy)
    before = scrape(port)
    for name in ["masked", "clear", "refused"]:
        assert value(before, "pgmask_statements_total", action=name) == 0
    assert value(before, "pgmask_policy_info", sha256=hashlib.sha256(POLICY.encode()).hexdigest()) == 1
    assert value(before, "pgmask_audit_records_total") == 0
    assert value(before, "pgmask_audit_failures_total") == 0

    out = psql(proxy.port, ROLE, "SELECT id, email, ssn FROM people ORDER BY id")
    assert "alice@example.com" not in out and "a***@***.com" in out, out
    out = psql(proxy.port, ROLE, "SELECT id, name FROM people ORDER BY id")
    assert "Alice" in out, out
    out = psql(proxy.port, ROLE, "SELECT card FROM people")
    assert "permission denied" in out and "4111" not in out, out
    # The superuser is not listed: "*" sees everything clear, two statements in one Query.
    out = psql(proxy.port, "postgres", "SELECT email FROM people WHERE id = 1; SELECT count(*) FROM people")
    assert "alice@example.com" in out, out

    after = wait_for_value(port, "pgmask_connections_total", 4)
    assert value(after, "pgmask_statements_total", action="masked") == 1
    assert value(after, "pgmask_statements_total", action="clear") == 3
    assert value(after, "pgmask_statements_total", action="refused") == 1
    assert value(after, "pgmask_statements_refused_total", reason="statement") == 1
    assert value(after, "pgmask_statements_refused_total", reason="denied_result") == 0
    assert value(after, "pgmask_cells_masked_total", **{"class": "PII", "mask": "email"}) == 3
    assert value(after, "pgmask_cells_masked_total", **{"class": "PII", "mask": "partial"}) == 3
    assert not [k for k in after if k[0] == "pgmask_cells_masked_total" and ("class", "PCI") in k[1]]
    for reason in ["too_many_clients", "shutdown", "protocol_violation", "upstream_unreachable",
                   "startup_timeout", "auth_failed"]:
        assert value(after, "pgmask_connections_refused_total", reason=reason) == 0
    # One cycle per psql Query (each psql runs one), each a positive time.
    assert value(after, "pgmask_statement_overhead_seconds_count") == 4
    assert value(after, "pgmask_statement_overhead_seconds_sum") > 0
    wait_for_value(port, "pgmask_connections_active", 0, falling=True)

    status, body = get(port, "/metrics")
    for key in after:
        for _, label_value in key[1]:
            assert re.fullmatch(r"[A-Za-z0-9_.+-]*", label_value), f"unexpected label value {label_value!r}"
            for secret in SECRETS:
                assert secret.lower() not in label_value.lower(), f"{secret!r} in a label of {key}"
    assert "alice" not in body.lower()


def test_policy_reloads_by_result(pgmask_factory, metrics_db, policy_file):
    proxy = pgmask_factory("--admin", "127.0.0.1:0", "--policy", str(policy_file), "--policy-poll", "30")
    port = admin_port(proxy)
    old_sha = hashlib.sha256(POLICY.encode()).hexdigest()
    policy_file.write_text("version: 1\nroles: [not, a, mapping]\n")
    proxy.signal(signal.SIGHUP)
    metrics = wait_for_value(port, "pgmask_policy_reloads_total", 1, result="rejected")
    assert value(metrics, "pgmask_policy_reloads_total", result="ok") == 0
    assert value(metrics, "pgmask_policy_info", sha256=old_sha) == 1, "a rejected file keeps the policy"

    new_policy = POLICY.replace('"*": { default: clear }', '"*": { default: mask }')
    policy_file.write_text(new_policy)
    proxy.signal(signal.SIGHUP)
    metrics = wait_for_value(port, "pgmask_policy_reloads_total", 1, result="ok")
    new_sha = hashlib.sha256(new_policy.encode()).hexdigest()
    assert value(metrics, "pgmask_policy_info", sha256=new_sha) == 1
    assert [k for k in metrics if k[0] == "pgmask_policy_info"] == [("pgmask_policy_info", (("sha256", new_sha),))]
    assert value(metrics, "pgmask_policy_generation") == 2


def test_refused_connections_by_reason(pgmask_factory, metrics_db, connect):
    proxy = pgmask_factory("--admin", "127.0.0.1:0", "--max-client-conn", "1")
    port = admin_port(proxy)

    with wire.connect(proxy.port) as sock:  # a startup packet length below the minimum
        sock.sendall(struct.pack("!i", 3))
        wire.read_error_then_close(sock)
    wait_for_value(port, "pgmask_connections_refused_total", 1, reason="protocol_violation")

    out = psql(proxy.port, "no_such_role", "SELECT 1")
    assert "no_such_role" in out, out
    wait_for_value(port, "pgmask_connections_refused_total", 1, reason="auth_failed")

    held = connect(proxy.port, dbname=DB)
    out = psql(proxy.port, "postgres", "SELECT 1")
    assert "too many clients" in out, out
    metrics = wait_for_value(port, "pgmask_connections_refused_total", 1, reason="too_many_clients")
    assert value(metrics, "pgmask_connections_active") == 1
    assert value(metrics, "pgmask_connections_total") == 4
    assert value(metrics, "pgmask_upstream_connect_errors_total") == 0
    held.close()


def test_admin_http_is_strict(pgmask_factory):
    proxy = pgmask_factory("--admin", "127.0.0.1:0")
    port = admin_port(proxy)
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/nope")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    assert get(port, "/metrics?x=1")[0] == 200
    # A header over the limit is refused, not buffered.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        try:
            reply = sock.recv(4096)
        except ConnectionResetError:
            reply = b""  # closed with our unread bytes in its buffer: a reset, also a refusal
        assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:100]
    # A client that sends nothing does not hold the listener: others are still served.
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        assert get(port, "/healthz")[0] == 200
    # The SQL port is not the admin port.
    assert proxy.port != port


def test_readyz_follows_the_upstream(pgmask_factory, postgres):
    proxy = pgmask_factory("--admin", "127.0.0.1:0", "--connect-timeout", "2")
    port = admin_port(proxy)
    status, body = get(port, "/readyz")
    assert status == 200, body
    assert "ok upstream" in body and "ok policy" in body and "ok audit" in body, body

    postgres.stop()
    try:
        deadline = time.monotonic() + 10
        while True:
            status, body = get(port, "/readyz")
            if status == 503:
                break
            assert time.monotonic() < deadline, f"/readyz still {status}: {body}"
            time.sleep(0.2)
        assert "FAIL upstream" in body, body
        assert get(port, "/healthz")[0] == 200, "alive even when not ready"
        out = psql(proxy.port, "postgres", "SELECT 1")
        assert "could not connect to the upstream" in out, out
        metrics = wait_for_value(port, "pgmask_connections_refused_total", 1, reason="upstream_unreachable")
        assert value(metrics, "pgmask_upstream_connect_errors_total") == 1
    finally:
        postgres.start()

    deadline = time.monotonic() + 15
    while True:
        status, body = get(port, "/readyz")
        if status == 200:
            break
        assert time.monotonic() < deadline, f"/readyz still {status}: {body}"
        time.sleep(0.2)


def test_json_logs(pgmask_factory):
    proxy = pgmask_factory("--log-format", "json", "--admin", "127.0.0.1:0")
    port = admin_port(proxy)
    assert get(port, "/healthz")[0] == 200
    lines = [json.loads(line) for line in proxy.log_text().splitlines() if line.startswith("{")]
    assert lines, proxy.log_text()
    for line in lines:
        assert {"ts", "level", "msg"} <= set(line)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert any(line["msg"].startswith("admin listening on") for line in lines)
