#include "policy/copy_statement.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "policy/function_rules.h"
#include "policy/identifier.h"
#include "policy/name_resolution.h"

namespace pgmask::policy {
namespace {

const PgQuery__CopyStmt* AsCopyToClient(const PgQuery__RawStmt* raw) {
  if (raw == nullptr || raw->stmt == nullptr || raw->stmt->node_case != PG_QUERY__NODE__NODE_COPY_STMT) return nullptr;
  const PgQuery__CopyStmt* copy = raw->stmt->copy_stmt;
  // No file name and not a program: the data goes to the client.
  const bool to_client = !copy->is_from && !copy->is_program && (copy->filename == nullptr || copy->filename[0] == '\0');
  return to_client ? copy : nullptr;
}

// The text of a query subtree, through libpg_query's deparser.
absl::StatusOr<std::string> Deparse(PgQuery__Node* query, int32_t version) {
  PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
  raw.stmt = query;
  PgQuery__RawStmt* stmts[] = {&raw};
  PgQuery__ParseResult result = PG_QUERY__PARSE_RESULT__INIT;
  result.version = version;
  result.n_stmts = 1;
  result.stmts = stmts;
  std::vector<uint8_t> packed(pg_query__parse_result__get_packed_size(&result));
  pg_query__parse_result__pack(&result, packed.data());
  PgQueryProtobuf protobuf{packed.size(), reinterpret_cast<char*>(packed.data())};
  PgQueryDeparseResult deparsed = pg_query_deparse_protobuf(protobuf);
  if (deparsed.error != nullptr) {
    pg_query_free_deparse_result(deparsed);
    return absl::InvalidArgumentError("the query of this COPY cannot be analysed");
  }
  std::string text = deparsed.query;
  pg_query_free_deparse_result(deparsed);
  return text;
}

std::string RelationText(const PgQuery__RangeVar* rv) {
  std::string name;
  if (rv->schemaname != nullptr && rv->schemaname[0] != '\0') {
    name = QuoteIdentifierIfNeeded(rv->schemaname) + ".";
  }
  return name + QuoteIdentifierIfNeeded(rv->relname);
}

std::optional<std::string> StringArg(const PgQuery__Node* arg) {
  if (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_STRING) return std::string(arg->string->sval);
  return std::nullopt;
}

bool TruthArg(const PgQuery__Node* arg) {
  if (arg == nullptr) return true;  // `HEADER` alone
  switch (arg->node_case) {
    case PG_QUERY__NODE__NODE_BOOLEAN:
      return arg->boolean->boolval;
    case PG_QUERY__NODE__NODE_INTEGER:
      return arg->integer->ival != 0;
    case PG_QUERY__NODE__NODE_STRING: {
      const std::string_view v = arg->string->sval;
      return v == "true" || v == "on" || v == "1" || v == "match";
    }
    default:
      return true;
  }
}

// The columns `COPY table TO` sends when the table has generated ones (it leaves those out), as
// a select list; empty when `*` describes them as well, or the table is not known.
std::string StoredColumnList(const CatalogView& catalog, const PgQuery__RangeVar* rv) {
  const CatalogRelation* relation = ResolveRelation(catalog, rv->schemaname != nullptr ? rv->schemaname : "", rv->relname);
  if (relation == nullptr) return {};
  bool any_generated = false;
  std::string columns;
  for (const CatalogColumn& c : relation->columns) {
    any_generated = any_generated || c.generated;
    if (c.generated) continue;
    if (!columns.empty()) columns += ", ";
    columns += QuoteIdentifierIfNeeded(c.name);
  }
  return any_generated && relation->columns_complete ? columns : std::string();
}

}  // namespace

absl::StatusOr<std::optional<CopyToClient>> FindCopyToClient(const ParsedSql& sql, const CatalogView* catalog) {
  const PgQuery__ParseResult& tree = sql.tree();
  const PgQuery__CopyStmt* copy = nullptr;
  for (size_t i = 0; i < tree.n_stmts; ++i) {
    if (const PgQuery__CopyStmt* c = AsCopyToClient(tree.stmts[i]); c != nullptr) {
      if (tree.n_stmts != 1) return absl::InvalidArgumentError("COPY TO STDOUT must be sent as a statement of its own");
      copy = c;
    }
  }
  if (copy == nullptr) return std::nullopt;
  CopyToClient out;
  if (copy->query != nullptr) {
    auto text = Deparse(copy->query, tree.version);
    if (!text.ok()) return text.status();
    out.describe_sql = *std::move(text);
  } else if (copy->relation != nullptr) {
    std::string columns;
    for (size_t i = 0; i < copy->n_attlist; ++i) {
      const std::optional<std::string> column = StringArg(copy->attlist[i]);
      if (!column) return absl::InvalidArgumentError("unexpected COPY column list");
      if (!columns.empty()) columns += ", ";
      columns += QuoteIdentifierIfNeeded(*column);
    }
    if (copy->n_attlist == 0 && catalog != nullptr) columns = StoredColumnList(*catalog, copy->relation);
    out.describe_sql = "SELECT " + (columns.empty() ? std::string("*") : columns) + " FROM " +
                       RelationText(copy->relation);
  } else {
    return absl::InvalidArgumentError("unexpected COPY statement");
  }
  for (size_t i = 0; i < copy->n_options; ++i) {
    const PgQuery__Node* n = copy->options[i];
    if (n->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const std::string_view name = n->def_elem->defname;
    const PgQuery__Node* arg = n->def_elem->arg;
    if (name == "format") {
      out.format = StringArg(arg).value_or("text");
    } else if (name == "delimiter") {
      out.delimiter = StringArg(arg);
    } else if (name == "null") {
      out.null_string = StringArg(arg);
    } else if (name == "quote") {
      out.quote = StringArg(arg);
    } else if (name == "escape") {
      out.escape = StringArg(arg);
    } else if (name == "header") {
      out.header = TruthArg(arg);
    } else if (name == "force_quote") {
      // `FORCE_QUOTE *` or a list of names; the server refuses any other argument.
      if (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_A_STAR) {
        out.force_quote_all = true;
      } else if (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_LIST) {
        for (size_t j = 0; j < arg->list->n_items; ++j) {
          const std::optional<std::string> column = StringArg(arg->list->items[j]);
          if (!column) return absl::InvalidArgumentError("unexpected COPY FORCE_QUOTE column list");
          out.force_quote.push_back(*column);
        }
      } else {
        return absl::InvalidArgumentError("unexpected COPY FORCE_QUOTE argument");
      }
    } else if (name == "encoding") {
      // The codecs read the data as UTF-8. In an encoding whose multibyte characters embed ASCII
      // bytes (SJIS, BIG5, GBK...) a delimiter, quote or backslash byte inside a character
      // would shift the fields, and a protected one would pass as an unprotected one.
      const std::optional<std::string> encoding = StringArg(arg);
      if (!encoding || !IsUtf8EncodingName(*encoding)) {
        return absl::InvalidArgumentError(
            "COPY with an ENCODING other than UTF8 is refused: pgmask reads COPY data as UTF8, the only "
            "client_encoding it allows");
      }
    }
  }
  return out;
}

}  // namespace pgmask::policy
