// A real node-postgres client for the integration tests (tests/integration/test_client_node.py):
// `pg` and `pg-cursor` from the npm registry, installed by scripts/setup into
// /opt/pgmask-tools/node (the test sets NODE_PATH to its node_modules).
//
// Usage: node node_client.js   (connection from PGHOST, PGPORT, PGUSER, PGDATABASE)
//
// Runs a fixed script against the clinic demo database -- parameterised queries (unnamed
// statements), a named prepared statement executed repeatedly, binary results, a Cursor read in
// batches (Execute with a row limit, PortalSuspended), and a refused column -- and prints each
// result normalized, one line per row:
//
//   <label>\tROW\t<v1>|<v2>|...      strings as they are, dates as YYYY-MM-DD, NULL as \N
//   <label>\tOK
//   <label>\tERROR\t<sqlstate>
//
// so a direct connection and one through pgmask can be compared line by line. Exits 0 when the
// script ran to the end (SQL errors are output, not failures), 2 otherwise.
'use strict';

const { Client, types } = require('pg');
const Cursor = require('pg-cursor');

// Dates stay strings (no time zone games); bigint counts too.
types.setTypeParser(1082, 'text', (value) => value);
types.setTypeParser(20, 'text', (value) => value);
// Binary results: int4 decoded here (with rowMode 'array' pg hands binary parsers the field as
// a UTF-8-decoded string, and pg-types' own binary int4 parser then gives NaN); text as it is.
const asBuffer = (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));
types.setTypeParser(23, 'binary', (value) => asBuffer(value).readInt32BE(0));
types.setTypeParser(25, 'binary', (value) => asBuffer(value).toString('utf8'));

const PATIENTS_SQL = 'SELECT id, ssn, email, dob FROM patients WHERE id <= $1 ORDER BY id';
const PAYMENTS_SQL = 'SELECT id, card_number, amount FROM payments WHERE id <= $1 ORDER BY id';
const COUNT_SQL = 'SELECT count(*) FROM patients WHERE id < $1';

const out = [];

function format(value) {
  if (value === null || value === undefined) return '\\N';
  if (Buffer.isBuffer(value)) return '\\x' + value.toString('hex');
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function printRows(label, rows) {
  for (const row of rows) out.push(`${label}\tROW\t${row.map(format).join('|')}`);
}

async function query(client, label, config) {
  try {
    const result = await client.query({ rowMode: 'array', ...config });
    printRows(label, result.rows);
    out.push(`${label}\tOK`);
  } catch (err) {
    if (!err.code) throw err;  // not an ErrorResponse: a client or connection failure
    out.push(`${label}\tERROR\t${err.code}`);
  }
}

function cursorRead(cursor, count) {
  return new Promise((resolve, reject) => {
    cursor.read(count, (err, rows) => (err ? reject(err) : resolve(rows)));
  });
}

function cursorClose(cursor) {
  return new Promise((resolve, reject) => cursor.close((err) => (err ? reject(err) : resolve())));
}

async function main() {
  const client = new Client();
  await client.connect();
  try {
    await query(client, 'datestyle', { text: 'SET DateStyle = ISO' });

    // Parameterised queries: unnamed statements, text results.
    await query(client, 'params', { text: PATIENTS_SQL, values: [5] });
    await query(client, 'payments', { text: PAYMENTS_SQL, values: [3] });

    // A named prepared statement: parsed once, then Bind/Execute again and again.
    for (let i = 1; i <= 6; i++) {
      await query(client, `prepared${i}`, { name: 'patients', text: PATIENTS_SQL, values: [i] });
    }

    // Binary results (pg's `binary` option): int4 and text decoded by pg, others kept raw.
    await query(client, 'binary', { text: 'SELECT id, ssn, email FROM patients WHERE id <= $1 ORDER BY id',
                                    values: [4], binary: true });

    // A Cursor read in batches of three.
    const cursor = client.query(new Cursor(PATIENTS_SQL, [10], { rowMode: 'array' }));
    for (let batch = 1; ; batch++) {
      const rows = await cursorRead(cursor, 3);
      if (rows.length === 0) break;
      printRows(`cursor${batch}`, rows);
    }
    await cursorClose(cursor);
    out.push('cursor\tOK');

    // A refused column: an error with the SQLSTATE, and the connection still works.
    await query(client, 'denied', { text: 'SELECT card_number FROM payments WHERE id = $1', values: [1] });
    await query(client, 'after-denied', { text: COUNT_SQL, values: [10] });
    await query(client, 'sql-error', { text: 'SELECT * FROM no_such_table WHERE id = $1', values: [1] });
    await query(client, 'after-sql-error', { text: COUNT_SQL, values: [3] });
    // A refused column in a named statement, then the other named statement still runs.
    await query(client, 'denied-named', { name: 'cards', text: 'SELECT card_number FROM payments WHERE id = $1',
                                          values: [1] });
    await query(client, 'prepared-again', { name: 'patients', text: PATIENTS_SQL, values: [2] });

    await query(client, 'final', { text: COUNT_SQL, values: [100] });
  } finally {
    await client.end();
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err) => {
  process.stdout.write(out.join('\n') + '\n');
  process.stderr.write(`node_client: ${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
});
