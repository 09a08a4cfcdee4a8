/* A real libpq client for the integration tests (tests/integration/test_client_libpq.py).
 *
 * Usage: pgmask_libpq_client CONNINFO
 *
 * Runs a fixed script against the clinic demo database through every libpq path a C
 * application takes -- PQexecParams with text and binary results, PQprepare/PQexecPrepared
 * executed repeatedly, and pipeline mode (with an error in the middle of a pipeline) -- and
 * prints each result in a normalized form, one line per row:
 *
 *   <label>\tROW\t<v1>|<v2>|...     binary int2/int4/int8/bool/text/date/numeric decoded to
 *                                    their text form, NULL as \N, other binary types as hex
 *   <label>\tOK\t<command tag>
 *   <label>\tERROR\t<sqlstate>
 *   <label>\tABORTED                 a pipeline entry skipped after an earlier error
 *
 * so the output of a direct connection and one through pgmask can be compared line by line.
 * Exits 0 when the script ran to the end (SQL errors are output, not failures), 2 on a
 * connection or protocol problem. */

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_BOOL 16
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_DATE 1082
#define OID_NUMERIC 1700

static PGconn *conn;

static void die(const char *what) {
  fprintf(stderr, "libpq_client: %s: %s\n", what, conn ? PQerrorMessage(conn) : "");
  if (conn) PQfinish(conn);
  exit(2);
}

static uint16_t be16(const char *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return ntohs(v);
}

static uint32_t be32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return ntohl(v);
}

static int64_t be64(const char *p) {
  return (int64_t)(((uint64_t)be32(p) << 32) | be32(p + 4));
}

/* PostgreSQL's j2date: Julian day number to a Gregorian date. */
static void j2date(int jd, int *year, int *month, int *day) {
  unsigned int julian = (unsigned int)jd + 32044;
  unsigned int quad = julian / 146097;
  unsigned int extra = (julian - quad * 146097) * 4 + 3;
  julian += 60 + quad * 3 + extra / 146097;
  quad = julian / 1461;
  julian -= quad * 1461;
  int y = (int)(julian * 4 / 1461);
  julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366)) + 123;
  y += (int)quad * 4;
  *year = y - 4800;
  quad = julian * 2141 / 65536;
  *day = (int)(julian - 7834 * quad / 256);
  *month = (int)((quad + 10) % 12 + 1);
}

static void print_hex(const char *v, int len) {
  fputs("\\x", stdout);
  for (int i = 0; i < len; i++) printf("%02x", (unsigned char)v[i]);
}

/* numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits. */
static void print_numeric(const char *v, int len) {
  if (len < 8) {
    print_hex(v, len);
    return;
  }
  int ndigits = (int16_t)be16(v), weight = (int16_t)be16(v + 2), dscale = (int16_t)be16(v + 6);
  uint16_t sign = be16(v + 4);
  if (sign == 0xC000) {
    fputs("NaN", stdout);
    return;
  }
  if (len != 8 + 2 * ndigits) {
    print_hex(v, len);
    return;
  }
#define DIGIT(i) ((i) >= 0 && (i) < ndigits ? (int)be16(v + 8 + 2 * (i)) : 0)
  if (sign == 0x4000) putchar('-');
  if (weight < 0) {
    putchar('0');
  } else {
    for (int i = 0; i <= weight; i++) printf(i == 0 ? "%d" : "%04d", DIGIT(i));
  }
  if (dscale > 0) {
    putchar('.');
    int printed = 0;
    for (int i = weight + 1; printed < dscale; i++) {
      char group[8];
      snprintf(group, sizeof group, "%04d", DIGIT(i));
      for (int k = 0; k < 4 && printed < dscale; k++, printed++) putchar(group[k]);
    }
  }
#undef DIGIT
}

static void print_binary(Oid type, const char *v, int len) {
  switch (type) {
    case OID_INT2:
      if (len == 2) { printf("%d", (int16_t)be16(v)); return; }
      break;
    case OID_INT4:
      if (len == 4) { printf("%d", (int32_t)be32(v)); return; }
      break;
    case OID_INT8:
      if (len == 8) { printf("%lld", (long long)be64(v)); return; }
      break;
    case OID_BOOL:
      if (len == 1) { putchar(v[0] ? 't' : 'f'); return; }
      break;
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME:
      fwrite(v, 1, (size_t)len, stdout);
      return;
    case OID_DATE:
      if (len == 4) {
        int year, month, day;
        j2date((int32_t)be32(v) + 2451545, &year, &month, &day);  /* days since 2000-01-01 */
        printf("%04d-%02d-%02d", year, month, day);
        return;
      }
      break;
    case OID_NUMERIC:
      print_numeric(v, len);
      return;
  }
  print_hex(v, len);
}

/* Prints one result; returns its status. */
static ExecStatusType print_result(const char *label, PGresult *res) {
  ExecStatusType status = PQresultStatus(res);
  switch (status) {
    case PGRES_TUPLES_OK:
      for (int r = 0; r < PQntuples(res); r++) {
        printf("%s\tROW\t", label);
        for (int c = 0; c < PQnfields(res); c++) {
          if (c) putchar('|');
          if (PQgetisnull(res, r, c)) {
            fputs("\\N", stdout);
          } else if (PQfformat(res, c) == 1) {
            print_binary(PQftype(res, c), PQgetvalue(res, r, c), PQgetlength(res, r, c));
          } else {
            fputs(PQgetvalue(res, r, c), stdout);
          }
        }
        putchar('\n');
      }
      printf("%s\tOK\t%s\n", label, PQcmdStatus(res));
      break;
    case PGRES_COMMAND_OK:
      printf("%s\tOK\t%s\n", label, PQcmdStatus(res));
      break;
    case PGRES_FATAL_ERROR: {
      const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      printf("%s\tERROR\t%s\n", label, state ? state : "(none)");
      fprintf(stderr, "%s: %s", label, PQresultErrorMessage(res));  /* for a failing test's report */
      break;
    }
    case PGRES_PIPELINE_ABORTED:
      printf("%s\tABORTED\n", label);
      break;
    default:
      fprintf(stderr, "libpq_client: %s: unexpected status %s\n", label, PQresStatus(status));
      PQclear(res);
      die("unexpected result");
  }
  fflush(stdout);
  return status;
}

static void exec_params(const char *label, const char *sql, const char *param, int result_format) {
  const char *values[1] = {param};
  PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, param ? values : NULL, NULL, NULL,
                               result_format);
  if (!res) die(label);
  print_result(label, res);
  PQclear(res);
}

static const char *const PATIENTS_SQL =
    "SELECT id, ssn, email, dob FROM patients WHERE id <= $1::int4 ORDER BY id";
static const char *const PAYMENTS_SQL =
    "SELECT id, card_number, amount FROM payments WHERE id <= $1::int4 ORDER BY id";
static const char *const COUNT_SQL = "SELECT count(*)::int4 FROM patients WHERE id < $1::int4";

/* Runs a pipeline: several queries with parameters (one of them on the payments table, so a
 * role that is refused card_number gets its error mid-pipeline), a sync, then one more query
 * and a second sync. Prints every result in order. */
static void pipeline(void) {
  if (!PQenterPipelineMode(conn)) die("PQenterPipelineMode");
  struct { const char *label, *sql, *param; int format; } queries[] = {
      {"pipe1", PATIENTS_SQL, "2", 1},
      {"pipe2", PATIENTS_SQL, "3", 0},
      {"pipe3", PAYMENTS_SQL, "2", 1},
      {"pipe4", PATIENTS_SQL, "4", 1},
      {"pipe5", "SELECT 'after-error'::text", NULL, 0},
  };
  const int n = sizeof queries / sizeof queries[0];
  for (int i = 0; i < n; i++) {
    const char *values[1] = {queries[i].param};
    if (!PQsendQueryParams(conn, queries[i].sql, queries[i].param ? 1 : 0, NULL,
                           queries[i].param ? values : NULL, NULL, NULL, queries[i].format))
      die(queries[i].label);
  }
  /* A prepared statement executed inside the pipeline too. */
  const char *p5[1] = {"5"};
  if (!PQsendQueryPrepared(conn, "patients", 1, p5, NULL, NULL, 1)) die("pipe-prepared");
  if (!PQpipelineSync(conn)) die("PQpipelineSync");
  const char *second_values[1] = {"6"};
  if (!PQsendQueryParams(conn, COUNT_SQL, 1, NULL, second_values, NULL, NULL, 1)) die("pipe7");
  if (!PQpipelineSync(conn)) die("PQpipelineSync 2");

  const char *labels[] = {"pipe1", "pipe2", "pipe3", "pipe4", "pipe5", "pipe6", "SYNC", "pipe7", "SYNC"};
  for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    PGresult *res = PQgetResult(conn);
    if (!res) die("pipeline: missing result");
    if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
      if (strcmp(labels[i], "SYNC") != 0) die("pipeline: early sync");
      printf("SYNC\n");
      PQclear(res);
      continue;
    }
    if (strcmp(labels[i], "SYNC") == 0) die("pipeline: expected a sync");
    print_result(labels[i], res);
    PQclear(res);
    /* Each query's results end with a NULL. */
    res = PQgetResult(conn);
    if (res) {
      PQclear(res);
      die("pipeline: more than one result for a query");
    }
  }
  if (!PQexitPipelineMode(conn)) die("PQexitPipelineMode");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONNINFO\n", argv[0]);
    return 2;
  }
  conn = PQconnectdb(argv[1]);
  if (PQstatus(conn) != CONNECTION_OK) die("connect");

  exec_params("datestyle", "SET DateStyle = ISO", NULL, 0);

  /* PQexecParams: the same query in text and in binary. */
  exec_params("params-text", PATIENTS_SQL, "5", 0);
  exec_params("params-binary", PATIENTS_SQL, "5", 1);
  exec_params("payments-text", PAYMENTS_SQL, "3", 0);
  exec_params("payments-binary", PAYMENTS_SQL, "3", 1);

  /* A refused (for some roles) column, then the connection must still work. */
  exec_params("denied", "SELECT card_number FROM payments WHERE id = $1::int4", "1", 0);
  exec_params("after-denied", COUNT_SQL, "10", 1);
  {
    /* The same with the parameter's type declared in the Parse (as psycopg and pgjdbc do). */
    const Oid types[1] = {OID_INT4};
    const char *values[1] = {"1"};
    PGresult *res = PQexecParams(conn, "SELECT card_number FROM payments WHERE id = $1", 1, types, values,
                                 NULL, NULL, 0);
    if (!res) die("denied-typed");
    print_result("denied-typed", res);
    PQclear(res);
  }
  exec_params("denied-no-params", "SELECT card_number FROM payments WHERE id = 1", NULL, 0);
  /* An ordinary SQL error comes from PostgreSQL for every role. */
  exec_params("sql-error", "SELECT * FROM no_such_table WHERE id = $1::int4", "1", 0);
  exec_params("after-sql-error", COUNT_SQL, "3", 0);

  /* A named prepared statement executed many times, alternating result formats. */
  PGresult *res = PQprepare(conn, "patients", PATIENTS_SQL, 1, NULL);
  if (!res) die("PQprepare");
  print_result("prepare", res);
  PQclear(res);
  for (int i = 1; i <= 8; i++) {
    char label[32], param[16];
    snprintf(label, sizeof label, "prepared%d", i);
    snprintf(param, sizeof param, "%d", i);
    const char *values[1] = {param};
    res = PQexecPrepared(conn, "patients", 1, values, NULL, NULL, i % 2);
    if (!res) die(label);
    print_result(label, res);
    PQclear(res);
  }
  res = PQprepare(conn, "payments", PAYMENTS_SQL, 1, NULL);
  if (!res) die("PQprepare payments");
  print_result("prepare-payments", res);
  PQclear(res);
  for (int i = 1; i <= 3; i++) {
    char label[32];
    snprintf(label, sizeof label, "prepared-payments%d", i);
    const char *values[1] = {"2"};
    res = PQexecPrepared(conn, "payments", 1, values, NULL, NULL, i % 2);
    if (!res) die(label);
    print_result(label, res);
    PQclear(res);
  }

  pipeline();

  exec_params("final", COUNT_SQL, "100", 0);
  PQfinish(conn);
  return 0;
}
