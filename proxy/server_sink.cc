#include "proxy/server_sink.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "protocol/message_writer.h"
#include "protocol/string_view_bridge.h"
#include "proxy/audit_record.h"
#include "proxy/log.h"
#include "proxy/pending_responses.h"
#include "proxy/statement_guard.h"

namespace pgmask::proxy {

using protocol::MessageType;

namespace {

bool IsFatal(std::string_view severity) { return severity == "FATAL" || severity == "PANIC"; }

// The last message of one statement's result.
bool EndsResult(MessageType type) {
  switch (type) {
    case MessageType::kCommandComplete:
    case MessageType::kPortalSuspended:
    case MessageType::kErrorResponse:
    case MessageType::kEmptyQueryResponse:
    case MessageType::kReadyForQuery:
    case MessageType::kFunctionCallResponse:  // a FunctionCall's one result
      return true;
    default:
      return false;
  }
}

// Messages that answer no request: the server sends them whenever it has them.
bool Asynchronous(MessageType type) {
  switch (type) {
    case MessageType::kNoticeResponse:
    case MessageType::kNotificationResponse:
    case MessageType::kParameterStatus:
      return true;
    default:
      return false;
  }
}

// Whether `type` can answer the request at the front of `pending`. DataRow and CopyData are not
// asked: they follow a message that was.
bool Answers(MessageType type, const PendingResponses& pending) {
  if (Asynchronous(type)) return true;
  switch (type) {
    case MessageType::kErrorResponse:  // a FATAL one comes whether anything was asked or not
    case MessageType::kDataRow:
    case MessageType::kCopyData:
      return true;
    default:
      break;
  }
  if (pending.empty()) return false;
  const PendingKind kind = pending.front().kind;
  const bool result = kind == PendingKind::kQuery || kind == PendingKind::kExecute;
  const bool describe = kind == PendingKind::kDescribeStatement || kind == PendingKind::kDescribePortal;
  switch (type) {
    case MessageType::kParseComplete:
      return kind == PendingKind::kParse;
    case MessageType::kBindComplete:
      return kind == PendingKind::kBind;
    case MessageType::kCloseComplete:
      return kind == PendingKind::kClose;
    case MessageType::kParameterDescription:
      return kind == PendingKind::kDescribeStatement;
    case MessageType::kNoData:
      return describe;
    case MessageType::kRowDescription:
      return describe || kind == PendingKind::kQuery;
    case MessageType::kPortalSuspended:
      return kind == PendingKind::kExecute;
    case MessageType::kCommandComplete:
    case MessageType::kEmptyQueryResponse:
    case MessageType::kCopyInResponse:
    case MessageType::kCopyOutResponse:
    case MessageType::kCopyDone:
      return result;
    case MessageType::kFunctionCallResponse:
      return kind == PendingKind::kFunctionCall;
    case MessageType::kReadyForQuery:
      // A Query or FunctionCall is answered before its ReadyForQuery (an empty Query with
      // EmptyQueryResponse): one that comes first answers something pgmask did not see.
      return kind == PendingKind::kSync ||
             ((kind == PendingKind::kQuery || kind == PendingKind::kFunctionCall) && pending.front().answered);
    default:
      return false;
  }
}

// Commands after which the protected columns or the role's memberships may have changed. COMMIT
// PREPARED and ROLLBACK PREPARED end a transaction whose DDL pgmask may not have seen.
bool ChangesCatalog(std::string_view tag) {
  for (std::string_view prefix :
       {"CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "IMPORT", "COMMIT PREPARED", "ROLLBACK PREPARED"}) {
    if (absl::StartsWith(ToAbsl(tag), ToAbsl(prefix))) return true;
  }
  return false;
}

// The columns FORCE_QUOTE names, as positions in the described columns: the first column of
// each name, as the server's CopyGetAttnums finds it. A name no column has (the server refuses
// such a COPY) leaves the COPY without options, so data for it would be refused, not guessed at.
void ResolveForceQuote(CopyDescription& copy, const std::vector<protocol::FieldDescription>& fields) {
  if (!copy.options) return;
  copy.options->force_quote_columns.clear();
  for (const std::string& name : copy.force_quote_names) {
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&name](const protocol::FieldDescription& f) { return f.name == name; });
    if (it == fields.end()) {
      copy.options.reset();
      return;
    }
    copy.options->force_quote_columns.push_back(static_cast<size_t>(it - fields.begin()));
  }
}

}  // namespace

std::string FatalErrorBytes(std::string_view sqlstate, std::string_view message) {
  std::string out;
  protocol::WriteErrorResponse(out, {"FATAL", sqlstate, message});
  return out;
}

ServerSink::ServerSink(SessionState& s, const FramePump& upstream_pump) : s_(s), upstream_pump_(upstream_pump) {
  if (s_.audit != nullptr) audit_ = std::make_unique<ResultAudit>(s_);
}

ServerSink::~ServerSink() = default;

bool ServerSink::NeedsWholeFrame(const protocol::FrameHeader& h) {
  // An audited result is held whole until its record is durable.
  const bool audited = audit_ != nullptr && !s_.all_clear;
  switch (h.type()) {
    case MessageType::kDataRow:
      // A restricted session's rows are checked against their description even when nothing in
      // them is masked.
      return s_.restricted || s_.refresh_in_flight() || s_.masker.active() || s_.suppress_until_ready || audited;
    case MessageType::kCopyData:
      return s_.copy_rewriter.has_value() || s_.suppress_until_ready || audited;
    default:
      return true;
  }
}

bool ServerSink::OnRefreshResponse(MessageType type, protocol::Bytes body, Verdict& verdict) {
  verdict = Verdict::kDrop;
  switch (type) {
    case MessageType::kDataRow:
      if (protocol::ParseDataRow(body, values_).ok()) {
        s_.refresh->AddRow(values_);
      } else {
        s_.refresh->Fail();
      }
      return true;
    case MessageType::kParseComplete:
    case MessageType::kBindComplete:
    case MessageType::kCloseComplete:
    case MessageType::kRowDescription:
    case MessageType::kCommandComplete:
    case MessageType::kNoticeResponse:
    case MessageType::kEmptyQueryResponse:
      return true;
    case MessageType::kErrorResponse: {
      const auto error = protocol::ParseErrorNotice(body);
      s_.refresh->Fail(error.ok() ? error->sqlstate() : std::string_view());
      // A FATAL error ends the session: the client must see it.
      return !(error.ok() && IsFatal(error->severity()));
    }
    case MessageType::kReadyForQuery: {
      const auto status = protocol::ParseReadyForQuery(body);
      if (status.ok()) s_.transaction_status = *status;
      s_.FinishRefresh();
      return true;
    }
    default:
      return false;  // asynchronous messages (notifications, parameter changes) pass as usual
  }
}

namespace {

// The entry under `name`, or Untraceable; Refused or Untraceable when `holds` says its analysis
// no longer applies.
template <typename Holds>
PlannedStatementPtr Lookup(const absl::flat_hash_map<std::string, PlannedStatementPtr>& names, const std::string& name,
                           Holds holds) {
  const auto it = names.find(name);
  if (it == names.end() || it->second == nullptr) return PlannedStatement::Untraceable();
  if (!holds(*it->second)) return it->second->refused ? PlannedStatement::Refused() : PlannedStatement::Untraceable();
  return it->second;
}

}  // namespace

PlannedStatementPtr ServerSink::Prepared(const std::string& name) const {
  // PostgreSQL analyses a prepared statement again under a different search_path or after a
  // relation it reads was redefined: this analysis no longer holds (ClientSink::Reanalyse has
  // replaced it when it could).
  return Lookup(s_.prepared, name, [&](const PlannedStatement& st) { return st.HoldsUnder(s_.catalog.view.get()); });
}

PlannedStatementPtr ServerSink::Portal(const std::string& name) const {
  // A planned portal's plan was fixed when it was declared or bound, so only the search_path
  // rule applies to it. One whose query PostgreSQL resolves when it runs (COPY, EXECUTE) holds
  // only under the catalog it was analysed under; ClientSink refuses its Execute otherwise.
  return Lookup(s_.portals, name, [&](const PlannedStatement& st) {
    if (st.ResolvesAtExecute(name)) return st.HoldsUnder(s_.catalog.view.get());
    return s_.catalog.view != nullptr && st.search_path == s_.catalog.view->search_path();
  });
}

PlannedStatementPtr ServerSink::CurrentStatement() const {
  if (s_.all_clear || s_.pending.empty()) return nullptr;
  const PendingResponse& front = s_.pending.front();
  if (front.kind == PendingKind::kExecute) {
    return front.untraceable ? PlannedStatement::Untraceable() : Resolved(Portal(front.portal));
  }
  if (front.kind != PendingKind::kQuery) return nullptr;
  // More results than statements (the analysis and the server disagree): fail closed.
  if (front.plan == nullptr || s_.query_statement >= front.plan->statements.size()) {
    return PlannedStatement::Untraceable();
  }
  return Resolved(front.plan->statements[s_.query_statement]);
}

PlannedStatementPtr ServerSink::Resolved(const PlannedStatementPtr& st) const {
  // Whether its text came in a Query or a Parse, EXECUTE runs the statement prepared under that
  // name when it runs, and FETCH reads the cursor open under that name.
  switch (st->kind) {
    case policy::StatementKind::kExecute:
      return Prepared(st->name);
    case policy::StatementKind::kFetch:
      return Portal(st->name);
    default:
      return st;
  }
}

const policy::StatementDecision* ServerSink::CurrentDecision() {
  current_ = CurrentStatement();
  return current_ != nullptr ? &current_->decision : nullptr;
}

ServerSink::TextPolicy ServerSink::TextPolicyForFront() const {
  if (!s_.restricted || s_.pending.empty()) return TextPolicy::kKeep;
  const PendingResponse& front = s_.pending.front();
  // pgmask's own refusal: its text is pgmask's, its PL/pgSQL context is noise.
  if (front.refused) return TextPolicy::kStripContext;
  // An error at Sync comes from committing the implicit transaction: deferred constraint checks
  // of the writes before it, which may quote other rows (see runs_deferred_checks).
  if (front.kind == PendingKind::kSync) return TextPolicy::kHide;
  bool touches = false;
  if (front.kind == PendingKind::kQuery) {
    touches = front.plan != nullptr && front.plan->touches_protected;
  } else if (front.kind == PendingKind::kExecute) {
    const PlannedStatementPtr st = Portal(front.portal);
    if (st->refused) return TextPolicy::kStripContext;
    touches = st->touches_protected;
  }
  return touches ? TextPolicy::kHide : TextPolicy::kKeep;
}

void ServerSink::OnStatementDone() {
  // SQL-level named state changes once PostgreSQL says the statement succeeded.
  if (s_.all_clear || s_.pending.empty()) return;
  const PendingResponse& front = s_.pending.front();
  if (front.plan == nullptr || s_.query_statement >= front.plan->statements.size()) return;
  ApplyNamedState(front.plan->statements[s_.query_statement]);
}

bool ServerSink::ApplyNamedState(const PlannedStatementPtr& st) {
  // The descriptions pgmask learnt of the name's old meaning (its result columns, a portal's
  // RowDescription) go with it.
  PendingResponses& pending = s_.pending;
  switch (st->kind) {
    case policy::StatementKind::kPrepare:
      s_.prepared[st->name] = st;
      pending.StatementRedefined(st->name);
      return true;
    case policy::StatementKind::kDeclareCursor:
      s_.portals[st->name] = st;
      pending.PortalRedefined(st->name);
      return true;
    case policy::StatementKind::kDeallocate:
      if (st->name.empty()) {
        ForgetStatements();  // DEALLOCATE ALL
      } else {
        s_.prepared.erase(st->name);
        pending.StatementRedefined(st->name);
      }
      return true;
    case policy::StatementKind::kClosePortal:
      if (st->name.empty()) {
        ForgetPortals();  // CLOSE ALL
      } else {
        s_.portals.erase(st->name);
        pending.PortalRedefined(st->name);
      }
      return true;
    default:
      return false;
  }
}

void ServerSink::ForgetStatements() {
  s_.prepared.clear();
  s_.pending.AllStatementsRedefined();
}

void ServerSink::ForgetPortals() {
  s_.portals.clear();
  s_.pending.AllPortalsRedefined();
}

void ServerSink::OnTransactionEnd(bool block_ended) {
  // What pgmask learnt of the portals goes with them; a holdable cursor is described again.
  s_.pending.AllPortalsRedefined();
  // DDL sent since may belong to a transaction that has not ended yet.
  if (!s_.pending.owes_ready()) s_.ddl_in_transaction = false;
  // A catalog read that failed inside the transaction block (its snapshot) may succeed now.
  if (block_ended) s_.refresh_retry_at = {};
}

void ServerSink::OnExecuteDone(const PlannedStatementPtr& executed, std::string_view tag) {
  // PREPARE, DECLARE, DEALLOCATE and CLOSE sent through the extended protocol change the same
  // names as in a simple Query.
  if (executed != nullptr && ApplyNamedState(executed)) return;
  // A statement pgmask could not follow changed some name: every name of that kind is unknown now.
  if (tag == "PREPARE" || absl::StartsWith(ToAbsl(tag), "DEALLOCATE")) ForgetStatements();
  if (tag == "DECLARE CURSOR" || absl::StartsWith(ToAbsl(tag), "CLOSE CURSOR")) ForgetPortals();
}

Verdict ServerSink::ScrubNotification(protocol::Bytes body, OutputBatch& out) {
  const auto notification = protocol::ParseNotification(body);
  if (!notification.ok()) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  if (notification->payload.empty()) return Verdict::kForward;
  if (s_.catalog.policy != nullptr) {
    const std::vector<std::string>& clear = s_.catalog.policy->settings().clear_notification_channels;
    if (std::ranges::find(clear, notification->channel) != clear.end()) return Verdict::kForward;
  }
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::BackendTag(MessageType::kNotificationResponse))
      .Int32(notification->process_id)
      .CString(notification->channel)
      .CString("");
  w.End();
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

Verdict ServerSink::RewriteErrorOrNotice(MessageType type, protocol::Bytes body, TextPolicy policy, OutputBatch& out) {
  const auto view = protocol::ParseErrorNotice(body);
  if (!view.ok()) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::BackendTag(type));
  for (const protocol::ErrorNoticeField& f : view->fields) {
    switch (f.code) {
      case 'M':
        w.Int8('M').CString(policy == TextPolicy::kHide
                                ? std::string_view("pgmask: message hidden because the statement involves protected "
                                                   "columns (see the server log)")
                                : f.value);
        break;
      case 'W':  // context
      case 'q':  // internal query
      case 'p':  // internal position
        break;
      case 'D':  // detail
      case 'H':  // hint
      case 'P':  // position in the statement text
      // The server's source file, line and routine tell which check failed, finer than SQLSTATE.
      case 'F':
      case 'L':
      case 'R':
        if (policy != TextPolicy::kHide) w.Int8(f.code).CString(f.value);
        break;
      default:
        // Severity, SQLSTATE and schema/table/column/constraint names hold no value of a row.
        w.Int8(f.code).CString(f.value);
        break;
    }
  }
  w.Int8(0);
  w.End();
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

void ServerSink::NoteParameter(protocol::Bytes body) {
  const auto parameter = protocol::ParseParameterStatus(body);
  if (parameter.ok()) s_.NoteParameter(parameter->name, parameter->value);
}

Verdict ServerSink::Refuse(const std::string& message, OutputBatch& out) {
  Logf(LogLevel::kInfo, "session=%s result refused: %s", s_.id, message);
  s_.proxy.metrics.StatementRefused(StatementRefusal::kDeniedResult);
  const size_t start = out.scratch().size();
  protocol::WriteErrorResponse(out.scratch(), {"ERROR", "42501", message});
  out.EmitCommitted(start);
  s_.suppress_until_ready = true;
  s_.masker.EndResult();
  return Verdict::kDrop;
}

Verdict ServerSink::OnRowDescription(protocol::Bytes body, OutputBatch& out) {
  if (!s_.restricted) return Verdict::kForward;
  if (!protocol::ParseRowDescription(body, fields_).ok()) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  DeniedColumn denied;
  if (s_.masker.Plan(fields_, CurrentDecision(), denied) != ResultMasker::PlanResult::kDenied) {
    return Verdict::kForward;
  }
  // The statement check missed it; refuse here, before any row, and drop the rest of the result.
  return Refuse("pgmask: permission denied for column " + denied.column + " (class " + denied.classification + ")",
                out);
}

Verdict ServerSink::OnDataRow(protocol::Bytes body, OutputBatch& out) {
  if (s_.restricted && !s_.pending.empty() && s_.pending.front().kind == PendingKind::kExecute &&
      !s_.execute_planned) {
    // Rows of an Execute: masked by the description of the portal that produced them.
    s_.execute_planned = true;
    const std::vector<protocol::FieldDescription>* fields = s_.pending.ExecuteColumns(s_.pending.front());
    if (fields == nullptr) return Refuse("pgmask: refused rows of a portal whose columns are unknown", out);
    DeniedColumn denied;
    if (s_.masker.Plan(*fields, CurrentDecision(), denied) == ResultMasker::PlanResult::kDenied) {
      return Refuse("pgmask: permission denied for column " + denied.column + " (class " + denied.classification + ")",
                    out);
    }
  }
  if (!s_.masker.active()) {
    // Nothing to mask by this description, but the rows may not be the ones it describes (a
    // name whose description pgmask kept past a change): never forward what was not described.
    if (!s_.restricted || s_.masker.Fits(body)) return Verdict::kForward;
    return Refuse("pgmask: refused rows that do not match the description they would be masked by", out);
  }
  const size_t start = out.scratch().size();
  if (!s_.masker.MaskRow(body, out.scratch())) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

bool ServerSink::Account(MessageType type, protocol::Bytes body) {
  PendingResponses& pending = s_.pending;
  if (pending.empty() || Asynchronous(type)) return true;
  const PendingResponse& front = pending.front();
  // pgmask's own messages (a Describe before an Execute or a COPY, with its Parse and Sync):
  // their answers go nowhere.
  const bool forward = !front.injected;
  auto end_execute = [&] {
    s_.execute_planned = false;
    s_.masker.EndResult();
    pending.Pop();
  };
  switch (type) {
    case MessageType::kParseComplete:
      if (front.kind == PendingKind::kParse) {
        // Of pgmask's own Parses only the refusal put in place of a client's statement names one.
        if (!s_.all_clear && (!front.injected || front.statement != nullptr)) {
          s_.prepared[front.name] = front.statement ? front.statement : PlannedStatement::Untraceable();
        }
        pending.Pop();
      }
      return forward;
    case MessageType::kParameterDescription:
      return forward;
    case MessageType::kCopyInResponse:
      pending.CopyInStarted();
      return true;
    case MessageType::kBindComplete:
      if (front.kind == PendingKind::kBind) {
        if (!s_.all_clear) s_.portals[front.portal] = Prepared(front.name);
        pending.DropPortalFields(front.portal);
        pending.PortalBound(front.portal, front.name, front.definition);
        pending.Pop();
      }
      return forward;  // pgmask's own Bind of a refused Execute is not the client's
    case MessageType::kCloseComplete:
      if (front.kind == PendingKind::kClose) {
        if (front.closes_portal) {
          pending.DropPortalFields(front.portal);
          pending.PortalClosed(front.portal);
          s_.portals.erase(front.name);
        } else {
          s_.prepared.erase(front.name);
        }
        pending.Pop();
      }
      return forward;
    case MessageType::kRowDescription:
    case MessageType::kNoData: {
      if (front.kind == PendingKind::kDescribeStatement) {
        if (!forward && front.statement != nullptr && front.statement->copy != nullptr) {
          // The columns of a COPY TO STDOUT that follows.
          if (type == MessageType::kNoData || !protocol::ParseRowDescription(body, fields_).ok()) fields_.clear();
          ResolveForceQuote(*front.statement->copy, fields_);
          for (protocol::FieldDescription& f : fields_) f.name = {};
          front.statement->copy->fields = fields_;
        }
        pending.Pop();
        return forward;
      }
      if (front.kind != PendingKind::kDescribePortal) return true;  // a simple query's result
      if (type == MessageType::kNoData || !protocol::ParseRowDescription(body, fields_).ok()) fields_.clear();
      pending.SetPortalFields(front.portal, fields_);
      pending.RecordStatementColumns(front.portal, fields_);
      const bool forward = !front.injected;
      pending.Pop();
      return forward;
    }
    case MessageType::kCommandComplete:
    case MessageType::kPortalSuspended:
    case MessageType::kEmptyQueryResponse:
      pending.CopyEnded(/*failed=*/false);
      if (front.kind == PendingKind::kExecute) {
        end_execute();
      } else {
        s_.masker.EndResult();
      }
      return true;
    case MessageType::kErrorResponse:
      s_.execute_planned = false;
      s_.masker.EndResult();
      if (!pending.CopyEnded(/*failed=*/true) && s_.restricted) {
        s_.lost_track = "a COPY FROM STDIN failed while requests sent during it were on their way, which the server "
                        "may have read as part of it or not";
        return false;
      }
      // A simple query or function call still ends with ReadyForQuery; the extended protocol skips
      // everything the client sent up to its Sync.
      if (front.kind == PendingKind::kQuery || front.kind == PendingKind::kFunctionCall) return forward;
      // pgmask's own message inside the client's batch failed: the server now skips the client's
      // messages, so the client must get the error in their place.
      return pending.DropUntilSync() || forward;
    case MessageType::kReadyForQuery:
      if (front.kind == PendingKind::kQuery || front.kind == PendingKind::kSync ||
          front.kind == PendingKind::kFunctionCall) {
        pending.Pop();
      }
      return forward;
    default:
      return true;
  }
}

Verdict ServerSink::OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) {
  if (audit_ != nullptr) {
    Verdict verdict = Verdict::kForward;
    if (AuditFrame(h, frame, out, verdict)) return verdict;
  }
  return Handle(h, frame, out);
}

void ServerSink::RefuseUnaudited(OutputBatch& out) {
  Logf(LogLevel::kWarn, "session=%s statement refused: its audit record cannot be made durable", s_.id);
  s_.proxy.metrics.StatementRefused(StatementRefusal::kAuditUnavailable);
  const size_t start = out.scratch().size();
  protocol::WriteErrorResponse(out.scratch(), {"ERROR", kAuditUnavailableSqlstate, kAuditBlockedRefusal});
  out.EmitCommitted(start);
  s_.suppress_until_ready = true;
  s_.masker.EndResult();
}

bool ServerSink::BeginAudit(MessageType type, OutputBatch& out) {
  if (s_.all_clear || s_.suppress_until_ready || s_.refresh_in_flight() || s_.pending.empty()) return false;
  const PendingResponse& front = s_.pending.front();
  if (front.injected || front.refused) return false;
  bool opens = false;
  switch (type) {
    case MessageType::kRowDescription:
      opens = front.kind == PendingKind::kQuery;  // in the extended protocol it answers a Describe
      break;
    case MessageType::kPortalSuspended:
      opens = front.kind == PendingKind::kExecute;
      break;
    case MessageType::kFunctionCallResponse:
      opens = front.kind == PendingKind::kFunctionCall;
      break;
    case MessageType::kDataRow:
    case MessageType::kCommandComplete:
    case MessageType::kErrorResponse:
    case MessageType::kEmptyQueryResponse:
    case MessageType::kCopyOutResponse:
    case MessageType::kCopyInResponse:
      opens = front.kind == PendingKind::kQuery || front.kind == PendingKind::kExecute;
      // A FunctionCall's error is its result.
      if (type == MessageType::kErrorResponse) opens = opens || front.kind == PendingKind::kFunctionCall;
      break;
    default:
      break;
  }
  if (!opens) return false;
  // A FunctionCall of a recorded session carries its statement (ClientSink); unrecorded ones none.
  const bool function_call = front.kind == PendingKind::kFunctionCall;
  if (function_call && (front.plan == nullptr || front.plan->statements.empty())) return false;
  const PlannedStatementPtr source = function_call ? front.plan->statements.front() : CurrentStatement();
  // `own` is the statement the client sent (its text and command go into the record); `source`
  // is what it runs: the DECLARE or PREPARE behind a FETCH or EXECUTE, whether it came as a
  // Query or through Parse/Bind/Execute.
  PlannedStatementPtr own = source;
  if (front.kind == PendingKind::kExecute && !front.untraceable) {
    own = Portal(front.portal);
  } else if (front.kind == PendingKind::kQuery) {
    own = front.plan != nullptr && s_.query_statement < front.plan->statements.size()
              ? front.plan->statements[s_.query_statement]
              : PlannedStatement::Untraceable();
  }
  if (own == nullptr || source == nullptr || own->refused || source->refused) return false;
  if (own->audit_columns.empty() && source->audit_columns.empty()) return false;
  // PREPARE and DECLARE read nothing yet; the EXECUTE and FETCH that do are recorded.
  if (own->kind == policy::StatementKind::kPrepare || own->kind == policy::StatementKind::kDeclareCursor) return false;
  const bool extended = front.kind == PendingKind::kExecute;
  const absl::Time start = !extended && s_.query_statement > 0 ? last_result_end_ : front.arrived;
  audit_->Begin(own, source, extended ? AuditProtocol::kExtended : AuditProtocol::kSimple, start);
  if (extended) {
    if (const std::vector<protocol::FieldDescription>* fields = s_.pending.ExecuteColumns(front)) {
      audit_->SetFields(*fields);
    }
  }
  if (audit_->reads_only() && s_.audit->service().blocks() && s_.audit->service().degraded()) {
    // The sink already fails: refuse now rather than hold the result to learn it again. A
    // statement that may have written has run all the same: its record, submitted as usual,
    // says so (ClientSink refuses those before they run while the trail is degraded).
    audit_->Refuse(kAuditUnavailableSqlstate);
    RefuseUnaudited(out);
    return false;
  }
  return true;
}

bool ServerSink::AuditFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out,
                            Verdict& verdict) {
  ResultAudit& audit = *audit_;
  const MessageType type = h.type();
  switch (audit.state()) {
    case ResultAudit::State::kWaiting:
      verdict = Verdict::kHoldAll;
      return true;
    case ResultAudit::State::kAnswered:
      if (audit.released()) {
        out.Emit(audit.TakeHeld());
        audit.Finish();
      } else {
        audit.Finish();
        audit.EndResult();
        RefuseUnaudited(out);
      }
      // The frame that waited is handled as usual now.
      if (audit.state() == ResultAudit::State::kStreaming && EndsResult(type)) {
        audit.EndResult();
        last_result_end_ = absl::Now();
      }
      return false;
    default:
      break;
  }
  if (audit.state() == ResultAudit::State::kStreaming) {
    if (EndsResult(type)) {
      audit.EndResult();
      last_result_end_ = absl::Now();
    }
    return false;
  }
  if (audit.state() == ResultAudit::State::kIdle && !BeginAudit(type, out)) return false;
  const protocol::Bytes body = frame.subspan(protocol::kFrameHeaderSize);
  if (EndsResult(type)) {
    std::string sqlstate;
    if (type == MessageType::kErrorResponse) {
      const auto error = protocol::ParseErrorNotice(body);
      sqlstate = error.ok() ? std::string(error->sqlstate()) : std::string("XX000");
    } else if (type == MessageType::kCommandComplete) {
      const auto tag = protocol::ParseQuery(body);  // same layout: one string
      if (tag.ok()) audit.SetCommandTag(*tag);
    } else if (type == MessageType::kFunctionCallResponse) {
      audit.CountRow(nullptr);  // the function's one value
    }
    audit.Submit(sqlstate, /*complete=*/true);
    last_result_end_ = absl::Now();
    verdict = Verdict::kHoldAll;
    return true;
  }
  // The client needs it to send its data, and nothing protected is in it: not held.
  if (type == MessageType::kCopyInResponse || type == MessageType::kCopyBothResponse) {
    audit.set_protocol(AuditProtocol::kCopy);
    return false;
  }
  if (type == MessageType::kCopyOutResponse) audit.set_protocol(AuditProtocol::kCopy);
  verdict = Handle(h, frame, capture_);
  if (verdict == Verdict::kStop) {
    capture_.Clear();
    return true;
  }
  captured_.clear();
  for (const boost::asio::const_buffer& b : capture_.Buffers()) {
    captured_.append(static_cast<const char*>(b.data()), b.size());
  }
  capture_.Clear();
  if (s_.suppress_until_ready) {
    // pgmask refused the result (a denied column): the refusal is recorded and goes out alone.
    audit.Refuse(kPermissionDenied);
    out.Emit(captured_);
    verdict = Verdict::kDrop;
    return true;
  }
  audit.Hold(captured_);
  if (verdict == Verdict::kForward) audit.Hold(std::string_view(reinterpret_cast<const char*>(frame.data()), frame.size()));
  switch (type) {
    case MessageType::kRowDescription:
      if (protocol::ParseRowDescription(body, fields_).ok()) audit.SetFields(fields_);
      break;
    case MessageType::kDataRow:
      audit.CountRow(&body);
      break;
    case MessageType::kCopyData:
      audit.CountRow(nullptr);
      break;
    default:
      break;
  }
  if (audit.over_limit()) audit.Submit({}, /*complete=*/false);
  verdict = Verdict::kDrop;
  return true;
}

Verdict ServerSink::Handle(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) {
  const protocol::Bytes body = frame.subspan(protocol::kFrameHeaderSize);
  const MessageType type = h.type();
  s_.timer.ServerFrame(type == MessageType::kReadyForQuery);
  if (s_.refresh_in_flight()) {
    Verdict verdict;
    if (OnRefreshResponse(type, body, verdict)) return verdict;
  }
  if (type == MessageType::kCommandComplete && !s_.suppress_until_ready) {
    s_.proxy.metrics.StatementCompleted(s_.masker.active());
  }
  if (s_.policy_enabled() && !Asynchronous(type)) s_.pending.SettleSyncs(type == MessageType::kReadyForQuery);
  // A restricted session's answers must line up with its requests, or rows would be masked by
  // the wrong statement's plan.
  if (s_.restricted && !Answers(type, s_.pending)) {
    s_.lost_track = absl::StrFormat("the server sent a %s that answers none of the requests pgmask saw",
                                    protocol::MessageName(type));
    return Verdict::kStop;
  }
  // Decided before Account moves past the request that the text belongs to.
  const TextPolicy text_policy =
      type == MessageType::kErrorResponse || type == MessageType::kNoticeResponse ? TextPolicyForFront()
                                                                                    : TextPolicy::kKeep;
  const bool in_query = s_.policy_enabled() && !s_.pending.empty() && s_.pending.front().kind == PendingKind::kQuery;
  // The statement an Execute ran, looked up before Account moves past the Execute.
  PlannedStatementPtr executed;
  bool in_execute = false;
  if (type == MessageType::kCommandComplete && !s_.all_clear && !s_.pending.empty() &&
      s_.pending.front().kind == PendingKind::kExecute) {
    in_execute = true;
    const auto it = s_.portals.find(s_.pending.front().portal);
    if (it != s_.portals.end()) executed = it->second;
  }
  if (s_.policy_enabled() && !s_.pending.empty() && !Asynchronous(type) && type != MessageType::kReadyForQuery) {
    s_.pending.front().answered = true;
  }
  // DataRows and RowDescriptions of a simple query are matched in their own handlers.
  if (s_.policy_enabled() && type != MessageType::kDataRow) {
    const bool forward = Account(type, body);
    if (!s_.lost_track.empty()) return Verdict::kStop;
    if (!forward) return Verdict::kDrop;
  }
  switch (type) {
    case MessageType::kReadyForQuery: {
      const char was = s_.transaction_status;
      const auto status = protocol::ParseReadyForQuery(body);
      if (status.ok()) s_.transaction_status = *status;
      s_.idle = status.ok() && *status == 'I';
      s_.outstanding_syncs = std::max(0, s_.outstanding_syncs - 1);
      s_.suppress_until_ready = false;
      s_.masker.EndResult();
      s_.EndCopy();
      if (in_query) s_.query_statement = 0;
      if (s_.transaction_status == 'I') OnTransactionEnd(/*block_ended=*/was != 'I');
      // A transaction this session prepared with DDL may have been committed since, by anyone.
      if (s_.ddl_prepared) s_.catalog_stale = true;
      if (s_.transaction_status == 'I' && s_.settings_in_transaction) {
        // The transaction ended: SET LOCAL is undone at COMMIT too.
        s_.settings_in_transaction = false;
        s_.catalog_stale = true;
      }
      return Verdict::kForward;
    }
    case MessageType::kErrorResponse: {
      if (in_query) ++s_.query_statement;
      const auto error = protocol::ParseErrorNotice(body);
      if (error.ok() && IsFatal(error->severity())) {
        s_.upstream_sent_fatal = true;
      } else if (s_.suppress_until_ready) {
        return Verdict::kDrop;
      }
      if (text_policy != TextPolicy::kKeep) return RewriteErrorOrNotice(type, body, text_policy, out);
      return Verdict::kForward;
    }
    case MessageType::kBackendKeyData:
      // Only valid during startup; the upstream key must never reach the client.
      return Verdict::kDrop;
    case MessageType::kParameterStatus:
      NoteParameter(body);
      return Verdict::kForward;
    case MessageType::kNoticeResponse:
      if (text_policy != TextPolicy::kKeep) return RewriteErrorOrNotice(type, body, text_policy, out);
      return Verdict::kForward;  // asynchronous: never part of a refused result
    case MessageType::kNotificationResponse:
      if (!s_.restricted) return Verdict::kForward;
      return ScrubNotification(body, out);
    case MessageType::kCommandComplete: {
      // The statement ran, whether its answer is forwarded or dropped with a refused result.
      if (in_query) {
        OnStatementDone();
        ++s_.query_statement;
      }
      const auto tag = protocol::ParseQuery(body);  // same layout: one string
      if (in_execute) OnExecuteDone(executed, tag.ok() ? *tag : std::string_view());
      if (tag.ok()) OnCommandTag(*tag);
      s_.masker.EndResult();
      return s_.suppress_until_ready ? Verdict::kDrop : Verdict::kForward;
    }
    default:
      break;
  }
  if (s_.suppress_until_ready) return Verdict::kDrop;
  switch (type) {
    case MessageType::kRowDescription:
      return OnRowDescription(body, out);
    case MessageType::kDataRow:
      return OnDataRow(body, out);
    case MessageType::kEmptyQueryResponse:
      if (in_query) ++s_.query_statement;
      s_.masker.EndResult();
      return Verdict::kForward;
    case MessageType::kCopyOutResponse:
      return s_.restricted ? OnCopyOut(body, out) : Verdict::kForward;
    case MessageType::kCopyData:
      return s_.copy_rewriter ? OnCopyData(body, out) : Verdict::kForward;
    case MessageType::kCopyDone:
      if (s_.copy_rewriter) {
        const bool complete = s_.copy_rewriter->Finish().ok();
        s_.copy_rewriter.reset();
        if (!complete) {
          s_.server_violation = true;
          return Verdict::kStop;
        }
      }
      return Verdict::kForward;
    default:
      return Verdict::kForward;
  }
}

void ServerSink::OnCommandTag(std::string_view tag) {
  if (tag == "PREPARE TRANSACTION" && s_.ddl_in_transaction) s_.ddl_prepared = true;
  if (ChangesCatalog(tag)) {
    s_.catalog_stale = true;
    s_.ddl_in_transaction = true;
  }
  if (tag == "DISCARD ALL") {
    // Prepared statements and cursors are gone, and search_path is back to its default.
    ForgetStatements();
    ForgetPortals();
    s_.catalog_stale = true;
  } else if (tag == "ROLLBACK" && s_.settings_in_transaction) {
    s_.catalog_stale = true;  // a SET of the transaction, or of the savepoint, was undone
  }
}

Verdict ServerSink::OnCopyOut(protocol::Bytes body, OutputBatch& out) {
  const auto response = protocol::ParseCopyResponse(body);
  if (!response.ok()) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  // Columns pgmask described itself; a COPY it did not see (run by a function, or from a
  // statement prepared under a plan pgmask no longer trusts) has none, and its data is refused
  // rather than guessed at.
  const PlannedStatementPtr statement = CurrentStatement();
  const CopyDescription* copy = statement != nullptr ? statement->copy.get() : nullptr;
  if (copy == nullptr || !copy->fields || !copy->options || copy->fields->size() != response->column_formats.size()) {
    return Refuse("pgmask: refused COPY data whose columns could not be described", out);
  }
  std::vector<protocol::FieldDescription> fields = *copy->fields;
  for (protocol::FieldDescription& f : fields) f.format = response->format == 1 ? 1 : 0;
  DeniedColumn denied;
  const policy::StatementDecision* decision = &statement->decision;
  if (audit_ != nullptr && audit_->state() == ResultAudit::State::kCollecting) audit_->SetFields(fields);
  switch (s_.masker.Plan(fields, decision, denied)) {
    case ResultMasker::PlanResult::kDenied:
      return Refuse("pgmask: permission denied for column " + denied.column + " (class " + denied.classification + ")",
                    out);
    case ResultMasker::PlanResult::kPassThrough:
      // Split into rows all the same when the audit record needs the rows' keys.
      if (audit_ == nullptr || !audit_->wants_keys()) return Verdict::kForward;
      break;
    case ResultMasker::PlanResult::kMask:
      // In text format the server writes a value equal to the NULL string as it is, so pgmask
      // would read it as NULL and write the NULL string, the clear value, in place of the mask.
      // Only the default `\N` is never the text of a value (a backslash is always escaped).
      if (copy->options->format == protocol::CopyFormat::kText && copy->options->null_string != "\\N") {
        return Refuse("pgmask: refused COPY data in text format with a NULL string other than \\N: a value equal "
                      "to it could not be masked",
                      out);
      }
      break;
  }
  auto rewriter = protocol::CopyOutRewriter::Create(*copy->options, fields.size());
  if (!rewriter.ok()) return Refuse("pgmask: refused COPY data in a format it cannot mask", out);
  s_.copy_rewriter.emplace(*std::move(rewriter));
  return Verdict::kForward;
}

Verdict ServerSink::OnCopyData(protocol::Bytes body, OutputBatch& out) {
  ResultMasker& masker = s_.masker;
  ResultAudit* audit = audit_ != nullptr && audit_->wants_keys() ? audit_.get() : nullptr;
  const std::string_view payload(reinterpret_cast<const char*>(body.data()), body.size());
  const absl::Status status = s_.copy_rewriter->Rewrite(
      payload,
      [&masker, audit](size_t column, std::optional<std::string_view> value) {
        if (audit != nullptr) audit->CopyField(column, value);
        if (!masker.masks(column)) return protocol::FieldReplacement::Keep();
        const std::optional<std::string_view> masked = masker.MaskValue(column, value);
        return masked ? protocol::FieldReplacement::Value(*masked) : protocol::FieldReplacement::Null();
      },
      copy_out_);
  if (!status.ok()) {
    s_.server_violation = true;
    return Verdict::kStop;
  }
  if (copy_out_.empty()) return Verdict::kDrop;
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::BackendTag(MessageType::kCopyData)).Raw(copy_out_);
  w.End();
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

// A reply is awaited while PostgreSQL owes answers to requests already sent.
bool ServerSink::InputDue() { return !s_.pending.empty(); }

Verdict ServerSink::OnIdle(OutputBatch& out) {
  if (!s_.shutdown_requested || !s_.idle || s_.goodbye_sent || !upstream_pump_.at_message_boundary()) {
    return Verdict::kForward;
  }
  s_.goodbye_sent = true;
  out.Emit(FatalErrorBytes("57P01", "terminating connection because pgmask is shutting down"));
  return Verdict::kStop;
}

}  // namespace pgmask::proxy
