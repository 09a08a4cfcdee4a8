#include "policy/catalog_view.h"

#include <gtest/gtest.h>

#include "policy/name_resolution.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

TEST(ResolveRelation, FollowsSearchPathWithImplicitSchemas) {
  CatalogData data;
  data.search_path = {"app", "public"};
  data.relations = {testing::Table("public", "t", {"a"}), testing::Table("app", "t", {"b"}),
                    testing::Table("pg_catalog", "pg_class", {"oid"}), testing::Table("public", "pg_class", {"x"}),
                    testing::Table("pg_temp", "t", {"c"})};
  const CatalogView catalog(std::move(data));
  // The session's temp schema comes first unless listed, then pg_catalog unless listed.
  EXPECT_EQ(ResolveRelation(catalog, "", "t")->schema, "pg_temp");
  EXPECT_EQ(ResolveRelation(catalog, "", "pg_class")->schema, "pg_catalog");
  EXPECT_EQ(ResolveRelation(catalog, "public", "t")->columns[0].name, "a");
  EXPECT_EQ(ResolveRelation(catalog, "", "nosuch"), nullptr);
}

TEST(ResolveRelation, ListedImplicitSchemasKeepTheirPlace) {
  CatalogData data;
  data.search_path = {"public", "pg_catalog", "pg_temp"};
  data.relations = {testing::Table("public", "pg_class", {"x"}), testing::Table("pg_catalog", "pg_class", {"oid"}),
                    testing::Table("public", "t", {"a"}), testing::Table("pg_temp", "t", {"c"})};
  const CatalogView catalog(std::move(data));
  EXPECT_EQ(ResolveRelation(catalog, "", "pg_class")->schema, "public");
  EXPECT_EQ(ResolveRelation(catalog, "", "t")->schema, "public");
}

TEST(ResolveFunction, Origins) {
  const CatalogView catalog(testing::TestCatalogData());
  EXPECT_EQ(ResolveFunction(catalog, "", "upper"), FunctionOrigin::kBuiltin);
  EXPECT_EQ(ResolveFunction(catalog, "pg_catalog", "lower"), FunctionOrigin::kBuiltin);
  // public.lower may win over pg_catalog.lower by argument types: user-defined, fail closed.
  EXPECT_EQ(ResolveFunction(catalog, "", "lower"), FunctionOrigin::kUserDefined);
  EXPECT_EQ(ResolveFunction(catalog, "public", "safe_fn"), FunctionOrigin::kUserDefined);
  EXPECT_EQ(ResolveFunction(catalog, "", "mystery"), FunctionOrigin::kUnknown);
  EXPECT_EQ(ResolveFunction(catalog, "pg_catalog", "mystery"), FunctionOrigin::kUnknown);
}

TEST(ResolveFunction, FunctionsOffTheSearchPathDoNotShadow) {
  CatalogData data = testing::TestCatalogData({"billing"});
  const CatalogView catalog(std::move(data));
  EXPECT_EQ(ResolveFunction(catalog, "", "lower"), FunctionOrigin::kBuiltin);
}

TEST(ColumnProtection, FollowsPartitionsBothWays) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  bool everything = false;
  const ProtectedColumnSet child =
      ColumnProtection(catalog, *policy, *catalog.Find("public", "measurements_2024"), "reading", everything);
  EXPECT_EQ(testing::Columns(*policy, child), "measurements.reading");
  const ProtectedColumnSet parent = ColumnProtection(catalog, *policy, *catalog.Find("public", "events"), "detail", everything);
  EXPECT_EQ(testing::Columns(*policy, parent), "events_2024.detail");
  EXPECT_TRUE(ColumnProtection(catalog, *policy, *catalog.Find("public", "events"), "id", everything).empty());
  EXPECT_FALSE(everything);
}

TEST(ColumnProtection, MultipleInheritanceVisitsEachRelationOnce) {
  const auto policy = testing::TestPolicy();
  CatalogData data = testing::TestCatalogData();
  data.relations.push_back(testing::Table("public", "a", {"reading"}, RelationKind::kTable, "", {{"public", "measurements"}}));
  data.relations.push_back(
      testing::Table("public", "b", {"reading"}, RelationKind::kTable, "", {{"public", "a"}, {"public", "measurements"}}));
  const CatalogView catalog(std::move(data));
  bool everything = false;
  const ProtectedColumnSet set = ColumnProtection(catalog, *policy, *catalog.Find("public", "b"), "reading", everything);
  EXPECT_EQ(testing::Columns(*policy, set), "measurements.reading");
  EXPECT_FALSE(everything);
}

TEST(OfflineCatalog, KnowsThePolicyTablesOnly) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog = OfflineCatalog(*policy);
  const CatalogRelation* patients = ResolveRelation(catalog, "", "patients");
  ASSERT_NE(patients, nullptr);
  EXPECT_FALSE(patients->columns_complete);
  EXPECT_EQ(patients->columns.size(), 4u);
  EXPECT_EQ(ResolveRelation(catalog, "", "payments"), nullptr);
  EXPECT_NE(ResolveRelation(catalog, "billing", "payments"), nullptr);
  EXPECT_FALSE(catalog.data().lists_every_relation);
  EXPECT_EQ(ResolveFunction(catalog, "", "upper"), FunctionOrigin::kBuiltin);
  EXPECT_EQ(ResolveFunction(catalog, "public", "f"), FunctionOrigin::kUnknown);
}

}  // namespace
}  // namespace pgmask::policy
