// Masks result rows for one session. A RowDescription becomes a plan, one decision per field from
// two sources: the statement's analysis (what each output column derives from), and the field's
// table OID + column number through the session catalog (a backstop the analysis cannot get
// wrong for plain columns). DataRows are then rewritten value by value into a reused buffer.
// Rows and fields with nothing protected are forwarded untouched.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "policy/decision.h"
#include "policy/effective_action.h"
#include "policy/masker.h"
#include "protocol/messages.h"
#include "proxy/metrics.h"
#include "proxy/session_catalog.h"

namespace pgmask::proxy {

struct DeniedColumn {
  std::string column;          // schema.table.column
  std::string classification;
};

class ResultMasker {
 public:
  explicit ResultMasker(Metrics* metrics = nullptr) : cells_(metrics) {}

  // The session's view changed (catalog refreshed, policy reloaded): drop the cached maskers.
  void Reset(const SessionCatalog* catalog, const policy::EffectiveActions* actions, const policy::Keys* keys);

  enum class PlanResult { kPassThrough, kMask, kDenied };
  // Builds the plan for a RowDescription, given the statement's decision (null for a clear
  // session). kDenied fills `denied` with the first denied column.
  PlanResult Plan(const std::vector<protocol::FieldDescription>& fields, const policy::StatementDecision* decision,
                  DeniedColumn& denied);

  // Whether DataRows of the current plan need rewriting.
  bool active() const { return active_; }
  void EndResult() {
    active_ = false;
    planned_fields_.reset();
    cells_.Flush();
  }
  // Whether a DataRow has as many values as the current plan has fields (false with no plan).
  bool Fits(protocol::Bytes row) const;

  // Rewrites one DataRow body into `out` as a whole message. False when the row does not match
  // the plan (a protocol violation by the server).
  bool MaskRow(protocol::Bytes body, std::string& out);

  // Field `column` of the current plan: whether it is masked, and its masked value (nullopt for
  // NULL), valid until the next call. Binary values are decoded, masked as text and re-encoded.
  bool masks(size_t column) const { return column < plan_.size() && plan_[column].masked; }
  std::optional<std::string_view> MaskValue(size_t column, std::optional<std::string_view> value);

 private:
  struct FieldPlan {
    bool masked = false;               // false: forward the value as it is
    policy::Masker* masker = nullptr;  // null on a masked field: send NULL (no mask fits)
    bool binary = false;
    uint32_t type_oid = 0;
    int32_t typmod = -1;
  };
  policy::Masker* MaskerFor(const policy::ProtectedColumnId& ref, policy::Action action,
                            const protocol::FieldDescription& field);
  // The full, type-valid redaction of a value derived from protected columns.
  policy::Masker* RedactorFor(const protocol::FieldDescription& field);
  void MaskField(size_t i, const protocol::FieldDescription& f, policy::Masker* masker);

  const SessionCatalog* catalog_ = nullptr;
  const policy::EffectiveActions* actions_ = nullptr;
  const policy::Keys* keys_ = nullptr;
  std::vector<protocol::FieldDescription> fields_;
  std::vector<FieldPlan> plan_;
  std::vector<protocol::WireValue> values_;
  std::string value_out_;
  std::string text_in_;     // a binary value decoded to text
  std::string binary_out_;  // a masked value encoded back to binary
  bool active_ = false;
  std::optional<size_t> planned_fields_;  // the fields of the current result's description
  MaskedCellTally cells_;  // pgmask_cells_masked_total
  // Keyed by column, action and type: a plan for a repeated statement costs lookups only.
  using MaskerKey = std::tuple<size_t, size_t, policy::Action, uint32_t, int32_t>;
  absl::flat_hash_map<MaskerKey, std::unique_ptr<policy::Masker>> maskers_;
};

}  // namespace pgmask::proxy
