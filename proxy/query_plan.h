// A restricted session's plan for one Query or Parse message: the analyzer's verdict for each of
// its statements (refuse, or how to treat each output column), found once per distinct statement
// text, catalog snapshot, search_path and set of actions, and cached per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog_view.h"
#include "policy/copy_statement.h"
#include "policy/decision.h"
#include "policy/effective_action.h"
#include "policy/policy.h"
#include "policy/statement_kind.h"
#include "protocol/copy_options.h"
#include "protocol/messages.h"
#include "proxy/audit_columns.h"
#include "proxy/audit_statement_text.h"

namespace pgmask::proxy {

// What masking a COPY ... TO STDOUT needs beyond its plan: the COPY's options, and its columns,
// which the COPY itself never describes (pgmask asks the server to describe an equivalent SELECT
// just before the COPY is parsed or run).
struct CopyDescription {
  std::optional<protocol::CopyOptions> options;  // nullopt: options pgmask cannot mask
  std::optional<std::vector<protocol::FieldDescription>> fields;  // set when the server described them
  // The columns FORCE_QUOTE names, resolved into options->force_quote_columns by the described
  // column names (the first column of that name, as the server resolves them).
  std::vector<std::string> force_quote_names;
};

struct PlannedStatement {
  policy::StatementKind kind = policy::StatementKind::kUtility;
  std::string name;  // PREPARE/EXECUTE/DEALLOCATE statement, DECLARE/FETCH/CLOSE cursor
  policy::StatementDecision decision;
  // Reads, filters on or writes a protected column (or something untraceable): the statement's
  // error and notice texts may quote protected values.
  bool touches_protected = false;
  // The protected columns it uses and how (role-independent), for the audit record.
  AuditColumnRefs audit_columns;
  // Audited sessions only, set per message and never cached: the statement's text as the audit
  // trail records it.
  std::shared_ptr<const AuditStatementText> audit_text;
  bool changes_settings = false;  // SET, RESET, DISCARD, set_config: search_path may differ after
  // DDL, or a change of search_path or role: names in later statements may resolve differently.
  bool redefines_names = false;
  bool refused = false;           // pgmask's refusal stands in for it
  // A COPY TO STDOUT: set on the session's own copy of the statement (see WithCopyDescription),
  // never on a cached plan.
  std::shared_ptr<CopyDescription> copy;
  // The search_path and catalog snapshot it was analysed under: PostgreSQL analyses a prepared
  // statement again when search_path changes or a relation it reads is redefined (a view
  // replaced, a table dropped and a view created in its place), so its plan holds only under
  // both (HoldsUnder).
  std::vector<std::string> search_path;
  std::vector<std::string> temporary;  // the session's temporary relations then
  std::weak_ptr<const policy::CatalogSnapshot> snapshot;
  // SQL PREPARE, and the session's copy of a named protocol-level statement (WithSource): the text
  // to analyse again once the plan no longer holds.
  std::shared_ptr<const std::string> source;

  bool HoldsUnder(const policy::CatalogView* view) const;

  // Whether a portal named `portal` holding this statement has PostgreSQL resolve names, expand
  // views or find a prepared statement only when it is executed, against the catalog of that
  // moment: COPY (query), EXECUTE, EXPLAIN, CREATE TABLE AS and DECLARE run their query through
  // the rewriter at Execute. A cursor's own portal (a DECLARE named like it) was fixed when
  // declared.
  bool ResolvesAtExecute(std::string_view portal) const;

  // Whether the audit trail records its results: it uses a protected column, or it is an
  // EXECUTE or FETCH, whose results are those of what it runs.
  bool MayBeRecorded() const {
    return !audit_columns.empty() || kind == policy::StatementKind::kExecute || kind == policy::StatementKind::kFetch;
  }

  // Every field redacted: rows whose origin pgmask does not know (an unknown cursor or prepared
  // statement, more results than statements).
  static std::shared_ptr<const PlannedStatement> Untraceable();
  // A prepared statement pgmask replaced by its refusal.
  static std::shared_ptr<const PlannedStatement> Refused();
};
using PlannedStatementPtr = std::shared_ptr<const PlannedStatement>;

struct QueryPlan {
  // The message must not run: the first statement's refusal (42501 text).
  std::optional<std::string> refusal;
  std::vector<PlannedStatementPtr> statements;
  std::optional<policy::CopyToClient> copy;  // a COPY ... TO STDOUT
  std::string copy_error;                    // a COPY TO STDOUT pgmask cannot mask
  bool touches_protected = false;
  bool changes_settings = false;
  // The text does not parse (or nests too deep to parse): its statements are untraceable.
  bool unparsable = false;
  // Relations the statements name that the session's catalog does not have.
  std::vector<std::string> unknown_relations;
};
using QueryPlanPtr = std::shared_ptr<const QueryPlan>;

// `plan` with every output of every statement redacted (refusals kept): for statements analysed
// while the session's search_path or role may have changed and not been read again.
QueryPlanPtr WithUntraceableOutputs(const QueryPlan& plan);

// The session's copy of `statement`, prepared by a protocol-level Parse of `sql`.
PlannedStatementPtr WithSource(const PlannedStatementPtr& statement, std::string_view sql);

// `plan` with its COPY TO STDOUT statement given a description of its own, to be filled by the
// server's answer to pgmask's Describe.
QueryPlanPtr WithCopyDescription(const QueryPlan& plan, std::shared_ptr<CopyDescription> copy);

QueryPlanPtr PlanQuery(std::string_view sql, const std::shared_ptr<const policy::Policy>& policy,
                       const std::shared_ptr<const policy::CatalogView>& catalog, const policy::EffectiveActions& actions);

}  // namespace pgmask::proxy
