// What the server still owes the client, in order: one entry per message that gets an answer
// (Query, Parse, Bind, Describe, Execute, Close, Sync, FunctionCall), plus the Describes pgmask
// adds itself. Responses are matched to entries as they arrive, so each DataRow is known to
// belong to a simple query or to the Execute of a named portal, and each RowDescription to the
// Describe that asked for it. Also remembers each portal's description, so rows of an Execute
// are masked by the description of the portal that produced them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "protocol/messages.h"
#include "proxy/query_plan.h"

namespace pgmask::proxy {

enum class PendingKind : uint8_t {
  kQuery,          // answered by results then ReadyForQuery
  kFunctionCall,   // answered by FunctionCallResponse then ReadyForQuery
  kParse,          // ParseComplete
  kBind,           // BindComplete
  kDescribeStatement,  // ParameterDescription, then RowDescription or NoData
  kDescribePortal,     // RowDescription or NoData
  kExecute,        // DataRows then CommandComplete, PortalSuspended or EmptyQueryResponse
  kClose,          // CloseComplete
  kSync,           // ReadyForQuery
};

using ColumnsPtr = std::shared_ptr<const std::vector<protocol::FieldDescription>>;

struct PendingResponse {
  PendingKind kind;
  bool injected = false;      // pgmask's own Describe: its answer is not forwarded
  bool closes_portal = false;  // kClose of a portal (not a statement)
  std::string portal;          // kBind, kDescribePortal, kExecute, portal kClose
  std::string name;            // kParse: the statement; kBind: the statement bound; kClose: what is closed
  // Restricted sessions: how the rows of a kQuery's statements or of a kExecute's portal are
  // treated, and whether their error texts may quote protected values.
  QueryPlanPtr plan;              // kQuery
  // kParse: what the statement will hold once ParseComplete says so; kBind: the plan of the
  // statement bound, as far as the client side knows it (null: unknown).
  PlannedStatementPtr statement;
  bool refused = false;           // kQuery/kFunctionCall replaced by pgmask's refusal
  absl::Time arrived;             // kQuery/kExecute of an audited session: when the client sent it
  // kBind: the definition (see PendingResponses::DefinitionOf) the statement had when bound.
  uint64_t definition = 0;
  // kExecute: the portal's columns, known from an earlier Describe of a portal of the same
  // statement, so no Describe of pgmask's own was needed.
  ColumnsPtr columns;
  // How many COPY data streams the client had ended (CopyDone, CopyFail) when it sent this.
  uint32_t copy_epoch = 0;
  // kQuery/kExecute: the server answered it with CopyInResponse and its COPY has not ended yet.
  bool copy_in = false;
  // kSync sent while the server may have been in COPY FROM STDIN, whose COPY then failed: the
  // server ignored it if it read it before the error, and answers it if after.
  bool maybe_ignored = false;
  // kQuery/kFunctionCall: some answer of its own came (a result, an error): its ReadyForQuery
  // can come now, and not before.
  bool answered = false;
  // kExecute sent after a policy reload the session could not apply yet: its portal's plan is the
  // old policy's, so its rows are redacted whole.
  bool untraceable = false;
};

class PendingResponses {
 public:
  // A message the server will skip gets no entry: `back()` is then a scratch entry.
  void Push(PendingKind kind, std::string_view portal = {}, bool injected = false, bool closes_portal = false);
  bool empty() const { return head_ == items_.size(); }
  const PendingResponse& front() const { return items_[head_]; }
  PendingResponse& front() { return items_[head_]; }
  PendingResponse& back() { return skipped_last_ ? skipped_ : items_.back(); }
  void Pop();
  // After an ErrorResponse in the extended protocol the server skips everything up to Sync,
  // including what the client sends after the error until that Sync arrives.
  // True when that Sync is the client's (not one pgmask added), sent or still to come.
  bool DropUntilSync();

  // COPY FROM STDIN: while the server is in copy-in mode it ignores Sync and Flush (libpq sends
  // a Sync right after the Execute of a COPY, before it knows it is one); once the COPY has
  // failed (a bad row, CopyFail, a timeout) it answers them again. Which Syncs it read before
  // the failure only the server knows, so a Sync's fate is settled by what the server does.
  // Client side: the client ended a data stream (CopyDone or CopyFail).
  void CopyEndSent();
  // Server side: CopyInResponse for the request at the front. The Syncs the client sent after
  // it and before its CopyDone or CopyFail are ignored while the COPY lasts.
  void CopyInStarted();
  // Server side: the COPY of the request at the front ended (CommandComplete or ErrorResponse).
  // After a success the server ignored every Sync sent during it; after a failure each may have
  // been answered or not. False when that leaves pgmask unable to tell which request later
  // answers belong to: a request other than a Sync follows such a Sync before a Sync the server
  // certainly answers (after an extended-protocol error it is skipped or not with the Sync).
  bool CopyEnded(bool failed);
  // Server side, before a message that answers a request is matched: Syncs of unknown fate at
  // the front were ignored if the message is not a ReadyForQuery; a ReadyForQuery answers one
  // the server certainly answers first, when the Syncs at the front include one.
  void SettleSyncs(bool ready_for_query);
  // Whether a Query, Sync or FunctionCall still waits for its ReadyForQuery (Syncs of unknown
  // fate included).
  bool owes_ready() const;

  // The last entry still owed of `kind` for `key` (a kBind's portal, a kParse's statement), or
  // null: a name the client defines again in the same batch is judged by what it will hold.
  const PendingResponse* Last(PendingKind kind, std::string_view key) const;

  // Client side: whether a Describe of `portal` has been sent since its last Bind.
  bool described(std::string_view portal) const;
  // Client side: `portal` was bound to `statement` with these result formats. When the
  // statement's columns are known for its current definition, the portal's are too.
  void MarkBound(std::string_view portal, std::string_view statement, protocol::FormatCodes result_formats);
  void MarkDescribed(std::string_view portal);
  void ForgetPortal(std::string_view portal);
  // Client side: the columns `portal` will return, when known without a Describe; else null.
  ColumnsPtr KnownColumns(std::string_view portal) const;

  // Prepared statements' result columns, learnt from the Describe of one of their portals, so
  // that Executes of later portals need no Describe of pgmask's own: PostgreSQL never changes a
  // prepared statement's result columns (it raises "cached plan must not change result type").
  // A name's definition changes when the client sends a Parse or Close of it (client side), and
  // every name's when it sends a simple Query, which may PREPARE, DEALLOCATE or DISCARD.
  void StatementRedefined(std::string_view statement);
  void AllStatementsRedefined();
  uint64_t DefinitionOf(std::string_view statement) const;
  // Server side: BindComplete confirmed that `portal` holds `statement` under `definition`.
  void PortalBound(const std::string& portal, const std::string& statement, uint64_t definition);
  void PortalClosed(const std::string& portal);
  // Server side: a Describe of `portal` returned `fields`: they are its statement's columns,
  // kept while the statement keeps the definition it had when the portal was bound.
  void RecordStatementColumns(const std::string& portal, const std::vector<protocol::FieldDescription>& fields);
  // Server side: a portal was re-bound or closed; its old description no longer applies.
  void DropPortalFields(const std::string& portal);
  // Server side: SQL changed what a name means (PREPARE, DEALLOCATE, DECLARE, CLOSE, DISCARD, a
  // transaction end that closes portals). What was learnt about the old one no longer applies,
  // and the next Execute of the portal gets a Describe of pgmask's own.
  void PortalRedefined(const std::string& portal);
  void AllPortalsRedefined();

  // Server side: the fields of a portal's RowDescription (names dropped), empty for NoData.
  void SetPortalFields(const std::string& portal, const std::vector<protocol::FieldDescription>& fields);
  const std::vector<protocol::FieldDescription>* PortalFields(const std::string& portal) const;
  // Server side: the columns of the rows a kExecute returns: its portal's description, or the
  // ones known from its statement; null when neither is known.
  const std::vector<protocol::FieldDescription>* ExecuteColumns(const PendingResponse& execute) const;

 private:
  std::vector<PendingResponse> items_;
  size_t head_ = 0;
  bool skipping_to_sync_ = false;  // an error: the server skips all but Sync
  uint32_t copy_ends_sent_ = 0;
  std::optional<uint32_t> copy_in_epoch_;  // copy-in: Syncs of this epoch are ignored
  bool skipped_last_ = false;
  PendingResponse skipped_{PendingKind::kSync};
  struct BoundPortal {
    bool described = false;
    ColumnsPtr columns;  // known from the statement, with this portal's formats
  };
  struct HeldStatement {
    std::string statement;
    uint64_t definition = 0;
  };
  struct StatementColumns {
    uint64_t definition = 0;
    ColumnsPtr columns;
  };
  absl::flat_hash_map<std::string, BoundPortal> bound_;             // client side, by portal
  absl::flat_hash_map<std::string, HeldStatement> server_portals_;  // server side, by portal
  absl::flat_hash_map<std::string, std::vector<protocol::FieldDescription>> portal_fields_;
  absl::flat_hash_map<std::string, uint64_t> definitions_;  // names Parsed or Closed since the last Query
  uint64_t last_definition_ = 0;
  uint64_t unparsed_definition_ = 0;  // every other name's, since the last Query
  absl::flat_hash_map<std::string, StatementColumns> statement_columns_;
};

}  // namespace pgmask::proxy
