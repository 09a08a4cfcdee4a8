// The policy loader: YAML text in, a Policy or a list of file:line:column errors out. A policy
// that loads is then used the way the proxy uses one: every column's mask is printed and parsed
// back (ParseMaskSpec(spec.ToString()) == spec), made into a Masker for a few column types and
// applied, and effective actions are resolved for some of its roles.
// The input is also given to ParseMaskSpec on its own, as the text of one mask expression.
// Input: the policy file's bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/effective_action.h"
#include "policy/key_file.h"
#include "policy/mask_spec.h"
#include "policy/masker.h"
#include "policy/pg_type.h"
#include "policy/policy_loader.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {
namespace {

namespace type_oid = policy::type_oid;

const policy::Keys& BothKeys() {
  static const policy::Keys* keys = [] {
    auto* k = new policy::Keys();
    k->token = *policy::ParseKeyMaterial("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    k->hash = *policy::ParseKeyMaterial("202122232425262728292a2b2c2d2e2f");
    return k;
  }();
  return *keys;
}

void CheckRoundTrip(const policy::MaskSpec& spec) {
  const std::string text = spec.ToString();
  const absl::StatusOr<policy::MaskSpec> again = policy::ParseMaskSpec(text);
  PGMASK_FUZZ_CHECK(again.ok());
  PGMASK_FUZZ_CHECK(*again == spec);
}

struct Sample {
  policy::ColumnType type;
  std::string_view value;
};
constexpr Sample kSamples[] = {
    {{type_oid::kText, -1}, "Zoë Example"},
    {{type_oid::kVarchar, 4 + 5}, "a@b.example"},
    {{type_oid::kInt4, -1}, "-123456"},
    {{type_oid::kNumeric, ((6 << 16) | 2) + 4}, "1234.56"},
    {{type_oid::kDate, -1}, "1987-06-15"},
    {{type_oid::kTimestamptz, -1}, "2024-02-29 23:59:59.5+05:30"},
};

void UsePolicy(const policy::Policy& p) {
  const policy::Keys& keys = BothKeys();
  PGMASK_FUZZ_CHECK(policy::CheckKeysAvailable(p, keys).ok());
  std::string out;
  for (const policy::TableRule& table : p.tables()) {
    PGMASK_FUZZ_CHECK(p.FindTable(table.schema, table.name) == &table);
    for (const policy::ColumnRule& column : table.columns) {
      PGMASK_FUZZ_CHECK(p.FindColumn(table.schema, table.name, column.name) == &column);
      PGMASK_FUZZ_CHECK(column.class_index < p.classifications().size());
      CheckRoundTrip(column.mask);
      for (const Sample& sample : kSamples) {
        auto masker = policy::Masker::Create(column.mask, sample.type, keys);
        PGMASK_FUZZ_CHECK(masker.ok());
        if ((*masker)->Apply(sample.value, out) == policy::MaskOutput::kValue) Touch(out);
      }
    }
  }
  std::vector<std::string> roles;
  for (const policy::RoleRule& role : p.roles()) {
    if (roles.size() < 3 && role.name != policy::kDefaultRoleName) roles.push_back(role.name);
  }
  for (size_t n = 0; n <= roles.size(); ++n) {
    const policy::EffectiveActions actions =
        policy::ResolveEffectiveActions(p, std::vector<std::string>(roles.begin(), roles.begin() + n));
    PGMASK_FUZZ_CHECK(actions.all().size() == p.classifications().size());
  }
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask;
  // In a block of its own size: the loader must not read past the text it is given.
  const std::vector<uint8_t> bytes = fuzz::ExactCopy({data, size});
  const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (auto spec = policy::ParseMaskSpec(view); spec.ok()) fuzz::CheckRoundTrip(*spec);
  const absl::StatusOr<std::shared_ptr<const policy::Policy>> loaded = policy::LoadPolicyString(view, "fuzz.yaml");
  if (!loaded.ok()) {
    // Every error names the source.
    PGMASK_FUZZ_CHECK(loaded.status().message().find("fuzz.yaml") != absl::string_view::npos);
    return 0;
  }
  fuzz::UsePolicy(**loaded);
  return 0;
}
