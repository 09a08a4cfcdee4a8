// What the proxy runs per protected result field and per value.
//
// Per RowDescription field (table OID + attnum resolved to a ColumnRule through the catalog,
// then the session's EffectiveActions):
//   Action action = actions.For(rule->class_index);
//   deny  -> refuse the statement; clear -> forward the field untouched;
//   else  -> masker = Masker::Create(*MaskSpecForAction(action, *rule),
//                                    {field.type_oid, field.type_modifier}, keys);
// Per DataRow value of that field (text format):
//   MaskOutput r = masker->Apply(value_or_nullopt, buffer);   // buffer reused across rows
//   r == kNull ? write length -1 : write buffer.
// Apply allocates nothing once `buffer` has grown to the field's largest output.
// A Masker holds OpenSSL contexts and scratch space: not thread-safe, one per session (cache
// them per field; creating one is cheap but not free).
// Binary-format results would get a separate ApplyBinary next to Apply; the spec and type are
// already what it needs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "policy/keyed_hash.h"
#include "policy/key_file.h"
#include "policy/mask_function.h"
#include "policy/mask_spec.h"
#include "policy/pg_type.h"
#include "policy/policy.h"
#include "policy/tokenizer.h"

namespace pgmask::policy {

// The mask an action applies to a column: tokenize and null their own, mask the column's own
// function; nullopt for clear and deny, which mask nothing.
std::optional<MaskSpec> MaskSpecForAction(Action action, const ColumnRule& rule);

// Longer values are redacted instead of tokenized (see Masker::Mask).
inline constexpr size_t kMaxTokenizedBytes = 64 * 1024;

class Masker {
 public:
  // FailedPrecondition when the spec needs a key `keys` does not hold.
  static absl::StatusOr<std::unique_ptr<Masker>> Create(const MaskSpec& spec, ColumnType type,
                                                        const Keys& keys);

  // `in` is a text-format value, std::nullopt for SQL NULL (which stays NULL). Replaces the
  // contents of `out` with the masked value unless the result is kNull.
  MaskOutput Apply(std::optional<std::string_view> in, std::string& out);

  const MaskSpec& spec() const { return spec_; }
  ColumnType column_type() const { return column_; }

 private:
  Masker(const MaskSpec& spec, ColumnType column)
      : spec_(spec), column_(column), type_(PgTypeFromOid(column.oid)) {}

  MaskOutput Mask(std::string_view in, std::string& out);
  std::string_view FallbackText() const;

  MaskSpec spec_;
  ColumnType column_;
  PgType type_;
  std::optional<Tokenizer> tokenizer_;
  std::optional<KeyedHash> hash_;
  std::string scratch_;  // a timestamptz in UTC, to hash
};

}  // namespace pgmask::policy
