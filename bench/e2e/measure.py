"""What the benchmark measures: pgbench runs (TPS, per-transaction latency from its -l logs),
a process's CPU time, RSS and open descriptors from /proc, and idle clients held open with raw
startup handshakes (lighter than a driver, so the bench process itself stays small)."""

from __future__ import annotations

import os
import re
import resource
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pgharness import client_env

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# /proc ---------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses; the fields after the last ')' don't.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _CLOCK_TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# CPU accounting ------------------------------------------------------------------------------

def machine_busy_seconds() -> float:
    """CPU time all CPUs spent not idle, from /proc/stat (guest time is already in user)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def postgres_seconds(data_dir: Path) -> float:
    """CPU time of the postmaster, its live children and its reaped children (the backends of
    clients that have disconnected)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked; its time is in the postmaster's cutime now
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(x) for x in fields[11:15]) / _CLOCK_TICKS  # utime stime cutime cstime
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def own_seconds() -> float:
    """This process and its reaped children (pgbench)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class CpuSnapshot:
    wall: float
    machine: float
    bench: float      # this process, pgbench, Postgres and the proxy
    proxy: float | None

    @staticmethod
    def take(data_dir: Path, proxy_pid: int | None) -> "CpuSnapshot":
        # Backends of a run that just ended are exiting: give them time to be reaped, so none
        # is counted half alive, half in the postmaster's cutime.
        time.sleep(0.5)
        proxy = cpu_seconds(proxy_pid) if proxy_pid else None
        bench = own_seconds() + postgres_seconds(data_dir) + (proxy or 0.0)
        return CpuSnapshot(time.monotonic(), machine_busy_seconds(), bench, proxy)


# pgbench -------------------------------------------------------------------------------------

@dataclass
class Sample:
    """One measured pgbench run."""
    transactions: int
    tps: float
    latencies_us: list[int]
    proxy_cpu_s: float | None
    other_load_pct: float  # share of all CPUs other processes (other users' work) used meanwhile


@dataclass
class Run:
    """The samples of one target and client count, pooled."""
    transactions: int = 0
    tps_values: list[float] = field(default_factory=list)
    latencies_us: list[int] = field(default_factory=list)
    cpu_s: float | None = None    # the proxy's CPU over the samples; None for direct

    def add(self, sample: Sample) -> None:
        self.transactions += sample.transactions
        self.tps_values.append(sample.tps)
        self.latencies_us.extend(sample.latencies_us)
        if sample.proxy_cpu_s is not None:
            self.cpu_s = (self.cpu_s or 0.0) + sample.proxy_cpu_s

    @property
    def tps(self) -> float:
        return sum(self.tps_values) / len(self.tps_values)

    def percentile_us(self, p: int) -> int:
        """Nearest-rank percentile of the per-transaction latencies."""
        ordered = sorted(self.latencies_us)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats
        return ordered[rank - 1]

    @property
    def cpu_us_per_tx(self) -> float | None:
        if self.cpu_s is None:
            return None
        return self.cpu_s * 1e6 / self.transactions


def pgbench(port: int, clients: int, seconds: int, mode: str, log_dir: Path, label: str,
            measure: bool, data_dir: Path, proxy_pid: int | None) -> Sample | None:
    """Runs pgbench -S against 127.0.0.1:port. Measured, it returns TPS, the latencies (from
    the -l logs) and CPU times; unmeasured (a warm-up) it only has to succeed."""
    threads = min(clients, 2)
    argv = ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "-S", "-n", "-M", mode, "-T", str(seconds), "-c", str(clients), "-j", str(threads)]
    prefix = log_dir / label
    if measure:
        argv += ["-l", f"--log-prefix={prefix}"]
    argv.append("postgres")

    before = CpuSnapshot.take(data_dir, proxy_pid)
    # The -T duration plus time to connect; a stuck proxy fails the bench instead of hanging it.
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120,
                            cwd=log_dir, stdin=subprocess.DEVNULL, env=client_env())
    after = CpuSnapshot.take(data_dir, proxy_pid)

    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"pgbench {label} exited with {result.returncode}:\n{output}")
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if failed is None or failed.group(1) != "0":
        raise RuntimeError(f"pgbench {label} had failed transactions:\n{output}")
    if not measure:
        return None

    processed = int(_grab(r"number of transactions actually processed: (\d+)", output, label))
    tps = float(_grab(r"tps = ([\d.]+) \(without initial connection time\)", output, label))
    latencies = _read_latencies(prefix)
    if len(latencies) != processed:
        raise RuntimeError(f"pgbench {label}: {processed} transactions but "
                           f"{len(latencies)} log lines")
    proxy_cpu = None if proxy_pid is None else after.proxy - before.proxy
    other = max(0.0, (after.machine - before.machine) - (after.bench - before.bench))
    other_pct = 100 * other / ((after.wall - before.wall) * os.cpu_count())
    return Sample(processed, tps, latencies, proxy_cpu, other_pct)


def _grab(pattern: str, output: str, label: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"pgbench {label}: no /{pattern}/ in its output:\n{output}")
    return match.group(1)


def _read_latencies(prefix: Path) -> list[int]:
    """The 3rd column of every per-transaction log line (one file per pgbench thread), in µs.
    The files are removed after reading: at tens of thousands of TPS they are large."""
    latencies: list[int] = []
    files = sorted(prefix.parent.glob(prefix.name + ".*"))
    if not files:
        raise RuntimeError(f"pgbench wrote no log files {prefix}.*")
    for path in files:
        with open(path) as log:
            latencies.extend(int(line.split(maxsplit=3)[2]) for line in log)
        path.unlink()
    return latencies


# Idle clients --------------------------------------------------------------------------------

_PROTOCOL_3_0 = 196608


def _startup_packet(user: str, database: str) -> bytes:
    params = [("user", user), ("database", database), ("application_name", "pgmask-bench-idle")]
    body = struct.pack("!I", _PROTOCOL_3_0)
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def open_idle_client(port: int, user: str = "postgres", database: str = "postgres",
                     timeout: float = 10) -> socket.socket:
    """Connects and completes a trust-auth startup up to ReadyForQuery; returns the socket,
    which then just sits there. Raises on an ErrorResponse or any authentication request."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(_startup_packet(user, database))
        buffer = b""
        while True:
            while len(buffer) < 5 or len(buffer) < 1 + struct.unpack("!I", buffer[1:5])[0]:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"port {port} closed the connection during startup")
                buffer += chunk
            tag, length = buffer[:1], struct.unpack("!I", buffer[1:5])[0]
            body, buffer = buffer[5:1 + length], buffer[1 + length:]
            if tag == b"E":
                raise ConnectionError(f"port {port} refused the startup: {_error_text(body)}")
            if tag == b"R" and struct.unpack("!I", body[:4])[0] != 0:
                raise ConnectionError(f"port {port} asked for a password; the bench needs trust")
            if tag == b"Z":
                return sock
    except BaseException:
        sock.close()
        raise


def _error_text(body: bytes) -> str:
    """The SQLSTATE and message fields of an ErrorResponse body."""
    fields = {f[:1]: f[1:].decode(errors="replace") for f in body.split(b"\0") if f}
    return f"{fields.get(b'C', '?')} {fields.get(b'M', '?')}"
