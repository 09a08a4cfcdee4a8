"""A hostile upstream: bad lengths, unknown message types, an ErrorResponse without SQLSTATE,
oversized SASL data, DataRows that do not match their description (for a role that sees
everything in clear, and for a restricted one whose rows pgmask masks). pgmask ends the session
that met it (with an ErrorResponse or a close, never a crash or a hang) and goes on serving
everyone else."""

from __future__ import annotations

import pytest

import wire
from conftest import key_flags
from fakebackend import LOGIN_SCENARIOS, QUERY_SCENARIOS, RESTRICTED_POLICY, RESTRICTED_SCENARIOS, FakeBackend
from pgharness import Pgmask


@pytest.fixture(scope="module")
def backend():
    fake = FakeBackend()
    yield fake
    fake.close()


def started(pgmask_bin, backend, tmp_path, extra: list[str]):
    proc = Pgmask(pgmask_bin, backend.port, tmp_path / "pgmask.log", ["--startup-timeout", "10", *extra])
    proc.start()
    yield proc
    failure = proc.stop()
    print(proc.log_text()[-4000:])
    assert failure is None, failure
    assert proc.sanitizer_report() is None, proc.sanitizer_report()


@pytest.fixture
def proxy(pgmask_bin, backend, tmp_path):
    yield from started(pgmask_bin, backend, tmp_path, [])


@pytest.fixture
def restricted_proxy(pgmask_bin, backend, tmp_path):
    """pgmask with a policy under which every role is restricted: results of the protected
    column go through the masker, which reads each DataRow."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(RESTRICTED_POLICY)
    yield from started(pgmask_bin, backend, tmp_path, ["--policy", str(policy), *key_flags(tmp_path)])


def assert_good_session_works(port: int) -> None:
    with wire.connect(port) as sock:
        wire.login(sock, "good", "db")
        sock.sendall(wire.query_message("select 1"))
        assert any(tag == b"D" for tag, _ in wire.read_until_ready(sock))


def ended(sock) -> str:
    """Reads until the session ends; returns the SQLSTATE pgmask gave, or "closed"."""
    state = "closed"
    try:
        while True:
            tag, body = wire.read_message(sock)
            if tag == b"E":
                state = wire.error_fields(body).get("C", "none")
    except (wire.ConnectionClosed, ConnectionResetError):
        return state


@pytest.mark.parametrize("scenario", sorted(LOGIN_SCENARIOS))
def test_hostile_login(proxy, scenario):
    bystander = wire.connect(proxy.port)
    wire.login(bystander, "good", "db")
    with wire.connect(proxy.port) as sock:
        sock.sendall(wire.startup_message(scenario, "db"))
        outcome = ended(sock)
    if scenario != "error_without_sqlstate_at_login":
        assert outcome in ("08P01", "08006"), outcome
    bystander.sendall(wire.query_message("select 1"))
    assert any(tag == b"D" for tag, _ in wire.read_until_ready(bystander))
    bystander.close()
    assert_good_session_works(proxy.port)


# Framing pgmask must reject itself, before the server hangs up; content inside well-framed
# messages is relayed unread for roles that see everything in clear (the client's driver
# judges it), and rewritten or refused for restricted ones.
DETECTED = {"bad_length", "huge_length", "unknown_tag"}


@pytest.mark.parametrize("scenario", sorted(QUERY_SCENARIOS))
def test_hostile_result(proxy, scenario):
    bystander = wire.connect(proxy.port)
    wire.login(bystander, "good", "db")
    with wire.connect(proxy.port) as sock:
        wire.login(sock, scenario, "db")
        sock.sendall(wire.query_message("select 1"))
        outcome = ended(sock)
    if scenario in DETECTED:
        assert outcome == "08P01", outcome
        proxy.wait_for_log(r"upstream protocol violation")
    bystander.sendall(wire.query_message("select 1"))
    assert any(tag == b"D" for tag, _ in wire.read_until_ready(bystander))
    bystander.close()
    assert_good_session_works(proxy.port)
    proxy.wait_for_log(r"session=\S+ close", count=3)


def masked_ssn(port: int) -> bytes:
    """A restricted session's view of the protected column, through the fake's catalog."""
    with wire.connect(port) as sock:
        wire.login(sock, "restricted_good", "db")
        sock.sendall(wire.query_message("SELECT ssn FROM public.people"))
        rows = [body for tag, body in wire.read_until_ready(sock) if tag == b"D"]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("scenario", sorted(RESTRICTED_SCENARIOS))
def test_hostile_rows_for_a_restricted_session(restricted_proxy, scenario):
    """The masker reads every value of a restricted session's rows: a DataRow that does not fit
    its description ends that session with 08P01, and nothing of it reaches the client."""
    port = restricted_proxy.port
    # The masked path works against the fake: the value is rewritten.
    assert b"123-45-6789" not in masked_ssn(port)
    bystander = wire.connect(port)
    wire.login(bystander, "good", "db")
    with wire.connect(port) as sock:
        wire.login(sock, scenario, "db")
        sock.sendall(wire.query_message("SELECT ssn FROM public.people"))
        relayed = []
        outcome = "closed"
        try:
            while True:
                tag, body = wire.read_message(sock)
                relayed.append(tag)
                if tag == b"E":
                    outcome = wire.error_fields(body).get("C", "none")
        except (wire.ConnectionClosed, ConnectionResetError):
            pass
    assert outcome == "08P01", outcome
    assert b"D" not in relayed, relayed
    restricted_proxy.wait_for_log(r"upstream sent a malformed result message")
    bystander.sendall(wire.query_message("select 1"))
    assert any(tag == b"D" for tag, _ in wire.read_until_ready(bystander))
    bystander.close()
    assert b"123-45-6789" not in masked_ssn(port)
    restricted_proxy.wait_for_log(r"session=\S+ close", count=4)
