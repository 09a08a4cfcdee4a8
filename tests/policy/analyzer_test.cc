#include "policy/analyzer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/sql_parse.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

using testing::RenderOutputs;
using testing::RenderUsages;
using testing::RenderWrites;

struct Case {
  std::string name;
  std::string sql;
  std::string outputs;       // RenderOutputs
  std::string usages = "";   // RenderUsages
  std::string refusal = "";  // substring of the first refusal trigger; empty: none
  std::string writes = "";   // RenderWrites
  std::vector<std::string> search_path = {"public"};
  std::vector<std::string> temporary = {};  // the session's temporary relations
};

class AnalyzerTest : public ::testing::TestWithParam<Case> {};

TEST_P(AnalyzerTest, Analyses) {
  const Case& c = GetParam();
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData(c.search_path);
  data.temporary = c.temporary;
  const CatalogView catalog(std::move(data));
  auto parsed = ParsedSql::Parse(c.sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<StatementAnalysis> analyses = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(analyses.size(), 1u);
  const StatementAnalysis& a = analyses[0];
  EXPECT_EQ(RenderOutputs(*policy, a), c.outputs);
  EXPECT_EQ(RenderUsages(*policy, a), c.usages);
  EXPECT_EQ(RenderWrites(*policy, a), c.writes);
  if (c.refusal.empty()) {
    EXPECT_TRUE(a.refusals.empty()) << a.refusals.front();
  } else {
    ASSERT_FALSE(a.refusals.empty());
    EXPECT_NE(a.refusals.front().find(c.refusal), std::string::npos) << a.refusals.front();
  }
}

const std::string kPatientsStar =
    "id:-, name:-, ssn:D(patients.ssn), email:D(patients.email), diagnosis:D(patients.diagnosis), dob:-, "
    "insurer_id:D(patients.insurer_id)";

INSTANTIATE_TEST_SUITE_P(
    Lineage, AnalyzerTest,
    ::testing::Values(
        Case{"PlainColumn", "SELECT ssn FROM patients", "ssn:D(patients.ssn)"},
        Case{"Unprotected", "SELECT id, name FROM patients", "id:-, name:-"},
        Case{"Alias", "SELECT p.ssn AS s FROM patients p", "s:D(patients.ssn)"},
        Case{"SchemaQualified", "SELECT public.patients.ssn FROM public.patients", "ssn:D(patients.ssn)"},
        Case{"QuotedIdentifier", "SELECT \"ssn\" FROM \"patients\"", "ssn:D(patients.ssn)"},
        Case{"CaseFolding", "SELECT SSN FROM Patients", "ssn:D(patients.ssn)"},
        Case{"QuotedUpperCaseIsAnotherColumn", "SELECT \"SSN\" FROM patients", "SSN:*"},
        Case{"Star", "SELECT * FROM patients", kPatientsStar},
        Case{"TableSyntax", "TABLE patients", kPatientsStar},
        Case{"QualifiedStar", "SELECT v.*, p.id FROM patients p JOIN visits v ON v.patient_id = p.id",
             "id:-, patient_id:-, ssn:-, note:-, id:-"},
        Case{"WholeRow", "SELECT p FROM patients p",
             "p:R(patients.ssn,patients.email,patients.diagnosis,patients.insurer_id)"},
        Case{"WholeRowInFunction", "SELECT row_to_json(p) FROM patients p",
             "row_to_json:R(patients.ssn,patients.email,patients.diagnosis,patients.insurer_id)"},
        Case{"FieldOfWholeRow", "SELECT (p).ssn FROM patients p",
             "ssn:R(patients.ssn,patients.email,patients.diagnosis,patients.insurer_id)"},
        Case{"Function", "SELECT upper(email) FROM patients", "upper:R(patients.email)"},
        Case{"Cast", "SELECT ssn::text FROM patients", "ssn:R(patients.ssn)"},
        Case{"Collate", "SELECT ssn COLLATE \"C\" AS s FROM patients", "s:R(patients.ssn)"},
        Case{"Concatenation", "SELECT ssn || email AS x FROM patients", "x:R(patients.ssn,patients.email)"},
        Case{"Aggregates", "SELECT count(ssn), count(*) FROM patients", "count:R(patients.ssn), count:-"},
        Case{"WindowFunction", "SELECT first_value(email) OVER (ORDER BY dob) FROM patients",
             "first_value:R(patients.email)"},
        Case{"CaseResult", "SELECT CASE WHEN id > 1 THEN ssn ELSE 'x' END AS c FROM patients", "c:R(patients.ssn)"},
        Case{"Coalesce", "SELECT coalesce(email, name) FROM patients", "coalesce:R(patients.email)"},
        Case{"RowConstructor", "SELECT ROW(ssn, id) FROM patients", "row:R(patients.ssn)"},
        Case{"JsonConstructor", "SELECT json_build_object('s', ssn) FROM patients", "json_build_object:R(patients.ssn)"},
        Case{"XmlConstructor", "SELECT xmlelement(name x, email) FROM patients", "xmlelement:R(patients.email)"},
        Case{"ArrayConstructor", "SELECT ARRAY[ssn] FROM patients", "array:R(patients.ssn)"},
        Case{"Subscript", "SELECT (ARRAY[ssn])[1] AS s FROM patients", "s:R(patients.ssn)", "COND:patients.ssn"},
        Case{"Subquery", "SELECT s FROM (SELECT ssn AS s FROM patients) q", "s:D(patients.ssn)"},
        Case{"SubqueryColumnAliases", "SELECT a FROM (SELECT ssn FROM patients) q(a)", "a:D(patients.ssn)"},
        Case{"ScalarSubquery", "SELECT (SELECT card_number FROM billing.payments LIMIT 1) AS c",
             "c:D(payments.card_number)"},
        Case{"ArraySubquery", "SELECT ARRAY(SELECT email FROM patients)", "array:R(patients.email)"},
        Case{"Cte", "WITH c AS (SELECT email FROM patients) SELECT email FROM c", "email:D(patients.email)"},
        Case{"CteColumnNames", "WITH c(e) AS (SELECT email FROM patients) SELECT e FROM c", "e:D(patients.email)"},
        Case{"CteShadowsTable", "WITH patients AS (SELECT 1 AS ssn) SELECT ssn FROM patients", "ssn:-"},
        Case{"CteSeesEarlierCte",
             "WITH a AS (SELECT ssn FROM patients), b AS (SELECT ssn AS x FROM a) SELECT x FROM b",
             "x:D(patients.ssn)"},
        Case{"RecursiveCte",
             "WITH RECURSIVE r(n, s) AS (SELECT 1, ''::text UNION ALL "
             "SELECT n + 1, s || (SELECT ssn FROM patients LIMIT 1) FROM r WHERE n < 3) SELECT n, s FROM r",
             "n:-, s:R(patients.ssn)"},
        Case{"RecursiveCteDirect",
             "WITH RECURSIVE r AS (SELECT ssn FROM patients UNION SELECT ssn FROM r) SELECT * FROM r",
             "ssn:D(patients.ssn)", "DISTINCT=:patients.ssn"},
        // Rows of a literal beside rows of email are not email's values alone: shown tokenized,
        // the literal would be tokenized too, and an equality join would compare with it.
        Case{"UnionBranch", "SELECT 'x' UNION ALL SELECT email FROM patients", "?column?:R(patients.email)"},
        Case{"UnionOfAColumnAndAnUnprotectedOne", "SELECT email FROM patients UNION ALL SELECT note FROM visits",
             "email:R(patients.email)"},
        Case{"ValuesMixingAColumnAndALiteral", "SELECT * FROM (VALUES ((SELECT ssn FROM patients LIMIT 1)), ('x')) v",
             "column1:R(patients.ssn)"},
        Case{"RecursiveCteWithALiteralBranch",
             "WITH RECURSIVE t(v, n) AS (SELECT ssn, 1 FROM patients UNION ALL SELECT 'x', n + 1 FROM t WHERE n < 3) "
             "SELECT v FROM t",
             "v:R(patients.ssn)"},
        Case{"UnionOfTwoColumnsIsDerived", "SELECT ssn FROM patients UNION ALL SELECT email FROM patients",
             "ssn:R(patients.ssn,patients.email)"},
        Case{"UnionRemovesDuplicates", "SELECT ssn FROM patients UNION SELECT ssn FROM patients",
             "ssn:D(patients.ssn)", "DISTINCT=:patients.ssn"},
        Case{"Intersect", "SELECT ssn FROM patients INTERSECT SELECT '123'", "ssn:D(patients.ssn)",
             "SETOP:patients.ssn"},
        Case{"ExceptBetweenProtected", "SELECT ssn FROM patients EXCEPT SELECT ssn FROM patients",
             "ssn:D(patients.ssn)", "SETOP=:patients.ssn"},
        Case{"LateralSubquery", "SELECT x.s FROM patients p, LATERAL (SELECT p.ssn AS s) x", "s:D(patients.ssn)"},
        Case{"FunctionInFromSeesEarlierItems", "SELECT u FROM patients p, unnest(ARRAY[p.email]) u",
             "u:R(patients.email)", "FALLIBLE:patients.email"},
        Case{"UntrustedFunctionInFrom", "SELECT * FROM evil_fn()", "*+:*", "", "evil_fn"},
        Case{"BuiltinSetReturningFunction", "SELECT * FROM generate_series(1, 3)", "*+:-"},
        Case{"Values", "SELECT * FROM (VALUES (1, 'a')) v(x, y)", "x:-, y:-"},
        Case{"JoinUsing", "SELECT * FROM patients p JOIN visits v USING (ssn)",
             "ssn:D(patients.ssn), id:-, name:-, email:D(patients.email), diagnosis:D(patients.diagnosis), dob:-, "
             "insurer_id:D(patients.insurer_id), id:-, patient_id:-, note:-",
             "JOIN:patients.ssn"},
        // PostgreSQL compares an updated value with the one it replaces (HOT, the WAL record,
        // triggers that skip unchanged rows): the outcome tells whether a guess was right.
        Case{"UpdateOfAProtectedColumn", "UPDATE patients SET email = 'a@b' WHERE id = 1", "", "REPLACED:patients.email"},
        Case{"UpdateOfAnUnprotectedColumn", "UPDATE patients SET name = 'x' WHERE id = 1", "", ""},
        Case{"OnConflictUpdateOfAProtectedColumn",
             "INSERT INTO patients (id, email) VALUES (1, 'a@b') ON CONFLICT (id) DO UPDATE SET email = excluded.email", "",
             "REPLACED:patients.email"},
        Case{"MergeUpdateOfAProtectedColumn",
             "MERGE INTO patients p USING (SELECT 1 AS id) s ON p.id = s.id WHEN MATCHED THEN UPDATE SET email = 'a@b'",
             "", "REPLACED:patients.email"},
        Case{"NaturalJoin", "SELECT ssn FROM patients NATURAL JOIN visits", "ssn:D(patients.ssn)", "JOIN:patients.ssn"},
        // A side whose columns are not listed may share any name with the other: every column may
        // be compared, and the merged columns come first in an order nobody knows.
        Case{"NaturalJoinWithAFunction",
             "SELECT a.id FROM (SELECT id, ssn AS value FROM patients) a NATURAL JOIN generate_series(1, 3)", "id:-",
             "JOIN:patients.ssn"},
        Case{"NaturalJoinWithAFunctionStar",
             "SELECT * FROM (SELECT id, ssn AS value FROM patients) a NATURAL JOIN generate_series(1, 3)",
             "*+:R(patients.ssn)", "JOIN:patients.ssn"},
        Case{"NaturalJoinWithAnUnknownTable", "SELECT count(*) FROM patients NATURAL JOIN nosuch", "count:-",
             "JOIN:*; JOIN:patients.diagnosis; JOIN:patients.email; JOIN:patients.insurer_id; JOIN:patients.ssn"},
        Case{"AliasedJoin", "SELECT j.email FROM (patients p JOIN visits v ON v.patient_id = p.id) AS j",
             "email:D(patients.email)"},
        Case{"UnknownColumn", "SELECT nosuch FROM patients", "nosuch:*"},
        Case{"UnknownRelation", "SELECT a FROM nosuch", "a:*"},
        Case{"ViewDirect", "SELECT ssn FROM patient_view", "ssn:D(patients.ssn)"},
        Case{"ViewDerived", "SELECT email_upper FROM patient_view", "email_upper:R(patients.email)"},
        Case{"NestedView", "SELECT s FROM nested_view", "s:D(patients.ssn)"},
        Case{"ViewStar", "SELECT * FROM patient_view", "id:-, email_upper:R(patients.email), ssn:D(patients.ssn)"},
        Case{"MaterializedView", "SELECT card_number FROM mv", "card_number:D(payments.card_number)"},
        Case{"UnparsableViewIsUntraceable", "SELECT x FROM bad_view", "x:*"},
        Case{"PartitionOfProtectedTable", "SELECT reading FROM measurements_2024", "reading:D(measurements.reading)"},
        Case{"ParentOfProtectedPartition", "SELECT detail FROM events", "detail:D(events_2024.detail)"},
        Case{"SearchPath", "SELECT card_number FROM payments", "card_number:D(payments.card_number)", "", "", "",
             {"billing"}},
        Case{"SearchPathFirstSchemaWins", "SELECT ssn FROM patients", "ssn:-", "", "", "", {"private", "public"}},
        Case{"NotOnSearchPath", "SELECT card_number FROM payments", "card_number:*"},
        Case{"InsertReturning", "INSERT INTO patients (id, ssn) VALUES (1, 'x') RETURNING ssn, id",
             "ssn:D(patients.ssn), id:-"},
        Case{"UpdateReturning", "UPDATE patients SET name = 'a' WHERE id = 1 RETURNING email",
             "email:D(patients.email)"},
        Case{"DeleteReturningStar", "DELETE FROM billing.payments WHERE id = 1 RETURNING *",
             "id:-, patient_id:-, card_number:D(payments.card_number), amount:-"},
        Case{"DataModifyingCte", "WITH d AS (DELETE FROM patients RETURNING email) SELECT * FROM d",
             "email:D(patients.email)"},
        Case{"CopyTable", "COPY patients TO STDOUT", kPatientsStar},
        Case{"CopyColumns", "COPY patients (id, ssn) TO STDOUT", "id:-, ssn:D(patients.ssn)"},
        Case{"CopyQuery", "COPY (SELECT upper(email) FROM patients) TO STDOUT", "upper:R(patients.email)"},
        Case{"CopyFrom", "COPY patients FROM STDIN", ""},
        Case{"Prepare", "PREPARE q AS SELECT ssn FROM patients WHERE id = $1", "ssn:D(patients.ssn)"},
        Case{"DeclareCursor", "DECLARE c CURSOR FOR SELECT email FROM patients", "email:D(patients.email)"},
        Case{"Explain", "EXPLAIN SELECT ssn FROM patients WHERE ssn = 'x'", "QUERY PLAN:-", "WHERE:patients.ssn"},
        Case{"CorrelatedSubquery",
             "SELECT (SELECT max(v.note) FROM visits v WHERE v.patient_id = p.id AND v.ssn = p.ssn) AS m FROM patients p",
             "m:-", "WHERE:patients.ssn"},
        // Columns the text names only through SEARCH, CYCLE, ROWS FROM or an alias list resolve
        // at the level PostgreSQL finds them, never at an outer level with a column of that name.
        Case{"RecursiveSearchColumn",
             "SELECT (WITH RECURSIVE r AS (SELECT ssn FROM patients UNION ALL SELECT ssn FROM r WHERE false) "
             "SEARCH DEPTH FIRST BY ssn SET ord SELECT ord FROM r) AS x FROM (SELECT 1 AS ord) o",
             "x:R(patients.ssn)"},
        Case{"RecursiveCycleColumns",
             "SELECT (WITH RECURSIVE r AS (SELECT ssn FROM patients UNION ALL SELECT ssn FROM r WHERE false) "
             "CYCLE ssn SET c USING path SELECT path FROM r LIMIT 1) AS x, "
             "(WITH RECURSIVE r AS (SELECT ssn FROM patients UNION ALL SELECT ssn FROM r WHERE false) "
             "CYCLE ssn SET c USING path SELECT c FROM r LIMIT 1) AS y FROM (SELECT 1 AS path, 2 AS c) o",
             "x:R(patients.ssn), y:R(patients.ssn)", "COND:patients.ssn"},
        Case{"RowsFromFunctionWithoutDefinitionList",
             "SELECT (SELECT concat FROM patients v, ROWS FROM (upper('{}') AS (a int), concat(v.email))) AS x "
             "FROM (SELECT 1 AS concat) o",
             "x:R(patients.email)"},
        Case{"RowsFromAliasPastUnknownColumns",
             "SELECT (SELECT u FROM patients v, ROWS FROM (upper('{}') AS (a int), upper(v.email)) AS t(a, u)) "
             "AS x FROM (SELECT 1 AS u) o",
             "x:R(patients.email)"},
        Case{"OrdinalityRenamedByAlias",
             "SELECT (SELECT ordinality FROM generate_series(1, 1) WITH ORDINALITY AS t(a, b)) AS x "
             "FROM (SELECT ssn AS ordinality FROM patients) o",
             "x:D(patients.ssn)"},
        Case{"OrdinalityWithoutAlias", "SELECT ordinality FROM patients p, unnest(ARRAY[p.id]) WITH ORDINALITY",
             "ordinality:-"},
        Case{"CteAliasPastUnknownColumns",
             "SELECT (WITH c(a, b) AS (SELECT * FROM upper('x') f, patients v) "
             "SELECT b FROM c LIMIT 1) AS x FROM (SELECT 1 AS b) o",
             "x:R(patients.ssn,patients.email,patients.diagnosis,patients.insurer_id)"},
        // Unnamed select-list columns are named as PostgreSQL names them (FigureColname): a
        // scalar subquery by its column, a COLLATE or a cast by what it wraps, a CASE by its ELSE.
        Case{"ScalarSubqueryNamedByItsColumn",
             "SELECT (SELECT zz FROM (SELECT (SELECT p.ssn AS zz FROM patients p)) s) AS x FROM (SELECT 1 AS zz) o",
             "x:D(patients.ssn)"},
        Case{"CollateKeepsTheName",
             "SELECT (SELECT ssn FROM (SELECT p.ssn COLLATE \"C\" FROM patients p) s) AS x FROM (SELECT 1 AS ssn) o",
             "x:R(patients.ssn)"},
        Case{"CaseNamedByItsElse",
             "SELECT (SELECT \"case\" FROM (SELECT CASE WHEN true THEN 1 ELSE g.x END FROM (SELECT 1 AS x) g) s) AS x "
             "FROM (SELECT ssn AS \"case\" FROM patients) o",
             "x:D(patients.ssn)"},
        Case{"ScalarSubqueryOfStarHasAnyName",
             "SELECT (SELECT ssn FROM (SELECT (SELECT * FROM (SELECT p.ssn FROM patients p) q)) s) AS x "
             "FROM (SELECT 1 AS ssn) o",
             "x:D(patients.ssn)"},
        Case{"OrderByPositionPastUncountedColumns", "SELECT j.*, p.ssn FROM patients p, upper('x') j ORDER BY 2",
             "*+:-, ssn:D(patients.ssn)", "ORDER:patients.ssn"},
        Case{"ExcludedPastUncountedColumns",
             "INSERT INTO events (id, detail) SELECT j.*, 1, p.ssn FROM patients p, upper('x') j "
             "ON CONFLICT (id) DO UPDATE SET detail = 'x' WHERE excluded.detail = 'y'",
             "", "REPLACED:events_2024.detail; WHERE:patients.ssn", "", "table events (column ?)<-D(patients.ssn)"},
        // The target of INSERT, UPDATE, DELETE and MERGE is never a CTE, whatever the WITH names.
        Case{"UpdateTargetNamedLikeCte",
             "WITH patients AS (SELECT 1 AS id, 'x' AS ssn) UPDATE patients SET id = id WHERE ssn LIKE '9%' "
             "RETURNING ssn || '' AS s",
             "s:R(patients.ssn)", "WHERE:patients.ssn"},
        Case{"DeleteTargetNamedLikeCte",
             "WITH patients AS (SELECT 1 AS id, 'x' AS email) DELETE FROM patients WHERE email = 'x' RETURNING upper(email) AS e",
             "e:R(patients.email)", "WHERE:patients.email"},
        Case{"InsertTargetNamedLikeCte",
             "WITH patients AS (SELECT 1 AS id, 'x' AS email) INSERT INTO patients (id) VALUES (1) "
             "ON CONFLICT (id) DO UPDATE SET name = 'n' RETURNING upper(email) AS e",
             "e:R(patients.email)", ""},
        Case{"MergeTargetNamedLikeCte",
             "WITH patients AS (SELECT 1 AS id, 'x' AS ssn) MERGE INTO patients p USING (SELECT 1 AS id) s "
             "ON p.id = s.id AND p.ssn LIKE '9%' WHEN MATCHED THEN UPDATE SET name = 'n'",
             "", "JOIN:patients.ssn"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Usages, AnalyzerTest,
    ::testing::Values(
        // CYCLE stops at a row whose listed columns equal an earlier row's: count(*) tells whether
        // the literal of the recursive branch equals the ssn.
        Case{"CycleComparesItsColumns",
             "WITH RECURSIVE t(v, n) AS (SELECT ssn, 1 FROM patients WHERE id = 1 UNION ALL "
             "SELECT '819-66-8960', n + 1 FROM t WHERE n < 5) CYCLE v SET c USING pth SELECT count(*) FROM t",
             "count:-", "COND:patients.ssn"},
        Case{"CycleOnUnprotectedColumn",
             "WITH RECURSIVE t(v, n) AS (SELECT ssn, 1 FROM patients UNION ALL "
             "SELECT v, n + 1 FROM t WHERE n < 5) CYCLE n SET c USING pth SELECT count(*) FROM t",
             "count:-"},
        Case{"OrderByOutputAlias", "SELECT ssn AS s FROM patients ORDER BY s", "s:D(patients.ssn)", "ORDER:patients.ssn"},
        Case{"OrderByPosition", "SELECT id, email FROM patients ORDER BY 2", "id:-, email:D(patients.email)",
             "ORDER:patients.email"},
        Case{"OrderByUnprotected", "SELECT ssn FROM patients ORDER BY dob", "ssn:D(patients.ssn)"},
        Case{"GroupByColumn", "SELECT ssn, count(*) FROM patients GROUP BY ssn", "ssn:D(patients.ssn), count:-",
             "GROUP=:patients.ssn"},
        Case{"GroupByExpression", "SELECT count(*) FROM patients GROUP BY upper(ssn)", "count:-",
             "GROUP:patients.ssn"},
        Case{"GroupByRollup", "SELECT count(*) FROM patients GROUP BY ROLLUP (email)", "count:-",
             "GROUP=:patients.email"},
        Case{"Having", "SELECT id FROM patients GROUP BY id HAVING max(ssn) > '5'", "id:-", "HAVING:patients.ssn"},
        Case{"Distinct", "SELECT DISTINCT email FROM patients", "email:D(patients.email)", "DISTINCT=:patients.email"},
        // DISTINCT ON and PARTITION BY sort on the clear values and return rows in that order:
        // more than tokens show.
        Case{"DistinctOn", "SELECT DISTINCT ON (ssn) id FROM patients", "id:-", "DISTINCT_ON:patients.ssn"},
        Case{"WindowPartition", "SELECT row_number() OVER (PARTITION BY email ORDER BY dob) FROM patients",
             "row_number:-", "WINDOW:patients.email"},
        Case{"WindowOrder", "SELECT rank() OVER (ORDER BY ssn) FROM patients", "rank:-", "WINDOW:patients.ssn"},
        Case{"NamedWindow", "SELECT rank() OVER w FROM patients WINDOW w AS (ORDER BY diagnosis)", "rank:-",
             "WINDOW:patients.diagnosis"},
        Case{"Limit", "SELECT id FROM patients LIMIT (SELECT length(ssn) FROM patients LIMIT 1)", "id:-",
             "LIMIT:patients.ssn"},
        Case{"WhereLike", "SELECT id FROM patients WHERE email LIKE '%@x.com'", "id:-", "WHERE:patients.email"},
        Case{"WhereIsNull", "SELECT id FROM patients WHERE diagnosis IS NULL", "id:-", "WHERE:patients.diagnosis"},
        Case{"WhereBetween", "SELECT id FROM patients WHERE ssn BETWEEN '1' AND '2'", "id:-", "WHERE:patients.ssn"},
        Case{"WhereBooleanFunction", "SELECT id FROM patients WHERE starts_with(ssn, '1')", "id:-",
             "WHERE:patients.ssn"},
        Case{"WhereUnderOr", "SELECT id FROM patients WHERE id = 1 OR NOT (email = 'a')", "id:-",
             "WHERE:patients.email"},
        Case{"WhereInSubquery", "SELECT id FROM visits WHERE ssn IN (SELECT ssn FROM patients)", "id:-",
             "WHERE:patients.ssn"},
        Case{"WhereExists", "SELECT id FROM visits v WHERE EXISTS (SELECT 1 FROM patients p WHERE p.email = 'a@b')",
             "id:-", "WHERE:patients.email"},
        Case{"WhereAny", "SELECT id FROM patients WHERE ssn = ANY (ARRAY['1', '2'])", "id:-", "WHERE:patients.ssn"},
        Case{"EqualityJoinBetweenProtected", "SELECT p.id FROM patients p JOIN patients q ON p.ssn = q.ssn", "id:-",
             "JOIN=:patients.ssn"},
        Case{"EqualityInWhereBetweenProtected", "SELECT p.id FROM patients p, patients q WHERE p.email = q.email",
             "id:-", "WHERE=:patients.email"},
        Case{"JoinOnLiteral", "SELECT p.id FROM patients p JOIN visits v ON p.ssn = '1'", "id:-", "JOIN:patients.ssn"},
        Case{"JoinAgainstUnprotected", "SELECT p.id FROM patients p JOIN visits v ON p.ssn = v.ssn", "id:-",
             "JOIN:patients.ssn"},
        Case{"CaseWhenInSelectList", "SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM patients",
             "case:R(patients.ssn)", "COND:patients.ssn"},
        Case{"SimpleCase", "SELECT CASE diagnosis WHEN 'flu' THEN 1 END FROM patients", "case:R(patients.diagnosis)",
             "COND:patients.diagnosis"},
        Case{"FilterClause", "SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM patients", "count:R(patients.email)",
             "COND:patients.email"},
        Case{"ComparisonAsOutput", "SELECT ssn = '123' AS hit FROM patients", "hit:R(patients.ssn)",
             "COND:patients.ssn"},
        Case{"Greatest", "SELECT greatest(ssn, '5') FROM patients", "greatest:R(patients.ssn)", "COND:patients.ssn"},
        Case{"OrderedAggregate", "SELECT string_agg(name, ',' ORDER BY ssn) FROM patients", "string_agg:-",
             "ORDER:patients.ssn"},
        Case{"UpdateWhere", "UPDATE patients SET name = 'x' WHERE ssn = 'a'", "", "WHERE:patients.ssn"},
        Case{"DeleteUsing",
             "DELETE FROM visits v USING patients p WHERE p.id = v.patient_id AND p.diagnosis = 'x'", "",
             "WHERE:patients.diagnosis"},
        Case{"Merge",
             "MERGE INTO visits v USING patients p ON v.ssn = p.ssn WHEN MATCHED THEN UPDATE SET note = p.email", "",
             "JOIN:patients.ssn", "", "table visits (column note)<-D(patients.email)"},
        Case{"ViewFiltersAreNotTheSessions", "SELECT id FROM patient_view", "id:-"}),
    [](const auto& info) { return info.param.name; });

// Computations whose errors depend on a protected input: the error tells one bit of the value.
INSTANTIATE_TEST_SUITE_P(
    Fallible, AnalyzerTest,
    ::testing::Values(
        Case{"DivisionByADigit", "SELECT 1/(ascii(substr(ssn, 1, 1)) - 56) AS x FROM patients", "x:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"CastToNumber", "SELECT ssn::int AS n FROM patients", "n:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        Case{"CastToAnArray", "SELECT ssn::text[] AS a FROM patients", "a:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        // A string type's name in another schema is a domain or a user's type: its CHECK can fail.
        Case{"CastToAnotherSchemasName", "SELECT ssn::pg_temp.name AS n FROM patients", "n:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"CastToUserSchemasText", "SELECT CAST(ssn AS public.text) AS t FROM patients", "t:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"CastToCatalogStringTypes", "SELECT ssn::pg_catalog.text AS t, ssn::pg_catalog.name AS n FROM patients",
             "t:R(patients.ssn), n:R(patients.ssn)"},
        Case{"FunctionStyleCast", "SELECT int4(insurer_id) AS n FROM patients", "n:R(patients.insurer_id)",
             "FALLIBLE:patients.insurer_id"},
        Case{"ArithmeticCanOverflow", "SELECT insurer_id + 2147483000 AS n FROM patients",
             "n:R(patients.insurer_id)", "FALLIBLE:patients.insurer_id"},
        Case{"PrefixMinusCanOverflow", "SELECT -insurer_id AS n FROM patients", "n:R(patients.insurer_id)",
             "FALLIBLE:patients.insurer_id"},
        Case{"ProtectedLengthArgument", "SELECT substr('abc', 1, length(ssn) - 20) AS s FROM patients",
             "s:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        Case{"ProtectedKeyOfJsonObject", "SELECT json_build_object(email, 1) AS j FROM patients",
             "j:R(patients.email)", "FALLIBLE:patients.email"},
        Case{"XmlParse", "SELECT xmlparse(content email) AS x FROM patients", "x:R(patients.email)",
             "FALLIBLE:patients.email"},
        Case{"XmlTableDocument", "SELECT t.v FROM patients, XMLTABLE('/a' PASSING (email::xml) COLUMNS v text) t",
             "v:R(patients.email)", "FALLIBLE:patients.email"},
        Case{"SetReturningFunctionInFrom", "SELECT g FROM patients p, generate_series(1, length(p.ssn), 0) g",
             "g:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        // How many rows a set-returning function returns depends on its arguments: count(*) and
        // EXISTS read it whatever the select list shows.
        Case{"RepeatFailsOnTheLength", "SELECT repeat(email, 100000000) AS r FROM patients", "r:R(patients.email)",
             "FALLIBLE:patients.email"},
        Case{"RegexpMatchesRowCount", "SELECT count(*) FROM patients p, regexp_matches(p.ssn, '^819') m WHERE p.id = 1",
             "count:-", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"SetReturningFunctionInExists",
             "SELECT count(*) FROM patients p WHERE EXISTS (SELECT regexp_matches(p.ssn, '^8'))", "count:-",
             "COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"UnnestOfStringToArray", "SELECT count(*) FROM patients p, unnest(string_to_array(p.ssn, '8')) u",
             "count:-", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"SetReturningFunctionInSelectList", "SELECT regexp_split_to_table(ssn, '8') AS x FROM patients",
             "x:R(patients.ssn)", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"JsonElementsRowCount",
             "SELECT count(*) FROM patients p, jsonb_array_elements(to_jsonb(string_to_array(p.ssn, '8'))) e",
             "count:-", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        // An array is one value, redacted like any derived one; only a row count would reveal its length.
        // Splitting searches the text for the delimiter: a comparison.
        Case{"StringToArrayIsAValue", "SELECT string_to_array(ssn, '8') AS a FROM patients", "a:R(patients.ssn)",
             "COND:patients.ssn"},
        // In WHERE both are recorded; the refusal names the clause first.
        Case{"InWhere", "SELECT id FROM patients WHERE ssn::int > 5", "id:-", "FALLIBLE:patients.ssn; WHERE:patients.ssn"},
        // Computations that cannot fail on any value stay derived values, redacted and nothing more
        // (trim searches for spaces: a comparison, see SearchesCompare).
        Case{"CannotFail",
             "SELECT upper(email), length(ssn), md5(ssn), substr(ssn, 2, 3), ssn || 'x' AS c, count(ssn), "
             "left(ssn, 2), ssn::text AS t, ssn::varchar(3) AS v, CAST(email AS character varying) AS e, "
             "json_build_object('k', ssn) AS j, coalesce(email, name) AS o, trim(email) AS tr FROM patients",
             "upper:R(patients.email), length:R(patients.ssn), md5:R(patients.ssn), substr:R(patients.ssn), "
             "c:R(patients.ssn), count:R(patients.ssn), left:R(patients.ssn), t:R(patients.ssn), "
             "v:R(patients.ssn), e:R(patients.email), j:R(patients.ssn), o:R(patients.email), "
             "tr:R(patients.email)",
             "COND:patients.email"},
        // A function that searches its text for a pattern, characters or a delimiter compares the
        // value with them, whatever becomes of its result: how long it runs depends on a match.
        Case{"SearchesCompare",
             "SELECT replace(ssn, '9', 'x') AS r, translate(email, 'a', 'b') AS t, strpos(diagnosis, 'Q') AS s, "
             "position('Q' IN ssn) AS p, split_part(email, '@', 1) AS sp, regexp_replace(diagnosis, '^X', '') AS re, "
             "substring(ssn FROM '^9') AS sb, btrim(email, 'z') AS b, replace(name, 'a', 'b') AS n FROM patients",
             "r:R(patients.ssn), t:R(patients.email), s:R(patients.diagnosis), p:R(patients.ssn), "
             "sp:R(patients.email), re:R(patients.diagnosis), sb:R(patients.ssn), b:R(patients.email), n:-",
             "COND:patients.diagnosis; COND:patients.email; COND:patients.ssn"},
        Case{"SearchInWhereNamesTheClause", "SELECT id FROM patients WHERE strpos(ssn, '9') > 0", "id:-",
             "WHERE:patients.ssn"},
        // substring by positions takes no pattern; by a pattern (or positions it cannot see) it searches.
        // WITHIN GROUP sorts the aggregate's input: percentile_disc and mode return one of its values.
        Case{"OrderedSetAggregate",
             "SELECT percentile_disc(0) WITHIN GROUP (ORDER BY ssn) AS p, mode() WITHIN GROUP (ORDER BY email) AS m, "
             "rank('x') WITHIN GROUP (ORDER BY diagnosis) AS r FROM patients",
             "p:R(patients.ssn), m:R(patients.email), r:R(patients.diagnosis)",
             "ORDER:patients.diagnosis; ORDER:patients.email; ORDER:patients.ssn"},
        Case{"OrderedAggregateKeepsItsInput", "SELECT string_agg(name, ',' ORDER BY ssn) AS s FROM patients", "s:-",
             "ORDER:patients.ssn"},
        // The REPEATABLE seed decides which rows the sample holds, as the percentage does.
        Case{"TablesampleSeed",
             "SELECT id FROM patients TABLESAMPLE BERNOULLI (2) REPEATABLE ((SELECT ascii(ssn) FROM patients))", "id:-",
             "COND:patients.ssn"},
        Case{"SubstringByPositions", "SELECT substring(ssn FROM 2 FOR 3) AS a, substring(ssn, 1) AS b FROM patients",
             "a:R(patients.ssn), b:R(patients.ssn)"},
        Case{"SubstringBySimilarPattern", "SELECT substring(ssn SIMILAR '9%' ESCAPE '#') AS a FROM patients",
             "a:R(patients.ssn)", "COND:patients.ssn"},
        // format fails on a NULL for %I, and takes widths from arguments for *; convert_to fails
        // on what the target encoding cannot hold.
        Case{"FormatOfValues", "SELECT format('%s-%L', ssn, email) AS f FROM patients",
             "f:R(patients.ssn,patients.email)"},
        Case{"FormatAsIdentifier", "SELECT format('%I', ssn) AS f FROM patients", "f:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"FormatWidthFromAValue", "SELECT format('%*s', length(ssn), 'x') AS f FROM patients",
             "f:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        Case{"ConvertToUtf8", "SELECT convert_to(ssn, 'UTF8') AS b FROM patients", "b:R(patients.ssn)"},
        Case{"ConvertToLatin1", "SELECT convert_to(ssn, 'LATIN1') AS b FROM patients", "b:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"UnprotectedArithmetic", "SELECT id / 0 AS n, name::int AS m FROM patients", "n:-, m:-"},
        // A sum overflows, and the other summands can be the client's: a UNION with a literal
        // next to the type's limit compares the protected value with the client's number.
        Case{"SumCanOverflow",
             "SELECT sum(x) AS s, avg(x) AS a FROM (SELECT insurer_id AS x FROM patients UNION ALL SELECT 1) u",
             "s:R(patients.insurer_id), a:R(patients.insurer_id)", "FALLIBLE:patients.insurer_id"},
        // A constant subscript finds an element or key, or NULL: whether the value has it.
        Case{"SubscriptIsALookup", "SELECT (ssn::jsonb)['k'] AS j, (string_to_array(email, '@'))[3] AS a FROM patients",
             "j:R(patients.ssn), a:R(patients.email)", "COND:patients.email; COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"CountMinMaxCannotFail", "SELECT count(ssn) AS n, min(ssn) AS lo, max(ssn) AS hi FROM patients",
             "n:R(patients.ssn), lo:R(patients.ssn), hi:R(patients.ssn)", ""},
        // XMLNAMESPACES' URIs and a column's PATH are expressions the server evaluates and can
        // fail on; what PATH matches decides whether the column is NULL.
        Case{"XmlNamespaceUri",
             "SELECT 1 AS one FROM patients p, XMLTABLE(XMLNAMESPACES(p.ssn AS n), '/r' PASSING ('<r/>'::xml) "
             "COLUMNS v text) x",
             "one:-", "FALLIBLE:patients.ssn"},
        Case{"XmlTableColumnPath",
             "SELECT x.v FROM patients p, XMLTABLE('/r' PASSING ('<r/>'::xml) COLUMNS v int PATH p.ssn) x",
             "v:R(patients.ssn)", "COND:patients.ssn; FALLIBLE:patients.ssn"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Refusals, AnalyzerTest,
    ::testing::Values(
        Case{"QueryToXml", "SELECT query_to_xml('select ssn from patients', true, true, '')", "query_to_xml:*", "",
             "query_to_xml"},
        Case{"TableToXmlschema", "SELECT table_to_xmlschema('patients', true, true, '')", "table_to_xmlschema:*", "",
             "table_to_xmlschema"},
        Case{"PgReadFile", "SELECT pg_read_file('/etc/passwd')", "pg_read_file:*", "", "files"},
        Case{"PgLsDir", "SELECT * FROM pg_ls_dir('.')", "*+:*", "", "files"},
        Case{"LargeObject", "SELECT lo_get(1234)", "lo_get:*", "", "large objects"},
        Case{"LoRead", "SELECT loread(0, 10)", "loread:*", "", "large objects"},
        Case{"Dblink", "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "a:*", "", "another database"},
        // Refused even where an administrator trusts them: they read data the analysis cannot see.
        Case{"Crosstab", "SELECT * FROM public.crosstab3('select ssn, 1, 2 from patients') AS t(a text, b int, c int)",
             "a:*, b:*, c:*", "", "runs SQL given as text"},
        Case{"Connectby", "SELECT * FROM connectby('patients', 'ssn', 'id', '1', 0) AS t(a text, b text, c int)",
             "a:*, b:*, c:*", "", "columns named in its arguments"},
        Case{"XpathTable", "SELECT * FROM xpath_table('id', 'ssn', 'patients', '/a', 'true') AS t(id int, v text)",
             "id:*, v:*", "", "runs SQL given as text"},
        Case{"RawPage", "SELECT get_raw_page('patients', 0)", "get_raw_page:*", "", "raw table or index pages"},
        Case{"IndexItems", "SELECT * FROM bt_page_items('patients_ssn_idx', 1)", "*+:*", "", "raw table or index pages"},
        // A type that takes the name of a string type takes over the casts counted as unable to fail.
        Case{"CreateDomainNamedName", "CREATE DOMAIN pg_temp.name AS pg_catalog.text CHECK (value !~ '^8')", "", "",
             "type, domain or relation named name"},
        Case{"CreateEnumNamedText", "CREATE TYPE text AS ENUM ('a')", "", "", "named text"},
        Case{"CreateCompositeNamedVarchar", "CREATE TYPE pg_temp.varchar AS (a int)", "", "", "named varchar"},
        Case{"CreateRangeNamedBpchar", "CREATE TYPE public.bpchar AS RANGE (subtype = int4)", "", "", "named bpchar"},
        Case{"CreateShellTypeNamedName", "CREATE TYPE \"name\"", "", "", "named name"},
        Case{"RenameTypeToText", "ALTER TYPE mood RENAME TO text", "", "", "named text"},
        Case{"RenameDomainToVarchar", "ALTER DOMAIN pg_temp.d RENAME TO \"varchar\"", "", "", "named varchar"},
        Case{"TempTableNamedText", "CREATE TEMP TABLE text (a int)", "", "", "named text"},
        Case{"ViewNamedName", "CREATE VIEW pg_temp.name AS SELECT 1 AS a", "", "", "named name"},
        Case{"SelectIntoNamedText", "SELECT 1 AS a INTO TEMP text", "", "", "named text"},
        Case{"RenameTableToBpchar", "ALTER TABLE visits RENAME TO bpchar", "", "", "named bpchar"},
        Case{"SchemaElementNamedName", "CREATE SCHEMA s CREATE TABLE name (a int)", "", "", "named name"},
        Case{"DomainOfAnotherName", "CREATE DOMAIN pg_temp.ssn_text AS pg_catalog.text CHECK (value <> '')", ""},
        Case{"TypeNamedUpperCaseText", "CREATE TYPE \"Text\" AS ENUM ('a')", ""},
        Case{"ColumnRenamedToText", "ALTER TABLE visits RENAME COLUMN note TO text", ""},
        Case{"CopyToProgram", "COPY patients TO PROGRAM 'cat'", kPatientsStar, "", "program"},
        Case{"CopyFromFile", "COPY patients FROM '/tmp/x'", "", "", "file"},
        Case{"UntrustedFunction", "SELECT evil_fn(ssn) FROM patients", "evil_fn:*", "FALLIBLE:patients.ssn", "evil_fn"},
        // A trusted function's body is not analysed: it may fail on any value of its arguments.
        Case{"TrustedQualifiedFunction", "SELECT public.safe_fn(ssn) FROM patients", "safe_fn:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"TrustedUnqualifiedFunction", "SELECT safe_fn(ssn) FROM patients", "safe_fn:R(patients.ssn)",
             "FALLIBLE:patients.ssn"},
        Case{"TrustedInAnySchema", "SELECT any_schema_fn(1)", "any_schema_fn:-"},
        Case{"UnknownFunction", "SELECT mystery(1)", "mystery:*", "", "mystery"},
        Case{"UserFunctionShadowsBuiltin", "SELECT lower(email) FROM patients", "lower:*", "FALLIBLE:patients.email",
             "lower"},
        Case{"QualifiedBuiltinIgnoresShadow", "SELECT pg_catalog.lower(email) FROM patients",
             "lower:R(patients.email)"},
        Case{"DoBlock", "DO $$ BEGIN PERFORM 1; END $$", "", "", "DO blocks"},
        Case{"CreateFunction", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", "", "",
             "creating functions"},
        Case{"CreateProcedure", "CREATE PROCEDURE p() LANGUAGE sql AS 'select 1'", "", "", "creating functions"},
        Case{"CreateRule", "CREATE RULE r AS ON INSERT TO visits DO ALSO NOTIFY c", "", "", "rules and triggers"},
        Case{"CallUntrustedProcedure", "CALL evil_proc(1)", "*+:*", "", "evil_proc"},
        Case{"CreateTableAs", "CREATE TABLE t AS SELECT ssn FROM patients", "", "", "",
             "new table t<-D(patients.ssn)"},
        Case{"CreateTableAsWithNoData", "CREATE TABLE t AS SELECT ssn FROM patients WITH NO DATA", ""},
        Case{"CreateMaterializedView", "CREATE MATERIALIZED VIEW m AS SELECT upper(ssn) FROM patients", "", "", "",
             "new table m<-R(patients.ssn)"},
        Case{"SelectInto", "SELECT email INTO t FROM patients", "", "", "", "new table t<-D(patients.email)"},
        Case{"InsertSelect", "INSERT INTO visits (note) SELECT diagnosis FROM patients", "", "", "",
             "table visits (column note)<-D(patients.diagnosis)"},
        Case{"InsertOnConflictCopiesExcluded",
             "INSERT INTO visits (id, note) SELECT id, email FROM patients ON CONFLICT (id) DO UPDATE SET note = "
             "EXCLUDED.note",
             "", "", "",
             "table visits (column note)<-D(patients.email); table visits (column note)<-D(patients.email)"},
        Case{"UpdateFromProtected", "UPDATE visits v SET note = p.ssn FROM patients p WHERE p.id = v.patient_id", "",
             "", "", "table visits (column note)<-D(patients.ssn)"},
        Case{"ReplaceViewKeepingLineage",
             "CREATE OR REPLACE VIEW patient_view AS SELECT id, upper(email) AS email_upper, ssn, name AS extra FROM patients",
             ""},
        Case{"ReplaceViewAddingProtectedData",
             "CREATE OR REPLACE VIEW patient_view AS SELECT ssn AS id, upper(email) AS email_upper, ssn FROM patients", "",
             "", "replacing view patient_view would give its column id protected data"},
        Case{"ReplaceViewAppendingProtectedData",
             "CREATE OR REPLACE VIEW patient_view AS SELECT id, upper(email) AS email_upper, ssn, email AS more FROM patients",
             "", "", "replacing view patient_view would give its column more protected data"},
        Case{"RefreshCopiesIntoTheMaterializedView", "REFRESH MATERIALIZED VIEW mv", "", "", "",
             "materialized view mv<-R(payments.card_number)"},
        Case{"RefreshWithNoDataCopiesNothing", "REFRESH MATERIALIZED VIEW mv WITH NO DATA", ""},
        Case{"UniqueIndexOrdersAndComparesKeys", "CREATE UNIQUE INDEX ON patients (ssn)", "", "ORDER:patients.ssn; UNIQUE:patients.ssn"},
        Case{"IndexExpressionAndPredicate", "CREATE INDEX ON patients ((upper(email))) WHERE diagnosis LIKE 'x%'", "",
             "ORDER:patients.email; WHERE:patients.diagnosis"},
        Case{"IndexOnUnprotectedColumns", "CREATE INDEX ON patients (id, name)", ""},
        Case{"StatisticsGroupTheirColumns", "CREATE STATISTICS s ON ssn, id FROM patients", "", "GROUP:patients.ssn"},
        Case{"UpdateSubscriptStoresWhereTheValueGoes",
             "UPDATE visits SET note[(SELECT ssn FROM patients LIMIT 1)] = 'x'", "", "", "",
             "table visits (column note)<-R(patients.ssn)"},
        Case{"InsertColumnSubscript", "INSERT INTO visits (id, note[(SELECT email FROM patients LIMIT 1)]) VALUES (1, 'x')",
             "", "", "", "table visits (column note)<-R(patients.email)"},
        Case{"MergeInsertSubscript",
             "MERGE INTO visits t USING patients s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, note[s.ssn]) "
             "VALUES (s.id, 'b')",
             "", "", "", "table visits (column note)<-R(patients.ssn)"},
        Case{"ExecuteParametersFromProtectedData",
             "EXECUTE q((SELECT ssn FROM patients LIMIT 1))", "", "", "",
             "the parameters of prepared statement q<-R(patients.ssn)"},
        Case{"ExplainAnalyzeRuns", "EXPLAIN ANALYZE INSERT INTO visits (note) SELECT ssn FROM patients",
             "QUERY PLAN:-", "", "", "table visits (column note)<-D(patients.ssn)"},
        Case{"PgStats", "SELECT * FROM pg_stats", "*+:*", "", "statistics"},
        Case{"PgStatisticExt", "SELECT * FROM pg_catalog.pg_statistic_ext_data", "*+:*", "", "statistics"},
        Case{"PgStatActivity", "SELECT query FROM pg_catalog.pg_stat_activity", "query:*", "", "query text"},
        Case{"PgStatStatements", "SELECT query FROM pg_stat_statements", "query:*", "", "query text"},
        Case{"StandardConformingStringsOff", "SET standard_conforming_strings = off", "", "", "standard_conforming"},
        Case{"StandardConformingStringsOn", "SET standard_conforming_strings = on", ""},
        Case{"BackslashQuote", "SET backslash_quote = on", "", "", "backslash_quote"},
        Case{"SetConfigReadingSetting", "SELECT set_config('standard_conforming_strings', 'off', false)",
             "set_config:-", "", "standard_conforming"},
        // Allowed: the proxy's ParameterStatus backstop refuses the session's statements if it
        // turns out to change how SQL text is read.
        Case{"UserDefinedOperator", "SELECT id ### 0 FROM patients", "?column?:*", "", "operator ###"},
        Case{"UserDefinedOperatorQualified", "SELECT 1 OPERATOR(public.###) 0", "?column?:*", "", "operator ###"},
        Case{"SubscriptBoundFromProtectedData", "SELECT (ARRAY[1, 2, 3])[length(ssn):3] FROM patients",
             "array:R(patients.ssn)", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        Case{"SubscriptOfProtectedArray", "SELECT (ARRAY[ssn])[1] FROM patients", "array:R(patients.ssn)",
             "COND:patients.ssn"},
        Case{"KeyLookupByProtectedValue", "SELECT '{\"9\": 1}'::jsonb ->> substr(ssn, 1, 1) FROM patients",
             "?column?:R(patients.ssn)", "COND:patients.ssn"},
        Case{"KeyLookupInProtectedDocument", "SELECT to_jsonb(email) -> 'a' FROM patients", "?column?:R(patients.email)",
             "COND:patients.email"},
        Case{"KeyLookupFunction", "SELECT jsonb_extract_path_text('{}'::jsonb, ssn) FROM patients",
             "jsonb_extract_path_text:R(patients.ssn)", "COND:patients.ssn; FALLIBLE:patients.ssn"},
        // Expressions the server keeps and runs later, in statements pgmask never sees.
        Case{"DefaultRunningSqlText",
             "CREATE TABLE t (k int, x xml DEFAULT query_to_xml('SELECT ssn FROM patients', false, false, ''))", "",
             "WHERE:*", "query_to_xml"},
        Case{"DefaultChangingSearchPath",
             "CREATE TEMP TABLE t (k int, x text DEFAULT set_config('search_path', 'public', false))", "", "",
             "expression the server keeps"},
        Case{"CheckNotifying", "ALTER TABLE visits ADD CONSTRAINT c CHECK (pg_notify('c', note) IS NOT NULL)", "", "",
             "expression the server keeps"},
        Case{"DomainCheckStoringValue", "CREATE DOMAIN pg_temp.d AS text CHECK (set_config('x.v', VALUE, false) IS NOT NULL)",
             "", "", "expression the server keeps"},
        Case{"AlterDomainCheck", "ALTER DOMAIN d ADD CONSTRAINT c CHECK (set_config('x.v', VALUE, false) <> '')", "", "",
             "expression the server keeps"},
        Case{"PartitionBound",
             "CREATE TABLE c1 PARTITION OF c FOR VALUES IN (length(set_config('x.p', 'y', false)))", "", "",
             "expression the server keeps"},
        Case{"CopyFromWhere", "COPY visits FROM STDIN WHERE set_config('x.c', note, false) IS NOT NULL", "", "",
             "expression the server keeps"},
        Case{"PolicyChangingSearchPath",
             "CREATE POLICY p ON visits USING (set_config('search_path', 'public', false) IS NOT NULL)", "", "",
             "expression the server keeps"},
        Case{"OwnDataInDefaultsAndChecks",
             "CREATE TABLE t (a int CHECK (a > 0), b text DEFAULT now()::text, c int GENERATED ALWAYS AS (a * 2) STORED)",
             ""},
        Case{"DomainCheckOnValue", "CREATE DOMAIN pg_temp.pos AS int CHECK (VALUE > 0)", ""},
        Case{"AlterTypeUsingProtectedColumn", "ALTER TABLE patients ALTER COLUMN ssn TYPE int USING ssn::int", "",
             "FALLIBLE:patients.ssn; WHERE:patients.ssn"},
        Case{"SchemaElementView", "CREATE SCHEMA s CREATE VIEW v AS SELECT id FROM patients WHERE ssn LIKE '9%'", "",
             "WHERE:patients.ssn"},
        Case{"SchemaElementTable",
             "CREATE SCHEMA s CREATE TABLE t (x text DEFAULT set_config('search_path', 'public', false))", "", "",
             "expression the server keeps"},
        Case{"LengthInAnEncodingChecksTheBytes",
             "SELECT length(substr(ssn, 1, 1), 'UTF8') FROM patients",
             "length:R(patients.ssn)", "FALLIBLE:patients.ssn"},
        Case{"LengthOfText", "SELECT length(ssn) FROM patients", "length:R(patients.ssn)"},
        Case{"UnionOfAnExpressionAndALiteral",
             "SELECT count(*) FROM (SELECT substr(ssn, 1, 1) FROM patients UNION SELECT '9') s", "count:-",
             "DISTINCT:patients.ssn"},
        Case{"DistinctOverRowsMixedWithALiteral",
             "SELECT DISTINCT v FROM (SELECT ssn AS v FROM patients UNION ALL SELECT '919-27-3645') s",
             "v:R(patients.ssn)", "DISTINCT:patients.ssn"},
        Case{"ExplainWal", "EXPLAIN (ANALYZE, WAL) UPDATE visits SET note = 'x' WHERE id = 1", "QUERY PLAN:-", "",
             "WAL option"},
        Case{"WalPosition", "SELECT pg_current_wal_insert_lsn()", "pg_current_wal_insert_lsn:*", "",
             "write-ahead log"},
        Case{"WalPositionOfALogicalMessage", "SELECT pg_logical_emit_message(false, 'a', '')",
             "pg_logical_emit_message:*", "", "write-ahead log"},
        Case{"WalPositionOfASlot", "SELECT confirmed_flush_lsn FROM pg_replication_slots", "confirmed_flush_lsn:*", "",
             "write-ahead log"},
        Case{"TemporaryView", "CREATE TEMP VIEW pg_roles AS SELECT 1 AS rolname", "", "", "temporary views"},
        Case{"ViewInPgTemp", "CREATE VIEW pg_temp.pg_roles AS SELECT 1 AS rolname", "", "", "temporary views"},
        Case{"ViewInOwnTemporarySchema", "CREATE VIEW pg_temp_3.pg_type AS SELECT 1 AS typname", "", "",
             "temporary views"},
        Case{"ViewWhereSearchPathPutsItInPgTemp", "CREATE VIEW pg_roles AS SELECT 1 AS rolname", "", "",
             "temporary views", "", {"pg_temp_3", "public"}},
        Case{"ViewWithNoSchemaToCreateIn", "CREATE VIEW pg_roles AS SELECT 1 AS rolname", "", "", "temporary views",
             "", {}},
        Case{"SearchPathNamingPgTemp", "SET search_path = pg_temp, public", "", "", "pg_temp"},
        Case{"SearchPathNamingPgTempUpperCase", "SELECT set_config('search_path', 'public, PG_TEMP', false)",
             "set_config:-", "", "pg_temp"},
        Case{"SearchPathAtRunTime", "SELECT set_config('search_path', name, false) FROM patients", "set_config:-", "",
             "written in the statement"},
        Case{"ExtraFloatDigitsRounding", "SET extra_float_digits = -12", "", "", "extra_float_digits"},
        Case{"ExtraFloatDigitsExact", "SET extra_float_digits = 3", ""},
        Case{"SearchPathWithUser", "SET search_path = \"$user\", public", ""},
        Case{"ViewOverAnUnknownRelation", "CREATE VIEW v9 AS SELECT * FROM my_temp_table", "", "", "temporary views"},
        // A temporary table named like a relation pgmask knows is what the name means: a view
        // over it is temporary, and shadows the catalog relation it is named like.
        Case{"ViewOverATemporaryTableNamedLikeAKnownOne",
             "CREATE VIEW pg_roles AS SELECT v.ssn AS rolname FROM visits v LEFT JOIN events ON false", "", "",
             "temporary views", "", {"public"}, {"events"}},
        Case{"TemporaryRelationShadowsATable", "SELECT ssn FROM patients", "ssn:*", "", "", "", {"public"},
             {"patients"}},
        Case{"TemporaryOperator", "SELECT OPERATOR(pg_temp.#@) 'x'", "?column?:*", "", "operator #@"},
        Case{"UnknownOperatorSymbol", "SELECT 1 #@ 2", "?column?:*", "", "operator #@"},
        Case{"SubLinkOperator", "SELECT 1 OPERATOR(pg_temp.=) ANY (SELECT id FROM visits)", "?column?:-", "",
             "operator ="},
        Case{"OrderByUsingOperator", "SELECT id FROM visits ORDER BY id USING OPERATOR(pg_temp.<)", "id:-", "",
             "operator <"},
        Case{"CreateOperator", "CREATE OPERATOR pg_temp.#@ (RIGHTARG = text, FUNCTION = pg_catalog.ts_stat)", "", "",
             "creating operators"},
        Case{"CreateAggregate",
             "CREATE AGGREGATE public.noisy_note(text, boolean) (sfunc = pg_catalog.set_config, stype = text)", "", "",
             "creating operators, aggregates"},
        Case{"CreateCast", "CREATE CAST (int AS text) WITH FUNCTION public.evil_fn(int)", "", "", "casts"},
        Case{"CreateExtension", "CREATE EXTENSION hstore", "", "", "extensions"},
        Case{"RangeTypeNamedLikeAFunction", "CREATE TYPE public.upper AS RANGE (subtype = text)", "", "",
             "range types"},
        Case{"MultirangeNamedLikeABuiltIn",
             "CREATE TYPE pg_temp.rr AS RANGE (subtype = int8, multirange_type_name = pg_temp.text)", "", "",
             "pg_catalog.text in casts"},
        Case{"BuiltinOperator", "SELECT 1 OPERATOR(pg_catalog.=) 1", "?column?:-"},
        Case{"OverloadedBuiltinOperator", "SELECT 1 = 1", "?column?:-"},
        Case{"SystemColumns", "SELECT p.ctid, xmin, tableoid FROM patients p", "ctid:-, xmin:-, tableoid:-"},
        Case{"StatisticsDefinitions", "SELECT stxname FROM pg_catalog.pg_statistic_ext", "stxname:*"},
        Case{"SetConfigNonLiteralName", "SELECT set_config(name, 'off', false) FROM patients", "set_config:-", "",
             "run time"},
        // pg_dump's own: no setting that reads SQL text accepts this value.
        Case{"SetConfigNonLiteralNameListValue", "SELECT set_config(name, 'view, foreign-table', false) FROM patients",
             "set_config:-"},
        Case{"UpdatePgSettings", "UPDATE pg_settings SET setting = 'off' WHERE name = 'x'", "", "REPLACED:*; WHERE:*",
             "pg_settings"},
        Case{"AlterRoleSet", "ALTER ROLE CURRENT_USER SET standard_conforming_strings = off", "", "",
             "standard_conforming"},
        Case{"AlterDatabaseSet", "ALTER DATABASE d SET client_encoding = 'LATIN1'", "", "", "client_encoding"},
        Case{"SetConfigCarriesValue", "SELECT set_config('my.v', ssn, false) FROM patients",
             "set_config:R(patients.ssn)", "FALLIBLE:patients.ssn", "", "a setting<-R(patients.ssn)"},
        Case{"ClientEncodingLatin1", "SET client_encoding = 'LATIN1'", "", "", "client_encoding"},
        Case{"NamesUtf8", "SET NAMES 'UTF8'", ""},
        // PostgreSQL ignores case and punctuation in encoding names: these are all UTF8.
        Case{"ClientEncodingUtf8Punctuated", "SET client_encoding = 'Utf_8'", ""},
        Case{"ClientEncodingUnicode", "SET client_encoding = 'UNICODE'", ""},
        Case{"ClientEncodingSjis", "SET client_encoding = 'SJIS'", "", "", "client_encoding"},
        Case{"SessionAuthorization", "SET SESSION AUTHORIZATION bob", "", "", "SESSION AUTHORIZATION"},
        // PostgreSQL matches setting names without regard to case, and reads an encoding name
        // with everything but its letters and digits dropped.
        Case{"StandardConformingStringsQuotedUpperCase", "SET \"STANDARD_CONFORMING_STRINGS\" = off", "", "",
             "standard_conforming"},
        Case{"ClientEncodingQuotedUpperCase", "SET \"Client_Encoding\" = 'SJIS'", "", "", "client_encoding"},
        Case{"SessionAuthorizationQuotedUpperCase", "SET \"SESSION_AUTHORIZATION\" = app_backend", "", "",
             "SESSION AUTHORIZATION"},
        Case{"SetConfigUpperCaseName", "SELECT set_config('Session_Authorization', 'app_backend', false)",
             "set_config:-", "", "SESSION AUTHORIZATION"},
        Case{"SetConfigNonLiteralNameSpacedEncoding", "SELECT set_config(name, 'S J I S', false) FROM patients",
             "set_config:-", "", "run time"},
        Case{"SetRole", "SET ROLE analyst", ""},
        // A payload of 8000 bytes or more fails: it tells the value's length.
        Case{"NotificationPayload", "SELECT pg_notify('c', ssn) FROM patients", "pg_notify:R(patients.ssn)",
             "FALLIBLE:patients.ssn", "", "a notification payload<-R(patients.ssn)"},
        // Built-ins that keep an argument where the next statement reads it back in clear.
        Case{"SequenceValue", "SELECT setval('s', length(ssn)) FROM patients", "setval:R(patients.ssn)",
             "FALLIBLE:patients.ssn", "", "a sequence (last_value)<-R(patients.ssn)"},
        Case{"AdvisoryLockKey", "SELECT pg_advisory_lock(hashtext(email)) FROM patients",
             "pg_advisory_lock:R(patients.email)", "FALLIBLE:patients.email", "",
             "an advisory lock key (pg_locks)<-R(patients.email)"},
        Case{"ReplicationSlotCreation", "SELECT pg_create_physical_replication_slot(ssn) FROM patients",
             "pg_create_physical_replication_slot:*", "FALLIBLE:patients.ssn", "write-ahead log"},
        Case{"RandomSeed", "SELECT setseed(length(ssn) / 100.0) FROM patients", "setseed:R(patients.ssn)",
             "FALLIBLE:patients.ssn", "", "the session's random seed (random())<-R(patients.ssn)"},
        Case{"ConstantLockKeyWritesNothing", "SELECT pg_advisory_lock(42), setval('s', 7)",
             "pg_advisory_lock:-, setval:-"}),
    [](const auto& info) { return info.param.name; });

// The one statement of `sql` analysed against `catalog` and rendered; "?" when it is not one.
template <typename Render>
std::string AnalyseOne(const Policy& policy, const CatalogView& catalog, const std::string& sql, Render render) {
  auto parsed = ParsedSql::Parse(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return "?";
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, policy, catalog);
  return a.size() == 1 ? render(policy, a[0]) : std::string("?");
}

// A generated column computed from ssn (COPY leaves generated columns out unless they are listed:
// its outputs must be the columns the data holds, or each field after one would be masked as the
// column before it).
TEST(AnalyzerGeneratedColumns, AreDerivedFromTheirSourcesAndLeftOutOfAWholeTableCopy) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData();
  CatalogRelation& patients = data.relations.front();
  ASSERT_EQ(patients.name, "patients");
  patients.columns.insert(patients.columns.begin() + 1, CatalogColumn{"ssn_length", 8, true, {3}});
  patients.columns.insert(patients.columns.begin() + 2, CatalogColumn{"id_twice", 9, true, {1}});
  const CatalogView catalog(std::move(data));
  const auto outputs = [&](const std::string& sql) { return AnalyseOne(*policy, catalog, sql, RenderOutputs); };
  EXPECT_EQ(outputs("COPY patients TO STDOUT"), kPatientsStar);
  EXPECT_EQ(outputs("COPY patients (id, ssn_length, ssn) TO STDOUT"),
            "id:-, ssn_length:R(patients.ssn), ssn:D(patients.ssn)");
  EXPECT_EQ(outputs("SELECT ssn_length, id_twice, p.ssn_length + 1 AS plus FROM patients p"),
            "ssn_length:R(patients.ssn), id_twice:-, plus:R(patients.ssn)");
  EXPECT_EQ(outputs("SELECT * FROM patients").substr(0, 50), "id:-, ssn_length:R(patients.ssn), id_twice:-, name");
}

// patients.ssn under a unique index: whether a write of it conflicts tells whether the value is
// there, however the write is made.
TEST(AnalyzerUniqueColumns, AWriteOfOneIsCheckedAgainstEveryRow) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData();
  CatalogRelation& patients = data.relations.front();
  ASSERT_EQ(patients.name, "patients");
  ASSERT_EQ(patients.columns[2].name, "ssn");
  patients.columns[2].unique = true;
  const CatalogView catalog(std::move(data));
  const auto usages = [&](const std::string& sql) { return AnalyseOne(*policy, catalog, sql, RenderUsages); };
  EXPECT_EQ(usages("INSERT INTO patients (id, ssn) VALUES (1, '123-45-6789') ON CONFLICT DO NOTHING"),
            "UNIQUE:patients.ssn");
  EXPECT_EQ(usages("UPDATE patients SET ssn = $1 WHERE id = 1"), "REPLACED:patients.ssn; UNIQUE:patients.ssn");
  EXPECT_EQ(usages("COPY patients FROM STDIN"), "UNIQUE:patients.ssn");
  EXPECT_EQ(usages("COPY patients (id, email) FROM STDIN"), "");
  EXPECT_EQ(usages("INSERT INTO patients (id, email) VALUES (1, 'a@b')"), "");
  EXPECT_EQ(usages("SELECT ssn FROM patients"), "");
  // Through an updatable view, the write lands in patients.ssn all the same.
  EXPECT_EQ(usages("UPDATE patient_view SET ssn = $1 WHERE id = 1"), "REPLACED:patients.ssn; UNIQUE:patients.ssn");
  EXPECT_EQ(usages("UPDATE patient_view SET id = 2 WHERE id = 1"), "");
}

// visits.note references patients.email: whether a write of it fails tells whether a patient has
// that email.
TEST(AnalyzerForeignKeys, AWriteToAReferencingColumnTestsTheReferencedOne) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData();
  CatalogRelation* visits = nullptr;
  for (CatalogRelation& r : data.relations) visits = r.name == "visits" ? &r : visits;
  ASSERT_NE(visits, nullptr);
  CatalogColumn* note = nullptr;
  for (CatalogColumn& c : visits->columns) note = c.name == "note" ? &c : note;
  ASSERT_NE(note, nullptr);
  note->references.push_back({"public", "patients", "email"});
  data.relations.push_back(testing::Table("public", "visit_contacts", {"id", "contact"}, RelationKind::kView,
                                          "SELECT visits.id, visits.note AS contact FROM public.visits"));
  data.relations.push_back(testing::Table("public", "contacts_again", {"c"}, RelationKind::kView,
                                          "SELECT visit_contacts.contact AS c FROM public.visit_contacts"));
  const CatalogView catalog(std::move(data));
  const auto usages = [&](const std::string& sql) { return AnalyseOne(*policy, catalog, sql, RenderUsages); };
  EXPECT_EQ(usages("INSERT INTO visits (note) VALUES ('a@example.com')"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("UPDATE visits SET note = $1"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("INSERT INTO visits (ssn) VALUES ('x')"), "");
  EXPECT_EQ(usages("SELECT note FROM visits"), "");
  // Through a view (of a view) the write lands in visits.note all the same, though nothing
  // protected is in sight.
  EXPECT_EQ(usages("INSERT INTO visit_contacts VALUES (5, 'a@example.com')"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("UPDATE contacts_again SET c = $1"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("SELECT contact FROM visit_contacts"), "");
}

// PostgreSQL recomputes a generated column from the columns it reads, and checks it in their place.
TEST(AnalyzerGeneratedColumns, AWriteCountsForTheColumnsGeneratedFromIt) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData();
  CatalogRelation& patients = data.relations.front();
  ASSERT_EQ(patients.name, "patients");
  ASSERT_EQ(patients.columns[3].name, "email");
  patients.columns.push_back({"email_override", 8});
  CatalogColumn effective{"effective_email", 9};
  effective.generated = true;
  effective.generated_from = {4, 8};
  effective.unique = true;
  patients.columns.push_back(effective);
  CatalogRelation* visits = nullptr;
  for (CatalogRelation& r : data.relations) visits = r.name == "visits" ? &r : visits;
  ASSERT_NE(visits, nullptr);
  CatalogColumn lowered{"note_lower", 5};
  lowered.generated = true;
  lowered.generated_from = {4};
  lowered.references.push_back({"public", "patients", "email"});
  visits->columns.push_back(lowered);
  const CatalogView catalog(std::move(data));
  const auto usages = [&](const std::string& sql) { return AnalyseOne(*policy, catalog, sql, RenderUsages); };
  EXPECT_EQ(usages("UPDATE patients SET email_override = $1 WHERE id = 1"),
            "REPLACED:patients.email; UNIQUE:patients.email");
  EXPECT_EQ(usages("INSERT INTO patients (id, email_override) VALUES (1, 'a@b')"), "UNIQUE:patients.email");
  EXPECT_EQ(usages("INSERT INTO visits (id, note) VALUES (1, 'a@b')"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("UPDATE patients SET name = 'x' WHERE id = 1"), "");
}

// A unique index or foreign key that only a partition has still checks rows written through the
// partitioned table (PostgreSQL allows a unique index on the parent only with the partition key).
TEST(AnalyzerPartitions, AWriteThroughTheParentMeetsThePartitionsConstraints) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  CatalogData data = testing::TestCatalogData();
  for (CatalogRelation& r : data.relations) {
    if (r.name != "measurements_2024") continue;
    r.columns[1].unique = true;
    r.columns[0].references.push_back({"public", "patients", "email"});
  }
  const CatalogView catalog(std::move(data));
  const auto usages = [&](const std::string& sql) { return AnalyseOne(*policy, catalog, sql, RenderUsages); };
  EXPECT_EQ(usages("INSERT INTO measurements (reading) VALUES ($1)"), "UNIQUE:measurements.reading");
  EXPECT_EQ(usages("INSERT INTO measurements (id) VALUES (1)"), "FOREIGN_KEY:patients.email");
  EXPECT_EQ(usages("UPDATE measurements SET id = 2"), "FOREIGN_KEY:patients.email");
}

struct KindCase {
  std::string name;
  std::string sql;
  StatementKind kind;
  std::string statement_name = "";
};

class StatementKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(StatementKindTest, Classifies) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse(GetParam().sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(StatementKindName(a[0].kind), StatementKindName(GetParam().kind));
  EXPECT_EQ(a[0].name, GetParam().statement_name);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, StatementKindTest,
    ::testing::Values(KindCase{"Select", "SELECT 1", StatementKind::kSelect},
                      KindCase{"Insert", "INSERT INTO visits VALUES (1)", StatementKind::kInsert},
                      KindCase{"Update", "UPDATE visits SET note = ''", StatementKind::kUpdate},
                      KindCase{"Delete", "DELETE FROM visits", StatementKind::kDelete},
                      KindCase{"Merge", "MERGE INTO visits v USING visits w ON true WHEN MATCHED THEN DELETE",
                               StatementKind::kMerge},
                      KindCase{"CopyTo", "COPY visits TO STDOUT", StatementKind::kCopyTo},
                      KindCase{"CopyFrom", "COPY visits FROM STDIN", StatementKind::kCopyFrom},
                      KindCase{"SelectInto", "SELECT 1 INTO t", StatementKind::kCreateTableAs},
                      KindCase{"Set", "SET search_path = public", StatementKind::kSet},
                      KindCase{"Show", "SHOW search_path", StatementKind::kShow},
                      KindCase{"Do", "DO $$ BEGIN END $$", StatementKind::kDo},
                      KindCase{"Call", "CALL safe_fn()", StatementKind::kCall},
                      KindCase{"Explain", "EXPLAIN SELECT 1", StatementKind::kExplain},
                      KindCase{"Prepare", "PREPARE q AS SELECT 1", StatementKind::kPrepare, "q"},
                      KindCase{"Execute", "EXECUTE q(1)", StatementKind::kExecute, "q"},
                      KindCase{"Deallocate", "DEALLOCATE q", StatementKind::kDeallocate, "q"},
                      KindCase{"Declare", "DECLARE c CURSOR FOR SELECT 1", StatementKind::kDeclareCursor, "c"},
                      KindCase{"Fetch", "FETCH 10 FROM c", StatementKind::kFetch, "c"},
                      KindCase{"Move", "MOVE NEXT IN c", StatementKind::kFetch, "c"},
                      KindCase{"Close", "CLOSE c", StatementKind::kClosePortal, "c"},
                      KindCase{"Begin", "BEGIN", StatementKind::kTransaction},
                      KindCase{"Listen", "LISTEN c", StatementKind::kListen},
                      KindCase{"Notify", "NOTIFY c, 'x'", StatementKind::kNotify},
                      KindCase{"CreateTable", "CREATE TABLE t (a int)", StatementKind::kUtility}),
    [](const auto& info) { return info.param.name; });

TEST(AnalyzeStatements, EachStatementOfAQueryString) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse("SELECT 1; SELECT ssn FROM patients;SET search_path = billing, public");
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(testing::RenderOutputs(*policy, a[0]), "?column?:-");
  EXPECT_EQ(testing::RenderOutputs(*policy, a[1]), "ssn:D(patients.ssn)");
  EXPECT_EQ(a[1].location, 9);
  ASSERT_EQ(a[2].settings.size(), 1u);
  EXPECT_EQ(a[2].settings[0].name, "search_path");
  EXPECT_EQ(a[2].settings[0].value, "billing, public");
}

TEST(AnalyzeStatements, SettingNamesAreReadWithoutRegardToCase) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse("SET \"SEARCH_PATH\" = public; SELECT set_config('Search_Path', 'billing', false)");
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a[0].settings.size(), 1u);
  EXPECT_EQ(a[0].settings[0].name, "search_path");
  ASSERT_EQ(a[1].settings.size(), 1u);
  EXPECT_EQ(a[1].settings[0].name, "search_path");
}

TEST(AnalyzeStatements, RecordsFunctionsAsWritten) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse("SELECT pg_catalog.upper(email), safe_fn(1), evil_fn(2) FROM patients");
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a[0].functions.size(), 3u);
  EXPECT_EQ(a[0].functions[0], (FunctionUse{"pg_catalog", "upper", FunctionOrigin::kBuiltin, true}));
  EXPECT_EQ(a[0].functions[1], (FunctionUse{"", "safe_fn", FunctionOrigin::kUserDefined, true}));
  EXPECT_EQ(a[0].functions[2], (FunctionUse{"", "evil_fn", FunctionOrigin::kUserDefined, false}));
}

// Parser edge cases: what does not parse is refused by the caller; what parses but is too deep
// for the analyzer fails closed.
TEST(AnalyzeStatements, TruncatedAndGarbageInputDoNotParse) {
  for (const std::string& sql : {std::string("SELECT ssn FROM patients WHERE"), std::string("SELECT 'unterminated"),
                                std::string("\xff\xfe\x80 garbage \x01\x02", 14), std::string("SELECT (((1")}) {
    EXPECT_FALSE(ParsedSql::Parse(sql).ok()) << sql;
  }
}

TEST(AnalyzeStatements, DeeplyNestedExpressionFailsClosed) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  std::string sql = "SELECT id";
  // Deeper chains overflow the stack inside protobuf-c while ParsedSql::Parse unpacks the tree
  // (reported); this depth is past the analyzer's own limit and within what unpacking survives.
  for (int i = 0; i < 1000; ++i) sql += " || 'a'";
  sql += " FROM patients";
  auto parsed = ParsedSql::Parse(sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_FALSE(a[0].refusals.empty());
  EXPECT_NE(a[0].refusals[0].find("nested too deeply"), std::string::npos);
  EXPECT_EQ(testing::RenderOutputs(*policy, a[0]), "?column?:*");
}

TEST(AnalyzeStatements, DeeplyNestedSubqueriesFailClosed) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  std::string sql = "SELECT ssn FROM patients";
  for (int i = 0; i < 300; ++i) sql = "SELECT * FROM (" + sql + ") q" + std::to_string(i);
  auto parsed = ParsedSql::Parse(sql);
  if (!parsed.ok()) return;  // the parser's own limit: refused by the caller
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_FALSE(a[0].refusals.empty());
  for (const OutputColumn& c : a[0].outputs) EXPECT_TRUE(c.lineage.everything());
}

// The protected columns a statement stores into, whatever it stores (the audit trail's "other").
struct StoredCase {
  std::string name;
  std::string sql;
  std::string stored;  // the columns of StatementAnalysis::stored; "-" none
};

class StoredColumnsTest : public ::testing::TestWithParam<StoredCase> {};

TEST_P(StoredColumnsTest, Analyses) {
  const StoredCase& c = GetParam();
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  const CatalogView catalog(testing::TestCatalogData({"public"}));
  auto parsed = ParsedSql::Parse(c.sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<StatementAnalysis> analyses = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(analyses.size(), 1u);
  const Lineage& stored = analyses[0].stored;
  const std::string columns = stored.everything() ? "*" : testing::Columns(*policy, stored.Columns());
  EXPECT_EQ(columns.empty() ? "-" : columns, c.stored);
}

INSTANTIATE_TEST_SUITE_P(
    Writes, StoredColumnsTest,
    ::testing::Values(
        StoredCase{"InsertListedColumns", "INSERT INTO patients (id, ssn) VALUES (1, $1)", "patients.ssn"},
        StoredCase{"InsertEveryColumn", "INSERT INTO patients VALUES (1)",
                   "patients.ssn,patients.email,patients.diagnosis,patients.insurer_id"},
        StoredCase{"InsertUnprotected", "INSERT INTO patients (id, name) VALUES (1, 'x')", "-"},
        StoredCase{"InsertUnprotectedTable", "INSERT INTO visits (note) VALUES ('x')", "-"},
        StoredCase{"InsertOnConflictUpdate",
                   "INSERT INTO patients (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET email = 'x'",
                   "patients.email"},
        StoredCase{"Update", "UPDATE patients SET email = 'x', name = 'y' WHERE id = 1", "patients.email"},
        StoredCase{"UpdateUnprotected", "UPDATE patients SET name = 'y'", "-"},
        StoredCase{"UpdateThroughAlias", "UPDATE patients AS p SET ssn = NULL", "patients.ssn"},
        StoredCase{"Merge",
                   "MERGE INTO patients p USING visits v ON p.id = v.patient_id WHEN MATCHED THEN UPDATE SET "
                   "dob = now() WHEN NOT MATCHED THEN INSERT (id, ssn) VALUES (v.id, 'y')",
                   "patients.ssn"},
        StoredCase{"CopyFromColumns", "COPY patients (id, email) FROM STDIN", "patients.email"},
        StoredCase{"CopyFromEveryColumn", "COPY patients FROM STDIN",
                   "patients.ssn,patients.email,patients.diagnosis,patients.insurer_id"},
        StoredCase{"CopyToStoresNothing", "COPY patients TO STDOUT", "-"},
        StoredCase{"DeleteStoresNothing", "DELETE FROM patients WHERE id = 1", "-"}),
    [](const ::testing::TestParamInfo<StoredCase>& info) { return info.param.name; });

TEST(AnalyzeStatements, ModerateNestingIsAnalysed) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  std::string sql = "SELECT ssn FROM patients";
  for (int i = 0; i < 20; ++i) sql = "SELECT * FROM (" + sql + ") q" + std::to_string(i);
  auto parsed = ParsedSql::Parse(sql);
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  EXPECT_TRUE(a[0].refusals.empty());
  EXPECT_EQ(testing::RenderOutputs(*policy, a[0]), "ssn:D(patients.ssn)");
}

TEST(AnalyzeStatements, HugeInput) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  std::string sql = "SELECT id FROM patients WHERE id IN (0";
  for (int i = 1; i < 50000; ++i) sql += "," + std::to_string(i);
  sql += ")";
  auto parsed = ParsedSql::Parse(sql);
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  EXPECT_TRUE(a[0].refusals.empty());
  EXPECT_TRUE(a[0].usages.empty());
  EXPECT_EQ(testing::RenderOutputs(*policy, a[0]), "id:-");
}

TEST(AnalyzeStatements, ViewRecursionIsBounded) {
  const auto policy = testing::TestPolicy();
  CatalogData data = testing::TestCatalogData();
  // Impossible in PostgreSQL, but a catalog is input: a view defined over itself.
  data.relations.push_back(testing::Table("public", "loop", {"ssn"}, RelationKind::kView, "SELECT ssn FROM public.loop"));
  const CatalogView catalog(std::move(data));
  auto parsed = ParsedSql::Parse("SELECT ssn FROM loop");
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  EXPECT_EQ(testing::RenderOutputs(*policy, a[0]), "ssn:*");
}

}  // namespace
}  // namespace pgmask::policy

namespace pgmask::policy {
namespace {

TEST(Analyzer, NamesRelationsACompleteCatalogDoesNotHave) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse(
      "WITH c AS (SELECT 1) SELECT * FROM c, patients, no_such_table, app.missing WHERE id = 1");
  ASSERT_TRUE(parsed.ok());
  const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].unknown_relations, (std::vector<std::string>{"no_such_table", "app.missing"}));
  // Offline, an unknown relation is an ordinary table, not a finding.
  const std::vector<StatementAnalysis> offline = AnalyzeStatements(*parsed, *policy, OfflineCatalog(*policy));
  EXPECT_TRUE(offline[0].unknown_relations.empty());
}

// What a statement computes without returning it, and writes at any depth: both make its error
// and notice texts hidden (query_plan.cc, Touches).
TEST(Analyzer, ComputedAndWrittenRows) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  struct Expectation {
    std::string sql;
    std::string computed;  // RenderLineage
    bool writes_rows;
  };
  const Expectation expectations[] = {
      {"SELECT upper(ssn) FROM patients", "-", false},
      {"EXPLAIN ANALYZE SELECT upper(ssn) FROM patients", "R(patients.ssn)", false},
      {"EXPLAIN ANALYZE EXECUTE q", "*", false},
      {"EXPLAIN ANALYZE UPDATE visits SET note = 'x'", "-", true},
      {"WITH u AS (UPDATE visits SET note = 'x' RETURNING 1) SELECT 1", "-", true},
      {"COPY (DELETE FROM visits RETURNING 1) TO STDOUT", "-", true},
      {"REFRESH MATERIALIZED VIEW mv", "R(payments.card_number)", false},
      {"ANALYZE", "*", false},
      {"ANALYZE visits", "-", false},
      {"REINDEX TABLE patients", "R(patients.ssn,patients.email,patients.diagnosis,patients.insurer_id)", false},
  };
  for (const Expectation& e : expectations) {
    auto parsed = ParsedSql::Parse(e.sql);
    ASSERT_TRUE(parsed.ok()) << e.sql;
    const std::vector<StatementAnalysis> a = AnalyzeStatements(*parsed, *policy, catalog);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(testing::RenderLineage(*policy, a[0].computed), e.computed) << e.sql;
    EXPECT_EQ(a[0].writes_rows, e.writes_rows) << e.sql;
  }
}

}  // namespace
}  // namespace pgmask::policy
