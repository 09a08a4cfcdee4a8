#include "policy/live_catalog.h"

#include <gtest/gtest.h>
#include <pg_query/pg_query.pb-c.h>

#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sql_parse.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

using Row = std::vector<std::optional<std::string_view>>;

absl::Status Add(LiveCatalogReader& reader, Row row) { return reader.AddRow(row); }

TEST(LiveCatalogQuery, FingerprintIsKeyedAndCoversForeignKeys) {
  const auto policy = testing::TestPolicy();
  const std::string sql = LiveCatalogQuery(*policy, "");
  // A plain sum of transaction ids can be balanced by DDL timed to get the right ids.
  EXPECT_EQ(sql.find("sum(xmin"), std::string::npos);
  EXPECT_NE(sql.find("sum(pg_catalog.hashint8extended(xmin::pg_catalog.text::pg_catalog.int8, "), std::string::npos);
  EXPECT_NE(sql.find("FROM pg_catalog.pg_constraint)"), std::string::npos);
  // The session's temporary relations, which unqualified names may mean.
  EXPECT_NE(sql.find("pg_catalog.pg_my_temp_schema()"), std::string::npos);
  // One key for the process: fingerprints of different reads compare.
  EXPECT_EQ(sql, LiveCatalogQuery(*policy, ""));
}

TEST(LiveCatalogQuery, ReadsTheSharedPartOnlyWhenTheFingerprintChanged) {
  const auto policy = testing::TestPolicy();
  const std::string sql = LiveCatalogQuery(*policy, "12.34/it's");
  // The known fingerprint is quoted safely, and compared in every statement of the shared part.
  EXPECT_NE(sql.find("<> E'12.34/it''s'"), std::string::npos);
  size_t comparisons = 0;
  for (size_t at = sql.find("<> E'12.34"); at != std::string::npos; at = sql.find("<> E'12.34", at + 1)) ++comparisons;
  EXPECT_EQ(comparisons, 9u);
  // search_path is emptied before anything else runs, and restored last.
  EXPECT_LT(sql.find("set_config('search_path', '', true)"), sql.find("'v'"));
  EXPECT_NE(sql.rfind("pgmask.saved_search_path"), sql.find("pgmask.saved_search_path"));
  EXPECT_NE(sql.find("E'public', E'patients', E'ssn'"), std::string::npos) << sql;
}

// A lock held on a view (by a prepared transaction, for one) must not stop the read for good.
TEST(LiveCatalogQuery, WaitsForLocksOnlyAsLongAsItsTimeout) {
  const auto policy = testing::TestPolicy();
  const std::string sql = LiveCatalogQuery(*policy, "", absl::Milliseconds(1500));
  const size_t viewdef = sql.find("pg_get_viewdef");
  EXPECT_LT(sql.find("set_config('lock_timeout', '1500ms', true)"), viewdef) << sql;
  EXPECT_LT(sql.find("set_config('statement_timeout', '3000ms', true)"), viewdef) << sql;
  // The client's own values are back at the end, for the rest of its transaction block.
  EXPECT_GT(sql.rfind("current_setting('pgmask.saved_lock_timeout')"), viewdef) << sql;
  EXPECT_GT(sql.rfind("current_setting('pgmask.saved_statement_timeout')"), viewdef) << sql;
}

// The String nodes of a name list, joined with dots.
std::string DottedName(PgQuery__Node* const* nodes, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (nodes[i]->node_case != PG_QUERY__NODE__NODE_STRING) continue;
    out += (out.empty() ? "" : ".") + std::string(nodes[i]->string->sval);
  }
  return out;
}

// Every type, function and relation name in `message` that does not start with pg_catalog.
void CollectUnqualified(const ProtobufCMessage* message, std::vector<std::string>& out) {
  if (message == nullptr) return;
  if (message->descriptor == &pg_query__type_name__descriptor) {
    const auto* t = reinterpret_cast<const PgQuery__TypeName*>(message);
    const std::string name = DottedName(t->names, t->n_names);
    if (name.rfind("pg_catalog.", 0) != 0) out.push_back("type " + name);
  } else if (message->descriptor == &pg_query__func_call__descriptor) {
    const auto* f = reinterpret_cast<const PgQuery__FuncCall*>(message);
    const std::string name = DottedName(f->funcname, f->n_funcname);
    if (name.rfind("pg_catalog.", 0) != 0) out.push_back("function " + name);
  } else if (message->descriptor == &pg_query__range_var__descriptor) {
    // pgmask_member is the query's own CTE, which no relation can shadow.
    const auto* r = reinterpret_cast<const PgQuery__RangeVar*>(message);
    const std::string schema = r->schemaname != nullptr ? r->schemaname : "";
    const std::string relation = r->relname != nullptr ? r->relname : "";
    if (schema != "pg_catalog" && relation != "pgmask_member") out.push_back("relation " + relation);
  }
  const ProtobufCMessageDescriptor* d = message->descriptor;
  const char* base = reinterpret_cast<const char*>(message);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      const size_t count = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
      const auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      for (size_t k = 0; k < count; ++k) CollectUnqualified(items[k], out);
      continue;
    }
    if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id) {
      continue;
    }
    CollectUnqualified(*reinterpret_cast<ProtobufCMessage* const*>(base + f.offset), out);
  }
}

// The query runs on the user's own connection, where pg_temp (searched first for types and
// relations) or a schema of the user's search_path could shadow an unqualified name:
// CREATE DOMAIN pg_temp.text AS varchar(8) truncated the role names it read.
TEST(LiveCatalogQuery, QualifiesEveryTypeFunctionAndRelation) {
  const auto policy = testing::TestPolicy();
  const std::string sql = LiveCatalogQuery(*policy, "12.34");
  const std::regex unqualified_cast("::(?!pg_catalog\\.)");
  EXPECT_FALSE(std::regex_search(sql, unqualified_cast)) << sql;
  auto parsed = ParsedSql::Parse(sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  std::vector<std::string> unqualified;
  CollectUnqualified(&parsed->tree().base, unqualified);
  EXPECT_TRUE(unqualified.empty()) << unqualified.front();
}

TEST(LiveCatalogReader, FoldsEveryPart) {
  const auto policy = testing::TestPolicy();
  LiveCatalogReader reader(*policy);
  ASSERT_TRUE(Add(reader, {"x", "\"$user\", public"}).ok());
  ASSERT_TRUE(Add(reader, {"s", "public", "2"}).ok());
  ASSERT_TRUE(Add(reader, {"s", "app", "1"}).ok());
  ASSERT_TRUE(Add(reader, {"t", "scratch"}).ok());
  ASSERT_TRUE(Add(reader, {"v", "10.20/30"}).ok());
  ASSERT_TRUE(Add(reader, {"r", "alice", std::nullopt, std::nullopt, std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(Add(reader, {"r", "analyst", std::nullopt, std::nullopt, std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(Add(reader, {"c", std::nullopt, "16400", "2", "0", "0"}).ok());
  ASSERT_TRUE(Add(reader, {"R", "16400", "public", "patients", "r", std::nullopt, "false"}).ok());
  ASSERT_TRUE(Add(reader, {"R", "16500", "public", "v", "v", " SELECT patients.ssn FROM public.patients;", "false"}).ok());
  ASSERT_TRUE(Add(reader, {"R", "11000", "pg_catalog", "pg_stats", "v", std::nullopt, "false"}).ok());
  ASSERT_TRUE(Add(reader, {"R", "16600", "public", "child", "r", std::nullopt, "false"}).ok());
  ASSERT_TRUE(Add(reader, {"A", "16400", "id", "1", ""}).ok());
  ASSERT_TRUE(Add(reader, {"A", "16400", "ssn", "2", ""}).ok());
  ASSERT_TRUE(Add(reader, {"A", "16400", "ssn_length", "3", "s"}).ok());
  ASSERT_TRUE(Add(reader, {"G", "16400", "3", "2"}).ok());
  ASSERT_TRUE(Add(reader, {"G", "99999", "3", "2"}).ok());  // created between statements
  ASSERT_TRUE(Add(reader, {"U", "16400", "2"}).ok());
  ASSERT_TRUE(Add(reader, {"U", "99999", "1"}).ok());  // created between statements
  ASSERT_TRUE(Add(reader, {"A", "16600", "patient_ssn", "1", ""}).ok());
  ASSERT_TRUE(Add(reader, {"K", "16600", "1", "16400", "2"}).ok());
  ASSERT_TRUE(Add(reader, {"K", "16600", "1", "99999", "1"}).ok());  // created between statements
  ASSERT_TRUE(Add(reader, {"A", "99999", "gone", "1", ""}).ok());  // created between statements
  ASSERT_TRUE(Add(reader, {"P", "16600", "16400"}).ok());
  ASSERT_TRUE(Add(reader, {"F", "pg_catalog", "upper"}).ok());
  ASSERT_TRUE(Add(reader, {"O", "public", "###"}).ok());
  auto catalog = std::move(reader).Finish();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->search_path, (std::vector<std::string>{"app", "public"}));
  EXPECT_EQ(catalog->temporary, (std::vector<std::string>{"scratch"}));
  EXPECT_EQ(catalog->fingerprint, "10.20/30");
  EXPECT_EQ(catalog->roles, (std::vector<std::string>{"alice", "analyst"}));
  ASSERT_EQ(catalog->protected_columns.size(), 1u);
  EXPECT_EQ(catalog->protected_columns[0].table_oid, 16400u);
  EXPECT_EQ(catalog->protected_columns[0].attnum, 2);
  ASSERT_TRUE(catalog->shared.has_value());
  const CatalogView view(std::make_shared<const CatalogSnapshot>(*std::move(catalog->shared)), catalog->search_path);
  const CatalogRelation* patients = view.Find("public", "patients");
  ASSERT_NE(patients, nullptr);
  ASSERT_EQ(patients->columns.size(), 3u);
  EXPECT_EQ(patients->columns[1].name, "ssn");
  EXPECT_FALSE(patients->columns[1].generated);
  EXPECT_TRUE(patients->columns[2].generated);
  EXPECT_TRUE(patients->columns[1].generated_from.empty());
  EXPECT_EQ(patients->columns[2].generated_from, (std::vector<int16_t>{2}));
  EXPECT_FALSE(patients->columns[0].unique);
  EXPECT_TRUE(patients->columns[1].unique);
  const CatalogRelation* child = view.Find("public", "child");
  ASSERT_NE(child, nullptr);
  ASSERT_EQ(child->columns.size(), 1u);
  EXPECT_EQ(child->columns[0].references,
            (std::vector<CatalogColumn::Reference>{{"public", "patients", "ssn"}}));
  EXPECT_TRUE(patients->columns[1].references.empty());
  EXPECT_EQ(view.Find("public", "v")->kind, RelationKind::kView);
  // A system view without a definition reads like a table.
  EXPECT_EQ(view.Find("pg_catalog", "pg_stats")->kind, RelationKind::kTable);
  ASSERT_EQ(view.Children(*patients).size(), 1u);
  EXPECT_EQ(view.Children(*patients)[0]->name, "child");
  EXPECT_TRUE(view.HasFunction("pg_catalog", "upper"));
  EXPECT_TRUE(view.HasFunction("public", OperatorFunctionName("###")));
  EXPECT_TRUE(view.data().lists_every_relation);
  EXPECT_TRUE(view.data().lists_every_function);
}

TEST(LiveCatalogReader, WithoutTheSharedPart) {
  const auto policy = testing::TestPolicy();
  LiveCatalogReader reader(*policy);
  ASSERT_TRUE(Add(reader, {"v", "1.2"}).ok());
  ASSERT_TRUE(Add(reader, {"r", "alice", std::nullopt, std::nullopt, std::nullopt, std::nullopt}).ok());
  auto catalog = std::move(reader).Finish();
  ASSERT_TRUE(catalog.ok());
  EXPECT_FALSE(catalog->shared.has_value());
}

TEST(LiveCatalogReader, RefusesWhatItDoesNotKnow) {
  const auto policy = testing::TestPolicy();
  for (const Row& row : std::vector<Row>{{},
                                         {std::nullopt},
                                         {"?"},
                                         {"zz", "1"},
                                         {"s", "public"},
                                         {"s", "public", "x"},
                                         {"t"},
                                         {"t", std::nullopt},
                                         {"v"},
                                         {"c", std::nullopt, "1", "2", "99", "0"},
                                         {"c", std::nullopt, "oid", "2", "0", "0"},
                                         {"R", "1", "public", "t", "rr", std::nullopt, "false"},
                                         {"R", "1", "public"},
                                         {"A", "1", "a"},
                                         {"A", "1", "a", "1"},
                                         {"A", "1", "a", "1", std::nullopt},
                                         {"G", "1", "2"},
                                         {"G", "1", "2", "x"},
                                         {"U", "1"},
                                         {"U", "1", "x"},
                                         {"K", "1", "1", "2"},
                                         {"K", "1", "1", "2", "x"},
                                         {"P", "1"},
                                         {"F", "pg_catalog", "upper"}}) {
    LiveCatalogReader reader(*policy);
    EXPECT_FALSE(reader.AddRow(row).ok()) << (row.empty() || !row[0] ? "" : *row[0]);
  }
  LiveCatalogReader duplicate(*policy);
  ASSERT_TRUE(Add(duplicate, {"R", "1", "public", "t", "r", std::nullopt, "false"}).ok());
  EXPECT_FALSE(Add(duplicate, {"R", "1", "public", "t", "r", std::nullopt, "false"}).ok());
  // No fingerprint or no identity: the query did not run to the end.
  LiveCatalogReader empty(*policy);
  EXPECT_FALSE(std::move(empty).Finish().ok());
}

}  // namespace
}  // namespace pgmask::policy
