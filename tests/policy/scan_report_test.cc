#include "policy/scan_report.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>
#include <string>

#include "policy/policy_loader.h"

namespace pgmask::policy {
namespace {

Finding MakeFinding(Category category, double confidence, Evidence evidence, uint32_t embedded = 0) {
  return Finding{category, std::string(Info(category).class_name), confidence, evidence, 50, 48, embedded};
}

// public.patients with three findings (one under a name YAML would misread), a quoted table, an
// unsampled view, and a table that timed out.
ScanResult SampleResult() {
  ScanResult r;
  r.database = "clinic";
  ScannedTable patients{"public", "patients", {}, false, std::nullopt, 50, "limit"};
  patients.columns = {{"id", "integer", std::nullopt},
                      {"email", "text", MakeFinding(Category::kEmail, 0.98, Evidence::kBoth)},
                      {"null", "text", MakeFinding(Category::kSsn, 0.6, Evidence::kName)},
                      {"notes", "text", MakeFinding(Category::kFreeText, 0.95, Evidence::kBoth, 1)}};
  ScannedTable quoted{"Sales", "Orders 2024", {}, false, std::nullopt, 10, "tablesample"};
  quoted.columns = {{"Card No", "text", MakeFinding(Category::kCardNumber, 0.9, Evidence::kValues)},
                    {"we\"ird #\nname", "text", MakeFinding(Category::kPhone, 0.9, Evidence::kValues)}};
  ScannedTable view{"public", "patient_view", {{"email", "text", std::nullopt}}, true, std::nullopt, 0, ""};
  ScannedTable slow{"public", "events", {{"ip", "inet", std::nullopt}}, false, "timed out after 10 s", 0, ""};
  r.tables = {patients, quoted, view, slow};
  return r;
}

TEST(ScanReportTest, DraftIsAValidPolicy) {
  std::ostringstream out;
  RenderDraftYaml(SampleResult(), out);
  const std::string yaml = out.str();
  auto policy = LoadPolicyString(yaml, "draft.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message() << "\n" << yaml;
  const ColumnRule* email = (*policy)->FindColumn("public", "patients", "email");
  ASSERT_NE(email, nullptr);
  EXPECT_EQ(email->classification, "PII");
  EXPECT_EQ(email->mask.kind, MaskKind::kEmail);
  EXPECT_NE((*policy)->FindColumn("public", "patients", "null"), nullptr);
  EXPECT_NE((*policy)->FindColumn("Sales", "Orders 2024", "Card No"), nullptr);
  EXPECT_NE((*policy)->FindColumn("Sales", "Orders 2024", "we\"ird #\nname"), nullptr) << yaml;
  EXPECT_EQ((*policy)->FindColumn("public", "patients", "id"), nullptr);
  EXPECT_TRUE((*policy)->FindClassification("PCI").has_value());
  EXPECT_NE(yaml.find("# email, confidence 0.98 (both: 48 of 50 values)"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("contains e-mail"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("# not sampled: public.events (timed out after 10 s)"), std::string::npos) << yaml;
}

TEST(ScanReportTest, EmptyDraftIsAValidPolicy) {
  std::ostringstream out;
  RenderDraftYaml(ScanResult{"empty", {}}, out);
  auto policy = LoadPolicyString(out.str(), "draft.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message() << "\n" << out.str();
  EXPECT_TRUE((*policy)->tables().empty());
}

TEST(ScanReportTest, DriftListsUncoveredAndMissing) {
  auto policy = LoadPolicyString(R"yaml(version: 1
classifications:
  PII: { tier: confidential }
tables:
  public.patients:
    columns:
      email:  { class: PII, mask: email }
      ssn:    { class: PII, mask: redact }
  public.patient_view:
    columns:
      email: { class: PII, mask: email }
  public.gone:
    columns:
      x: { class: PII }
)yaml",
                                 "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  const ScanResult result = SampleResult();
  const Drift drift = ComputeDrift(result, **policy);
  ASSERT_EQ(drift.uncovered.size(), 4u);
  EXPECT_EQ(drift.uncovered[0].column, "null");
  EXPECT_EQ(drift.uncovered[1].column, "notes");
  EXPECT_EQ(drift.uncovered[2].table, "\"Sales\".\"Orders 2024\"");
  ASSERT_EQ(drift.missing.size(), 2u);
  EXPECT_EQ(drift.missing[0].table, "public.patients");
  EXPECT_EQ(drift.missing[0].column, "ssn");
  EXPECT_EQ(drift.missing[1].table, "public.gone");
  EXPECT_EQ(drift.missing[1].column, "");

  std::ostringstream text;
  RenderDriftText(drift, "p.yaml", text);
  EXPECT_NE(text.str().find("not covered by p.yaml (4):"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("  \"Sales\".\"Orders 2024\".\"Card No\": { class: PCI"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("  public.patients.ssn\n"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("  public.gone (the whole table)\n"), std::string::npos) << text.str();
}

TEST(ScanReportTest, NoDrift) {
  auto policy = LoadPolicyString("version: 1\n", "p.yaml");
  ASSERT_TRUE(policy.ok());
  const Drift drift = ComputeDrift(ScanResult{"db", {}}, **policy);
  std::ostringstream text;
  RenderDriftText(drift, "p.yaml", text);
  EXPECT_EQ(text.str().rfind("no drift", 0), 0u) << text.str();
}

TEST(ScanReportTest, Json) {
  auto policy = LoadPolicyString("version: 1\n", "p.yaml");
  ASSERT_TRUE(policy.ok());
  const ScanResult result = SampleResult();
  const Drift drift = ComputeDrift(result, **policy);
  const YAML::Node json = YAML::Load(RenderJson(result, &drift, "p.yaml"));
  EXPECT_EQ(json["database"].as<std::string>(), "clinic");
  ASSERT_EQ(json["tables"].size(), 3u);  // the view is not sampled, so not listed
  const YAML::Node email = json["tables"][0]["findings"][0];
  EXPECT_EQ(email["column"].as<std::string>(), "email");
  EXPECT_EQ(email["category"].as<std::string>(), "email");
  EXPECT_EQ(email["evidence"].as<std::string>(), "both");
  EXPECT_DOUBLE_EQ(email["confidence"].as<double>(), 0.98);
  EXPECT_EQ(json["tables"][0]["findings"][2]["contains"][0].as<std::string>(), "email");
  EXPECT_EQ(json["tables"][2]["skipped"].as<std::string>(), "timed out after 10 s");
  EXPECT_EQ(json["drift"]["uncovered"].size(), 5u);
  EXPECT_EQ(json["drift"]["uncovered"][4]["finding"]["column"].as<std::string>(), "we\"ird #\nname");
  EXPECT_EQ(json["drift"]["uncovered"][3]["finding"]["column"].as<std::string>(), "Card No");
  EXPECT_EQ(json["drift"]["missing"].size(), 0u);
  EXPECT_FALSE(YAML::Load(RenderJson(result, nullptr, ""))["drift"]);
}

}  // namespace
}  // namespace pgmask::policy
