"""LISTEN/NOTIFY through pgmask: notifications reach an idle listener without it sending
anything, whether the notifier is connected directly or through pgmask; a restricted listener
gets payloads only on the channels the policy lists."""

import select

import pytest

from conftest import DEMO_POLICY, key_flags

WAIT_SECONDS = 5


@pytest.mark.parametrize("notifier_via", ["direct", "pgmask"])
def test_notification_delivered(postgres, pgmask, connect, notifier_via):
    listener = connect(pgmask.port)
    received = []
    listener.add_notify_handler(received.append)
    listener.execute("LISTEN pgmask_channel")

    notifier_port = postgres.port if notifier_via == "direct" else pgmask.port
    notifier = connect(notifier_port)
    notifier.execute("select pg_notify('pgmask_channel', 'payload ü 1')")
    notifier.execute("NOTIFY pgmask_channel, 'payload 2'")

    # The listener is idle: pgmask must forward the NotificationResponse on its own.
    readable, _, _ = select.select([listener.fileno()], [], [], WAIT_SECONDS)
    assert readable, f"no notification reached the listener within {WAIT_SECONDS}s"
    listener.execute("select 1")  # lets psycopg read and dispatch what arrived
    payloads = [(n.channel, n.payload) for n in received]
    assert payloads == [("pgmask_channel", "payload ü 1"), ("pgmask_channel", "payload 2")]
    assert all(n.pid > 0 for n in received)


DB = "clinic_notify"


@pytest.fixture
def channel_policy(tmp_path):
    """The demo policy with one channel whose payloads restricted sessions receive as sent."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEMO_POLICY.read_text() + "  clear_notification_channels: [jobs]\n")
    return policy


def _notifications(listener, notifier, statements):
    received = []
    listener.add_notify_handler(received.append)
    for statement in statements:
        notifier.execute(statement)
    readable, _, _ = select.select([listener.fileno()], [], [], WAIT_SECONDS)
    assert readable, f"no notification reached the listener within {WAIT_SECONDS}s"
    listener.execute("select 1")
    return [(n.channel, n.payload) for n in received]


@pytest.mark.parametrize("user, scrubbed", [("analyst", True), ("app_backend", False)])
def test_restricted_listener_gets_payloads_only_on_listed_channels(
        pgmask_factory, clinic, postgres, connect, tmp_path, channel_policy, user, scrubbed):
    # An administrator's change feed (a trigger's pg_notify(row_to_json(NEW))) or any clear session
    # may put a protected value in a payload; pgmask cannot tell, so restricted listeners get it
    # only where the policy says the channel carries none.
    proxy = pgmask_factory("--policy", str(channel_policy), *key_flags(tmp_path))
    listener = connect(proxy.port, user=user, dbname=DB)
    listener.execute("LISTEN feed")
    listener.execute("LISTEN jobs")
    listener.execute('LISTEN "Jobs"')
    notifier = connect(postgres.port, dbname=DB)
    ssn = notifier.execute("SELECT ssn FROM patients ORDER BY id LIMIT 1").fetchone()[0]
    payloads = _notifications(listener, notifier, [
        "SELECT pg_notify('feed', (SELECT row_to_json(p)::text FROM patients p ORDER BY id LIMIT 1))",
        "NOTIFY feed",
        "NOTIFY jobs, 'job 17'",
        "NOTIFY \"Jobs\", 'job 18'",
    ])
    if scrubbed:
        assert payloads == [("feed", ""), ("feed", ""), ("jobs", "job 17"), ("Jobs", "")]
    else:
        assert payloads[0][0] == "feed" and ssn in payloads[0][1]
        assert payloads[1:] == [("feed", ""), ("jobs", "job 17"), ("Jobs", "job 18")]
