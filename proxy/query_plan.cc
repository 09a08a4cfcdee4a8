#include "proxy/query_plan.h"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "policy/analyzer.h"
#include "policy/constant_tokens.h"
#include "policy/literal_free_text.h"
#include "policy/sql_parse.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

// Bounded: past this many distinct plans the cache starts over.
constexpr size_t kMaxCachedPlans = 4096;

// Separates the key's prefix from the exact text or the literal-free text.
constexpr char kExactText = '\1';
constexpr char kLiteralFreeText = '\2';
constexpr char kConstantBlindText = '\3';

struct PlanCache {
  // Entries depend on the policy's indexes and on these snapshots; holding them keeps their
  // addresses, which are part of the keys, from being reused.
  std::shared_ptr<const policy::Policy> policy;
  std::vector<std::shared_ptr<const policy::CatalogSnapshot>> snapshots;
  absl::flat_hash_map<std::string, QueryPlanPtr> entries;
  std::string key;  // reused to build lookup keys without allocating
  std::string blind_key;
};

bool Touches(const policy::StatementAnalysis& a) {
  switch (a.kind) {
    // A failing row of a write is quoted whole in the error detail; EXECUTE and FETCH run what
    // was planned elsewhere.
    case policy::StatementKind::kInsert:
    case policy::StatementKind::kUpdate:
    case policy::StatementKind::kDelete:
    case policy::StatementKind::kMerge:
    case policy::StatementKind::kCopyFrom:
    case policy::StatementKind::kExecute:
    case policy::StatementKind::kFetch:
      return true;
    default:
      break;
  }
  for (const policy::OutputColumn& o : a.outputs) {
    if (!o.lineage.empty()) return true;
  }
  for (const policy::DataWrite& w : a.writes) {
    if (!w.lineage.empty()) return true;
  }
  return !a.usages.empty() || a.runs_deferred_checks || a.writes_rows || !a.computed.empty();
}

// SET ROLE changes what "$user" in search_path means; set_config may change search_path.
bool ChangesSettings(const policy::StatementAnalysis& a) {
  return a.kind == policy::StatementKind::kSet || !a.settings.empty();
}

// search_path, the role that "$user" in it names, or everything at once (RESET ALL, a name
// set_config only learns at run time).
bool RedefinesNames(const policy::StatementAnalysis& a) {
  for (const policy::SettingChange& change : a.settings) {
    if (change.name == "search_path" || change.name == "role" || change.name.empty()) return true;
  }
  return false;
}

// Statements whose plan can only depend on their constants where the analysis says so
// (literal_sensitive); COPY's options, SET's values and every other utility's arguments are
// read elsewhere too.
bool ConstantsIgnored(const policy::StatementAnalysis& a) {
  switch (a.kind) {
    case policy::StatementKind::kSelect:
    case policy::StatementKind::kInsert:
    case policy::StatementKind::kUpdate:
    case policy::StatementKind::kDelete:
    case policy::StatementKind::kMerge:
      return !a.literal_sensitive;
    default:
      return false;
  }
}

// `literal_free` is set when every statement's plan holds for any values of its constants.
QueryPlanPtr Build(std::string_view sql, const policy::Policy& policy, const policy::CatalogView& catalog,
                   const policy::EffectiveActions& actions, bool& literal_free) {
  auto plan = std::make_shared<QueryPlan>();
  literal_free = false;
  auto parsed = policy::ParsedSql::Parse(sql);
  if (!parsed.ok()) {
    // Refused for restricted roles; for the others, results that could hold anything.
    plan->refusal = policy::UnparsableRefusal();
    plan->unparsable = true;
    plan->statements.push_back(PlannedStatement::Untraceable());
    plan->touches_protected = true;
    return plan;
  }
  const std::vector<policy::StatementAnalysis> analyses = policy::AnalyzeStatements(*parsed, policy, catalog);
  const PgQuery__ParseResult& tree = parsed->tree();
  literal_free = !analyses.empty();
  for (size_t i = 0; i < analyses.size(); ++i) {
    const policy::StatementAnalysis& a = analyses[i];
    literal_free = literal_free && ConstantsIgnored(a);
    auto s = std::make_shared<PlannedStatement>();
    s->kind = a.kind;
    s->name = a.name;
    s->decision = policy::Decide(a, policy, actions);
    s->touches_protected = Touches(a);
    s->audit_columns = AuditColumnRefsOf(a);
    s->changes_settings = ChangesSettings(a);
    s->redefines_names = RedefinesNames(a) || i >= tree.n_stmts || tree.stmts[i]->stmt == nullptr ||
                         policy::MayRedefineNames(*tree.stmts[i]->stmt);
    s->search_path = catalog.search_path();
    s->temporary = catalog.temporary();
    s->snapshot = catalog.snapshot();
    if (a.kind == policy::StatementKind::kPrepare) {
      const size_t begin = std::min(sql.size(), static_cast<size_t>(std::max(a.location, 0)));
      const size_t length = a.length > 0 ? static_cast<size_t>(a.length) : std::string_view::npos;
      s->source = std::make_shared<const std::string>(sql.substr(begin, length));
    }
    if (!plan->refusal && s->decision.refusal) plan->refusal = s->decision.refusal;
    plan->touches_protected = plan->touches_protected || s->touches_protected;
    plan->changes_settings = plan->changes_settings || s->changes_settings;
    plan->unknown_relations.insert(plan->unknown_relations.end(), a.unknown_relations.begin(),
                                   a.unknown_relations.end());
    plan->statements.push_back(std::move(s));
  }
  auto copy = policy::FindCopyToClient(*parsed, &catalog);
  if (copy.ok()) {
    plan->copy = *std::move(copy);
  } else {
    plan->copy_error = std::string(copy.status().message());
  }
  return plan;
}

void AppendBytes(std::string& key, const void* data, size_t size) {
  key.append(static_cast<const char*>(data), size);
}

}  // namespace

QueryPlanPtr WithUntraceableOutputs(const QueryPlan& plan) {
  auto copy = std::make_shared<QueryPlan>(plan);
  for (PlannedStatementPtr& s : copy->statements) {
    auto redacted = std::make_shared<PlannedStatement>(*s);
    redacted->decision.columns = PlannedStatement::Untraceable()->decision.columns;
    redacted->touches_protected = true;
    redacted->audit_columns.everything = true;
    s = std::move(redacted);
  }
  copy->touches_protected = true;
  return copy;
}

bool PlannedStatement::HoldsUnder(const policy::CatalogView* view) const {
  if (view == nullptr || search_path != view->search_path() || temporary != view->temporary()) return false;
  // The same snapshot, by its control block: the weak reference keeps that alive, so a new
  // snapshot can never take its place.
  return !snapshot.owner_before(view->snapshot()) && !view->snapshot().owner_before(snapshot);
}

bool PlannedStatement::ResolvesAtExecute(std::string_view portal) const {
  switch (kind) {
    case policy::StatementKind::kCopyTo:
    case policy::StatementKind::kExecute:
    case policy::StatementKind::kExplain:
    case policy::StatementKind::kCreateTableAs:
      return true;
    case policy::StatementKind::kDeclareCursor:
      return name != portal;
    default:
      return false;
  }
}

PlannedStatementPtr WithSource(const PlannedStatementPtr& statement, std::string_view sql) {
  auto own = std::make_shared<PlannedStatement>(*statement);
  own->source = std::make_shared<const std::string>(sql);
  return own;
}

QueryPlanPtr WithCopyDescription(const QueryPlan& plan, std::shared_ptr<CopyDescription> copy) {
  auto described = std::make_shared<QueryPlan>(plan);
  for (PlannedStatementPtr& s : described->statements) {
    if (s->kind != policy::StatementKind::kCopyTo) continue;
    auto own = std::make_shared<PlannedStatement>(*s);
    own->copy = std::move(copy);
    s = std::move(own);
    break;  // FindCopyToClient accepts one COPY TO STDOUT per message
  }
  return described;
}

std::shared_ptr<const PlannedStatement> PlannedStatement::Refused() {
  static const std::shared_ptr<const PlannedStatement> kRefused = [] {
    auto s = std::make_shared<PlannedStatement>(*Untraceable());
    s->refused = true;
    return s;
  }();
  return kRefused;
}

std::shared_ptr<const PlannedStatement> PlannedStatement::Untraceable() {
  static const std::shared_ptr<const PlannedStatement> kUntraceable = [] {
    auto s = std::make_shared<PlannedStatement>();
    s->decision.columns.push_back({policy::Treatment::kRedact, policy::Action::kMask, {}, /*unlisted=*/true});
    s->touches_protected = true;
    s->audit_columns.everything = true;
    return s;
  }();
  return kUntraceable;
}

QueryPlanPtr PlanQuery(std::string_view sql, const std::shared_ptr<const policy::Policy>& policy,
                       const std::shared_ptr<const policy::CatalogView>& catalog, const policy::EffectiveActions& actions) {
  thread_local PlanCache cache;
  if (cache.policy != policy) {
    cache.entries.clear();
    cache.snapshots.clear();
    cache.policy = policy;
  }
  // Key: snapshot address, actions, search_path, then the exact text or (for plans that hold
  // whatever the constants) the text with its constants replaced.
  std::string& key = cache.key;
  key.clear();
  const policy::CatalogSnapshot* snapshot = catalog->snapshot().get();
  AppendBytes(key, &snapshot, sizeof(snapshot));
  for (policy::Action a : actions.all()) key.push_back(static_cast<char>(a));
  for (const std::string& schema : catalog->search_path()) {
    key.append(schema);
    key.push_back('\0');
  }
  // The session's temporary relations take the names they have.
  key.push_back('\1');
  for (const std::string& name : catalog->temporary()) {
    key.append(name);
    key.push_back('\0');
  }
  const size_t prefix = key.size();
  key.push_back(kExactText);
  key.append(sql);
  if (const auto it = cache.entries.find(key); it != cache.entries.end()) return it->second;
  // Statements repeated with other constants (WHERE id = 42) share the plan of the first one:
  // found by a cheap lexer when the text is plain enough for it, else by libpg_query's normalize.
  std::string& blind_key = cache.blind_key;
  blind_key.assign(key, 0, prefix);
  blind_key.push_back(kConstantBlindText);
  const bool blind = policy::AppendConstantBlindKey(sql, blind_key);
  if (blind) {
    if (const auto it = cache.entries.find(blind_key); it != cache.entries.end()) return it->second;
  }
  const std::optional<std::string> literal_free_text = policy::LiteralFreeText(sql);
  std::string literal_free_key;
  if (literal_free_text) {
    literal_free_key.assign(key, 0, prefix);
    literal_free_key.push_back(kLiteralFreeText);
    literal_free_key.append(*literal_free_text);
    if (const auto it = cache.entries.find(literal_free_key); it != cache.entries.end()) {
      QueryPlanPtr plan = it->second;  // the emplace below may move the entries
      // Only plans that hold for any constants are kept under this key: the lexer's key may
      // lead to it too.
      if (blind && cache.entries.size() < kMaxCachedPlans) cache.entries.emplace(blind_key, plan);
      return plan;
    }
  }
  if (cache.entries.size() + 3 > kMaxCachedPlans) {
    cache.entries.clear();
    cache.snapshots.clear();
  }
  bool known = false;
  for (const auto& s : cache.snapshots) known = known || s.get() == snapshot;
  if (!known) cache.snapshots.push_back(catalog->snapshot());
  bool literal_free = false;
  QueryPlanPtr plan = Build(sql, *policy, *catalog, actions, literal_free);
  cache.entries.emplace(key, plan);
  if (literal_free && literal_free_text) cache.entries.emplace(std::move(literal_free_key), plan);
  if (literal_free && blind) cache.entries.emplace(blind_key, plan);
  return plan;
}

}  // namespace pgmask::proxy
