// The PostgreSQL column types mask functions know, by type OID (pg_type.oid), and what a valid
// text-format value of each looks like. Any other type is masked to SQL NULL: the only value
// pgmask can be sure every type accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgmask::policy {

enum class PgType {
  kText, kVarchar, kBpchar, kName,
  kInt2, kInt4, kInt8, kNumeric, kFloat4, kFloat8,
  kDate, kTimestamp, kTimestamptz, kTime,
  kUuid, kBool, kJson, kJsonb, kInet,
  kOther,
};

namespace type_oid {
inline constexpr uint32_t kBool = 16;
inline constexpr uint32_t kName = 19;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kInet = 869;
inline constexpr uint32_t kBpchar = 1042;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTime = 1083;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestamptz = 1184;
inline constexpr uint32_t kNumeric = 1700;
inline constexpr uint32_t kUuid = 2950;
inline constexpr uint32_t kJsonb = 3802;
}  // namespace type_oid

// A result column's type as RowDescription gives it: type OID and type modifier (atttypmod;
// -1 when unknown). varchar(n)/bpchar(n) carry n + 4; numeric(p, s) carries (p << 16 | s) + 4.
struct ColumnType {
  uint32_t oid = type_oid::kText;
  int32_t typmod = -1;
};

PgType PgTypeFromOid(uint32_t oid);

// The SQL name of a known type ("text", "int4", ...); "unknown" for kOther.
std::string_view PgTypeName(PgType type);

// Looks a type up by name, accepting the usual SQL spellings ("integer", "varchar",
// "character varying", "timestamp with time zone", ...) and a bare OID.
std::optional<ColumnType> ColumnTypeFromName(std::string_view name);

// text, varchar, bpchar and name: types whose value is the string itself.
bool IsTextLike(PgType type);
bool IsInteger(PgType type);

// The most code points varchar(n)/bpchar(n) holds (n), from the typmod; nullopt when unbounded.
std::optional<size_t> MaxCodePoints(PgType type, int32_t typmod);

// numeric(p, s): the most digits before the decimal point (p - s); nullopt when unconstrained.
std::optional<int> NumericIntegerDigits(int32_t typmod);

// Makes a text-like value fit its column: varchar(n) truncated to n code points, bpchar(n)
// truncated or blank-padded to exactly n, name truncated to 63 bytes. `out` must be valid UTF-8.
void FitTextValue(PgType type, int32_t typmod, std::string& out);

// Appends `text` as a JSON string literal.
void AppendJsonString(std::string_view text, std::string& out);

}  // namespace pgmask::policy
