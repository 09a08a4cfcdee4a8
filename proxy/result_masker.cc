#include "proxy/result_masker.h"

#include "absl/strings/str_format.h"
#include "policy/binary_value.h"
#include "protocol/byte_order.h"
#include "protocol/message_tags.h"
#include "proxy/log.h"

namespace pgmask::proxy {

using protocol::MessageType;

void ResultMasker::Reset(const SessionCatalog* catalog, const policy::EffectiveActions* actions,
                         const policy::Keys* keys) {
  catalog_ = catalog;
  actions_ = actions;
  keys_ = keys;
  maskers_.clear();
  active_ = false;
  cells_.Reset();
}

policy::Masker* ResultMasker::MaskerFor(const policy::ProtectedColumnId& ref, policy::Action action,
                                        const protocol::FieldDescription& field) {
  const MaskerKey key{ref.table_index, ref.column_index, action, field.type_oid, field.type_modifier};
  auto it = maskers_.find(key);
  if (it != maskers_.end()) return it->second.get();
  const policy::ColumnRule& rule = catalog_->policy->tables()[ref.table_index].columns[ref.column_index];
  const std::optional<policy::MaskSpec> spec = policy::MaskSpecForAction(action, rule);
  // Keys were checked at load, so this only fails on a programming error; redact rather than leak.
  auto masker = policy::Masker::Create(spec.value_or(policy::MaskSpec{}),
                                       {field.type_oid, field.type_modifier}, *keys_);
  if (!masker.ok()) {
    masker = policy::Masker::Create(policy::MaskSpec{}, {field.type_oid, field.type_modifier}, *keys_);
    if (!masker.ok()) return nullptr;
  }
  return maskers_.emplace(key, *std::move(masker)).first->second.get();
}

policy::Masker* ResultMasker::RedactorFor(const protocol::FieldDescription& field) {
  constexpr size_t kNoColumn = static_cast<size_t>(-1);
  const MaskerKey key{kNoColumn, kNoColumn, policy::Action::kMask, field.type_oid, field.type_modifier};
  auto it = maskers_.find(key);
  if (it != maskers_.end()) return it->second.get();
  auto masker = policy::Masker::Create(policy::MaskSpec{}, {field.type_oid, field.type_modifier}, *keys_);
  if (!masker.ok()) return nullptr;
  return maskers_.emplace(key, *std::move(masker)).first->second.get();
}

void ResultMasker::MaskField(size_t i, const protocol::FieldDescription& f, policy::Masker* masker) {
  FieldPlan& p = plan_[i];
  p.masked = true;
  p.binary = f.format != 0;
  p.type_oid = f.type_oid;
  p.typmod = f.type_modifier;
  // A binary field of a type pgmask cannot decode goes out as NULL, never in clear.
  p.masker = !p.binary || policy::SupportsBinary(f.type_oid) ? masker : nullptr;
  active_ = true;
}

bool ResultMasker::Fits(protocol::Bytes row) const {
  // A DataRow starts with its number of values.
  return planned_fields_.has_value() && row.size() >= 2 && protocol::LoadU16(row.data()) == *planned_fields_;
}

ResultMasker::PlanResult ResultMasker::Plan(const std::vector<protocol::FieldDescription>& fields,
                                            const policy::StatementDecision* decision, DeniedColumn& denied) {
  active_ = false;
  planned_fields_ = fields.size();
  if (catalog_ == nullptr || actions_ == nullptr) return PlanResult::kPassThrough;
  plan_.assign(fields.size(), FieldPlan{});
  cells_.Begin(fields.size());
  const auto& tables = catalog_->policy->tables();
  auto deny = [&](policy::ProtectedColumnId ref) {
    const policy::TableRule& table = tables[ref.table_index];
    const policy::ColumnRule& rule = table.columns[ref.column_index];
    denied = {absl::StrFormat("%s.%s.%s", table.schema, table.name, rule.name), rule.classification};
  };
  for (size_t i = 0; i < fields.size(); ++i) {
    const protocol::FieldDescription& f = fields[i];
    const policy::ColumnPlan analysed =
        decision != nullptr ? decision->ForField(i, fields.size()) : policy::ColumnPlan{};
    // What the analysis found, unless the field's own origin says more: a plain protected column.
    std::optional<policy::ProtectedColumnId> ref;
    policy::Action action = policy::Action::kClear;
    if (const policy::ProtectedColumnId* direct = catalog_->Find(f.table_oid, f.column)) {
      ref = *direct;
      action = actions_->For(tables[direct->table_index].columns[direct->column_index].class_index);
    } else if (analysed.treatment == policy::Treatment::kAction && analysed.column) {
      ref = *analysed.column;
      action = analysed.action;
    }
    if (action == policy::Action::kDeny) {
      deny(*ref);
      return PlanResult::kDenied;
    }
    if (analysed.treatment == policy::Treatment::kRedact) {
      MaskField(i, f, RedactorFor(f));
      continue;
    }
    if (action == policy::Action::kClear) continue;
    const policy::ColumnRule& rule = tables[ref->table_index].columns[ref->column_index];
    MaskField(i, f, MaskerFor(*ref, action, f));
    cells_.Track(i, action, rule);
  }
  return active_ ? PlanResult::kMask : PlanResult::kPassThrough;
}

std::optional<std::string_view> ResultMasker::MaskValue(size_t column, std::optional<std::string_view> value) {
  const FieldPlan& p = plan_[column];
  cells_.Count(column);
  if (!value || p.masker == nullptr) return std::nullopt;
  if (!p.binary) {
    value_out_.clear();
    if (p.masker->Apply(*value, value_out_) == policy::MaskOutput::kNull) return std::nullopt;
    return std::string_view(value_out_);
  }
  if (!policy::BinaryToText(p.type_oid, p.typmod, *value, text_in_)) return std::nullopt;
  value_out_.clear();
  if (p.masker->Apply(text_in_, value_out_) == policy::MaskOutput::kNull) return std::nullopt;
  if (!policy::TextToBinary(p.type_oid, p.typmod, value_out_, binary_out_)) return std::nullopt;
  return std::string_view(binary_out_);
}

bool ResultMasker::MaskRow(protocol::Bytes body, std::string& out) {
  if (!protocol::ParseDataRow(body, values_).ok() || values_.size() != plan_.size()) return false;
  const size_t start = out.size();
  out.push_back(protocol::BackendTag(MessageType::kDataRow));
  out.append(4, '\0');
  out.append(reinterpret_cast<const char*>(body.data()), 2);  // the field count, unchanged
  auto put_value = [&out](std::optional<std::string_view> v) {
    uint8_t b[4];
    protocol::StoreU32(b, v ? static_cast<uint32_t>(v->size()) : 0xffffffffu);
    out.append(reinterpret_cast<const char*>(b), 4);
    if (v) out.append(*v);
  };
  for (size_t i = 0; i < values_.size(); ++i) {
    const protocol::WireValue& v = values_[i];
    const std::optional<std::string_view> in = v.is_null() ? std::nullopt : std::optional(v.text());
    put_value(plan_[i].masked ? MaskValue(i, in) : in);
  }
  protocol::StoreU32(reinterpret_cast<uint8_t*>(out.data() + start + 1), static_cast<uint32_t>(out.size() - start - 1));
  return true;
}

}  // namespace pgmask::proxy
