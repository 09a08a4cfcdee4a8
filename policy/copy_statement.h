// Recognises `COPY ... TO STDOUT`, the one result that arrives without a RowDescription, and
// derives what the proxy needs to mask it: a SELECT that returns the same columns in the same
// order (to be described by the server, which yields their table OIDs and column numbers), and
// the COPY options that shape the data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/catalog_view.h"
#include "policy/sql_parse.h"

namespace pgmask::policy {

struct CopyToClient {
  std::string describe_sql;
  std::string format = "text";  // text, csv or binary
  std::optional<std::string> delimiter;
  std::optional<std::string> null_string;
  std::optional<std::string> quote;
  std::optional<std::string> escape;
  bool header = false;
  // FORCE_QUOTE: every column (`*`), or the columns of the data it names (table columns of a
  // `COPY table (...)`, output column names of a `COPY (query)`), as the parser spelled them.
  bool force_quote_all = false;
  std::vector<std::string> force_quote;
};

// The COPY TO STDOUT in `sql`, if any. More than one statement with a COPY TO STDOUT among them
// is an error: its data could not be told apart from the other results. `catalog` (when given)
// names the columns of `COPY table TO` when the table has generated ones, which COPY leaves out
// and `SELECT *` would not.
absl::StatusOr<std::optional<CopyToClient>> FindCopyToClient(const ParsedSql& sql,
                                                             const CatalogView* catalog = nullptr);

}  // namespace pgmask::policy
