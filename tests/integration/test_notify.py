"""LISTEN/NOTIFY through pgmask: notifications reach an idle listener without it sending
anything, whether the notifier is connected directly or through pgmask."""

import select

import pytest

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
