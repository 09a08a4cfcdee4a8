// A real JDBC client for the integration tests (tests/integration/test_client_jdbc.py), run with
// Debian's pgjdbc (/usr/share/java/postgresql.jar) on the class path.
//
// Usage: java -cp postgresql.jar:DIR JdbcClient JDBC_URL
//
// Runs a fixed script against the clinic demo database -- a PreparedStatement executed many
// times (pgjdbc switches to a named server-side statement after prepareThreshold executions and
// then executes it without a Describe, with binary transfer for int4 and date), plain
// Statements, cursor-based fetching (fetch size in a transaction: Execute with a row limit and
// PortalSuspended) and a refused column -- and prints each result normalized, one line per row:
//
//   <label>\tROW\t<v1>|<v2>|...      getString() of each column, NULL as \N
//   <label>\tOK
//   <label>\tERROR\t<sqlstate>
//
// so a direct connection and one through pgmask can be compared line by line. Exits 0 when the
// script ran to the end (SQL errors are output, not failures), 2 otherwise.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public final class JdbcClient {
  private static final String PATIENTS_SQL =
      "SELECT id, ssn, email, dob FROM patients WHERE id <= ? ORDER BY id";
  private static final String PAYMENTS_SQL =
      "SELECT id, card_number, amount FROM payments WHERE id <= ? ORDER BY id";
  private static final String COUNT_SQL = "SELECT count(*) FROM patients WHERE id < ?";

  private static void print(String label, ResultSet rs) throws SQLException {
    int columns = rs.getMetaData().getColumnCount();
    StringBuilder out = new StringBuilder();
    while (rs.next()) {
      out.append(label).append("\tROW\t");
      for (int c = 1; c <= columns; c++) {
        if (c > 1) out.append('|');
        String value = rs.getString(c);
        out.append(value == null ? "\\N" : value);
      }
      out.append('\n');
    }
    out.append(label).append("\tOK\n");
    System.out.print(out);
    System.out.flush();
  }

  private static void error(String label, SQLException e) {
    System.out.println(label + "\tERROR\t" + e.getSQLState());
    System.out.flush();
  }

  /** Runs a one-parameter query with a fresh PreparedStatement; SQL errors are printed. */
  private static void query(Connection conn, String label, String sql, int param) {
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      ps.setInt(1, param);
      try (ResultSet rs = ps.executeQuery()) {
        print(label, rs);
      }
    } catch (SQLException e) {
      error(label, e);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: JdbcClient JDBC_URL");
      System.exit(2);
    }
    try (Connection conn = DriverManager.getConnection(args[0])) {
      conn.setAutoCommit(true);
      try (Statement st = conn.createStatement()) {
        st.execute("SET DateStyle = ISO");
      }

      // The same PreparedStatement executed again and again: after prepareThreshold executions
      // pgjdbc uses a named server-side statement, Bind/Execute without Describe.
      try (PreparedStatement ps = conn.prepareStatement(PATIENTS_SQL)) {
        for (int i = 1; i <= 8; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            print("prepared" + i, rs);
          }
        }
      }
      try (PreparedStatement ps = conn.prepareStatement(PAYMENTS_SQL)) {
        for (int i = 1; i <= 6; i++) {
          ps.setInt(1, 3);
          try (ResultSet rs = ps.executeQuery()) {
            print("payments" + i, rs);
          }
        }
      } catch (SQLException e) {
        error("payments", e);
      }

      // A plain Statement (pgjdbc still uses the extended protocol unless preferQueryMode=simple).
      try (Statement st = conn.createStatement();
           ResultSet rs = st.executeQuery("SELECT id, ssn, email, dob FROM patients ORDER BY id LIMIT 4")) {
        print("statement", rs);
      }

      // A refused column: an SQLException with the SQLSTATE, and the connection still works.
      query(conn, "denied", "SELECT card_number FROM payments WHERE id = ?", 1);
      query(conn, "after-denied", COUNT_SQL, 10);
      query(conn, "sql-error", "SELECT * FROM no_such_table WHERE id = ?", 1);
      query(conn, "after-sql-error", COUNT_SQL, 3);

      // Cursor-based fetching: in a transaction with a fetch size pgjdbc executes the portal
      // three rows at a time (Execute with a row limit, PortalSuspended in between).
      conn.setAutoCommit(false);
      try (PreparedStatement ps = conn.prepareStatement(PATIENTS_SQL)) {
        ps.setFetchSize(3);
        ps.setInt(1, 10);
        try (ResultSet rs = ps.executeQuery()) {
          print("fetch", rs);
        }
      }
      conn.commit();
      // A refused column inside a transaction: the transaction is aborted like on any error.
      query(conn, "denied-in-tx", "SELECT card_number FROM payments WHERE id = ?", 1);
      conn.rollback();
      conn.setAutoCommit(true);

      query(conn, "final", COUNT_SQL, 100);
    } catch (SQLException e) {
      System.err.println("JdbcClient: " + e.getSQLState() + ": " + e.getMessage());
      System.exit(2);
    }
  }
}
