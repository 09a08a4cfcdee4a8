"""pgbench select-only against Postgres directly, through PgBouncer (session mode) and through
pgmask, in one run, plus RSS with idle clients connected. Prints CSV rows and the ratios against
the targets of issue 2 item 7 on stdout, progress on stderr, and writes the same to a file.
See bench/README.md."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from pgharness import PG_BIN, Pgmask, PostgresCluster, run_client  # noqa: E402

import measure  # noqa: E402
from peers import PgBouncer  # noqa: E402

TARGETS = ("direct", "pgbouncer", "pgmask")
CLIENT_COUNTS = (1, 32)
# Room for the idle clients plus pgbench, psql and PgBouncer's pool.
EXTRA_CONNECTIONS = 200
# How long to let other users' work pass before repeating a disturbed run.
QUIET_WAIT_SECONDS = 30


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    raise_fd_limit(needed=3 * args.idle_clients + 1000)
    load_before_build = load_average()
    if args.pgmask:
        binary = Path(args.pgmask).resolve()
        source = f"{binary} (given; HEAD is {git('rev-parse', '--short', 'HEAD')})"
    else:
        binary, source = build(args.commit)
    machine = machine_info(source)
    machine["load average before the build"] = load_before_build

    with contextlib.ExitStack() as cleanup, tempfile.TemporaryDirectory(
            prefix="pgmask-bench-") as work_dir:
        work = Path(work_dir)
        cluster = start_postgres(args, cleanup)
        # Our own build and pgbench -i load the machine too; this is the figure that matters.
        machine["load average before the first point"] = load_average()
        runs, attempts, findings = run_pgbench_points(args, binary, cluster, work, cleanup)
        idle = [idle_memory(args, name, binary, cluster, work, findings)
                for name in ("pgbouncer", "pgmask")]

    machine["load average at end"] = load_average()
    report = format_report(args, machine, runs, attempts, idle, findings)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    log(f"results written to {out}")
    return 0


def interrupt(signum, frame) -> None:
    """SIGTERM becomes an interrupt, so the cleanup blocks stop every process."""
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="pgbench -T per point (20)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="unmeasured pgbench seconds before each point (3)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every point, targets interleaved; results pooled (1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 5 s points, 1 s warm-up, 1 round, no retries")
    # A quiet machine shows 0-2%; at 7-10% PgBouncer (one thread) already lost a quarter of its TPS.
    parser.add_argument("--max-other-load", type=float, default=5,
                        help="repeat a run when processes outside the bench used more than "
                             "this %% of the CPUs during it (5)")
    parser.add_argument("--retries", type=int, default=4,
                        help="repeats of a disturbed run before keeping it anyway (4)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i scale (10)")
    parser.add_argument("--mode", default="simple", choices=("simple", "extended", "prepared"),
                        help="pgbench -M (simple)")
    parser.add_argument("--threads", type=int, default=0,
                        help="pgmask --threads, 0 = one per core (0)")
    parser.add_argument("--idle-clients", type=int, default=2000,
                        help="idle connections for the RSS measurement (2000)")
    parser.add_argument("--commit",
                        help="build this git revision (extracted with git archive) instead of "
                             "the working tree, which others may be editing")
    parser.add_argument("--pgmask", help="use this pgmask binary instead of building one")
    parser.add_argument("--policy",
                        help="start pgmask with this policy (throwaway keys); pgbench's role is then "
                             "whatever the policy makes of it (the demo policy: restricted, so every "
                             "statement is analysed)")
    parser.add_argument("--audit", action="store_true",
                        help="add the target pgmask-audit: pgmask with the same policy and the audit "
                             "file on (build-bench/audit/, on disk so fsync costs what it costs); "
                             "without --policy, bench/e2e/audit_policy.yaml, which protects the "
                             "column pgbench -S reads")
    parser.add_argument("--out", default=str(REPO / "build-bench" / "bench-results.md"),
                        help="results file (build-bench/bench-results.md)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.rounds, args.retries = 5, 1, 1, 0
    if args.audit and not args.policy:
        args.policy = str(REPO / "bench" / "e2e" / "audit_policy.yaml")
    args.targets = TARGETS + (("pgmask-audit",) if args.audit else ())
    return args


def raise_fd_limit(needed: int) -> None:
    """The idle clients need a descriptor each here and two each in pgmask, which inherits
    this limit (so does PgBouncer: setuid keeps resource limits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError) as e:
        raise SystemExit(f"bench: need {needed} open files, limit is {soft}/{hard}: {e}")


def build(commit: str | None) -> tuple[Path, str]:
    """Builds pgmask (Release); returns the binary and a description of its source."""
    if commit is None:
        source, build_dir = REPO, REPO / "build-bench"
        described = git("rev-parse", "--short", "HEAD")
        if git("status", "--porcelain", "--untracked-files=no"):
            described += " plus uncommitted changes in the working tree"
    else:
        described = git("rev-parse", "--short", commit)
        build_dir = REPO / "build-bench" / f"at-{described}"
        source = build_dir / "src"
        if not source.exists():
            archive = subprocess.run(["git", "-C", str(REPO), "archive", described],
                                     capture_output=True, check=True, timeout=120).stdout
            source.mkdir(parents=True)
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(source)
        build_dir = build_dir / "build"
    log(f"building pgmask (Release) from {described} in {build_dir}")
    # Build output goes to stderr so stdout stays CSV and summary only.
    subprocess.run(["cmake", "-S", str(source), "-B", str(build_dir), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DPGMASK_TESTS=OFF"],
                   check=True, timeout=600, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "pgmask"],
                   check=True, timeout=3600, stdout=sys.stderr)
    return build_dir / "pgmask", described


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


# Setup ---------------------------------------------------------------------------------------

def start_postgres(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> PostgresCluster:
    cluster = PostgresCluster(["all all 127.0.0.1/32 trust"], settings={
        # Each pgmask session holds its own upstream connection, so the idle test needs
        # one backend per idle client. Small shared buffers keep 2000 backends affordable.
        "max_connections": str(args.idle_clients + EXTRA_CONNECTIONS),
        "shared_buffers": "128MB",
        "max_wal_size": "1GB",
        "log_min_messages": "warning",
        "log_connections": "off",
    })
    cleanup.callback(cluster.destroy)
    log(f"starting PostgreSQL in {cluster.dir}")
    cluster.init()
    cluster.start()
    log(f"pgbench -i -s {args.scale}")
    result = run_client(["pgbench", "-i", "-q", "-s", str(args.scale),
                         "-d", cluster.socket_conninfo()], timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{result.stderr}")
    cluster.psql("CHECKPOINT")
    return cluster


def policy_args(args, work: Path) -> list[str]:
    if not args.policy:
        return []
    (work / "token.key").write_text("11" * 32 + "\n")
    (work / "hash.key").write_text("22" * 32 + "\n")
    return ["--policy", str(Path(args.policy).resolve()), "--token-key-file", str(work / "token.key"),
            "--hash-key-file", str(work / "hash.key")]


def audit_args() -> list[str]:
    """A fresh trail under build-bench/ (a real disk: /tmp may be tmpfs, where fsync is free)."""
    directory = REPO / "build-bench" / "audit"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / "audit.key").write_text("33" * 32 + "\n")
    return ["--audit-file", str(directory / "audit.jsonl"), "--audit-key-file", str(directory / "audit.key")]


def start_pgmask(args, binary: Path, cluster: PostgresCluster, log_path: Path, audit: bool = False) -> Pgmask:
    pgmask = Pgmask(binary, cluster.port, log_path, extra_args=[
        "--threads", str(args.threads),
        "--max-client-conn", str(args.idle_clients + EXTRA_CONNECTIONS),
        *policy_args(args, log_path.parent),
        *(audit_args() if audit else [])])
    pgmask.start()
    return pgmask


def start_pgbouncer(args, cluster: PostgresCluster) -> PgBouncer:
    bouncer = PgBouncer(cluster.port, max_client_conn=args.idle_clients + EXTRA_CONNECTIONS,
                        pool_size=max(CLIENT_COUNTS) + 8)
    bouncer.start()
    return bouncer


@dataclass
class Finding:
    """Something that went wrong or looked odd; printed with the results, never dropped."""
    what: str


def stop_pgmask(pgmask: Pgmask, findings: list[Finding], label: str) -> None:
    problem = pgmask.stop()
    if problem:
        findings.append(Finding(f"{label}: pgmask {problem} on SIGTERM"))
    # Connection open/close lines are info; anything louder is worth a look.
    loud = [line for line in pgmask.log_text().splitlines()
            if re.match(r"\S+ (warn|error) ", line)]
    if loud:
        findings.append(Finding(f"{label}: pgmask logged {len(loud)} warn/error lines, "
                                f"first: {loud[0]}"))


def stop_pgbouncer(bouncer: PgBouncer, findings: list[Finding], label: str) -> None:
    bouncer.stop()
    loud = [line for line in bouncer.log_tail(10**7).splitlines()
            if re.search(r" (WARNING|ERROR|FATAL) ", line)]
    if loud:
        findings.append(Finding(f"{label}: pgbouncer logged {len(loud)} warning/error lines, "
                                f"first: {loud[0]}"))


# pgbench points ------------------------------------------------------------------------------

@dataclass
class Attempt:
    """One measured pgbench run, kept or discarded, for the per-run table."""
    label: str
    tps: float
    p50_us: int
    p99_us: int
    other_load_pct: float
    kept: bool


def run_pgbench_points(args, binary: Path, cluster: PostgresCluster, work: Path,
                       cleanup: contextlib.ExitStack):
    findings: list[Finding] = []
    bouncer = start_pgbouncer(args, cluster)
    cleanup.callback(bouncer.destroy)
    pgmask = start_pgmask(args, binary, cluster, work / "pgmask-bench.log")
    cleanup.callback(pgmask.stop)
    ports = {"direct": cluster.port, "pgbouncer": bouncer.port, "pgmask": pgmask.port}
    pids = {"direct": None, "pgbouncer": bouncer.pid, "pgmask": pgmask.pid}
    audited = None
    if args.audit:
        audited = start_pgmask(args, binary, cluster, work / "pgmask-audit-bench.log", audit=True)
        cleanup.callback(audited.stop)
        ports["pgmask-audit"], pids["pgmask-audit"] = audited.port, audited.pid

    runs = {(t, c): measure.Run() for t in args.targets for c in CLIENT_COUNTS}
    attempts: list[Attempt] = []
    for round_no in range(1, args.rounds + 1):
        # Targets interleaved per client count, so drifting background load hits all alike.
        for clients in CLIENT_COUNTS:
            for target in args.targets:
                label = f"{target}-c{clients}-r{round_no}"
                sample = measure_point(args, label, ports[target], clients, pids[target],
                                       cluster, work, attempts, findings)
                runs[(target, clients)].add(sample)

    stop_pgmask(pgmask, findings, "pgbench runs")
    if audited is not None:
        stop_pgmask(audited, findings, "pgbench runs with the audit trail")
    stop_pgbouncer(bouncer, findings, "pgbench runs")
    return runs, attempts, findings


def measure_point(args, label: str, port: int, clients: int, proxy_pid: int | None,
                  cluster: PostgresCluster, work: Path, attempts: list[Attempt],
                  findings: list[Finding]) -> measure.Sample:
    """Warm-up and measured run; repeated after a pause while other users' work took more than
    --max-other-load of the machine, since that distorts whichever target it hits. When every
    attempt was disturbed, the least disturbed one is kept."""
    samples: list[measure.Sample] = []
    for attempt in range(1, args.retries + 2):
        if attempt > 1:
            log(f"{label}: other processes used {samples[-1].other_load_pct:.0f}% of the "
                f"CPUs; retrying in {QUIET_WAIT_SECONDS} s")
            time.sleep(QUIET_WAIT_SECONDS)
        log(f"{label}: {args.warmup}+{args.seconds} s" + (f", attempt {attempt}" if attempt > 1 else ""))
        measure.pgbench(port, clients, args.warmup, args.mode, work, label + "-warmup",
                        False, cluster.data_dir, proxy_pid)
        samples.append(measure.pgbench(port, clients, args.seconds, args.mode, work, label,
                                       True, cluster.data_dir, proxy_pid))
        if samples[-1].other_load_pct <= args.max_other_load:
            break
    kept = min(samples, key=lambda s: s.other_load_pct)
    if kept.other_load_pct > args.max_other_load:
        findings.append(Finding(f"{label}: other processes used more than "
                                f"{args.max_other_load:g}% of the CPUs in all {len(samples)} "
                                f"attempts; kept the least disturbed ({kept.other_load_pct:.0f}%)"))
    for sample in samples:
        alone = measure.Run()
        alone.add(sample)
        attempts.append(Attempt(label, sample.tps, alone.percentile_us(50),
                                alone.percentile_us(99), sample.other_load_pct, sample is kept))
    return kept


# Idle memory ---------------------------------------------------------------------------------

@dataclass
class Idle:
    target: str
    clients: int
    rss_before_kib: int
    rss_idle_kib: int
    upstream_backends: int      # Postgres client backends while the idle clients were open
    fds_before: int
    fds_idle: int
    fds_after_close: int
    rss_after_close_kib: int    # freed memory glibc kept, e.g. from read buffers of the goodbyes

    @property
    def kib_per_client(self) -> float:
        return (self.rss_idle_kib - self.rss_before_kib) / self.clients


def idle_memory(args, target: str, binary: Path, cluster: PostgresCluster, work: Path,
                findings: list[Finding]) -> Idle:
    """A fresh proxy (so nothing freed by the pgbench runs is reused), warmed with a few
    connections, then `idle_clients` authenticated connections held open."""
    log(f"idle memory: {args.idle_clients} clients through {target}")
    if target == "pgmask":
        proxy = start_pgmask(args, binary, cluster, work / "pgmask-idle.log")
    else:
        proxy = start_pgbouncer(args, cluster)
    clients = []
    try:
        for _ in range(8):  # first connections allocate per-thread state and pools
            measure.open_idle_client(proxy.port).close()
        time.sleep(0.5)
        rss_before, fds_before = measure.rss_kib(proxy.pid), measure.open_fds(proxy.pid)
        for _ in range(args.idle_clients):
            clients.append(measure.open_idle_client(proxy.port))
        time.sleep(1)  # let the last sessions settle
        rss_idle, fds_idle = measure.rss_kib(proxy.pid), measure.open_fds(proxy.pid)
        backends = int(cluster.psql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").strip())
        for sock in clients:
            sock.sendall(b"X\0\0\0\4")  # Terminate, as a well-behaved client ends
        fds_after = wait_for_fds(proxy.pid, fds_before, timeout=20)
        rss_after = measure.rss_kib(proxy.pid)
        if fds_after > fds_before:
            findings.append(Finding(
                f"idle test: {target} still had {fds_after} open descriptors 20 s after "
                f"{args.idle_clients} clients left ({fds_before} before)"))
        return Idle(target, args.idle_clients, rss_before, rss_idle, backends,
                    fds_before, fds_idle, fds_after, rss_after)
    finally:
        for sock in clients:
            sock.close()
        if target == "pgmask":
            stop_pgmask(proxy, findings, "idle test")
        else:
            stop_pgbouncer(proxy, findings, "idle test")
            proxy.destroy()


def wait_for_fds(pid: int, target: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        fds = measure.open_fds(pid)
        if fds <= target or time.monotonic() > deadline:
            return fds
        time.sleep(0.2)


# Report --------------------------------------------------------------------------------------

def machine_info(pgmask_source: str) -> dict[str, str]:
    def output(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              check=True).stdout

    def first_line(argv: list[str]) -> str:
        return output(argv).splitlines()[0].strip()

    model = re.search(r"^Model name:\s*(.+)$", output(["lscpu"]), re.MULTILINE)
    mem_kib = int(re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(),
                            re.MULTILINE).group(1))
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu model": model.group(1) if model else "unknown",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": os.uname().release,
        "postgres": first_line([str(PG_BIN / "postgres"), "--version"]),
        "pgbench": first_line(["pgbench", "--version"]),
        "pgbouncer": first_line(["/usr/sbin/pgbouncer", "--version"]),
        "pgmask": pgmask_source,
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def format_report(args, machine, runs, attempts: list[Attempt], idle: list[Idle],
                  findings: list[Finding]) -> str:
    lines = [f"# {key}: {value}" for key, value in machine.items()]
    lines.append(f"# settings: pgbench -S -M {args.mode}, {args.seconds} s per point after "
                 f"{args.warmup} s warm-up, {args.rounds} round(s), scale {args.scale}, "
                 f"pgmask --threads {args.threads or os.cpu_count()}"
                 + (f", pgmask --policy {args.policy} (pgbench's role restricted)" if args.policy else "")
                 + (", pgmask-audit: the same with --audit-file (build-bench/audit/)" if args.audit else ""))
    lines += ["", "target,clients,tps,p50_us,p99_us,cpu_s,cpu_us_per_tx"]
    for (target, clients), run in runs.items():
        cpu = "" if run.cpu_s is None else f"{run.cpu_s:.2f}"
        per_tx = "" if run.cpu_us_per_tx is None else f"{run.cpu_us_per_tx:.1f}"
        lines.append(f"{target},{clients},{run.tps:.0f},{run.percentile_us(50)},"
                     f"{run.percentile_us(99)},{cpu},{per_tx}")

    lines += ["", "run,tps,p50_us,p99_us,other_load_pct,kept"]
    lines += [f"{a.label},{a.tps:.0f},{a.p50_us},{a.p99_us},{a.other_load_pct:.1f},"
              f"{'yes' if a.kept else 'no'}" for a in attempts]

    lines += ["", "target,idle_clients,rss_before_kib,rss_idle_kib,kib_per_client,"
                  "upstream_backends,fds_before,fds_idle,fds_after_close,rss_after_close_kib"]
    for i in idle:
        lines.append(f"{i.target},{i.clients},{i.rss_before_kib},{i.rss_idle_kib},"
                     f"{i.kib_per_client:.2f},{i.upstream_backends},{i.fds_before},"
                     f"{i.fds_idle},{i.fds_after_close},{i.rss_after_close_kib}")

    lines += ["", "target check (issue 2 item 7),measured,target,met"]
    lines += [",".join(row) for row in target_checks(runs, idle)]

    lines += ["", "# findings:" if findings else "# findings: none"]
    lines += [f"# - {f.what}" for f in findings]
    return "\n".join(lines)


def target_checks(runs, idle: list[Idle]) -> list[tuple[str, str, str, str]]:
    def r(target, clients):
        return runs[(target, clients)]

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    checks = []
    for clients, goal in ((32, 1.2), (1, 1.0)):
        ratio = r("pgmask", clients).tps / r("pgbouncer", clients).tps
        checks.append((f"TPS pgmask/pgbouncer at {clients} client(s)", f"{ratio:.3f}x",
                       f">= {goal}x", met(ratio >= goal)))
    direct_p50 = r("direct", 1).percentile_us(50)
    added = r("pgmask", 1).percentile_us(50) - direct_p50
    bouncer_added = r("pgbouncer", 1).percentile_us(50) - direct_p50
    checks.append(("p50 added to direct at 1 client: pgmask", f"{added} us", "<= 25 us",
                   met(added <= 25)))
    checks.append(("p50 added to direct at 1 client: pgbouncer (reference)",
                   f"{bouncer_added} us", "about 80 us", "-"))
    for clients in CLIENT_COUNTS:
        mine, theirs = r("pgmask", clients).percentile_us(99), r("pgbouncer", clients).percentile_us(99)
        goal = met(mine <= theirs) if clients == 1 else "- (no target)"
        checks.append((f"p99 at {clients} client(s): pgmask vs pgbouncer",
                       f"{mine} us vs {theirs} us", "pgmask <= pgbouncer", goal))
    for clients in CLIENT_COUNTS:
        mine, theirs = r("pgmask", clients).cpu_us_per_tx, r("pgbouncer", clients).cpu_us_per_tx
        checks.append((f"proxy CPU per transaction at {clients} client(s): pgmask vs pgbouncer",
                       f"{mine:.1f} us vs {theirs:.1f} us", "-", "-"))
    if ("pgmask-audit", 1) in runs:
        for clients in CLIENT_COUNTS:
            ratio = r("pgmask-audit", clients).tps / r("pgmask", clients).tps
            checks.append((f"TPS pgmask-audit/pgmask at {clients} client(s) (audit issue)", f"{ratio:.3f}x",
                           ">= 0.8x", met(ratio >= 0.8)))
    for i in idle:
        goal = met(i.kib_per_client <= 4) if i.target == "pgmask" else "- (reference)"
        checks.append((f"RSS per idle client: {i.target}", f"{i.kib_per_client:.2f} KiB",
                       "<= 4 KiB", goal))
    return checks


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        sys.exit(130)
