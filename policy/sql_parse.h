// libpg_query's parser, behind RAII: SQL text in, the typed protobuf tree (pg_query.pb-c.h) out.
// The protobuf form is used instead of JSON because its C structs can be walked without a JSON
// library and without string comparisons on node names.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct PgQuery__ParseResult;

namespace pgmask::policy {

class ParsedSql {
 public:
  // InvalidArgument with PostgreSQL's own syntax error message when the text does not parse.
  static absl::StatusOr<ParsedSql> Parse(std::string_view sql);

  const PgQuery__ParseResult& tree() const { return *tree_; }

 private:
  struct Free {
    void operator()(PgQuery__ParseResult* tree) const;
  };
  explicit ParsedSql(PgQuery__ParseResult* tree) : tree_(tree) {}
  std::unique_ptr<PgQuery__ParseResult, Free> tree_;
};

// The statements of a multi-statement text, each without its `;`, as PostgreSQL's parser splits
// them (strings and comments holding `;` included).
absl::StatusOr<std::vector<std::string>> SplitStatements(std::string_view sql);

}  // namespace pgmask::policy
