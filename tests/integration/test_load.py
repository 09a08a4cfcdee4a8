"""Load: 1000 client sessions open at once through one pgmask, each logging in and running a
query while all the others are open. The upstream is the fake backend (a thread per
connection), so the test measures pgmask, not a thousand PostgreSQL backends."""

from __future__ import annotations

import asyncio
import os
import resource
import struct

import pytest

import wire
from fakebackend import FakeBackend
from pgharness import Pgmask

CLIENTS = 1000


def raise_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        pytest.skip(f"needs {wanted} open files, the hard limit is {soft}")


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    header = await reader.readexactly(5)
    length = struct.unpack("!i", header[1:])[0]
    return header[:1], await reader.readexactly(length - 4)


async def read_until_ready(reader: asyncio.StreamReader) -> list[bytes]:
    tags = []
    while True:
        tag, body = await read_message(reader)
        assert tag != b"E", wire.error_fields(body)
        tags.append(tag)
        if tag == b"Z":
            return tags


async def one_client(port: int, all_in: asyncio.Event, logged_in: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(wire.startup_message("good", "db"))
    await read_until_ready(reader)
    logged_in.append(1)
    await all_in.wait()
    writer.write(wire.query_message("select 1"))
    assert b"D" in await read_until_ready(reader)
    writer.write(wire.message(b"X"))
    writer.close()
    await writer.wait_closed()


async def run_clients(port: int, count: int) -> None:
    all_in = asyncio.Event()
    logged_in: list = []
    tasks = [asyncio.create_task(one_client(port, all_in, logged_in)) for _ in range(count)]
    while len(logged_in) < count:
        done = [t for t in tasks if t.done() and t.exception()]
        if done:
            raise done[0].exception()
        await asyncio.sleep(0.05)
    all_in.set()  # every session is open at this point
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_thousand_concurrent_clients(pgmask_bin, tmp_path):
    raise_file_limit(3 * CLIENTS + 200)  # our clients, the fake server's sockets, slack
    backend = FakeBackend()
    proxy = Pgmask(pgmask_bin, backend.port, tmp_path / "pgmask.log",
                   ["--max-client-conn", str(CLIENTS + 10), "--upstream-sslmode", "disable"])
    try:
        proxy.start()
        # Each worker's event loop opens its descriptors (epoll, eventfd, timerfd) with its
        # first session: warm every worker up before counting.
        asyncio.run(run_clients(proxy.port, 20))
        proxy.wait_for_log(r"close reason=", count=20, timeout=60)
        before = open_fds(proxy.pid)
        asyncio.run(run_clients(proxy.port, CLIENTS))
        proxy.wait_for_log(r"close reason=", count=20 + CLIENTS, timeout=60)
        assert open_fds(proxy.pid) == before
    finally:
        failure = proxy.stop(timeout=30)
        backend.close()
    assert failure is None, f"{failure}; log tail:\n{proxy.log_text()[-3000:]}"
    assert proxy.sanitizer_report() is None, proxy.sanitizer_report()
