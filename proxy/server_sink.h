// server -> client traffic after the handshake: masks result rows by the plan of the statement
// that produced them, refuses results that would show a denied column (the backstop behind the
// statement check), hides error and notice texts of statements that touched protected columns,
// swallows the answers to pgmask's own catalog queries, and says goodbye at an idle point when
// shutting down.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.h"
#include "proxy/frame_pump.h"
#include "proxy/result_audit.h"
#include "proxy/session_state.h"

namespace pgmask::proxy {

class ServerSink final : public FrameSink {
 public:
  ServerSink(SessionState& s, const FramePump& upstream_pump);

  bool NeedsWholeFrame(const protocol::FrameHeader& h) override;
  Verdict OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) override;
  ~ServerSink() override;
  Verdict OnIdle(OutputBatch& out) override;
  bool InputDue() override;
  void OnWritten() override { s_.timer.ServerWritten(); }

 private:
  Verdict Handle(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out);
  // Audited sessions: runs a frame through the audit of the result it belongs to (holding its
  // output until the result's record is durable). False when the frame is handled as usual.
  bool AuditFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out, Verdict& verdict);
  // Starts auditing when `type` opens a result of a statement that touches a protected column.
  bool BeginAudit(protocol::MessageType type, OutputBatch& out);
  // The trail cannot take the statement's record (audit_on_failure block): an ErrorResponse in
  // place of the result, and the rest dropped until ReadyForQuery.
  void RefuseUnaudited(OutputBatch& out);

  // The answer to an injected catalog query; false for messages that are not part of it.
  bool OnRefreshResponse(protocol::MessageType type, protocol::Bytes body, Verdict& verdict);
  Verdict OnRowDescription(protocol::Bytes body, OutputBatch& out);
  // Matches a response to what the client asked for. Returns false when the answer is pgmask's own
  // (an injected Describe) and must not be forwarded.
  bool Account(protocol::MessageType type, protocol::Bytes body);
  Verdict OnDataRow(protocol::Bytes body, OutputBatch& out);
  // Refuses the current result in place of its rows, and drops the rest until ReadyForQuery.
  Verdict OnCopyOut(protocol::Bytes body, OutputBatch& out);
  Verdict OnCopyData(protocol::Bytes body, OutputBatch& out);
  Verdict Refuse(const std::string& message, OutputBatch& out);
  // The plan of the result now arriving: a simple Query's current statement or an Execute's
  // portal, each through Resolved; null for clear sessions.
  PlannedStatementPtr CurrentStatement() const;
  // For EXECUTE and FETCH, the prepared statement or cursor they run, as it stands now; any other
  // statement itself.
  PlannedStatementPtr Resolved(const PlannedStatementPtr& st) const;
  // Its decision, kept alive in current_.
  const policy::StatementDecision* CurrentDecision();
  // A prepared statement or portal by name, when its plan still holds.
  PlannedStatementPtr Prepared(const std::string& name) const;
  PlannedStatementPtr Portal(const std::string& name) const;
  // A simple Query's statement completed: PREPARE, DEALLOCATE, DECLARE and CLOSE take effect.
  void OnStatementDone();
  // Named state a PREPARE, DECLARE, DEALLOCATE or CLOSE changes; false for other statements.
  bool ApplyNamedState(const PlannedStatementPtr& st);
  void OnExecuteDone(const PlannedStatementPtr& executed, std::string_view tag);
  // Every prepared statement, or every portal, is gone or unknown (DEALLOCATE ALL, CLOSE ALL,
  // DISCARD ALL, a statement pgmask could not follow).
  void ForgetStatements();
  void ForgetPortals();
  // ReadyForQuery 'I': the transaction ended, and with it every portal but holdable cursors;
  // `block_ended` when it was a transaction block (BEGIN).
  void OnTransactionEnd(bool block_ended);
  // How an ErrorResponse or NoticeResponse of the request now being answered must be rewritten.
  enum class TextPolicy { kKeep, kHide, kStripContext };
  TextPolicy TextPolicyForFront() const;
  Verdict RewriteErrorOrNotice(protocol::MessageType type, protocol::Bytes body, TextPolicy policy, OutputBatch& out);
  // A restricted session gets a notification's payload only on a channel the policy lists: another
  // session, or an administrator's trigger, may have sent a protected value on it.
  Verdict ScrubNotification(protocol::Bytes body, OutputBatch& out);
  // Catalog, search_path and named state after a command completed.
  void OnCommandTag(std::string_view tag);
  // A ParameterStatus: client_encoding and standard_conforming_strings decide how SQL text reads.
  void NoteParameter(protocol::Bytes body);

  SessionState& s_;
  const FramePump& upstream_pump_;
  std::vector<protocol::FieldDescription> fields_;
  std::vector<protocol::WireValue> values_;
  std::string copy_out_;  // one rewritten CopyData payload, reused
  PlannedStatementPtr current_;
  std::unique_ptr<ResultAudit> audit_;  // null when the session keeps no audit trail
  OutputBatch capture_;                 // what an audited result's frame would send
  std::string captured_;                // the same as one string, reused
  absl::Time last_result_end_;           // a multi-statement Query's next statement starts here
};

// A FATAL ErrorResponse with pgmask's own message.
std::string FatalErrorBytes(std::string_view sqlstate, std::string_view message);

}  // namespace pgmask::proxy
