#include "proxy/client_sink.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "policy/sql_parse.h"
#include "protocol/message_writer.h"
#include "protocol/messages.h"
#include "protocol/string_view_bridge.h"
#include "proxy/break_glass.h"
#include "proxy/log.h"
#include "proxy/statement_guard.h"

namespace pgmask::proxy {

using protocol::MessageType;
using policy::StatementKind;

namespace {

// A statement name of pgmask's own for this session: a client that could guess it could occupy
// it (PREPARE "pgmask.catalog") and make every catalog read fail.
std::string InternalName(std::string_view prefix) {
  uint8_t bytes[12];
  // The CSPRNG failing is not recoverable; a guessable name would let a client freeze the catalog.
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  std::string name(prefix);
  name.push_back('.');
  for (uint8_t b : bytes) absl::StrAppendFormat(&name, "%02x", b);
  return name;
}

// The metric label of a refusal pgmask raises with `sqlstate`: the trail's, or the statement's own.
StatementRefusal RefusalOf(std::string_view sqlstate) {
  return sqlstate == kAuditUnavailableSqlstate ? StatementRefusal::kAuditUnavailable : StatementRefusal::kStatement;
}

}  // namespace

ClientSink::ClientSink(SessionState& s)
    : s_(s), catalog_statement_(InternalName("pgmask.catalog")), copy_statement_(InternalName("pgmask.copy_columns")),
      refusal_name_(InternalName("pgmask.refusal")) {}

bool ClientSink::NeedsWholeFrame(const protocol::FrameHeader& h) {
  return h.type() != MessageType::kCopyData || s_.refresh_in_flight();
}

namespace {

// The messages whose contents pgmask follows. One it cannot read must not reach the server of a
// restricted session: whatever the server makes of it would go unanalysed.
std::optional<std::string_view> Unreadable(MessageType type, protocol::Bytes body) {
  switch (type) {
    case MessageType::kQuery:
      if (!protocol::ParseQuery(body).ok()) return "an unreadable Query message";
      break;
    case MessageType::kParse:
      if (!protocol::ParseParse(body).ok()) return "an unreadable Parse message";
      break;
    case MessageType::kBind:
      if (!protocol::ParseBind(body).ok()) return "an unreadable Bind message";
      break;
    case MessageType::kDescribe:
    case MessageType::kClose:
      if (!protocol::ParseDescribeOrClose(body).ok()) return "an unreadable Describe or Close message";
      break;
    case MessageType::kExecute:
      if (!protocol::ParseExecute(body).ok()) return "an unreadable Execute message";
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace

Verdict ClientSink::OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) {
  // pgmask is reading the catalog: the message is judged against the new one.
  if (s_.refresh_in_flight()) return Verdict::kHold;
  s_.timer.ClientFrame();
  s_.idle = false;
  const MessageType type = h.type();
  if (type == MessageType::kTerminate) {
    s_.client_terminated = true;
    return Verdict::kForwardAndStop;
  }
  if (s_.policy_enabled() && MaybeRefreshCatalog(out)) return Verdict::kHold;
  // A reload reaches the session even when no read can start (a pipeline without Sync) or succeed,
  // once nothing of the client's is being answered under the old policy.
  if (s_.policy_enabled() && s_.policy_behind() && s_.pending.empty()) {
    s_.policy_generation = s_.proxy.policies.generation();
    s_.AdoptPolicy(s_.proxy.policies.current());
  }
  Verdict verdict = Verdict::kForward;
  plan_.reset();
  function_call_.reset();
  refused_ = false;
  const protocol::Bytes body = frame.subspan(protocol::kFrameHeaderSize);
  if (s_.restricted) {
    if (const auto unreadable = Unreadable(type, body)) {
      s_.lost_track = absl::StrFormat("the client sent %s", *unreadable);
      return Verdict::kStop;
    }
  }
  if (s_.break_glass.has_value() && s_.between_statements()) ExpireBreakGlass(s_);
  std::optional<Verdict> break_glass;
  if (type == MessageType::kQuery && s_.policy_enabled()) break_glass = BreakGlass(body, out);
  if (break_glass) {
    verdict = *break_glass;
  } else if (!s_.all_clear) {
    switch (type) {
      case MessageType::kQuery:
      case MessageType::kParse:
        verdict = Guard(h, body, out);
        if (verdict == Verdict::kHold) return verdict;
        break;
      case MessageType::kFunctionCall: {
        // A function called by OID cannot be analysed: restricted sessions may not call one, and
        // a recorded session's call is recorded as touching every protected column.
        if (s_.audit != nullptr) function_call_ = SessionAudit::FunctionCallStatement(body);
        std::string refusal;
        std::string_view sqlstate = kPermissionDenied;
        if (s_.restricted) {
          refusal = "pgmask: statement refused: the FunctionCall message is not allowed for this role";
        } else if (AuditBlocked()) {
          refusal = std::string(kAuditBlockedRefusal);
          sqlstate = kAuditUnavailableSqlstate;
        } else {
          break;
        }
        // Answered like a refused simple Query.
        Logf(LogLevel::kInfo, "session=%s %s", s_.id, refusal);
        s_.proxy.metrics.StatementRefused(RefusalOf(sqlstate));
        if (function_call_ != nullptr) s_.audit->RecordRefused(s_, *function_call_, AuditProtocol::kSimple, sqlstate);
        const size_t start = out.scratch().size();
        AppendRefusalQuery(refusal, out.scratch(), sqlstate);
        out.EmitCommitted(start);
        refused_ = true;
        verdict = Verdict::kDrop;
        break;
      }
      default:
        break;
    }
  }
  if (type == MessageType::kBind && (s_.restricted || !s_.refused_statements.empty())) {
    const auto bind = protocol::ParseBind(body);
    if (bind.ok() && s_.restricted) {
      std::optional<std::string> refusal = Reanalyse(bind->statement);
      // A protocol statement whose text is EXECUTE runs a prepared statement that may have gone
      // stale since the Parse.
      const auto bound = s_.prepared.find(ToAbsl(bind->statement));
      if (!refusal && bound != s_.prepared.end() && bound->second != nullptr) {
        const PlannedStatementPtr held = bound->second;  // Reanalyse may replace the map's entry
        refusal = ReanalyseExecuted(*held);
      }
      if (refusal) {
        // The refusal reads "pgmask: statement refused: why"; say which statement and since when.
        constexpr std::string_view kRefused = "pgmask: statement refused: ";
        std::string_view why = *refusal;
        if (why.starts_with(kRefused)) why.remove_prefix(kRefused.size());
        ReplaceRefusedStatement(*bind,
                                absl::StrFormat("%sprepared statement \"%s\" was analysed again after DDL and is now "
                                                "refused: %s",
                                                kRefused, bind->statement, why),
                                out);
      } else if (!s_.text_settings_refusal.empty()) {
        // Prepared while the server read SQL text as pgmask does; its results now come in an
        // encoding pgmask does not read.
        ReplaceRefusedStatement(*bind, s_.text_settings_refusal, out);
      } else if (const auto stale = StaleBindRefusal(bind->statement);
                 stale && !s_.refused_statements.contains(ToAbsl(bind->statement))) {
        ReplaceRefusedStatement(*bind, *stale, out);
      }
    }
    if (bind.ok()) verdict = NullBindIfRefused(*bind, out);
  }
  if (type == MessageType::kExecute && (s_.restricted || AuditBlocked())) {
    const auto execute = protocol::ParseExecute(body);
    const PlannedStatementPtr bound = execute.ok() ? PortalPlan(execute->portal) : nullptr;
    if (execute.ok() && s_.restricted) {
      if (const std::optional<std::string> refusal = StaleExecuteRefusal(execute->portal, bound)) {
        RefuseExecute(bound, *refusal, out);
        Track(type);
        return Verdict::kDrop;
      }
    }
    // Bound before the trail failed: refused before the server runs it, as its Parse would be now.
    if (execute.ok() && AuditBlocked() && (bound == nullptr || (!bound->refused && bound->MayBeRecorded()))) {
      RefuseExecute(bound, kAuditBlockedRefusal, out, kAuditUnavailableSqlstate);
      Track(type);
      return Verdict::kDrop;
    }
  }
  Track(type);
  if (s_.policy_enabled()) Expect(type, body, out);
  return verdict;
}

void ClientSink::Expect(MessageType type, protocol::Bytes body, OutputBatch& out) {
  PendingResponses& pending = s_.pending;
  switch (type) {
    case MessageType::kQuery:
      pending.AllStatementsRedefined();  // PREPARE, DEALLOCATE, DISCARD
      pending.Push(PendingKind::kQuery);
      pending.back().plan = plan_;
      pending.back().refused = refused_;
      if (s_.audit != nullptr) pending.back().arrived = absl::Now();
      break;
    case MessageType::kFunctionCall:
      pending.Push(PendingKind::kFunctionCall);
      pending.back().refused = refused_;
      if (function_call_ != nullptr && !refused_) {
        // Its one result is recorded as this statement's (ServerSink::BeginAudit).
        auto plan = std::make_shared<QueryPlan>();
        plan->statements.push_back(function_call_);
        plan->touches_protected = true;
        pending.back().plan = std::move(plan);
        pending.back().arrived = absl::Now();
      }
      break;
    case MessageType::kParse: {
      pending.Push(PendingKind::kParse);
      const auto parse = protocol::ParseParse(body);
      if (parse.ok()) {
        pending.back().name = std::string(parse->statement);
        pending.StatementRedefined(parse->statement);
      } else {
        pending.AllStatementsRedefined();
      }
      if (refused_) {
        pending.back().statement = PlannedStatement::Refused();
      } else if (plan_ != nullptr && plan_->statements.size() == 1) {
        // A named statement lives on: its text is analysed again if the catalog changes under it.
        pending.back().statement = parse.ok() && !parse->statement.empty()
                                       ? WithSource(plan_->statements[0], parse->query)
                                       : plan_->statements[0];
      } else if (plan_ != nullptr) {
        pending.back().statement = PlannedStatement::Untraceable();
      }
      break;
    }
    case MessageType::kSync:
      pending.Push(PendingKind::kSync);
      break;
    case MessageType::kBind: {
      const auto bind = protocol::ParseBind(body);
      const std::string_view portal = bind.ok() ? bind->portal : std::string_view();
      const std::string_view statement = bind.ok() ? bind->statement : std::string_view();
      pending.MarkBound(portal, statement, bind.ok() ? bind->result_formats : protocol::FormatCodes());
      PlannedStatementPtr plan = StatementPlan(statement);
      pending.Push(PendingKind::kBind, portal);
      pending.back().name = std::string(statement);
      pending.back().statement = std::move(plan);
      pending.back().definition = pending.DefinitionOf(statement);
      break;
    }
    case MessageType::kDescribe: {
      const auto target = protocol::ParseDescribeOrClose(body);
      if (!target.ok() || target->kind == 'S') {
        pending.Push(PendingKind::kDescribeStatement);
        break;
      }
      pending.MarkDescribed(target->name);
      pending.Push(PendingKind::kDescribePortal, target->name);
      break;
    }
    case MessageType::kExecute: {
      const auto execute = protocol::ParseExecute(body);
      const std::string_view portal = execute.ok() ? execute->portal : std::string_view();
      const bool needs_columns = s_.restricted && !pending.described(portal);
      ColumnsPtr known = needs_columns ? pending.KnownColumns(portal) : nullptr;
      if (needs_columns && known == nullptr) {
        const size_t start = out.scratch().size();
        protocol::MessageWriter w(out.scratch());
        w.Begin(protocol::FrontendTag(MessageType::kDescribe)).Int8('P').CString(portal);
        w.End();
        out.EmitCommitted(start);
        pending.MarkDescribed(portal);
        pending.Push(PendingKind::kDescribePortal, portal, /*injected=*/true);
      }
      pending.Push(PendingKind::kExecute, portal);
      pending.back().columns = std::move(known);
      pending.back().untraceable = s_.policy_behind();
      if (s_.audit != nullptr) pending.back().arrived = absl::Now();
      break;
    }
    case MessageType::kClose: {
      const auto target = protocol::ParseDescribeOrClose(body);
      const bool portal = target.ok() && target->kind == 'P';
      if (portal) pending.ForgetPortal(target->name);
      if (target.ok() && !portal) {
        s_.refused_statements.erase(ToAbsl(target->name));
        pending.StatementRedefined(target->name);
      }
      pending.Push(PendingKind::kClose, portal ? target->name : std::string_view(), false, portal);
      if (target.ok()) pending.back().name = std::string(target->name);
      break;
    }
    case MessageType::kCopyDone:
    case MessageType::kCopyFail:
      pending.CopyEndSent();
      break;
    default:
      break;  // Flush, COPY data and password messages get no answer of their own
  }
}

void ClientSink::Track(MessageType type) {
  switch (type) {
    case MessageType::kQuery:
    case MessageType::kFunctionCall:
      ++s_.outstanding_syncs;
      break;
    case MessageType::kSync:
      ++s_.outstanding_syncs;
      s_.in_extended = false;
      break;
    case MessageType::kParse:
    case MessageType::kBind:
    case MessageType::kDescribe:
    case MessageType::kExecute:
    case MessageType::kClose:
    case MessageType::kFlush:
      s_.in_extended = true;
      break;
    default:
      break;
  }
}


std::optional<Verdict> ClientSink::BreakGlass(protocol::Bytes body, OutputBatch& out) {
  if (s_.catalog.policy == nullptr || !s_.catalog.policy->break_glass().has_value()) return std::nullopt;
  const auto query = protocol::ParseQuery(body);
  if (!query.ok()) return std::nullopt;
  BreakGlassCommand command = ParseBreakGlassCommand(*query);
  std::optional<std::string> refusal;
  switch (command.kind) {
    case BreakGlassCommand::Kind::kNone:
      return std::nullopt;
    case BreakGlassCommand::Kind::kInvalid:
      refusal = std::move(command.problem);
      break;
    case BreakGlassCommand::Kind::kStart:
    case BreakGlassCommand::Kind::kEnd:
      // Actions change only where no result is in flight (the masker starts over).
      if (!s_.between_statements()) {
        refusal = "pgmask: break-glass can only change while no other statement is in progress";
      } else if (command.kind == BreakGlassCommand::Kind::kStart) {
        refusal = StartBreakGlass(s_, std::move(command.reason));
      } else {
        EndBreakGlass(s_, "reset");
      }
      break;
  }
  if (refusal) {
    Logf(LogLevel::kInfo, "session=%s statement refused: %s", s_.id, *refusal);
    s_.proxy.metrics.StatementRefused(StatementRefusal::kStatement);
    if (s_.audit != nullptr) s_.audit->RecordRefusal(s_, QueryPlan{}, *query, AuditProtocol::kSimple, kPermissionDenied);
    const size_t start = out.scratch().size();
    AppendRefusalQuery(*refusal, out.scratch());
    out.EmitCommitted(start);
    refused_ = true;
    return Verdict::kDrop;
  }
  // PostgreSQL keeps pgmask.break_glass as a placeholder setting; its answer reads nothing.
  auto plan = std::make_shared<QueryPlan>();
  auto set = std::make_shared<PlannedStatement>();
  set->kind = StatementKind::kSet;
  plan->statements.push_back(std::move(set));
  plan_ = std::move(plan);
  return Verdict::kForward;
}

bool ClientSink::RefreshDue() const {
  const auto now = std::chrono::steady_clock::now();
  if (now < s_.refresh_retry_at) return false;
  if (s_.catalog_stale || s_.proxy.policies.generation() != s_.policy_generation) return true;
  // Another connection's DDL is invisible here: every session looks again now and then, the ones
  // in clear too (a REVOKE of the membership that gives them clear), but those only between
  // transactions: a read inside one holds its locks to the end and, failing on another's lock,
  // would abort work of a session that has nothing to hide.
  if (!s_.restricted && s_.transaction_status != 'I') return false;
  return s_.catalog_outdated(now);
}

bool ClientSink::MaybeRefreshCatalog(OutputBatch& out) {
  if (s_.awaiting_ready() || s_.in_extended || s_.transaction_status == 'E' || !RefreshDue()) return false;
  s_.policy_generation = s_.proxy.policies.generation();
  s_.catalog_stale = false;
  auto refresh = std::make_unique<CatalogRefresh>(s_.proxy.policies.current(), s_.proxy.catalogs.Get(s_.database),
                                                  /*in_transaction=*/s_.transaction_status != 'I',
                                                  s_.proxy.config.catalog_timeout);
  const auto statements = policy::SplitStatements(refresh->Query());
  if (!statements.ok()) {
    // pgmask's own query: cannot happen unless it is broken, and then every read would fail.
    Logf(LogLevel::kError, "session=%s catalog query does not split: %s", s_.id, statements.status().message());
    return false;
  }
  s_.refresh = std::move(refresh);
  // The extended protocol under a name of pgmask's own: a simple Query would drop the client's
  // unnamed statement and portal, which it may still Bind or Execute after its Sync.
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  const std::string& name = catalog_statement_;
  // An earlier read that failed midway skipped its Closes: without these its statement would
  // make every later Parse fail.
  w.Begin(protocol::FrontendTag(MessageType::kClose)).Int8('P').CString(name);
  w.End();
  w.Begin(protocol::FrontendTag(MessageType::kClose)).Int8('S').CString(name);
  w.End();
  for (const std::string& statement : *statements) {
    w.Begin(protocol::FrontendTag(MessageType::kParse)).CString(name).CString(statement).Int16(0);
    w.End();
    w.Begin(protocol::FrontendTag(MessageType::kBind)).CString(name).CString(name);
    w.Int16(0).Int16(0).Int16(0);
    w.End();
    w.Begin(protocol::FrontendTag(MessageType::kExecute)).CString(name).Int32(0);
    w.End();
    w.Begin(protocol::FrontendTag(MessageType::kClose)).Int8('P').CString(name);
    w.End();
    w.Begin(protocol::FrontendTag(MessageType::kClose)).Int8('S').CString(name);
    w.End();
  }
  w.Begin(protocol::FrontendTag(MessageType::kSync));
  w.End();
  out.EmitCommitted(start);
  return true;
}

namespace {

std::optional<protocol::CopyOptions> CopyOptionsOf(const policy::CopyToClient& copy) {
  using protocol::CopyFormat;
  const CopyFormat format = copy.format == "csv" ? CopyFormat::kCsv
                            : copy.format == "binary" ? CopyFormat::kBinary
                                                      : CopyFormat::kText;
  protocol::CopyOptions options = protocol::CopyOptions::ForFormat(format);
  auto one_char = [](const std::optional<std::string>& v, char& out) {
    if (!v) return true;
    if (v->size() != 1) return false;
    out = (*v)[0];
    return true;
  };
  if (!one_char(copy.delimiter, options.delimiter) || !one_char(copy.quote, options.quote)) return std::nullopt;
  if (copy.quote && !copy.escape) options.escape = options.quote;
  if (!one_char(copy.escape, options.escape)) return std::nullopt;
  if (copy.null_string) options.null_string = *copy.null_string;
  options.header = copy.header;
  options.force_quote_all = copy.force_quote_all;  // the named columns once they are described
  return options;
}

}  // namespace

QueryPlanPtr ClientSink::DescribeCopy(const QueryPlan& plan, bool extended, OutputBatch& out) {
  auto description = std::make_shared<CopyDescription>();
  description->options = CopyOptionsOf(*plan.copy);
  description->force_quote_names = plan.copy->force_quote;
  QueryPlanPtr described = WithCopyDescription(plan, description);
  PlannedStatementPtr copy_statement;
  for (const PlannedStatementPtr& st : described->statements) {
    if (st->copy != nullptr) copy_statement = st;
  }
  // The server describes a SELECT with the COPY's columns; its answers are pgmask's alone. A
  // simple Query comes between Syncs, so the Describe gets a Sync of its own. Inside the client's
  // extended-protocol batch a Sync would end its implicit transaction, so the Describe rides in
  // the batch instead, under a name of its own that it closes again (the unnamed statement may
  // be the client's), and an error it gets is the client's error too.
  const std::string_view name = extended ? std::string_view(copy_statement_) : std::string_view();
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::FrontendTag(MessageType::kParse)).CString(name).CString(plan.copy->describe_sql).Int16(0);
  w.End();
  w.Begin(protocol::FrontendTag(MessageType::kDescribe)).Int8('S').CString(name);
  w.End();
  w.Begin(protocol::FrontendTag(extended ? MessageType::kClose : MessageType::kSync));
  if (extended) w.Int8('S').CString(name);
  w.End();
  out.EmitCommitted(start);
  s_.pending.Push(PendingKind::kParse, {}, /*injected=*/true);
  s_.pending.Push(PendingKind::kDescribeStatement, {}, /*injected=*/true);
  s_.pending.back().statement = copy_statement;
  s_.pending.Push(extended ? PendingKind::kClose : PendingKind::kSync, {}, /*injected=*/true);
  if (extended) s_.pending.back().name = std::string(name);
  s_.copy_rewriter.reset();
  return described;
}

std::optional<std::string> ClientSink::Reanalyse(std::string_view name) {
  const auto it = s_.prepared.find(ToAbsl(name));
  if (it == s_.prepared.end() || it->second == nullptr) return std::nullopt;
  const PlannedStatement& held = *it->second;
  const bool holds = held.HoldsUnder(s_.catalog.view.get());
  // Analysed again earlier and refused then: refused every time it is run.
  if (!held.refused && held.decision.refusal && holds) return held.decision.refusal;
  // Without its text (the unnamed statement, one read before pgmask knew it) a plan that no
  // longer holds stays untraceable: ServerSink redacts its rows whole.
  if (held.refused || held.source == nullptr || s_.catalog.view == nullptr || holds) return std::nullopt;
  const std::shared_ptr<const std::string> source = held.source;
  const QueryPlanPtr plan = PlanQuery(*source, s_.catalog.policy, s_.catalog.view, *s_.actions);
  if (plan->statements.size() != 1) {
    it->second = PlannedStatement::Untraceable();
    return std::nullopt;
  }
  // SQL PREPARE keeps its own text in the plan; a protocol-level statement gets the session's copy.
  it->second = plan->statements[0]->source != nullptr ? plan->statements[0] : WithSource(plan->statements[0], *source);
  return plan->refusal;
}

std::optional<std::string> ClientSink::ReanalyseExecuted(const QueryPlan& plan) {
  for (const PlannedStatementPtr& st : plan.statements) {
    if (std::optional<std::string> refusal = ReanalyseExecuted(*st)) return refusal;
  }
  return std::nullopt;
}

std::optional<std::string> ClientSink::ReanalyseExecuted(const PlannedStatement& st) {
  // EXPLAIN EXECUTE names the statement it runs too.
  const bool executes = st.kind == StatementKind::kExecute || (st.kind == StatementKind::kExplain && !st.name.empty());
  return executes ? Reanalyse(st.name) : std::nullopt;
}

void ClientSink::AuditRefusedStatement(const PlannedStatementPtr& held) {
  if (s_.audit == nullptr || held == nullptr || held->source == nullptr) return;
  const QueryPlanPtr plan = PlanQuery(*held->source, s_.catalog.policy, s_.catalog.view, *s_.actions);
  s_.audit->RecordRefusal(s_, *plan, *held->source, AuditProtocol::kExtended, kPermissionDenied);
}

void ClientSink::AuditRefusedExecute(const PlannedStatementPtr& bound, std::string_view sqlstate) {
  if (s_.audit == nullptr) return;
  // Recorded as the portal's statement (its text), with the columns of the cursor or prepared
  // statement a FETCH or EXECUTE would have read.
  const PlannedStatementPtr own = bound != nullptr ? bound : PlannedStatement::Untraceable();
  PlannedStatementPtr source = own;
  const auto named = [](const auto& names, const std::string& name) {
    const auto it = names.find(name);
    return it != names.end() && it->second != nullptr ? it->second : PlannedStatement::Untraceable();
  };
  if (own->kind == StatementKind::kFetch) source = named(s_.portals, own->name);
  if (own->kind == StatementKind::kExecute) source = named(s_.prepared, own->name);
  s_.audit->RecordRefused(s_, *own, *source, AuditProtocol::kExtended, sqlstate);
}

bool ClientSink::AuditBlocked() const {
  return s_.audit != nullptr && s_.audit->service().blocks() && s_.audit->service().degraded();
}

void ClientSink::ReplaceRefusedStatement(const protocol::BindView& bind, std::string_view message, OutputBatch& out) {
  Logf(LogLevel::kInfo, "session=%s statement refused: %s", s_.id, message);
  s_.proxy.metrics.StatementRefused(StatementRefusal::kStatement);
  const auto it = s_.prepared.find(ToAbsl(bind.statement));
  AuditRefusedStatement(it != s_.prepared.end() ? it->second : nullptr);
  // The server still holds the statement as the client prepared it: it is closed and prepared
  // again as a refusal, whose answers the client never asked for and does not get. If the
  // server skips them (an earlier error in the batch), it skips the Bind too, and the next Bind
  // is judged again.
  const size_t start = out.scratch().size();
  AppendRefusalReplacement(bind, message, out.scratch());
  out.EmitCommitted(start);
  PendingResponses& pending = s_.pending;
  pending.Push(PendingKind::kClose, {}, /*injected=*/true);
  pending.back().name = std::string(bind.statement);
  pending.StatementRedefined(bind.statement);
  pending.Push(PendingKind::kParse, {}, /*injected=*/true);
  pending.back().name = std::string(bind.statement);
  pending.back().statement = PlannedStatement::Refused();
  s_.refused_statements.emplace(bind.statement);
}

Verdict ClientSink::NullBindIfRefused(const protocol::BindView& bind, OutputBatch& out) {
  if (!s_.refused_statements.contains(ToAbsl(bind.statement))) return Verdict::kForward;
  // The values would only reach a statement that raises; NULLs bind to any type in any format.
  const size_t start = out.scratch().size();
  AppendNullBind(bind, out.scratch());
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

namespace {

// Statements that only change session or transaction state, or forget a name: nothing in them
// is resolved against the catalog.
bool ResolvesNothing(policy::StatementKind kind) {
  switch (kind) {
    case StatementKind::kSet:
    case StatementKind::kShow:
    case StatementKind::kTransaction:
    case StatementKind::kListen:
    case StatementKind::kDeallocate:
    case StatementKind::kClosePortal:
      return true;
    default:
      return false;
  }
}

constexpr char kStaleNames[] =
    "pgmask: statement refused: it follows DDL, a change of search_path or role, or the end of a transaction that "
    "undoes one, which the server has not run when pgmask analyses it; send it after the server has answered (a new "
    "Query, or after Sync)";
constexpr char kOutdatedCatalog[] =
    "pgmask: statement refused: pgmask could not read the catalog again within catalog_recheck, or since the policy "
    "was reloaded (it cannot be read inside a REPEATABLE READ or SERIALIZABLE transaction, a pipeline without Sync, "
    "or the read failed); end the transaction, send Sync, or fix what makes the read fail";

// A statement that follows, in the same message or batch, one that may change what names resolve
// to would be analysed against names the server no longer uses.
template <typename Redefines>
std::optional<std::string> StaleNamesRefusal(const QueryPlan& plan, bool names_pending, Redefines redefines) {
  bool stale = names_pending;
  for (const PlannedStatementPtr& st : plan.statements) {
    if (stale && !ResolvesNothing(st->kind)) return std::string(kStaleNames);
    stale = stale || redefines(*st);
  }
  return std::nullopt;
}

// The catalog was read longer than catalog_recheck ago and could not be read since (a read that
// failed, or none possible, as inside a REPEATABLE READ transaction), or not for the policy in
// force: other connections' DDL since then is unknown, so nothing that resolves a name is
// analysed against it.
std::optional<std::string> OutdatedCatalogRefusal(const QueryPlan& plan) {
  for (const PlannedStatementPtr& st : plan.statements) {
    if (!ResolvesNothing(st->kind)) return std::string(kOutdatedCatalog);
  }
  return std::nullopt;
}

// The refusal of a Bind or Execute of `what` (a prepared statement, a portal) that would run
// against names or a catalog pgmask could not follow.
std::string CannotRunNow(std::string_view what, bool names_pending) {
  constexpr std::string_view kRefused = "pgmask: statement refused: ";
  return absl::StrFormat("%s%s cannot run now: %s", kRefused, what,
                         std::string_view(names_pending ? kStaleNames : kOutdatedCatalog).substr(kRefused.size()));
}

// Whether running a statement of `plan` writes a record: the trail must be able to take it.
bool MayBeRecorded(const QueryPlan& plan) {
  for (const PlannedStatementPtr& st : plan.statements) {
    if (st->MayBeRecorded()) return true;
  }
  return false;
}

// SET alone stays possible while the session reads SQL text differently, so it can set it back.
bool OnlySettings(const QueryPlan& plan) {
  for (const PlannedStatementPtr& st : plan.statements) {
    if (st->kind != StatementKind::kSet) return false;
  }
  return !plan.statements.empty();
}

}  // namespace

std::optional<std::string> ClientSink::StaleBindRefusal(std::string_view statement) const {
  const bool names_pending = s_.names_pending;
  const bool outdated = s_.catalog_outdated() || s_.policy_behind();
  if (!names_pending && !outdated) return std::nullopt;
  // PostgreSQL plans the statement again at Bind when a relation it reads or search_path changed;
  // pgmask could not follow. One pgmask never planned (forgotten at a reload) may name anything.
  const auto it = s_.prepared.find(ToAbsl(statement));
  if (it != s_.prepared.end() && it->second != nullptr && ResolvesNothing(it->second->kind)) return std::nullopt;
  return CannotRunNow(absl::StrFormat("prepared statement \"%s\"", statement), names_pending);
}

PlannedStatementPtr ClientSink::StatementPlan(std::string_view statement) const {
  if (s_.refused_statements.contains(ToAbsl(statement))) return PlannedStatement::Refused();
  if (const PendingResponse* parse = s_.pending.Last(PendingKind::kParse, statement)) return parse->statement;
  const auto it = s_.prepared.find(ToAbsl(statement));
  return it != s_.prepared.end() ? it->second : nullptr;
}

PlannedStatementPtr ClientSink::PortalPlan(std::string_view portal) const {
  // A Bind still owed was judged under the catalog in force now: no read runs inside a batch.
  if (const PendingResponse* bind = s_.pending.Last(PendingKind::kBind, portal)) return bind->statement;
  const auto it = s_.portals.find(ToAbsl(portal));
  return it != s_.portals.end() ? it->second : nullptr;
}

std::optional<std::string> ClientSink::StaleExecuteRefusal(std::string_view portal,
                                                           const PlannedStatementPtr& bound) const {
  // pgmask's own refusal raises by itself.
  if (bound != nullptr && bound->refused) return std::nullopt;
  const bool late = bound != nullptr && bound->ResolvesAtExecute(portal);
  // A planned portal's plan was fixed at Bind; one that resolves its query now also depends on
  // what the batch ran since (DDL, a change of search_path).
  const bool names_pending = late && s_.names_pending;
  const bool outdated = s_.catalog_outdated();
  if ((names_pending || outdated) && (bound == nullptr || !ResolvesNothing(bound->kind))) {
    return CannotRunNow(absl::StrFormat("portal \"%s\"", portal), names_pending);
  }
  if (late && !bound->HoldsUnder(s_.catalog.view.get())) {
    return absl::StrFormat(
        "pgmask: statement refused: portal \"%s\" resolves its query when it runs, and the catalog changed since it "
        "was bound (DDL, a change of search_path, or a policy reload); bind it again",
        portal);
  }
  return std::nullopt;
}

void ClientSink::RefuseExecute(const PlannedStatementPtr& bound, std::string_view message, OutputBatch& out,
                               std::string_view sqlstate) {
  Logf(LogLevel::kInfo, "session=%s statement refused: %s", s_.id, message);
  s_.proxy.metrics.StatementRefused(RefusalOf(sqlstate));
  if (sqlstate == kPermissionDenied) {
    AuditRefusedStatement(bound);
  } else {
    AuditRefusedExecute(bound, sqlstate);
  }
  // The server raises the refusal in the Execute's place, so it arrives in order and fails the
  // transaction; what pgmask's own Close, Parse and Bind get back is not the client's.
  const size_t start = out.scratch().size();
  AppendRefusalExecute(refusal_name_, message, out.scratch(), sqlstate);
  out.EmitCommitted(start);
  PendingResponses& pending = s_.pending;
  pending.Push(PendingKind::kClose, {}, /*injected=*/true);
  pending.back().name = refusal_name_;
  pending.StatementRedefined(refusal_name_);
  pending.Push(PendingKind::kClose, refusal_name_, /*injected=*/true, /*closes_portal=*/true);
  pending.back().name = refusal_name_;
  pending.ForgetPortal(refusal_name_);
  pending.Push(PendingKind::kParse, {}, /*injected=*/true);
  pending.back().name = refusal_name_;
  pending.back().statement = PlannedStatement::Refused();
  pending.MarkBound(refusal_name_, refusal_name_, protocol::FormatCodes());
  pending.MarkDescribed(refusal_name_);  // it raises before any row
  pending.Push(PendingKind::kBind, refusal_name_, /*injected=*/true);
  pending.back().name = refusal_name_;
  pending.back().definition = pending.DefinitionOf(refusal_name_);
  pending.back().statement = PlannedStatement::Refused();
  pending.Push(PendingKind::kExecute, refusal_name_);
  pending.back().refused = true;
}

QueryPlanPtr ClientSink::Plan(std::string_view sql) {
  QueryPlanPtr plan = PlanQuery(sql, s_.catalog.policy, s_.catalog.view, *s_.actions);
  if (!s_.text_settings_refusal.empty() && !plan->refusal && !OnlySettings(*plan)) {
    // Refused for restricted sessions. A recorded clear session runs it, but pgmask's parse may
    // not be the server's (a string that ends elsewhere can hide a column): its records name
    // every protected column.
    auto refused = std::make_shared<QueryPlan>(s_.restricted ? *plan : *WithUntraceableOutputs(*plan));
    refused->refusal = s_.text_settings_refusal;
    return refused;
  }
  // Ending a transaction, or rolling back to a savepoint, after DDL or a SET may undo them (COMMIT
  // undoes SET LOCAL), and with them the catalog read since.
  const bool undoable = s_.ddl_in_transaction || s_.settings_in_transaction;
  const auto redefines = [undoable](const PlannedStatement& st) {
    return st.redefines_names || (undoable && st.kind == StatementKind::kTransaction);
  };
  if (s_.restricted && !plan->refusal) {
    std::optional<std::string> refusal = StaleNamesRefusal(*plan, s_.names_pending, redefines);
    if (!refusal && (s_.catalog_outdated() || s_.policy_behind())) refusal = OutdatedCatalogRefusal(*plan);
    if (refusal) {
      auto refused = std::make_shared<QueryPlan>(*plan);
      refused->refusal = std::move(refusal);
      return refused;
    }
  }
  for (const PlannedStatementPtr& st : plan->statements) {
    // A SET undone by a rollback is settings_in_transaction's.
    if (st->redefines_names && !st->changes_settings) s_.ddl_in_transaction = true;
    if (!redefines(*st)) continue;
    s_.names_pending = true;
    s_.catalog_stale = true;
  }
  // Analysed against a search_path or role that may no longer hold: nothing is shown in clear.
  if (s_.settings_pending) plan = WithUntraceableOutputs(*plan);
  if (plan->changes_settings) {
    s_.settings_pending = true;
    s_.catalog_stale = true;
    if (s_.transaction_status != 'I') s_.settings_in_transaction = true;
  }
  return plan;
}

Verdict ClientSink::Guard(const protocol::FrameHeader& h, protocol::Bytes body, OutputBatch& out) {
  std::optional<protocol::ParseView> parse;
  std::string_view sql;
  if (h.type() == MessageType::kQuery) {
    const auto query = protocol::ParseQuery(body);
    if (!query.ok()) return Verdict::kForward;  // PostgreSQL answers a malformed message itself
    sql = *query;
  } else {
    auto p = protocol::ParseParse(body);
    if (!p.ok()) return Verdict::kForward;
    parse = *p;
    sql = parse->query;
  }
  if (parse) s_.refused_statements.erase(ToAbsl(parse->statement));
  QueryPlanPtr plan = Plan(sql);
  std::optional<std::string> refusal = plan->refusal;
  if (!refusal && s_.restricted) refusal = ReanalyseExecuted(*plan);
  std::string_view sqlstate = kPermissionDenied;
  if (!plan->unknown_relations.empty()) {
    if (!s_.catalog_read_for_message) {
      // Perhaps created since the catalog was read: read it again, then judge the message.
      s_.catalog_stale = true;
      if (MaybeRefreshCatalog(out)) {
        s_.catalog_read_for_message = true;
        return Verdict::kHold;
      }
    } else if (plan->statements.size() == 1 && refusal) {
      // Not there even now, and refused as untraceable: PostgreSQL would say this, without
      // running anything. Without a refusal it runs with every output redacted: the server
      // answers for a relation that does not exist, and the session's own temporary tables,
      // which the shared catalog does not list, stay usable.
      refusal = absl::StrFormat(
          "relation \"%s\" does not exist, or is a temporary table whose columns pgmask cannot trace",
          plan->unknown_relations.front());
      sqlstate = kUndefinedTable;
    }
  }
  s_.catalog_read_for_message = false;
  if (!refusal && !plan->copy_error.empty()) refusal = "pgmask: " + plan->copy_error;
  // A session that sees everything in clear is analysed only to be recorded.
  if (!s_.restricted) refusal.reset();
  if (!refusal && AuditBlocked() && MayBeRecorded(*plan)) {
    // The trail cannot record it now: refused before the server runs any of it, since a write
    // would be done (and committed) before its result could be refused.
    refusal = std::string(kAuditBlockedRefusal);
    sqlstate = kAuditUnavailableSqlstate;
  }
  if (!refusal) {
    if (s_.audit != nullptr) plan = SessionAudit::WithTexts(plan, sql, AuditTextOptionsOf(s_, *plan));
    // COPY TO STDOUT sends no RowDescription: describe its columns first, to mask them.
    plan_ = plan->copy && s_.restricted ? DescribeCopy(*plan, parse.has_value(), out) : plan;
    return Verdict::kForward;
  }
  Logf(LogLevel::kInfo, "session=%s statement refused: %s", s_.id, *refusal);
  s_.proxy.metrics.StatementRefused(RefusalOf(sqlstate));
  if (s_.audit != nullptr && (sqlstate == kPermissionDenied || sqlstate == kAuditUnavailableSqlstate)) {
    s_.audit->RecordRefusal(s_, *plan, sql, parse ? AuditProtocol::kExtended : AuditProtocol::kSimple, sqlstate);
  }
  refused_ = true;
  const size_t start = out.scratch().size();
  if (parse) {
    AppendRefusalParse(*parse, *refusal, out.scratch(), sqlstate);
    s_.refused_statements.emplace(parse->statement);
  } else {
    AppendRefusalQuery(*refusal, out.scratch(), sqlstate);
  }
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

}  // namespace pgmask::proxy
