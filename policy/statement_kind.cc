#include "policy/statement_kind.h"

#include <pg_query/pg_query.pb-c.h>

namespace pgmask::policy {

std::string_view StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kSelect: return "select";
    case StatementKind::kInsert: return "insert";
    case StatementKind::kUpdate: return "update";
    case StatementKind::kDelete: return "delete";
    case StatementKind::kMerge: return "merge";
    case StatementKind::kCopyTo: return "copy-to";
    case StatementKind::kCopyFrom: return "copy-from";
    case StatementKind::kCreateTableAs: return "create-table-as";
    case StatementKind::kSet: return "set";
    case StatementKind::kShow: return "show";
    case StatementKind::kDo: return "do";
    case StatementKind::kCreateFunction: return "create-function";
    case StatementKind::kCall: return "call";
    case StatementKind::kExplain: return "explain";
    case StatementKind::kPrepare: return "prepare";
    case StatementKind::kExecute: return "execute";
    case StatementKind::kDeallocate: return "deallocate";
    case StatementKind::kDeclareCursor: return "declare-cursor";
    case StatementKind::kFetch: return "fetch";
    case StatementKind::kClosePortal: return "close";
    case StatementKind::kTransaction: return "transaction";
    case StatementKind::kListen: return "listen";
    case StatementKind::kNotify: return "notify";
    case StatementKind::kUtility: return "utility";
  }
  return "utility";
}

StatementKind StatementKindOf(const PgQuery__Node& statement) {
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
      // SELECT INTO stays a SelectStmt in the raw tree; PostgreSQL runs it as CREATE TABLE AS.
      return statement.select_stmt->into_clause != nullptr ? StatementKind::kCreateTableAs
                                                           : StatementKind::kSelect;
    case PG_QUERY__NODE__NODE_INSERT_STMT: return StatementKind::kInsert;
    case PG_QUERY__NODE__NODE_UPDATE_STMT: return StatementKind::kUpdate;
    case PG_QUERY__NODE__NODE_DELETE_STMT: return StatementKind::kDelete;
    case PG_QUERY__NODE__NODE_MERGE_STMT: return StatementKind::kMerge;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      return statement.copy_stmt->is_from ? StatementKind::kCopyFrom : StatementKind::kCopyTo;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: return StatementKind::kCreateTableAs;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: return StatementKind::kSet;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: return StatementKind::kShow;
    case PG_QUERY__NODE__NODE_DO_STMT: return StatementKind::kDo;
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT: return StatementKind::kCreateFunction;
    case PG_QUERY__NODE__NODE_CALL_STMT: return StatementKind::kCall;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: return StatementKind::kExplain;
    case PG_QUERY__NODE__NODE_PREPARE_STMT: return StatementKind::kPrepare;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT: return StatementKind::kExecute;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT: return StatementKind::kDeallocate;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT: return StatementKind::kDeclareCursor;
    case PG_QUERY__NODE__NODE_FETCH_STMT: return StatementKind::kFetch;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: return StatementKind::kClosePortal;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: return StatementKind::kTransaction;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT: return StatementKind::kListen;
    case PG_QUERY__NODE__NODE_NOTIFY_STMT: return StatementKind::kNotify;
    default: return StatementKind::kUtility;
  }
}

bool MayRedefineNames(const PgQuery__Node& statement) {
  if (statement.node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT) {
    // They commit or undo a prepared transaction pgmask did not follow, whose DDL may be anyone's.
    const PgQuery__TransactionStmtKind kind = statement.transaction_stmt->kind;
    return kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED ||
           kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED;
  }
  if (StatementKindOf(statement) != StatementKind::kUtility) return false;
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
    case PG_QUERY__NODE__NODE_LOCK_STMT:
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
    case PG_QUERY__NODE__NODE_INDEX_STMT:
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
    case PG_QUERY__NODE__NODE_COMMENT_STMT:
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
      return false;
    default:
      return true;
  }
}

}  // namespace pgmask::policy
