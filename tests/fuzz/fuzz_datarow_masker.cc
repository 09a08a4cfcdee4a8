// Result masking at the policy layer, value by value as proxy/result_masker.cc does it: a
// RowDescription-like field list is planned under a small policy (every mask function, both
// keys, the session's action per classification), then DataRow bodies are parsed
// (protocol::ParseDataRow) and each protected value is masked through policy::Masker, in text
// format directly and in binary format through BinaryToText, Apply and TextToBinary. Checks,
// beyond sanitizer reports:
//   - the masked value of a valid value is valid for its type: text that TextToBinary accepts,
//     binary that BinaryToText decodes (mask_function.h promises it; never garbage on the wire);
//   - a binary value BinaryToText accepts re-encodes and decodes to the same text.
// (proxy::ResultMasker itself is not linked: the fuzz build stays free of the proxy layer.)
//
// Input: [actions][field count], then per field [column][type][format][typmod], then DataRow
// bodies, each preceded by its length as a big-endian uint16.
//   actions: base-5 digits, one per classification A, B, C (clear, tokenize, mask, null, deny).
//   column:  a protected column of public.t (table OID 16384, attnum 1..N), an unprotected
//            column of that table, or table OID 0 (an expression).
//   type:    an index into kTypes; typmod: 0 is -1, else a length, precision or numeric(p, s).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/binary_value.h"
#include "policy/effective_action.h"
#include "policy/key_file.h"
#include "policy/masker.h"
#include "policy/pg_type.h"
#include "policy/policy_loader.h"
#include "protocol/messages.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {
namespace {

using policy::Action;
namespace type_oid = policy::type_oid;

constexpr uint32_t kTableOid = 16384;

constexpr std::string_view kPolicy = R"yaml(version: 1
classifications:
  A: { tier: restricted }
  B: { tier: confidential }
  C: { tier: internal }
tables:
  public.t:
    columns:
      c_redact:     { class: A, mask: redact }
      c_redact_own: { class: A, mask: "redact('[x]')" }
      c_partial:    { class: B, mask: "partial(1, '***', 2)" }
      c_partial0:   { class: B, mask: "partial(0, 'XXX-XX-', 4)" }
      c_email:      { class: B, mask: email }
      c_hash:       { class: C, mask: hash }
      c_hash8:      { class: C, mask: "hash(8)" }
      c_year:       { class: A, mask: "generalize(year)" }
      c_month:      { class: B, mask: "generalize(month)" }
      c_decade:     { class: C, mask: "generalize(decade)" }
      c_bucket:     { class: A, mask: "generalize(100)" }
      c_bucket1:    { class: B, mask: "generalize(1)" }
      c_null:       { class: C, mask: "null" }
roles:
  "*": { default: mask }
)yaml";

constexpr uint32_t kTypes[] = {
    type_oid::kText,  type_oid::kVarchar, type_oid::kBpchar,    type_oid::kName, type_oid::kInt2,
    type_oid::kInt4,  type_oid::kInt8,    type_oid::kNumeric,   type_oid::kFloat4, type_oid::kFloat8,
    type_oid::kDate,  type_oid::kTime,    type_oid::kTimestamp, type_oid::kTimestamptz,
    type_oid::kUuid,  type_oid::kBool,    type_oid::kJson,      type_oid::kJsonb, type_oid::kInet,
    17 /* bytea */,   650 /* cidr */,     1186 /* interval */,  1266 /* timetz */,
};

int32_t Typmod(uint32_t oid, uint8_t choice) {
  if (choice == 0) return -1;
  switch (policy::PgTypeFromOid(oid)) {
    case policy::PgType::kVarchar:
    case policy::PgType::kBpchar: return 4 + choice % 40;  // (n) for n = 0..39
    case policy::PgType::kNumeric: {
      const int precision = 1 + (choice >> 4);  // numeric(1..16, 0..15)
      const int scale = choice & 15;
      return ((precision << 16) | scale) + 4;
    }
    case policy::PgType::kTime:
    case policy::PgType::kTimestamp:
    case policy::PgType::kTimestamptz: return choice % 7;  // (0..6)
    default: return -1;
  }
}

struct World {
  std::shared_ptr<const policy::Policy> policy;
  policy::Keys keys;
  std::vector<policy::EffectiveActions> actions;  // 125 combinations for 3 classes
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World();
    auto loaded = policy::LoadPolicyString(kPolicy, "fuzz.yaml");
    if (!loaded.ok()) Fail("the fuzz policy does not load");
    w->policy = *loaded;
    w->keys.token = *policy::ParseKeyMaterial("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    w->keys.hash = *policy::ParseKeyMaterial("202122232425262728292a2b2c2d2e2f");
    for (int combo = 0; combo < 125; ++combo) {
      std::vector<Action> per_class;
      for (int c = 0, rest = combo; c < 3; ++c, rest /= 5) per_class.push_back(static_cast<Action>(rest % 5));
      w->actions.emplace_back(std::move(per_class), std::vector<std::string>{});
    }
    return w;
  }();
  return *world;
}

// One field's decision, as ResultMasker::Plan makes it.
struct FieldPlan {
  bool masked = false;
  std::unique_ptr<policy::Masker> masker;  // null on a masked field: NULL goes out
};

// ResultMasker::MaskValue: the masked value of one field, nullopt for NULL.
std::optional<std::string_view> MaskValue(const protocol::FieldDescription& f, policy::Masker* masker,
                                          std::optional<std::string_view> value, std::string& text_in,
                                          std::string& value_out, std::string& binary_out) {
  if (!value || masker == nullptr) return std::nullopt;
  if (f.format == 0) {
    value_out.clear();
    if (masker->Apply(*value, value_out) == policy::MaskOutput::kNull) return std::nullopt;
    return std::string_view(value_out);
  }
  if (!policy::BinaryToText(f.type_oid, f.type_modifier, *value, text_in)) return std::nullopt;
  value_out.clear();
  if (masker->Apply(text_in, value_out) == policy::MaskOutput::kNull) return std::nullopt;
  if (!policy::TextToBinary(f.type_oid, f.type_modifier, value_out, binary_out)) return std::nullopt;
  return std::string_view(binary_out);
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask;
  using namespace pgmask::fuzz;
  World& world = TheWorld();
  Input in(data, size);
  const policy::EffectiveActions& actions = world.actions[in.Byte() % world.actions.size()];
  const policy::TableRule& table = world.policy->tables()[0];
  const size_t columns = table.columns.size();

  std::vector<protocol::FieldDescription> fields(in.Byte() % 9);
  std::vector<FieldPlan> plan(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    protocol::FieldDescription& f = fields[i];
    const size_t column = in.Byte() % (columns + 2);
    f.name = "f";
    f.table_oid = column == columns + 1 ? 0 : kTableOid;
    f.column = static_cast<int16_t>(column + 1);
    f.type_oid = kTypes[in.Byte() % std::size(kTypes)];
    f.format = in.Byte() & 1;
    f.type_modifier = Typmod(f.type_oid, in.Byte());
    if (f.table_oid == 0 || column >= columns) continue;  // not a protected column
    const policy::ColumnRule& rule = table.columns[column];
    const Action action = actions.For(rule.class_index);
    if (action == Action::kClear) continue;
    if (action == Action::kDeny) return 0;  // the statement is refused; no rows
    plan[i].masked = true;
    // A binary field of a type pgmask cannot decode goes out as NULL, never in clear.
    if (f.format != 0 && !policy::SupportsBinary(f.type_oid)) continue;
    const std::optional<policy::MaskSpec> spec = policy::MaskSpecForAction(action, rule);
    PGMASK_FUZZ_CHECK(spec.has_value());
    auto masker = policy::Masker::Create(*spec, {f.type_oid, f.type_modifier}, world.keys);
    PGMASK_FUZZ_CHECK(masker.ok());
    plan[i].masker = *std::move(masker);
  }

  std::vector<protocol::WireValue> values;
  std::string text_in, value_out, binary_out, text, binary, text_again;
  while (!in.empty()) {
    const std::vector<uint8_t> body = ExactCopy(in.Take(in.U16()));
    if (!protocol::ParseDataRow(body, values).ok() || values.size() != fields.size()) continue;
    for (size_t i = 0; i < fields.size(); ++i) {
      const protocol::FieldDescription& f = fields[i];
      const std::optional<std::string_view> value =
          values[i].is_null() ? std::nullopt : std::optional(values[i].text());
      // Every binary value of a decodable type goes through the codecs, masked or not.
      if (value && f.format != 0 && policy::BinaryToText(f.type_oid, -1, *value, text)) {
        PGMASK_FUZZ_CHECK(policy::TextToBinary(f.type_oid, -1, text, binary));
        PGMASK_FUZZ_CHECK(policy::BinaryToText(f.type_oid, -1, binary, text_again));
        PGMASK_FUZZ_CHECK(text_again == text);
      }
      if (!plan[i].masked) continue;
      const std::optional<std::string_view> out =
          MaskValue(f, plan[i].masker.get(), value, text_in, value_out, binary_out);
      if (!out) continue;
      PGMASK_FUZZ_CHECK(value.has_value());  // NULL stays NULL
      PGMASK_FUZZ_CHECK(policy::SupportsBinary(f.type_oid));
      // Only for values the server could have sent: valid for the type, modifier included.
      std::string scratch;
      const bool input_valid = f.format == 0 ? policy::TextToBinary(f.type_oid, f.type_modifier, *value, scratch)
                                             : policy::BinaryToText(f.type_oid, f.type_modifier, *value, text) &&
                                                   policy::TextToBinary(f.type_oid, f.type_modifier, text, scratch);
      if (!input_valid) continue;
      const bool valid = f.format == 0 ? policy::TextToBinary(f.type_oid, f.type_modifier, *out, binary)
                                       : policy::BinaryToText(f.type_oid, f.type_modifier, *out, text);
      if (!valid) {
        // mask_function.h: every mask writes a valid value of the column's type.
        std::fprintf(stderr, "masked value of type %u(%d), format %d, mask %s: '%.*s' from '%.*s'\n", f.type_oid,
                     f.type_modifier, f.format, plan[i].masker->spec().ToString().c_str(), static_cast<int>(out->size()),
                     out->data(), static_cast<int>(value->size()), value->data());
        Fail("the masked value is not valid for its type");
      }
    }
  }
  return 0;
}
