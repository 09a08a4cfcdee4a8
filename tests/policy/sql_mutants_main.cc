// pgmask_sql_mutants: the SQL mutants the adversarial suite runs through pgmask.
//
//   pgmask_sql_mutants --graft EXPR [--graft EXPR ...] < statements
//
// Reads one query string per line (one or more statements). For every leaf expression in it
// (leaf_expressions.h) and every graft, prints one JSON line {"path": ..., "statements": [...]}:
// the statements with that leaf replaced by the graft, each deparsed by libpg_query on its own so
// the caller can send them as separate messages. A line or graft that does not parse is an error
// (exit 1); a mutant libpg_query cannot deparse is left out.

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sql_parse.h"
#include "tests/policy/leaf_expressions.h"

namespace {

using pgmask::policy::ParsedSql;

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// One statement of the tree as SQL again, or empty when libpg_query cannot write it back.
std::string Deparse(const PgQuery__ParseResult& whole, size_t statement) {
  PgQuery__ParseResult tree = whole;
  tree.n_stmts = 1;
  tree.stmts = whole.stmts + statement;
  std::string packed(pg_query__parse_result__get_packed_size(&tree), '\0');
  pg_query__parse_result__pack(&tree, reinterpret_cast<uint8_t*>(packed.data()));
  PgQueryProtobuf protobuf{packed.size(), packed.data()};
  PgQueryDeparseResult result = pg_query_deparse_protobuf(protobuf);
  std::string sql = result.error == nullptr && result.query != nullptr ? result.query : "";
  pg_query_free_deparse_result(result);
  return sql;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<ParsedSql> graft_trees;
  std::vector<PgQuery__Node*> grafts;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg != "--graft" || i + 1 == argc) {
      std::cerr << "usage: pgmask_sql_mutants --graft EXPR [--graft EXPR ...] < statements\n";
      return 2;
    }
    auto parsed = ParsedSql::Parse(std::string("SELECT ") + argv[++i]);
    if (!parsed.ok()) {
      std::cerr << "graft " << argv[i] << ": " << parsed.status() << "\n";
      return 1;
    }
    graft_trees.push_back(std::move(*parsed));
    grafts.push_back(graft_trees.back().tree().stmts[0]->stmt->select_stmt->target_list[0]->res_target->val);
  }
  int status = 0;
  size_t undeparsable = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    auto parsed = ParsedSql::Parse(line);
    if (!parsed.ok()) {
      std::cerr << line << ": " << parsed.status() << "\n";
      status = 1;
      continue;
    }
    pgmask::policy::testing::LeafCollector collector;
    for (size_t s = 0; s < parsed->tree().n_stmts; ++s) collector.Message(&parsed->tree().stmts[s]->base);
    for (const pgmask::policy::testing::Leaf& leaf : collector.leaves) {
      PgQuery__Node* original = *leaf.slot;
      for (PgQuery__Node* graft : grafts) {
        *leaf.slot = graft;
        std::string statements;
        bool complete = true;
        for (size_t s = 0; s < parsed->tree().n_stmts && complete; ++s) {
          const std::string sql = Deparse(parsed->tree(), s);
          complete = !sql.empty();
          statements += (s == 0 ? "" : ", ") + JsonString(sql);
        }
        if (!complete) {
          ++undeparsable;
          continue;
        }
        std::cout << "{\"path\": " << JsonString(pgmask::policy::testing::JoinPath(leaf.path))
                  << ", \"statements\": [" << statements << "]}\n";
      }
      *leaf.slot = original;
    }
  }
  if (undeparsable > 0) std::cerr << undeparsable << " mutants libpg_query could not deparse were left out\n";
  return status;
}
