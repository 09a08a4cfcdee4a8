#include "proxy/statement_guard.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "policy/nesting_check.h"
#include "policy/output_references.h"
#include "policy/sql_parse.h"
#include "protocol/message_tags.h"
#include "protocol/message_writer.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

// Bounded: past this many distinct statements the cache starts over.
constexpr size_t kMaxCachedStatements = 4096;

struct AnalysisCache {
  // Entries hold indexes into this policy; holding it also keeps its address from being reused.
  std::shared_ptr<const policy::Policy> policy;
  absl::flat_hash_map<std::string, StatementFacts> entries;
};

}  // namespace

const StatementFacts& AnalyzeStatement(std::string_view sql, const std::shared_ptr<const policy::Policy>& policy) {
  thread_local AnalysisCache cache;
  if (cache.policy != policy) {
    cache.entries.clear();
    cache.policy = policy;
  }
  const auto it = cache.entries.find(ToAbsl(sql));
  if (it != cache.entries.end()) return it->second;
  if (cache.entries.size() >= kMaxCachedStatements) cache.entries.clear();
  StatementFacts facts;
  auto parsed = policy::ParsedSql::Parse(sql);
  if (parsed.ok()) {
    facts.parsed = true;
    facts.output = policy::FindOutputReferences(*policy, *parsed);
    auto copy = policy::FindCopyToClient(*parsed);
    if (copy.ok()) {
      facts.copy = *std::move(copy);
    } else {
      facts.copy_error = std::string(copy.status().message());
    }
  }
  return cache.entries.emplace(std::string(sql), std::move(facts)).first->second;
}

namespace {

bool AnyDeny(const policy::Policy& policy, const policy::EffectiveActions& actions) {
  for (size_t i = 0; i < policy.classifications().size(); ++i) {
    if (actions.For(i) == policy::Action::kDeny) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> CheckForDeniedOutput(const StatementFacts& analysis, const policy::Policy& policy,
                                                const policy::EffectiveActions& actions) {
  if (!AnyDeny(policy, actions)) return std::nullopt;
  if (!analysis.parsed) {
    // What cannot be parsed cannot be shown free of denied columns.
    return std::string("pgmask: statement refused: it could not be analysed");
  }
  for (const policy::ProtectedReference& ref : analysis.output) {
    const policy::TableRule& table = policy.tables()[ref.table_index];
    const policy::ColumnRule& column = table.columns[ref.column_index];
    if (actions.For(column.class_index) == policy::Action::kDeny) {
      return absl::StrFormat("pgmask: permission denied for column %s.%s.%s (class %s)", table.schema, table.name,
                             column.name, column.classification);
    }
  }
  return std::nullopt;
}

std::string RefusalStatement(std::string_view message) {
  std::string literal = "E'";
  for (char c : message) {
    if (c == '\'' || c == '\\') literal.push_back(c);
    literal.push_back(c);
  }
  literal.push_back('\'');
  std::string tag = "$pgmask$";
  while (literal.find(tag) != std::string::npos) tag.insert(1, "x");
  return absl::StrFormat("DO LANGUAGE plpgsql %sBEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = %s; END%s",
                         tag, literal, tag);
}

void AppendRefusalQuery(std::string_view message, std::string& out) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kQuery)).CString(RefusalStatement(message));
  w.End();
}

void AppendRefusalParse(const protocol::ParseView& parse, std::string_view message, std::string& out) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kParse))
      .CString(parse.statement)
      .CString(RefusalStatement(message));
  constexpr int32_t kTextOid = 25;
  const size_t count = std::max<size_t>(parse.parameter_type_count, policy::MaxParameterNumber(parse.query));
  w.Int16(static_cast<int16_t>(count));
  for (size_t i = 0; i < count; ++i) {
    const uint32_t declared = i < parse.parameter_type_count ? parse.ParameterType(i) : 0;
    w.Int32(declared != 0 ? static_cast<int32_t>(declared) : kTextOid);
  }
  w.End();
}

void AppendNullBind(const protocol::BindView& bind, std::string& out) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kBind)).CString(bind.portal).CString(bind.statement);
  w.Int16(static_cast<int16_t>(bind.parameter_formats.count()));
  for (size_t i = 0; i < bind.parameter_formats.count(); ++i) w.Int16(bind.parameter_formats.ForColumn(i));
  w.Int16(static_cast<int16_t>(bind.parameters.size()));
  for (size_t i = 0; i < bind.parameters.size(); ++i) w.Int32(-1);
  w.Int16(static_cast<int16_t>(bind.result_formats.count()));
  for (size_t i = 0; i < bind.result_formats.count(); ++i) w.Int16(bind.result_formats.ForColumn(i));
  w.End();
}

}  // namespace pgmask::proxy
