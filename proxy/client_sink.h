// client -> server traffic after the handshake: tracks where the conversation stands, re-reads
// the catalog at safe points (holding the client's message until it is read), and, for
// restricted sessions, plans every statement with the analyzer: refused statements are replaced
// by pgmask's refusal, the others carry their plan to the server side, where rows are masked.
#pragma once

#include <optional>

#include "policy/copy_statement.h"
#include "proxy/frame_pump.h"
#include "proxy/session_state.h"
#include "proxy/statement_guard.h"

namespace pgmask::proxy {

class ClientSink final : public FrameSink {
 public:
  explicit ClientSink(SessionState& s);

  bool NeedsWholeFrame(const protocol::FrameHeader& h) override;
  void OnStreamedFrame(const protocol::FrameHeader&) override { s_.idle = false; }
  void OnWritten() override { s_.timer.ClientWritten(); }
  Verdict OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) override;

 private:
  // Sends the catalog query when a refresh is due and nothing of the client's is in flight (an
  // injected Query mid extended-protocol would close its portals). True when it did: the
  // client's message then waits until the new catalog is active.
  bool MaybeRefreshCatalog(OutputBatch& out);
  bool RefreshDue() const;
  // The plan of the statements in `sql` for this session, with its named state resolved.
  QueryPlanPtr Plan(std::string_view sql);

  // Sends pgmask's Describe of the COPY TO STDOUT in `plan` (a Query's, or with `extended` a
  // Parse's) and returns the plan whose COPY statement receives the columns.
  QueryPlanPtr DescribeCopy(const QueryPlan& plan, bool extended, OutputBatch& out);
  Verdict NullBindIfRefused(const protocol::BindView& bind, OutputBatch& out);
  // Analyses prepared statement `name` again when the catalog or search_path it was analysed
  // under no longer holds, as PostgreSQL does before it runs it; the new analysis's refusal.
  std::optional<std::string> Reanalyse(std::string_view name);
  // Reanalyse for every EXECUTE in `plan`: the first refusal.
  std::optional<std::string> ReanalyseExecuted(const QueryPlan& plan);
  // Reanalyse of the statement `st` executes, when it is an EXECUTE.
  std::optional<std::string> ReanalyseExecuted(const PlannedStatement& st);
  // The refusal of a Bind of prepared statement `statement` that the server would plan again
  // against names or a catalog pgmask could not read (names_pending, catalog_outdated, or a policy
  // the session has not applied yet).
  std::optional<std::string> StaleBindRefusal(std::string_view statement) const;
  // The plan prepared statement `statement` holds, or will once the Parse sent for it is
  // answered; null when pgmask does not know it.
  PlannedStatementPtr StatementPlan(std::string_view statement) const;
  // The plan `portal` holds, or will once the Bind sent for it is answered; null when unknown.
  PlannedStatementPtr PortalPlan(std::string_view portal) const;
  // The refusal of an Execute of `portal` (holding `bound`) that the server would run against
  // names or a catalog pgmask could not read, or, for a portal that resolves its query only when
  // it runs (COPY, EXECUTE), against a catalog other than the one it was analysed under.
  std::optional<std::string> StaleExecuteRefusal(std::string_view portal, const PlannedStatementPtr& bound) const;
  // An Execute that may no longer run: pgmask's own portal raising `message` runs in its place.
  void RefuseExecute(const PlannedStatementPtr& bound, std::string_view message, OutputBatch& out,
                     std::string_view sqlstate = kPermissionDenied);
  // Records the refusal (`sqlstate`) of an Execute of a portal holding `bound` (null: unknown).
  void AuditRefusedExecute(const PlannedStatementPtr& bound, std::string_view sqlstate);
  // The session is recorded, audit_on_failure is block and a sink is degraded: every statement
  // that would be recorded is refused before it reaches the server.
  bool AuditBlocked() const;
  // Records a refusal of the prepared statement `held` in the audit trail, when one is kept.
  void AuditRefusedStatement(const PlannedStatementPtr& held);
  // A Bind of a prepared statement that may no longer run: the statement is replaced by pgmask's
  // refusal, which raises `message`, before the Bind reaches it.
  void ReplaceRefusedStatement(const protocol::BindView& bind, std::string_view message, OutputBatch& out);
  Verdict Guard(const protocol::FrameHeader& h, protocol::Bytes body, OutputBatch& out);
  // A simple Query that starts, ends or names break-glass (proxy/break_glass.h): forwarded or
  // refused; nullopt for every other message.
  std::optional<Verdict> BreakGlass(protocol::Bytes body, OutputBatch& out);
  void Track(protocol::MessageType type);
  // Records what the server will answer; before an Execute of a portal nobody described, adds
  // pgmask's own Describe so the rows can be masked by their columns.
  void Expect(protocol::MessageType type, protocol::Bytes body, OutputBatch& out);

  SessionState& s_;
  // The statement and portal pgmask reads the catalog through, and the prepared statement it
  // describes a COPY through in the extended protocol: per session and unguessable, so a client
  // cannot take them first. A dot keeps them apart from the names drivers generate.
  const std::string catalog_statement_;
  const std::string copy_statement_;
  // The statement and portal of pgmask's refusal of an Execute (RefuseExecute).
  const std::string refusal_name_;
  QueryPlanPtr plan_;  // the plan of the Query or Parse being handled, for Expect
  // The FunctionCall being handled, as its audit record's statement (recorded sessions only).
  PlannedStatementPtr function_call_;
  bool refused_ = false;
};

}  // namespace pgmask::proxy
