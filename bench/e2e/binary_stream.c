/* The binary-format client of bench/masked-stream: runs one query with every result column in
 * binary format (libpq's PQexecParams, resultFormat 1), checks it succeeded and prints the row
 * count. Usage: binary_stream CONNINFO SQL */
#include <libpq-fe.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONNINFO SQL\n", argv[0]);
    return 2;
  }
  PGconn* conn = PQconnectdb(argv[1]);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
  }
  PGresult* result = PQexecParams(conn, argv[2], 0, NULL, NULL, NULL, NULL, 1);
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    fprintf(stderr, "query: %s", PQerrorMessage(conn));
    PQclear(result);
    PQfinish(conn);
    return 1;
  }
  printf("%d\n", PQntuples(result));
  PQclear(result);
  PQfinish(conn);
  return 0;
}
