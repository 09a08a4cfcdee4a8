"""pg_dump through pgmask is byte-identical to a direct dump (COPY out, catalog queries,
snapshot settings), on the demo clinic database plus a few awkward objects."""

import pytest

from conftest import DEMO_SQL
from pgharness import run_client

EXTRA_OBJECTS = """
create schema odd;
create table odd."Mixed Case" (id bigint generated always as identity primary key,
  payload jsonb, raw bytea, tags text[], at timestamptz default now());
insert into odd."Mixed Case" (payload, raw, tags)
  select jsonb_build_object('n', g), decode(md5(g::text), 'hex'), array['a', 'b\tc', E'd\\ne']
  from generate_series(1, 500) g;
create view odd.recent as select id, payload from odd."Mixed Case" where id > 10;
create function odd.twice(integer) returns integer language sql immutable as 'select $1 * 2';
comment on table odd."Mixed Case" is 'comment with ''quotes'' and ünïcode';
"""


@pytest.fixture(scope="module")
def clinic_db(postgres):
    postgres.psql("CREATE DATABASE clinic")
    postgres.psql_file(DEMO_SQL, dbname="clinic")
    postgres.psql(EXTRA_OBJECTS, dbname="clinic")
    return "clinic"


def test_demo_data_loaded(postgres, clinic_db):
    counts = postgres.psql("select (select count(*) from patients), (select count(*) from visits),"
                           " (select count(*) from payments)", dbname=clinic_db).strip()
    assert counts == "2000|6000|4000"


def dump(conninfo: str) -> str:
    result = run_client(["pg_dump", "--no-sync", "-d", conninfo], timeout=300)
    assert result.returncode == 0, result.stderr
    # \restrict and \unrestrict lines carry a random key that differs on every run.
    return "".join(line for line in result.stdout.splitlines(keepends=True)
                   if not line.startswith(("\\restrict", "\\unrestrict")))


def test_pg_dump_identical(postgres, pgmask, clinic_db):
    direct = dump(postgres.conninfo(dbname=clinic_db))
    proxied = dump(pgmask.conninfo(dbname=clinic_db))
    assert "4000" in direct and "COPY public.patients" in direct, "direct dump looks empty"
    assert proxied == direct, "pg_dump through pgmask differs from the direct dump"
