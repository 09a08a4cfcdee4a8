// What kind of statement a parse tree node is, for the proxy's bookkeeping (named statements and
// portals, COPY sub-protocol, search_path changes) and the audit trail's `command`.
#pragma once

#include <string_view>

struct PgQuery__Node;

namespace pgmask::policy {

enum class StatementKind {
  kSelect,
  kInsert,
  kUpdate,
  kDelete,
  kMerge,
  kCopyTo,
  kCopyFrom,
  kCreateTableAs,  // CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW
  kSet,            // SET, RESET, SET ROLE, SET SESSION AUTHORIZATION, SET TRANSACTION
  kShow,
  kDo,
  kCreateFunction,  // CREATE FUNCTION and CREATE PROCEDURE
  kCall,
  kExplain,
  kPrepare,
  kExecute,
  kDeallocate,
  kDeclareCursor,
  kFetch,  // FETCH and MOVE
  kClosePortal,
  kTransaction,  // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION...
  kListen,       // LISTEN and UNLISTEN
  kNotify,
  kUtility,  // DDL and every other utility statement
};

std::string_view StatementKindName(StatementKind kind);

// The kind of one statement of a parse result (RawStmt::stmt).
StatementKind StatementKindOf(const PgQuery__Node& statement);

// Whether running the statement may change what names in later statements resolve to: DDL,
// GRANT, DISCARD, COMMIT PREPARED, ROLLBACK PREPARED and every other utility statement, except
// the few that cannot (VACUUM, LOCK, CREATE INDEX, ...). pgmask analyses a message before the
// server runs any of it.
bool MayRedefineNames(const PgQuery__Node& statement);

}  // namespace pgmask::policy
