"""Masked-stream workload: SELECT * of a 1M-row table with four protected columns, as a role
that sees them masked and as one that sees them clear, through pgmask, plus the clear role
directly as the baseline; in text format (psql) and in binary format (a libpq client asking for
binary results, bench/e2e/binary_stream.c). Prints CSV rows
(format,target,role,rows,seconds,rows_per_s) and, per format, the ratio the policy and
extended-protocol issues set as their target: masked >= 0.8x the clear role's rows/s through
pgmask."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgharness import Pgmask, PostgresCluster, run_client  # noqa: E402
from run import build  # noqa: E402

POLICY = """version: 1
classifications:
  PII: { tier: confidential }
  PHI: { tier: restricted }
tables:
  public.stream_rows:
    columns:
      ssn:   { class: PII, mask: "partial(0, 'XXX-XX-', 4)" }
      email: { class: PII, mask: email }
      phone: { class: PII, mask: "partial(0, '***-***-', 4)" }
      dob:   { class: PHI, mask: "generalize(year)" }
roles:
  bench_clear:  { default: clear }
  bench_masked: { default: mask }
"""

SETUP_SQL = """
CREATE TABLE stream_rows AS
SELECT g AS id,
       lpad((g % 900 + 100)::text, 3, '0') || '-' || lpad((g % 90 + 10)::text, 2, '0') || '-' ||
         lpad((g % 9000 + 1000)::text, 4, '0') AS ssn,
       'user' || g || '@mail.example.org' AS email,
       '+1-555-' || lpad((g % 1000)::text, 3, '0') || '-' || lpad((g % 10000)::text, 4, '0') AS phone,
       DATE '1940-01-01' + (g % 25000) AS dob,
       'note ' || g AS note
FROM generate_series(1, {rows}) g;
CREATE ROLE bench_clear LOGIN; CREATE ROLE bench_masked LOGIN;
GRANT SELECT ON stream_rows TO bench_clear, bench_masked;
"""


def build_binary_client(build_dir: Path) -> Path:
    out = build_dir / "binary_stream"
    include = subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["cc", "-O2", "-I", include, str(Path(__file__).resolve().parent / "binary_stream.c"),
                    "-lpq", "-o", str(out)], check=True, timeout=120)
    return out


def timed_select(port: int, user: str, binary_client: Path | None, rows: int) -> float:
    """Seconds for the client to receive every row: psql formatting text into /dev/null, or the
    binary client holding the whole result."""
    if binary_client is None:
        command = ["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                   "-d", "postgres", "-c", "SELECT * FROM stream_rows", "-o", "/dev/null"]
    else:
        command = [str(binary_client), f"host=127.0.0.1 port={port} user={user} dbname=postgres",
                   "SELECT * FROM stream_rows"]
    start = time.monotonic()
    result = run_client(command, timeout=900)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} as {user} failed: {result.stderr}")
    if binary_client is not None and result.stdout.strip() != str(rows):
        raise RuntimeError(f"binary client as {user} read {result.stdout.strip()} rows, not {rows}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per point; the median is reported")
    parser.add_argument("--format", choices=["text", "binary", "both"], default="both")
    args = parser.parse_args()
    binary, described = build(None)
    formats = ["text", "binary"] if args.format == "both" else [args.format]
    binary_client = build_binary_client(binary.parent) if "binary" in formats else None
    with tempfile.TemporaryDirectory(prefix="pgmask-stream-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "policy.yaml").write_text(POLICY)
        cluster = PostgresCluster(["all all 127.0.0.1/32 trust"], settings={"shared_buffers": "256MB"})
        try:
            cluster.init()
            cluster.start()
            cluster.psql(SETUP_SQL.format(rows=args.rows))
            cluster.psql("VACUUM ANALYZE stream_rows")  # not inside the setup's transaction
            pgmask = Pgmask(binary, cluster.port, tmp_path / "pgmask.log",
                            extra_args=["--policy", str(tmp_path / "policy.yaml")])
            pgmask.start()
            try:
                points = [("direct", cluster.port, "bench_clear"), ("pgmask", pgmask.port, "bench_clear"),
                          ("pgmask", pgmask.port, "bench_masked")]
                rates = {}
                print("format,target,role,rows,seconds,rows_per_s")
                for fmt in formats:
                    client = binary_client if fmt == "binary" else None
                    for target, port, role in points:
                        timed_select(port, role, client, args.rows)  # warm-up: caches and buffers
                        seconds = statistics.median(
                            timed_select(port, role, client, args.rows) for _ in range(args.repeat))
                        rates[(fmt, target, role)] = args.rows / seconds
                        print(f"{fmt},{target},{role},{args.rows},{seconds:.3f},{rates[(fmt, target, role)]:.0f}")
            finally:
                pgmask.stop()
        finally:
            cluster.destroy()
    print(f"# pgmask {described}")
    for fmt in formats:
        clear = rates[(fmt, "pgmask", "bench_clear")]
        masked = rates[(fmt, "pgmask", "bench_masked")]
        print(f"# {fmt}: masked/clear rows/s through pgmask: {masked / clear:.2f} (target >= 0.80)")
        print(f"# {fmt}: clear through pgmask / direct: {clear / rates[(fmt, 'direct', 'bench_clear')]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
