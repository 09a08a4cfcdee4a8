#include "policy/function_rules.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

struct Rule {
  std::string_view name;
  bool prefix;  // matches every name starting with `name`
  std::string_view reason;
};

constexpr std::string_view kRunsSql = "it runs SQL given as text, which pgmask cannot analyse";
constexpr std::string_view kReadsFiles = "it reads or writes files on the database server";
constexpr std::string_view kLargeObjects = "it reads or writes large objects, which pgmask cannot mask";
constexpr std::string_view kOtherDatabase = "it reaches another database outside pgmask";
constexpr std::string_view kQueryText = "it exposes other sessions' query text";
constexpr std::string_view kStatistics = "it exposes column statistics (most common values, histograms)";
constexpr std::string_view kDecoding = "it exposes row data from the write-ahead log";
constexpr std::string_view kRawPages = "it reads raw table or index pages, which pgmask cannot mask";
constexpr std::string_view kWalSize =
    "it measures how much write-ahead log statements write, which depends on how a written value compares with the one "
    "it replaces";
constexpr std::string_view kReadsByName = "it reads a table and columns named in its arguments, which pgmask cannot analyse";

constexpr std::array kFunctionRules = {
    Rule{"query_to_xml", true, kRunsSql},  // query_to_xml, _xmlschema, _xml_and_xmlschema
    Rule{"table_to_xml", true, kRunsSql},
    Rule{"cursor_to_xml", true, kRunsSql},
    Rule{"schema_to_xml", true, kRunsSql},
    Rule{"database_to_xml", true, kRunsSql},
    Rule{"ts_stat", false, kRunsSql},
    Rule{"ts_rewrite", false, kRunsSql},
    // Extensions an administrator might list in trusted_functions without reading their bodies.
    Rule{"crosstab", true, kRunsSql},  // tablefunc: crosstab, crosstab2..4
    Rule{"xpath_table", false, kRunsSql},  // xml2
    Rule{"connectby", false, kReadsByName},  // tablefunc
    Rule{"get_raw_page", false, kRawPages},  // pageinspect
    Rule{"heap_page_items", false, kRawPages},
    Rule{"tuple_data_split", false, kRawPages},
    Rule{"bt_page_items", false, kRawPages},
    Rule{"brin_page_items", false, kRawPages},
    Rule{"gin_leafpage_items", false, kRawPages},
    Rule{"gist_page_items", false, kRawPages},
    Rule{"hash_page_items", false, kRawPages},
    Rule{"pg_read_file", false, kReadsFiles},
    Rule{"pg_read_binary_file", false, kReadsFiles},
    Rule{"pg_ls_", true, kReadsFiles},  // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir...
    Rule{"pg_stat_file", false, kReadsFiles},
    Rule{"pg_file_", true, kReadsFiles},  // adminpack: pg_file_write, _rename, _unlink, _sync
    Rule{"pg_logdir_ls", false, kReadsFiles},
    Rule{"lo_", true, kLargeObjects},
    Rule{"loread", false, kLargeObjects},
    Rule{"lowrite", false, kLargeObjects},
    Rule{"dblink", true, kOtherDatabase},
    Rule{"pg_stat_get_activity", false, kQueryText},
    Rule{"pg_stat_get_backend_activity", false, kQueryText},
    Rule{"pg_stat_statements", false, kQueryText},
    Rule{"pg_stat_monitor", false, kQueryText},
    Rule{"pg_mcv_list_items", false, kStatistics},
    Rule{"pg_logical_slot_", true, kDecoding},
    Rule{"pg_current_wal_", true, kWalSize},  // pg_current_wal_lsn, _insert_lsn, _flush_lsn
    Rule{"pg_stat_get_wal", true, kWalSize},  // pg_stat_get_wal, _senders, _receiver
    // These return the position in the write-ahead log they reached, which reads its size too.
    Rule{"pg_logical_emit_message", false, kWalSize},
    Rule{"pg_create_physical_replication_slot", false, kWalSize},
    Rule{"pg_create_logical_replication_slot", false, kWalSize},
    Rule{"pg_copy_physical_replication_slot", false, kWalSize},
    Rule{"pg_copy_logical_replication_slot", false, kWalSize},
    Rule{"pg_replication_slot_advance", false, kWalSize},
    Rule{"pg_get_replication_slots", false, kWalSize},
    Rule{"pg_last_wal_", true, kWalSize},  // pg_last_wal_receive_lsn, _replay_lsn
    Rule{"pg_create_restore_point", false, kWalSize},
    Rule{"pg_backup_start", false, kWalSize},
    Rule{"pg_start_backup", false, kWalSize},
    Rule{"pg_switch_wal", false, kWalSize},
};

constexpr std::array kRelationRules = {
    // pg_statistic_ext holds only the definitions of extended statistics (pg_dump reads it).
    Rule{"pg_statistic", false, kStatistics},
    Rule{"pg_statistic_ext_data", false, kStatistics},
    Rule{"pg_stats", true, kStatistics},      // pg_stats, pg_stats_ext, pg_stats_ext_exprs
    Rule{"pg_stat_activity", false, kQueryText},
    Rule{"pg_stat_statements", false, kQueryText},
    Rule{"pg_stat_monitor", false, kQueryText},
    Rule{"pg_stat_wal", true, kWalSize},  // pg_stat_wal, pg_stat_wal_receiver
    Rule{"pg_stat_replication", false, kWalSize},
    Rule{"pg_replication_slots", false, kWalSize},
};

template <size_t N>
std::optional<std::string_view> Match(const std::array<Rule, N>& rules, std::string_view name) {
  for (const Rule& r : rules) {
    if (r.prefix ? name.substr(0, r.name.size()) == r.name : name == r.name) return r.reason;
  }
  return std::nullopt;
}

bool EqualsIgnoreCase(std::optional<std::string_view> value, std::string_view expected) {
  return value.has_value() && absl::EqualsIgnoreCase(ToAbsl(*value), ToAbsl(expected));
}

}  // namespace

std::optional<std::string_view> ForbiddenFunctionReason(std::string_view name) {
  return Match(kFunctionRules, name);
}

std::optional<std::string_view> ForbiddenRelationReason(std::string_view name) {
  return Match(kRelationRules, name);
}

std::optional<std::string_view> OutOfBandChannel(std::string_view name) {
  // Built-ins that keep their arguments where a later statement reads them back in clear.
  static constexpr std::pair<std::string_view, std::string_view> kChannels[] = {
      {"pg_notify", "a notification payload"},
      {"set_config", "a setting"},
      {"setval", "a sequence (last_value)"},
      {"setseed", "the session's random seed (random())"},
      {"set_limit", "a pg_trgm setting (show_limit())"},
      {"pg_advisory_lock", "an advisory lock key (pg_locks)"},
      {"pg_advisory_lock_shared", "an advisory lock key (pg_locks)"},
      {"pg_advisory_xact_lock", "an advisory lock key (pg_locks)"},
      {"pg_advisory_xact_lock_shared", "an advisory lock key (pg_locks)"},
      {"pg_try_advisory_lock", "an advisory lock key (pg_locks)"},
      {"pg_try_advisory_lock_shared", "an advisory lock key (pg_locks)"},
      {"pg_try_advisory_xact_lock", "an advisory lock key (pg_locks)"},
      {"pg_try_advisory_xact_lock_shared", "an advisory lock key (pg_locks)"},
      {"pg_advisory_unlock", "an advisory lock key (pg_locks)"},
      {"pg_advisory_unlock_shared", "an advisory lock key (pg_locks)"},
      {"pg_replication_origin_create", "a replication origin name"},
      {"pg_replication_origin_session_setup", "a replication origin"},
      {"pg_replication_origin_advance", "a replication origin"},
      {"pg_replication_origin_xact_setup", "a replication origin"},
      {"pg_cancel_backend", "another session (which backend is signalled)"},
      {"pg_terminate_backend", "another session (which backend is signalled)"},
  };
  for (const auto& [function, channel] : kChannels) {
    if (name == function) return channel;
  }
  return std::nullopt;
}

bool SearchesItsText(std::string_view name) {
  static constexpr std::string_view kSearching[] = {
      "replace",     "translate",     "strpos",         "position",         "starts_with",
      "btrim",       "ltrim",         "rtrim",          "split_part",       "string_to_array",
      "string_to_table", "regexp_replace", "regexp_match", "regexp_matches",  "regexp_like",
      "regexp_count", "regexp_instr", "regexp_substr",  "regexp_split_to_array", "regexp_split_to_table",
      // Key and path lookups: NULL or not tells whether the document has that key.
      "json_extract_path", "json_extract_path_text", "jsonb_extract_path", "jsonb_extract_path_text",
      "json_object_field", "json_object_field_text", "jsonb_object_field", "jsonb_object_field_text",
      "json_array_element", "json_array_element_text", "jsonb_array_element", "jsonb_array_element_text",
      "jsonb_path_query", "jsonb_path_query_first", "jsonb_path_query_array", "jsonb_path_exists",
      "jsonb_path_match",
  };
  for (const std::string_view f : kSearching) {
    if (name == f) return true;
  }
  return false;
}

namespace {

// An encoding name as PostgreSQL reads it: letters and digits only, lower case.
std::string CleanEncodingName(std::string_view name) {
  std::string clean;
  for (const char c : name) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) clean.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return clean;
}

}  // namespace

bool IsUtf8EncodingName(std::string_view name) {
  const std::string clean = CleanEncodingName(name);
  return clean == "utf8" || clean == "unicode";
}

bool IsTemporarySchema(std::string_view schema) {
  const std::string lowered = absl::AsciiStrToLower(ToAbsl(schema));
  return lowered == "pg_temp" || absl::StartsWith(lowered, "pg_temp_");
}

bool NamesTemporarySchema(std::string_view search_path) {
  for (absl::string_view entry : absl::StrSplit(ToAbsl(search_path), ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.size() >= 2 && entry.front() == '"' && entry.back() == '"') entry = entry.substr(1, entry.size() - 2);
    if (IsTemporarySchema(ToStd(entry))) return true;
  }
  return false;
}

bool CouldBeEncodingName(std::string_view name) {
  // The stems of every name in PostgreSQL's encoding table (src/common/encnames.c).
  static constexpr std::string_view kStems[] = {"abc",  "alt",     "big5", "euc",      "gb",   "iso8859", "johab",
                                                "koi8", "latin",   "mskanji", "mule", "shiftjis", "sjis",
                                                "sqlascii", "tcvn", "uhc",  "unicode", "utf8", "vscii",   "win"};
  const std::string clean = CleanEncodingName(name);
  for (const std::string_view stem : kStems) {
    if (clean.starts_with(stem)) return true;
  }
  return false;
}

std::optional<std::string> SettingChangeReason(std::string_view setting, std::optional<std::string_view> value) {
  const std::string lowered = absl::AsciiStrToLower(ToAbsl(setting));
  const std::string_view name = lowered;  // PostgreSQL matches setting names without regard to case
  if (name == "standard_conforming_strings") {
    for (std::string_view on : {"on", "true", "yes", "1"}) {
      if (EqualsIgnoreCase(value, on)) return std::nullopt;
    }
    return std::string("standard_conforming_strings may only be on: it changes how SQL text is read");
  }
  if (name == "backslash_quote") {
    if (EqualsIgnoreCase(value, "safe_encoding")) return std::nullopt;
    return std::string("backslash_quote may only be safe_encoding: it changes how SQL text is read");
  }
  if (name == "client_encoding") {
    if (value.has_value() && IsUtf8EncodingName(*value)) return std::nullopt;
    return std::string("client_encoding may only be UTF8");
  }
  if (name == "session_authorization") {
    return std::string("SET SESSION AUTHORIZATION is not allowed for restricted roles");
  }
  if (name == "extra_float_digits") {
    // Fewer digits than the shortest exact form round the value where pgmask cannot see it: a
    // generalized or tokenized float then depends on digits the client never sees.
    int digits = 0;
    if (!value.has_value() || !absl::SimpleAtoi(ToAbsl(*value), &digits) || digits < 1) {
      return std::string("extra_float_digits below 1 is not allowed for restricted roles: the server would round "
                         "floats before pgmask masks them");
    }
  }
  if (name == "search_path") {
    // pgmask cannot see the session's temporary relations: a path naming pg_temp puts new ones
    // where it does not look, and a value known only at run time might name it.
    if (!value.has_value()) return std::string("search_path may only be set to a value written in the statement");
    if (NamesTemporarySchema(*value)) {
      return std::string("a search_path naming pg_temp is not allowed for restricted roles: pgmask cannot see the "
                         "session's temporary relations");
    }
  }
  return std::nullopt;
}

namespace {

std::vector<std::string> SplitOptions(std::string_view options) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < options.size(); ++i) {
    const char c = options[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < options.size()) {
      word.push_back(options[++i]);
    } else {
      word.push_back(c);
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The name=value arguments of -c and -- in the words of `options`, read as PostgreSQL's getopt
// reads its backend switches ("B:bc:C:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:"): switches cluster
// (-ec name=value is -e, then -c), and one that takes an argument takes the rest of its word, or
// else the next word.
std::vector<std::string> OptionAssignments(const std::vector<std::string>& words) {
  constexpr std::string_view kTakesArgument = "BcCDdfhkNprStvW-";
  std::vector<std::string> assignments;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (w.size() < 2 || w[0] != '-') continue;
    for (size_t j = 1; j < w.size(); ++j) {
      if (kTakesArgument.find(w[j]) == std::string_view::npos) continue;
      std::string_view argument = w.substr(j + 1);
      if (argument.empty() && i + 1 < words.size()) argument = words[++i];
      if (w[j] == 'c' || w[j] == '-') assignments.emplace_back(argument);
      break;
    }
  }
  return assignments;
}

std::optional<std::string> OptionReason(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string name(assignment.substr(0, eq));
  for (char& c : name) {
    if (c == '-') c = '_';  // PostgreSQL reads --standard-conforming-strings as the setting
  }
  return SettingChangeReason(absl::AsciiStrToLower(name), assignment.substr(eq + 1));
}

}  // namespace

std::optional<std::string> StartupSettingReason(
    const std::vector<std::pair<std::string_view, std::string_view>>& parameters) {
  for (const auto& [key, value] : parameters) {
    if (key == "user" || key == "database" || key == "replication") continue;
    if (key != "options") {
      if (std::optional<std::string> reason = SettingChangeReason(key, value)) return reason;
      continue;
    }
    for (const std::string& assignment : OptionAssignments(SplitOptions(value))) {
      if (std::optional<std::string> reason = OptionReason(assignment)) return reason;
    }
  }
  return std::nullopt;
}

}  // namespace pgmask::policy
