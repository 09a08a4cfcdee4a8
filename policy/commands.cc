#include "policy/commands.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "policy/identifier.h"
#include "policy/pg_type.h"
#include "policy/policy_loader.h"
#include "protocol/string_view_bridge.h"
#include "policy/tokenizer.h"

namespace pgmask::policy {
namespace {

std::string Padded(std::string_view text, size_t width) {
  std::string s(text);
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string RoleSummary(const Policy& policy, const RoleRule& role) {
  std::vector<std::string> parts;
  if (role.default_action) parts.push_back(absl::StrCat("default: ", ToAbsl(ActionName(*role.default_action))));
  for (size_t c = 0; c < role.per_class.size(); ++c) {
    if (role.per_class[c]) {
      parts.push_back(absl::StrCat(policy.classifications()[c].name, ": ",
                                   ToAbsl(ActionName(*role.per_class[c]))));
    }
  }
  return parts.empty() ? "(nothing: falls back to \"*\", then mask)" : absl::StrJoin(parts, ", ");
}

void PrintSummary(const Policy& policy, std::ostream& out) {
  out << "policy " << policy.source_name() << ": OK\n";
  out << "classifications (" << policy.classifications().size() << "):\n";
  size_t width = 0;
  for (const Classification& c : policy.classifications()) width = std::max(width, c.name.size());
  for (const Classification& c : policy.classifications()) {
    out << "  " << Padded(c.name, width) << "  " << Padded(TierName(c.tier), 12);
    if (!c.description.empty()) out << "  " << c.description;
    out << "\n";
  }
  out << "tables (" << policy.tables().size() << "):\n";
  for (const TableRule& t : policy.tables()) {
    out << "  " << QuoteIdentifierIfNeeded(t.schema) << "." << QuoteIdentifierIfNeeded(t.name);
    if (t.key) out << " (key: " << QuoteIdentifierIfNeeded(*t.key) << ")";
    out << "\n";
    size_t col_width = 0;
    for (const ColumnRule& c : t.columns) {
      col_width = std::max(col_width, QuoteIdentifierIfNeeded(c.name).size());
    }
    for (const ColumnRule& c : t.columns) {
      out << "    " << Padded(QuoteIdentifierIfNeeded(c.name), col_width) << "  "
          << Padded(c.classification, width) << "  " << c.mask.ToString() << "\n";
    }
  }
  out << "roles (" << policy.roles().size() << "):\n";
  size_t role_width = 0;
  for (const RoleRule& r : policy.roles()) {
    role_width = std::max(role_width, QuoteIdentifierIfNeeded(r.name).size());
  }
  for (const RoleRule& r : policy.roles()) {
    const std::string name = r.name == kDefaultRoleName ? r.name : QuoteIdentifierIfNeeded(r.name);
    out << "  " << Padded(name, role_width) << "  " << RoleSummary(policy, r) << "\n";
  }
  if (policy.default_role() == nullptr) out << "  (no \"*\" entry: unlisted roles get mask)\n";
  std::vector<std::string> trusted;
  for (const FunctionName& f : policy.settings().trusted_functions) {
    trusted.push_back(f.schema.empty() ? QuoteIdentifierIfNeeded(f.name)
                                       : absl::StrCat(QuoteIdentifierIfNeeded(f.schema), ".",
                                                      QuoteIdentifierIfNeeded(f.name)));
  }
  out << "settings: inference "
      << (policy.settings().inference == Inference::kDeny ? "deny" : "allow")
      << "; trusted functions: " << (trusted.empty() ? "none" : absl::StrJoin(trusted, ", "));
  const std::vector<std::string>& channels = policy.settings().clear_notification_channels;
  if (!channels.empty()) out << "; notification channels in clear: " << absl::StrJoin(channels, ", ");
  out << "\n";
  if (policy.break_glass()) {
    out << "break_glass: roles " << absl::StrJoin(policy.break_glass()->roles, ", ")
        << "; at most " << policy.break_glass()->max_minutes << " minutes\n";
  }
  std::vector<std::string> keys;
  if (policy.UsesTokenize()) keys.push_back(absl::StrCat("token (", ToAbsl(kTokenKeyFlag), " or ", ToAbsl(kTokenKeyEnv), ")"));
  if (policy.UsesHash()) keys.push_back(absl::StrCat("hash (", ToAbsl(kHashKeyFlag), " or ", ToAbsl(kHashKeyEnv), ")"));
  out << "keys needed: " << (keys.empty() ? "none" : absl::StrJoin(keys, ", ")) << "\n";
  out << "sha256: " << policy.sha256_hex() << "\n";
}

}  // namespace

int RunCheckCommand(std::string_view policy_path, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyFile(std::string(policy_path));
  if (!policy.ok()) {
    for (absl::string_view line : absl::StrSplit(policy.status().message(), '\n')) {
      err << line << "\n";
    }
    return 1;
  }
  PrintSummary(**policy, out);
  return 0;
}

int RunDetokenizeCommand(const Key& token_key, std::string_view type_name,
                         absl::Span<const std::string> tokens, std::ostream& out,
                         std::ostream& err) {
  const std::optional<ColumnType> type = ColumnTypeFromName(type_name);
  if (!type) {
    err << "pgmask detokenize: unknown type '" << type_name << "'\n";
    return 1;
  }
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create(token_key);
  if (!tokenizer.ok()) {
    err << "pgmask detokenize: " << tokenizer.status().message() << "\n";
    return 1;
  }
  const PgType pg_type = PgTypeFromOid(type->oid);
  int result = 0;
  std::string plain;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokenizer->Detokenize(pg_type, tokens[i], plain)) {
      out << plain << "\n";
    } else {
      err << "pgmask detokenize: value " << i + 1 << " is not a token of type "
          << PgTypeName(pg_type) << "\n";
      result = 1;
    }
  }
  return result;
}

}  // namespace pgmask::policy
