"""Queries give byte-identical results through pgmask and directly: psql (simple protocol,
several statements per query, errors, notices, COPY) and psycopg (extended protocol, binary
format, prepared statements, pipelining, server-side cursors, COPY FROM STDIN)."""

import psycopg
import pytest

from pgharness import run_client

PSQL_CASES = {
    "single": "select 1 as one, 'two'::text as two, null::int as nothing",
    "multi-statement": "select 1; select 2",
    "error between statements": "select 1; select 1/0; select 3",
    "syntax error": "selec 1",
    "empty query": ";",
    "notice": "do $$ begin raise notice 'hello %', 42; end $$",
    "transaction": "begin; create temp table t(x int); insert into t values (1), (2);"
                   " select sum(x) from t; commit",
    "many rows": "select g, md5(g::text) from generate_series(1, 20000) g",
    "one large value": "select length(repeat('x', 3000000)), repeat('ab', 500000)",
    "copy out": "copy (select g, g * 2 from generate_series(1, 5000) g) to stdout",
    "types": "select 1.5::numeric, now()::date - now()::date, '{1,2}'::int[],"
             " '{\"a\": 1}'::jsonb, 'a'::bytea, interval '1 day', true, null",
    "parameter status": "set application_name = 'through'; show application_name;"
                        " set datestyle = 'German'; select date '2024-05-06'",
    "unicode": "select 'Grüße, 世界 🐘' as greeting",
}


def psql(conninfo: str, sql: str):
    return run_client(["psql", "-X", "-d", conninfo, "-c", sql])


@pytest.mark.parametrize("sql", PSQL_CASES.values(), ids=PSQL_CASES.keys())
def test_psql_output_identical(postgres, pgmask, sql):
    direct = psql(postgres.conninfo(), sql)
    proxied = psql(pgmask.conninfo(), sql)
    assert (proxied.returncode, proxied.stdout, proxied.stderr) == \
        (direct.returncode, direct.stdout, direct.stderr), f"query: {sql}"


def test_psql_script_from_stdin_identical(postgres, pgmask, tmp_path):
    script = tmp_path / "script.sql"
    script.write_text(
        "create temp table items(id int, label text);\n"
        "copy items from stdin;\n1\tone\n2\ttwo\n\\.\n"
        "select * from items order by id;\n"
        "select format('select %s as counted', count(*)) from items \\gexec\n"
    )
    direct = run_client(["psql", "-X", "-d", postgres.conninfo(), "-f", str(script)])
    proxied = run_client(["psql", "-X", "-d", pgmask.conninfo(), "-f", str(script)])
    assert direct.returncode == 0, direct.stderr
    assert (proxied.returncode, proxied.stdout, proxied.stderr) == \
        (direct.returncode, direct.stdout, direct.stderr)


def extended_protocol_session(conn: psycopg.Connection) -> list:
    """Exercises the extended protocol; returns everything it read, for comparison."""
    results = []
    with conn.cursor() as cur:
        cur.execute("select %s::int + 1, %s::text, %s::bytea", (41, "txt", b"\x00\xff"))
        results.append(cur.fetchall())
        cur.execute("select %s::int, %s::numeric, %s::timestamptz",
                    (7, "3.25", "2024-01-02 03:04:05+00"), binary=True)
        results.append(cur.fetchall())
        for i in range(8):  # past psycopg's prepare threshold: named prepared statements
            cur.execute("select %s::int * 2, repeat('y', %s)", (i, i), prepare=True)
            results.append(cur.fetchall())
        cur.execute("select * from generate_series(1, %s) g", (3000,))
        results.append(cur.fetchall())
        with pytest.raises(psycopg.errors.DivisionByZero):
            cur.execute("select 1 / %s::int", (0,))
        cur.execute("select 'still fine'")
        results.append(cur.fetchall())
        cur.execute("create temp table copied(id int, label text)")
        with cur.copy("copy copied from stdin") as copy:
            for i in range(1000):
                copy.write_row((i, f"row {i}"))
        cur.execute("select count(*), sum(id) from copied")
        results.append(cur.fetchall())
    with conn.pipeline():
        cursors = [conn.execute("select %s::int", (i,)) for i in range(20)]
    results.append([c.fetchall() for c in cursors])
    with conn.transaction():
        with conn.cursor(name="server_side") as named:
            named.itersize = 100
            named.execute("select g from generate_series(1, 1000) g")
            results.append(list(named))
    return results


def test_extended_protocol_identical(postgres, pgmask, connect):
    direct = extended_protocol_session(connect(postgres.port))
    proxied = extended_protocol_session(connect(pgmask.port))
    assert proxied == direct
