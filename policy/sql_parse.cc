#include "policy/sql_parse.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "absl/status/status.h"
#include "policy/nesting_check.h"

namespace pgmask::policy {

void ParsedSql::Free::operator()(PgQuery__ParseResult* tree) const {
  pg_query__parse_result__free_unpacked(tree, nullptr);
}

absl::StatusOr<ParsedSql> ParsedSql::Parse(std::string_view sql) {
  // Before the parser, which would recurse once per level of a deeply nested statement.
  if (absl::Status depth = CheckNesting(sql); !depth.ok()) return depth;
  // libpg_query wants a NUL-terminated string; wire messages are, but views need not be.
  const std::string text(sql);
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(text.c_str());
  if (result.error != nullptr) {
    absl::Status error = absl::InvalidArgumentError(result.error->message);
    pg_query_free_protobuf_parse_result(result);
    return error;
  }
  PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
      nullptr, result.parse_tree.len, reinterpret_cast<const uint8_t*>(result.parse_tree.data));
  pg_query_free_protobuf_parse_result(result);
  if (tree == nullptr) return absl::InternalError("could not read the parse tree");
  return ParsedSql(tree);
}

absl::StatusOr<std::vector<std::string>> SplitStatements(std::string_view sql) {
  if (absl::Status depth = CheckNesting(sql); !depth.ok()) return depth;
  const std::string text(sql);
  PgQuerySplitResult result = pg_query_split_with_parser(text.c_str());
  if (result.error != nullptr) {
    absl::Status error = absl::InvalidArgumentError(result.error->message);
    pg_query_free_split_result(result);
    return error;
  }
  std::vector<std::string> statements;
  for (int i = 0; i < result.n_stmts; ++i) {
    const PgQuerySplitStmt& st = *result.stmts[i];
    statements.push_back(text.substr(static_cast<size_t>(st.stmt_location), static_cast<size_t>(st.stmt_len)));
  }
  pg_query_free_split_result(result);
  return statements;
}

}  // namespace pgmask::policy
