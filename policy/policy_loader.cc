#include "policy/policy_loader.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/identifier.h"
#include "policy/keyed_hash.h"
#include "protocol/string_view_bridge.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace pgmask::policy {
namespace {

constexpr int kMaxBreakGlassMinutes = 24 * 60;

struct Entry {
  std::string key;
  YAML::Mark key_mark;
  YAML::Node value;
};

bool IsClassNameChar(char c, bool first) {
  const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  return first ? alpha : alpha || (c >= '0' && c <= '9') || c == '-';
}

std::string ExpectedList(std::initializer_list<absl::string_view> keys) {
  return absl::StrJoin(keys, ", ");
}

// Where the first two documents of a YAML stream start, and where their root values are, from
// parser events alone: YAML::Load reads the first document, this says whether a second follows,
// and no unbounded loop over documents (YAML::LoadAll) is ever run.
class DocumentMarks : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    std::optional<YAML::Mark> root;
  };

  // Throws what the parser throws (YAML::ParserException on a syntax error).
  static std::vector<Document> FirstTwo(const std::string& yaml) {
    std::istringstream in(yaml);
    YAML::Parser parser(in);
    DocumentMarks marks;
    for (int i = 0; i < 2 && parser.HandleNextDocument(marks); ++i) {
    }
    return std::move(marks.documents_);
  }

  void OnDocumentStart(const YAML::Mark& mark) override { documents_.push_back({mark, std::nullopt}); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Value(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Value(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    Value(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Value(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Value(mark);
  }
  void OnMapEnd() override {}

 private:
  void Value(const YAML::Mark& mark) {
    if (!documents_.empty() && !documents_.back().root) documents_.back().root = mark;
  }
  std::vector<Document> documents_;
};

class Loader {
 public:
  explicit Loader(std::string_view filename) : file_(filename) {}

  absl::StatusOr<std::shared_ptr<const Policy>> Load(std::string_view text) {
    if (text.size() > kMaxPolicyFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_, ":1:1: policy file is larger than ", kMaxPolicyFileBytes >> 20, " MiB"));
    }
    data_.source_name = file_;
    data_.sha256_hex = Sha256Hex(text);
    const std::string yaml(text);
    std::vector<DocumentMarks::Document> starts;
    YAML::Node document;
    try {
      starts = DocumentMarks::FirstTwo(yaml);
      // The parser does not move past a token no value can start with (a lone ','), so every
      // further document "starts" at the same place: yaml-cpp 0.7's LoadAll loops there forever,
      // adding a null document per turn (jbeder/yaml-cpp#1040).
      if (starts.size() == 2 && starts[1].start.pos == starts[0].start.pos) {
        Error(starts[0].start, "YAML syntax error: unexpected token");
        return Finish();
      }
      document = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
      Error(e.mark, absl::StrCat("YAML syntax error: ", e.msg));
      return Finish();
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(file_, ": cannot parse: ", e.what()));
    }
    if (starts.empty() || document.IsNull()) {
      Error(YAML::Mark::null_mark(), "policy file is empty");
      return Finish();
    }
    if (starts.size() > 1) {
      Error(starts[1].root.value_or(starts[1].start), "policy file holds more than one YAML document");
    }
    try {
      Top(document);
    } catch (const YAML::Exception& e) {
      Error(e.mark, absl::StrCat("YAML error: ", e.msg));
    }
    return Finish();
  }

 private:
  absl::StatusOr<std::shared_ptr<const Policy>> Finish() {
    if (errors_.empty()) return std::make_shared<const Policy>(std::move(data_));
    // In file order, whatever order the sections were checked in.
    std::stable_sort(errors_.begin(), errors_.end(), [](const Located& a, const Located& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::vector<std::string> lines;
    for (const Located& e : errors_) lines.push_back(e.text);
    if (dropped_ > 0) {
      lines.push_back(absl::StrCat(file_, ": ", dropped_, " more errors not shown"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

  void Error(const YAML::Mark& mark, absl::string_view message) {
    if (errors_.size() >= kMaxReportedErrors) {
      ++dropped_;
      return;
    }
    const int line = mark.line < 0 ? 1 : mark.line + 1;
    const int column = mark.column < 0 ? 1 : mark.column + 1;
    errors_.push_back(
        Located{line, column, absl::StrCat(file_, ":", line, ":", column, ": ", message)});
  }

  // Where to point for a value: a null value's own mark is wherever the next token starts,
  // so point at its key instead.
  static YAML::Mark ValueMark(const Entry& e) {
    return e.value.IsNull() ? e.key_mark : e.value.Mark();
  }

  // The entries of a mapping, in file order. Keys must be plain scalars; with `dedupe`, a key
  // seen twice is an error (yaml-cpp keeps both).
  std::vector<Entry> Entries(const YAML::Node& node, const YAML::Mark& where,
                             absl::string_view what, bool dedupe) {
    std::vector<Entry> entries;
    if (node.IsNull()) return entries;
    if (!node.IsMap()) {
      Error(node.Mark(), absl::StrCat(what, " must be a mapping"));
      return entries;
    }
    absl::flat_hash_map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        Error(key.IsNull() ? where : key.Mark(), absl::StrCat("keys in ", what, " must be strings"));
        continue;
      }
      if (dedupe) {
        auto [pos, inserted] = seen.emplace(key.Scalar(), key.Mark().line + 1);
        if (!inserted) {
          Error(key.Mark(), absl::StrCat("duplicate key '", key.Scalar(), "' in ", what,
                                         " (first at line ", pos->second, ")"));
          continue;
        }
      }
      entries.push_back(Entry{key.Scalar(), key.Mark(), it->second});
    }
    return entries;
  }

  void UnknownKey(const Entry& e, absl::string_view what, absl::string_view expected) {
    Error(e.key_mark, absl::StrCat("unknown key '", e.key, "' in ", what, " (expected ",
                                   expected, ")"));
  }

  std::optional<std::string> Scalar(const Entry& e, absl::string_view what) {
    if (e.value.IsScalar()) return e.value.Scalar();
    Error(ValueMark(e), absl::StrCat(what, " must be a string"));
    return std::nullopt;
  }

  void Top(const YAML::Node& root) {
    if (!root.IsMap()) {
      Error(root.Mark(), "the policy must be a YAML mapping with 'version: 1' at the top");
      return;
    }
    const YAML::Mark top_mark = root.Mark();
    std::optional<Entry> version, classifications, tables, roles, settings, break_glass;
    for (Entry& e : Entries(root, top_mark, "the policy", true)) {
      if (e.key == "version") {
        version = std::move(e);
      } else if (e.key == "classifications") {
        classifications = std::move(e);
      } else if (e.key == "tables") {
        tables = std::move(e);
      } else if (e.key == "roles") {
        roles = std::move(e);
      } else if (e.key == "settings") {
        settings = std::move(e);
      } else if (e.key == "break_glass") {
        break_glass = std::move(e);
      } else {
        UnknownKey(e, "the policy",
                   ExpectedList({"version", "classifications", "tables", "roles", "settings",
                                 "break_glass"}));
      }
    }
    if (!version.has_value()) {
      Error(top_mark, "missing 'version: 1'");
    } else if (!version->value.IsScalar() || version->value.Scalar() != "1") {
      Error(ValueMark(*version),
            absl::StrCat("unsupported policy version '",
                         version->value.IsScalar() ? version->value.Scalar() : "", "' (expected 1)"));
    }
    // Classifications first: tables and roles refer to them wherever they appear in the file.
    if (classifications) Classifications(*classifications);
    if (tables) Tables(*tables);
    if (roles) Roles(*roles);
    if (settings) SettingsSection(*settings);
    if (break_glass) BreakGlassSection(*break_glass);
  }

  void Classifications(const Entry& section) {
    for (const Entry& e : Entries(section.value, section.key_mark, "classifications", true)) {
      bool name_ok = !e.key.empty() && e.key.size() <= kMaxIdentifierBytes;
      for (size_t i = 0; i < e.key.size() && name_ok; ++i) {
        name_ok = IsClassNameChar(e.key[i], i == 0);
      }
      if (!name_ok) {
        Error(e.key_mark, absl::StrCat("bad classification name '", e.key,
                                       "' (letters, digits, '_' and '-', at most 63)"));
        continue;
      }
      if (e.key == "default") {
        Error(e.key_mark, "'default' cannot name a classification: roles use it as a key");
        continue;
      }
      Classification c;
      c.name = e.key;
      bool has_tier = false;
      const std::string what = absl::StrCat("classification '", e.key, "'");
      if (!e.value.IsMap()) {
        Error(ValueMark(e), absl::StrCat(what, " must be a mapping with a tier"));
        continue;
      }
      for (const Entry& f : Entries(e.value, e.key_mark, what, true)) {
        if (f.key == "tier") {
          has_tier = true;  // a bad tier is reported as such, not also as missing
          std::optional<std::string> text = Scalar(f, "tier");
          if (!text) continue;
          std::optional<Tier> tier = ParseTier(*text);
          if (!tier) {
            Error(ValueMark(f), absl::StrCat("unknown tier '", *text,
                                             "' (expected restricted, confidential, internal "
                                             "or public)"));
            continue;
          }
          c.tier = *tier;
        } else if (f.key == "description") {
          if (std::optional<std::string> text = Scalar(f, "description")) c.description = *text;
        } else {
          UnknownKey(f, what, ExpectedList({"tier", "description"}));
        }
      }
      if (!has_tier) Error(e.key_mark, absl::StrCat(what, " has no tier"));
      data_.classifications.push_back(std::move(c));
    }
  }

  std::string ClassList() const {
    std::vector<absl::string_view> names;
    for (const Classification& c : data_.classifications) names.push_back(c.name);
    return names.empty() ? "none are defined" : absl::StrCat("defined: ", absl::StrJoin(names, ", "));
  }

  std::optional<size_t> ClassIndex(std::string_view name) const {
    for (size_t i = 0; i < data_.classifications.size(); ++i) {
      if (data_.classifications[i].name == name) return i;
    }
    return std::nullopt;
  }

  void Tables(const Entry& section) {
    absl::flat_hash_map<std::string, int> seen;
    for (const Entry& e : Entries(section.value, section.key_mark, "tables", false)) {
      absl::StatusOr<QualifiedName> name = ParseQualifiedName(e.key);
      if (!name.ok()) {
        Error(e.key_mark, name.status().message());
        continue;
      }
      const std::string display =
          absl::StrCat(QuoteIdentifierIfNeeded(name->schema), ".", QuoteIdentifierIfNeeded(name->name));
      auto [pos, inserted] =
          seen.emplace(absl::StrCat(name->schema, std::string(1, '\0'), name->name),
                       e.key_mark.line + 1);
      if (!inserted) {
        Error(e.key_mark, absl::StrCat("duplicate table '", display, "' (first at line ",
                                       pos->second, ")"));
        continue;
      }
      TableRule table;
      table.schema = name->schema;
      table.name = name->name;
      const std::string what = absl::StrCat("table '", display, "'");
      if (!e.value.IsMap()) {
        Error(ValueMark(e), absl::StrCat(what, " must be a mapping with columns"));
        continue;
      }
      bool has_columns = false;
      for (const Entry& f : Entries(e.value, e.key_mark, what, true)) {
        if (f.key == "key") {
          std::optional<std::string> text = Scalar(f, "key");
          if (!text) continue;
          absl::StatusOr<std::string> key = ParseIdentifier(*text);
          if (!key.ok()) {
            Error(ValueMark(f), key.status().message());
            continue;
          }
          table.key = *std::move(key);
        } else if (f.key == "columns") {
          has_columns = true;
          Columns(f, what, table);
        } else {
          UnknownKey(f, what, ExpectedList({"key", "columns"}));
        }
      }
      if (!has_columns) Error(e.key_mark, absl::StrCat(what, " has no columns"));
      data_.tables.push_back(std::move(table));
    }
  }

  void Columns(const Entry& section, const std::string& table_what, TableRule& table) {
    absl::flat_hash_map<std::string, int> seen;
    const std::string where = absl::StrCat("columns of ", table_what);
    const std::vector<Entry> entries = Entries(section.value, section.key_mark, where, false);
    if (entries.empty()) Error(section.key_mark, absl::StrCat(table_what, " lists no columns"));
    for (const Entry& e : entries) {
      absl::StatusOr<std::string> name = ParseIdentifier(e.key);
      if (!name.ok()) {
        Error(e.key_mark, name.status().message());
        continue;
      }
      auto [pos, inserted] = seen.emplace(*name, e.key_mark.line + 1);
      if (!inserted) {
        Error(e.key_mark, absl::StrCat("duplicate column '", QuoteIdentifierIfNeeded(*name),
                                       "' in ", table_what, " (first at line ", pos->second, ")"));
        continue;
      }
      ColumnRule column;
      column.name = *std::move(name);
      const std::string what = absl::StrCat("column '", QuoteIdentifierIfNeeded(column.name), "'");
      if (!e.value.IsMap()) {
        Error(ValueMark(e), absl::StrCat(what, " must be a mapping with a class"));
        continue;
      }
      bool has_class = false;
      for (const Entry& f : Entries(e.value, e.key_mark, what, true)) {
        if (f.key == "class") {
          has_class = true;
          std::optional<std::string> text = Scalar(f, "class");
          if (!text) continue;
          std::optional<size_t> index = ClassIndex(*text);
          if (!index) {
            Error(ValueMark(f), absl::StrCat("unknown classification '", *text, "' (",
                                             ClassList(), ")"));
            continue;
          }
          column.classification = *text;
          column.class_index = *index;
        } else if (f.key == "mask") {
          // A YAML null (`mask: null`) is the null mask function.
          std::string text = f.value.IsNull() ? "null" : "";
          if (!f.value.IsNull()) {
            std::optional<std::string> scalar = Scalar(f, "mask");
            if (!scalar) continue;
            text = *scalar;
          }
          absl::StatusOr<MaskSpec> spec = ParseMaskSpec(text);
          if (!spec.ok()) {
            Error(ValueMark(f), spec.status().message());
            continue;
          }
          column.mask = *std::move(spec);
        } else {
          UnknownKey(f, what, ExpectedList({"class", "mask"}));
        }
      }
      if (!has_class) Error(e.key_mark, absl::StrCat(what, " has no class"));
      table.columns.push_back(std::move(column));
    }
  }

  std::optional<Action> ActionOf(const Entry& f) {
    // A YAML null (`PHI: null`) is the null action.
    if (f.value.IsNull()) return Action::kNull;
    std::optional<std::string> text = Scalar(f, "an action");
    if (!text) return std::nullopt;
    std::optional<Action> action = ParseAction(*text);
    if (!action) {
      Error(ValueMark(f), absl::StrCat("unknown action '", *text,
                                       "' (expected clear, tokenize, mask, null or deny)"));
    }
    return action;
  }

  void Roles(const Entry& section) {
    absl::flat_hash_map<std::string, int> seen;
    for (const Entry& e : Entries(section.value, section.key_mark, "roles", false)) {
      std::string name;
      if (e.key == kDefaultRoleName) {
        name = e.key;
      } else {
        absl::StatusOr<std::string> parsed = ParseIdentifier(e.key);
        if (!parsed.ok()) {
          Error(e.key_mark, parsed.status().message());
          continue;
        }
        name = *std::move(parsed);
      }
      auto [pos, inserted] = seen.emplace(name, e.key_mark.line + 1);
      if (!inserted) {
        Error(e.key_mark, absl::StrCat("duplicate role '", e.key, "' (first at line ",
                                       pos->second, ")"));
        continue;
      }
      RoleRule role;
      role.name = std::move(name);
      role.per_class.resize(data_.classifications.size());
      const std::string what = absl::StrCat("role '", e.key, "'");
      if (!e.value.IsMap()) {
        Error(ValueMark(e), absl::StrCat(what, " must be a mapping of classification to action"));
        continue;
      }
      for (const Entry& f : Entries(e.value, e.key_mark, what, true)) {
        if (f.key == "default") {
          role.default_action = ActionOf(f);
          continue;
        }
        std::optional<size_t> index = ClassIndex(f.key);
        if (!index) {
          Error(f.key_mark, absl::StrCat("unknown classification '", f.key, "' in ", what, " (",
                                         ClassList(), ", or 'default')"));
          continue;
        }
        role.per_class[*index] = ActionOf(f);
      }
      data_.roles.push_back(std::move(role));
    }
  }

  void SettingsSection(const Entry& section) {
    for (const Entry& e : Entries(section.value, section.key_mark, "settings", true)) {
      if (e.key == "inference") {
        std::optional<std::string> text = Scalar(e, "inference");
        if (!text) continue;
        if (*text == "deny") {
          data_.settings.inference = Inference::kDeny;
        } else if (*text == "allow") {
          data_.settings.inference = Inference::kAllow;
        } else {
          Error(ValueMark(e), absl::StrCat("unknown inference setting '", *text,
                                           "' (expected deny or allow)"));
        }
      } else if (e.key == "trusted_functions") {
        for (const auto& [text, mark] : ScalarList(e, "trusted_functions")) {
          absl::StatusOr<FunctionName> fn = ParseFunctionName(text);
          if (!fn.ok()) {
            Error(mark, fn.status().message());
            continue;
          }
          data_.settings.trusted_functions.push_back(*std::move(fn));
        }
      } else if (e.key == "clear_notification_channels") {
        for (const auto& [text, mark] : ScalarList(e, "clear_notification_channels")) {
          if (text.empty()) {
            Error(mark, "a notification channel name must not be empty");
            continue;
          }
          data_.settings.clear_notification_channels.push_back(text);
        }
      } else {
        UnknownKey(e, "settings", ExpectedList({"inference", "trusted_functions", "clear_notification_channels"}));
      }
    }
  }

  std::vector<std::pair<std::string, YAML::Mark>> ScalarList(const Entry& e,
                                                             absl::string_view what) {
    std::vector<std::pair<std::string, YAML::Mark>> items;
    if (e.value.IsNull()) return items;
    if (!e.value.IsSequence()) {
      Error(ValueMark(e), absl::StrCat(what, " must be a list"));
      return items;
    }
    for (const YAML::Node& item : e.value) {
      if (!item.IsScalar()) {
        Error(item.IsNull() ? e.key_mark : item.Mark(),
              absl::StrCat("items of ", what, " must be strings"));
        continue;
      }
      items.emplace_back(item.Scalar(), item.Mark());
    }
    return items;
  }

  void BreakGlassSection(const Entry& section) {
    BreakGlass bg;
    bool has_roles = false;
    bool has_minutes = false;
    if (!section.value.IsMap()) {
      Error(ValueMark(section), "break_glass must be a mapping with roles and max_minutes");
      return;
    }
    for (const Entry& e : Entries(section.value, section.key_mark, "break_glass", true)) {
      if (e.key == "roles") {
        has_roles = true;
        for (const auto& [text, mark] : ScalarList(e, "break_glass roles")) {
          absl::StatusOr<std::string> role = ParseIdentifier(text);
          if (!role.ok()) {
            Error(mark, role.status().message());
            continue;
          }
          bg.roles.push_back(*std::move(role));
        }
      } else if (e.key == "max_minutes") {
        has_minutes = true;
        std::optional<std::string> text = Scalar(e, "max_minutes");
        if (!text) continue;
        int minutes = 0;
        bool ok = !text->empty() && text->size() <= 5;
        for (const char c : *text) {
          ok = ok && c >= '0' && c <= '9';
          if (ok) minutes = minutes * 10 + (c - '0');
        }
        if (!ok || minutes < 1 || minutes > kMaxBreakGlassMinutes) {
          Error(ValueMark(e), absl::StrCat("max_minutes must be a whole number from 1 to ",
                                           kMaxBreakGlassMinutes));
          continue;
        }
        bg.max_minutes = minutes;
      } else {
        UnknownKey(e, "break_glass", ExpectedList({"roles", "max_minutes"}));
      }
    }
    if (!has_roles) Error(section.key_mark, "break_glass has no roles");
    if (!has_minutes) Error(section.key_mark, "break_glass has no max_minutes");
    data_.break_glass = std::move(bg);
  }

  struct Located {
    int line;
    int column;
    std::string text;
  };

  std::string file_;
  std::vector<Located> errors_;
  size_t dropped_ = 0;
  PolicyData data_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Policy>> LoadPolicyString(std::string_view text,
                                                               std::string_view filename) {
  return Loader(filename).Load(text);
}

absl::StatusOr<std::shared_ptr<const Policy>> LoadPolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the policy file"));
  // Read in chunks up to one byte past the cap, so an oversized file (or an endless pipe) is
  // refused without reading all of it.
  std::string text;
  char chunk[64 * 1024];
  while (text.size() <= kMaxPolicyFileBytes && in) {
    in.read(chunk, sizeof(chunk));
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": cannot read the policy file"));
  return LoadPolicyString(text, path);
}

}  // namespace pgmask::policy
