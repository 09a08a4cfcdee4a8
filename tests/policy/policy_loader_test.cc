#include "policy/policy_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pgmask::policy {
namespace {

const std::string kTestdata = std::string(PGMASK_TESTDATA_DIR) + "/policy";

std::vector<std::string> ErrorLines(const absl::Status& status) {
  return absl::StrSplit(std::string(status.message()), '\n');
}

struct ErrorCase {
  std::string name;
  std::string yaml;
  // Each expected line in full ("t.yaml:L:C: message"), in order.
  std::vector<std::string> errors;
};

const std::string kHeader = R"(version: 1
classifications:
  PII: { tier: confidential }
  PHI: { tier: restricted }
)";

const ErrorCase kErrorCases[] = {
    {.name = "WrongVersion",
     .yaml = "version: 2\n",
     .errors = {"t.yaml:1:10: unsupported policy version '2' (expected 1)"}},
    {.name = "MissingVersion",
     .yaml = "roles: {}\n",
     .errors = {"t.yaml:1:1: missing 'version: 1'"}},
    {.name = "UnknownTopLevelKey",
     .yaml = "version: 1\nsetting: {}\n",
     .errors = {"t.yaml:2:1: unknown key 'setting' in the policy (expected version, "
                "classifications, tables, roles, settings, break_glass)"}},
    {.name = "UnknownTier",
     .yaml = "version: 1\nclassifications:\n  PII: { tier: secret }\n",
     .errors = {"t.yaml:3:16: unknown tier 'secret' (expected restricted, confidential, "
                "internal or public)"}},
    {.name = "MissingTier",
     .yaml = "version: 1\nclassifications:\n  PII: { description: x }\n",
     .errors = {"t.yaml:3:3: classification 'PII' has no tier"}},
    {.name = "UnknownClassificationKey",
     .yaml = "version: 1\nclassifications:\n  PII: { tier: public, colour: red }\n",
     .errors = {"t.yaml:3:24: unknown key 'colour' in classification 'PII' (expected tier, "
                "description)"}},
    {.name = "ReservedClassificationName",
     .yaml = "version: 1\nclassifications:\n  default: { tier: public }\n",
     .errors = {"t.yaml:3:3: 'default' cannot name a classification: roles use it as a key"}},
    {.name = "BadClassificationName",
     .yaml = "version: 1\nclassifications:\n  \"P I\": { tier: public }\n",
     .errors = {"t.yaml:3:3: bad classification name 'P I' (letters, digits, '_' and '-', at "
                "most 63)"}},
    {.name = "DuplicateKeyInMapping",
     .yaml = "version: 1\nclassifications:\n  PII: { tier: public, tier: internal }\n",
     .errors = {"t.yaml:3:24: duplicate key 'tier' in classification 'PII' (first at line 3)"}},
    {.name = "DuplicateClassification",
     .yaml = "version: 1\nclassifications:\n  PII: { tier: public }\n  PII: { tier: public }\n",
     .errors = {"t.yaml:4:3: duplicate key 'PII' in classifications (first at line 3)"}},
    {.name = "UnknownClassInColumn",
     .yaml = kHeader + "tables:\n  public.t:\n    columns:\n      c: { class: PXI }\n",
     .errors = {"t.yaml:8:19: unknown classification 'PXI' (defined: PII, PHI)"}},
    {.name = "MissingClass",
     .yaml = kHeader + "tables:\n  public.t:\n    columns:\n      c: { mask: email }\n",
     .errors = {"t.yaml:8:7: column 'c' has no class"}},
    {.name = "UnknownMaskFunction",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: shred }\n",
     .errors = {"t.yaml:8:30: unknown mask function 'shred' (expected redact, null, partial, "
                "email, hash, tokenize or generalize)"}},
    {.name = "MaskWrongArgumentCount",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: \"partial(0, 4)\" }\n",
     .errors = {"t.yaml:8:30: partial takes 3 arguments, not 2"}},
    {.name = "MaskWrongArgumentType",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: \"hash('8')\" }\n",
     .errors = {"t.yaml:8:30: hash: argument 1 must be an integer, not a string"}},
    {.name = "MaskArgumentOutOfRange",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: \"hash(65)\" }\n",
     .errors = {"t.yaml:8:30: hash: length must be between 1 and 64"}},
    {.name = "MaskUnknownPeriod",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: \"generalize(week)\" }\n",
     .errors = {"t.yaml:8:30: generalize: unknown period 'week' (expected year, month or decade)"}},
    {.name = "MaskTrailingText",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, mask: \"email x\" }\n",
     .errors = {"t.yaml:8:30: unexpected text after mask function 'email'"}},
    {.name = "UnknownColumnKey",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII, masks: email }\n",
     .errors = {"t.yaml:8:24: unknown key 'masks' in column 'c' (expected class, mask)"}},
    {.name = "DuplicateTableSpelledTwoWays",
     .yaml = kHeader + "tables:\n  public.t:\n    columns:\n      c: { class: PII }\n"
                       "  t:\n    columns:\n      c: { class: PII }\n",
     .errors = {"t.yaml:9:3: duplicate table 'public.t' (first at line 6)"}},
    {.name = "DuplicateColumn",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      c: { class: PII }\n      c: { class: PHI }\n",
     .errors = {"t.yaml:9:7: duplicate column 'c' in table 'public.t' (first at line 8)"}},
    {.name = "TableNameWithThreeParts",
     .yaml = kHeader + "tables:\n  db.public.t:\n    columns:\n      c: { class: PII }\n",
     .errors = {"t.yaml:6:3: name 'db.public.t' must be 'schema.name' or 'name'"}},
    {.name = "UpperCaseTableName",
     .yaml = kHeader + "tables:\n  public.Patients:\n    columns:\n      c: { class: PII }\n",
     .errors = {"t.yaml:6:3: name 'Patients' has upper-case letters; PostgreSQL stores unquoted "
                "names in lower case: write it in lower case, or in double quotes to match a "
                "quoted name"}},
    {.name = "MalformedColumnName",
     .yaml = kHeader + "tables:\n  t:\n    columns:\n      \"bad name\": { class: PII }\n",
     .errors = {"t.yaml:8:7: name 'bad name' may only hold letters, digits, '_' and '$' (or be "
                "written in double quotes)"}},
    {.name = "EmptyTableNamePart",
     .yaml = kHeader + "tables:\n  public.:\n    columns:\n      c: { class: PII }\n",
     .errors = {"t.yaml:6:3: empty name"}},
    {.name = "TableWithoutColumns",
     .yaml = kHeader + "tables:\n  t: { key: id }\n",
     .errors = {"t.yaml:6:3: table 'public.t' has no columns"}},
    {.name = "UnknownTableKey",
     .yaml = kHeader + "tables:\n  t:\n    keys: id\n    columns:\n      c: { class: PII }\n",
     .errors = {"t.yaml:7:5: unknown key 'keys' in table 'public.t' (expected key, columns)"}},
    {.name = "UnknownAction",
     .yaml = kHeader + "roles:\n  analyst: { PII: peek }\n",
     .errors = {"t.yaml:6:19: unknown action 'peek' (expected clear, tokenize, mask, null or deny)"}},
    {.name = "UnknownClassInRole",
     .yaml = kHeader + "roles:\n  analyst: { PCI: mask }\n",
     .errors = {"t.yaml:6:14: unknown classification 'PCI' in role 'analyst' (defined: PII, PHI, "
                "or 'default')"}},
    {.name = "DuplicateRole",
     .yaml = kHeader + "roles:\n  analyst: { default: mask }\n  analyst: { default: clear }\n",
     .errors = {"t.yaml:7:3: duplicate role 'analyst' (first at line 6)"}},
    {.name = "RoleNotAMapping",
     .yaml = kHeader + "roles:\n  analyst: clear\n",
     .errors = {"t.yaml:6:12: role 'analyst' must be a mapping of classification to action"}},
    {.name = "UnknownInference",
     .yaml = "version: 1\nsettings:\n  inference: maybe\n",
     .errors = {"t.yaml:3:14: unknown inference setting 'maybe' (expected deny or allow)"}},
    {.name = "TrustedFunctionsNotAList",
     .yaml = "version: 1\nsettings:\n  trusted_functions: lower\n",
     .errors = {"t.yaml:3:22: trusted_functions must be a list"}},
    {.name = "UnknownSetting",
     .yaml = "version: 1\nsettings:\n  inferense: deny\n",
     .errors = {"t.yaml:3:3: unknown key 'inferense' in settings (expected inference, "
                "trusted_functions, clear_notification_channels)"}},
    {.name = "NotificationChannelsNotStrings",
     .yaml = "version: 1\nsettings:\n  clear_notification_channels: [jobs, [x], '']\n",
     .errors = {"t.yaml:3:39: items of clear_notification_channels must be strings",
                "t.yaml:3:44: a notification channel name must not be empty"}},
    {.name = "BreakGlassBadMinutes",
     .yaml = "version: 1\nbreak_glass: { roles: [oncall], max_minutes: 0 }\n",
     .errors = {"t.yaml:2:46: max_minutes must be a whole number from 1 to 1440"}},
    {.name = "BreakGlassMissingRoles",
     .yaml = "version: 1\nbreak_glass: { max_minutes: 30 }\n",
     .errors = {"t.yaml:2:1: break_glass has no roles"}},
    {.name = "SyntaxError",
     .yaml = "version: 1\nclassifications:\n  PII: { tier: public\ntables: {}\n",
     .errors = {"t.yaml:4:7: YAML syntax error: end of map flow not found"}},
    {.name = "TabIndentation",
     .yaml = "version: 1\nroles:\n\tanalyst: {}\n",
     .errors = {"t.yaml:3:9: YAML syntax error: illegal map value"}},
    {.name = "NotAMapping",
     .yaml = "- version\n- 1\n",
     .errors = {"t.yaml:1:1: the policy must be a YAML mapping with 'version: 1' at the top"}},
    {.name = "Empty",
     .yaml = "",
     .errors = {"t.yaml:1:1: policy file is empty"}},
    {.name = "OnlyComments",
     .yaml = "# nothing here\n",
     .errors = {"t.yaml:1:1: policy file is empty"}},
    {.name = "TwoDocuments",
     .yaml = "version: 1\n---\nversion: 1\n",
     .errors = {"t.yaml:3:1: policy file holds more than one YAML document"}},
    // Found by fuzz_policy_loader: yaml-cpp's LoadAll looped forever, allocating, on a token no
    // value can start with.
    {.name = "LoneCommaDoesNotHang",
     .yaml = "\n\n,",
     .errors = {"t.yaml:3:1: YAML syntax error: unexpected token"}},
    {.name = "CommaAfterDocumentEndDoesNotHang",
     .yaml = "version: 1\n...\n,\n",
     .errors = {"t.yaml:3:1: policy file holds more than one YAML document"}},
};

class LoaderErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(LoaderErrorTest, ReportsExactLocation) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(c.yaml, "t.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorLines(policy.status()), c.errors);
}

INSTANTIATE_TEST_SUITE_P(Cases, LoaderErrorTest, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(LoaderTest, ReportsEveryErrorAtOnce) {
  const std::string path = kTestdata + "/broken_many.yaml";
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok());
  const std::vector<std::string> expected = {
      path + ":1:10: unsupported policy version '2' (expected 1)",
      path + ":3:16: unknown tier 'secret' (expected restricted, confidential, internal or "
             "public)",
      path + ":4:28: unknown key 'colour' in classification 'PHI' (expected tier, description)",
      path + ":8:34: partial takes 3 arguments, not 2",
      path + ":9:23: unknown classification 'PXI' (defined: PII, PHI)",
      path + ":10:7: duplicate column 'ssn' in table 'public.patients' (first at line 8)",
      path + ":11:3: name 'Visits' has upper-case letters; PostgreSQL stores unquoted names in "
             "lower case: write it in lower case, or in double quotes to match a quoted name",
      path + ":15:19: unknown action 'peek' (expected clear, tokenize, mask, null or deny)",
      path + ":15:25: unknown classification 'PQR' in role 'analyst' (defined: PII, PHI, or "
             "'default')",
      path + ":16:1: unknown key 'extra' in the policy (expected version, classifications, "
             "tables, roles, settings, break_glass)",
  };
  EXPECT_EQ(ErrorLines(policy.status()), expected);
}

TEST(LoaderTest, LoadsTheDemoPolicy) {
  absl::StatusOr<std::shared_ptr<const Policy>> loaded = LoadPolicyFile(kTestdata + "/clinic.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Policy& policy = **loaded;
  EXPECT_EQ(policy.classifications().size(), 3u);
  EXPECT_EQ(policy.sha256_hex().size(), 64u);
  const ColumnRule* ssn = policy.FindColumn("public", "patients", "ssn");
  ASSERT_NE(ssn, nullptr);
  EXPECT_EQ(ssn->classification, "PII");
  EXPECT_EQ(ssn->mask.kind, MaskKind::kPartial);
  EXPECT_EQ(ssn->mask.text, "XXX-XX-");
  EXPECT_EQ(ssn->mask.suffix, 4);
  EXPECT_EQ(policy.FindColumn("public", "patients", "id"), nullptr);
  EXPECT_EQ(policy.FindColumn("other", "patients", "ssn"), nullptr);
  EXPECT_EQ(policy.FindTable("public", "patients")->key, "id");
  ASSERT_NE(policy.default_role(), nullptr);
  ASSERT_NE(policy.FindRole("analyst"), nullptr);
  EXPECT_EQ(policy.FindRole("*"), nullptr);
  EXPECT_TRUE(policy.UsesTokenize());
  EXPECT_FALSE(policy.UsesHash());
  EXPECT_EQ(policy.settings().inference, Inference::kDeny);
}

TEST(LoaderTest, AcceptsEveryFeature) {
  const std::string yaml = R"yaml(version: 1
classifications:
  PII: { tier: confidential, description: "people" }
  PHI: { tier: restricted }
tables:
  patients:
    columns:
      email: { class: PII, mask: "hash(8)" }
      note:  { class: PHI, mask: null }
      plain: { class: PHI }
  '"Billing"."Card Holders"':
    key: '"Id"'
    columns:
      '"Name"': { class: PII, mask: "redact('x''y')" }
roles:
  analyst: { PII: tokenize, PHI: null }
  '"Ops-Team"': { default: deny }
settings:
  inference: allow
  trusted_functions: [lower, "public.my_fn"]
  clear_notification_channels: [jobs, "Orders Ready"]
break_glass: { roles: [oncall], max_minutes: 60 }
)yaml";
  absl::StatusOr<std::shared_ptr<const Policy>> loaded = LoadPolicyString(yaml, "t.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Policy& policy = **loaded;
  EXPECT_EQ(policy.FindColumn("public", "patients", "note")->mask.kind, MaskKind::kNull);
  EXPECT_EQ(policy.FindColumn("public", "patients", "plain")->mask.kind, MaskKind::kRedact);
  EXPECT_EQ(policy.FindColumn("public", "patients", "email")->mask.hash_chars, 8);
  const ColumnRule* name = policy.FindColumn("Billing", "Card Holders", "Name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->mask.text, "x'y");
  EXPECT_EQ(policy.FindTable("Billing", "Card Holders")->key, "Id");
  ASSERT_NE(policy.FindRole("Ops-Team"), nullptr);
  EXPECT_EQ(policy.RoleAction(*policy.FindRole("analyst"), 1), Action::kNull);
  EXPECT_EQ(policy.default_role(), nullptr);
  EXPECT_EQ(policy.settings().inference, Inference::kAllow);
  ASSERT_EQ(policy.settings().trusted_functions.size(), 2u);
  EXPECT_EQ(policy.settings().trusted_functions[0].schema, "");
  EXPECT_EQ(policy.settings().trusted_functions[1].schema, "public");
  EXPECT_EQ(policy.settings().clear_notification_channels, (std::vector<std::string>{"jobs", "Orders Ready"}));
  ASSERT_TRUE(policy.break_glass().has_value());
  EXPECT_EQ(policy.break_glass()->max_minutes, 60);
  EXPECT_TRUE(policy.UsesHash());
}

TEST(LoaderTest, MissingFileIsNotFound) {
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyFile("/nonexistent/p.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
}

TEST(LoaderTest, Sha256IsOfTheFileBytes) {
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString("version: 1\n", "t");
  ASSERT_TRUE(policy.ok());
  // printf 'version: 1\n' | sha256sum
  EXPECT_EQ((*policy)->sha256_hex(), "09bfcc6a14b83e2192b8673677725c84883ee9cd0c70e45c9ec09daa8f2b2847");
}

// Robustness: no input may crash the loader or make it run away.

TEST(LoaderRobustnessTest, EveryTruncationOfTheDemoPolicy) {
  std::ifstream in(kTestdata + "/clinic.yaml", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  for (size_t len = 0; len < text.size(); ++len) {
    absl::StatusOr<std::shared_ptr<const Policy>> policy =
        LoadPolicyString(text.substr(0, len), "t.yaml");
    if (!policy.ok()) {
      EXPECT_EQ(policy.status().message().substr(0, 7), "t.yaml:") << len;
    }
  }
}

TEST(LoaderRobustnessTest, RefusesOversizedInput) {
  const std::string huge(kMaxPolicyFileBytes + 1, '#');
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(huge, "t.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().message(), "t.yaml:1:1: policy file is larger than 16 MiB");
}

TEST(LoaderRobustnessTest, LoadsTenMegabytes) {
  std::string yaml = "version: 1\nclassifications:\n  PII: { tier: public, description: \"";
  yaml.append(size_t{10} << 20, 'x');
  yaml.append("\" }\n");
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(yaml, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message().substr(0, 200);
  EXPECT_EQ((*policy)->classifications()[0].description.size(), size_t{10} << 20);
}

TEST(LoaderRobustnessTest, LoadsAMegabyteOfColumns) {
  std::string yaml = "version: 1\nclassifications:\n  PII: { tier: public }\ntables:\n  t:\n    columns:\n";
  for (int i = 0; yaml.size() < (size_t{1} << 20); ++i) {
    absl::StrAppend(&yaml, "      column_number_", i, ": { class: PII, mask: \"partial(1, '*', 1)\" }\n");
  }
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(yaml, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message().substr(0, 200);
  EXPECT_NE((*policy)->FindColumn("public", "t", "column_number_1000"), nullptr);
}

TEST(LoaderRobustnessTest, CapsTheNumberOfErrors) {
  std::string yaml = "version: 1\n";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&yaml, "unknown_", i, ": 1\n");
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(yaml, "t.yaml");
  ASSERT_FALSE(policy.ok());
  const std::vector<std::string> lines = ErrorLines(policy.status());
  ASSERT_EQ(lines.size(), kMaxReportedErrors + 1);
  EXPECT_EQ(lines.back(), "t.yaml: 400 more errors not shown");
}

TEST(LoaderRobustnessTest, RejectsDeepNesting) {
  for (const std::string& deep : {std::string(100000, '['), std::string(100000, '{')}) {
    absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(deep, "t.yaml");
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().message().substr(0, 7), "t.yaml:");
  }
  std::string block = "version: 1\nsettings:\n";
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&block, std::string(i + 2, ' '), "k", i, ":\n");
  EXPECT_FALSE(LoadPolicyString(block, "t.yaml").ok());
}

TEST(LoaderRobustnessTest, RejectsBinaryGarbage) {
  std::string garbage;
  uint32_t state = 12345;
  for (int i = 0; i < 65536; ++i) {
    state = state * 1103515245 + 12345;
    garbage.push_back(static_cast<char>(state >> 16));
  }
  for (size_t len : {size_t{1}, size_t{7}, size_t{100}, garbage.size()}) {
    absl::StatusOr<std::shared_ptr<const Policy>> policy =
        LoadPolicyString(garbage.substr(0, len), "t.yaml");
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().message().substr(0, 7), "t.yaml:");
  }
  EXPECT_FALSE(LoadPolicyString(std::string("version: 1\0\0\0", 14), "t.yaml").ok());
}

TEST(LoaderRobustnessTest, AliasesDoNotMultiplyWork) {
  // A billion-laughs shape: the loader only walks the fixed shape, so this is quick.
  std::string yaml = "version: 1\nsettings:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (int i = 0; i < 9; ++i) {
    const std::string name = absl::StrCat("n", i);
    absl::StrAppend(&yaml, "  ", name, ": &", name, " [", std::string(""), "*", prev, ", *", prev,
                    ", *", prev, ", *", prev, ", *", prev, "]\n");
    prev = name;
  }
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(yaml, "t.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(ErrorLines(policy.status()).size(), 10u);  // one unknown key per entry
}

}  // namespace
}  // namespace pgmask::policy
