// What the server still owes the client, in order: one entry per message that gets an answer
// (Query, Parse, Bind, Describe, Execute, Close, Sync, FunctionCall), plus the Describes pgmask
// adds itself. Responses are matched to entries as they arrive, so each DataRow is known to
// belong to a simple query or to the Execute of a named portal, and each RowDescription to the
// Describe that asked for it. Also remembers each portal's description, so rows of an Execute
// are masked by the description of the portal that produced them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

struct PendingResponse {
  PendingKind kind;
  bool injected = false;      // pgmask's own Describe: its answer is not forwarded
  bool closes_portal = false;  // kClose of a portal (not a statement)
  std::string portal;          // kBind, kDescribePortal, kExecute, portal kClose
  std::string name;            // kParse: the statement; kBind: the statement bound; kClose: what is closed
  // Restricted sessions: how the rows of a kQuery's statements or of a kExecute's portal are
  // treated, and whether their error texts may quote protected values.
  QueryPlanPtr plan;              // kQuery
  PlannedStatementPtr statement;  // kParse: what the statement will hold once ParseComplete says so
  bool refused = false;           // kQuery/kFunctionCall replaced by pgmask's refusal
};

class PendingResponses {
 public:
  void Push(PendingKind kind, std::string_view portal = {}, bool injected = false, bool closes_portal = false);
  bool empty() const { return head_ == items_.size(); }
  const PendingResponse& front() const { return items_[head_]; }
  PendingResponse& back() { return items_.back(); }
  void Pop();
  // After an ErrorResponse in the extended protocol the server skips everything up to Sync.
  void DropUntilSync();

  // Client side: whether a Describe of `portal` has been sent since its last Bind.
  bool described(std::string_view portal) const;
  void MarkBound(std::string_view portal);
  void MarkDescribed(std::string_view portal);
  void ForgetPortal(std::string_view portal);
  // Server side: a portal was re-bound or closed; its old description no longer applies.
  void DropPortalFields(const std::string& portal);

  // Server side: the fields of a portal's RowDescription (names dropped), empty for NoData.
  void SetPortalFields(const std::string& portal, const std::vector<protocol::FieldDescription>& fields);
  const std::vector<protocol::FieldDescription>* PortalFields(const std::string& portal) const;

 private:
  std::vector<PendingResponse> items_;
  size_t head_ = 0;
  absl::flat_hash_map<std::string, bool> described_;
  absl::flat_hash_map<std::string, std::vector<protocol::FieldDescription>> portal_fields_;
};

}  // namespace pgmask::proxy
