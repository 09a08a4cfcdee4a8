// The type-aware mask functions that need no key: redact, partial, email, generalize, and the
// formatting of a hash digest as a value of the column's type. masker.h dispatches to them.
//
// Every function writes a valid text-format value of the column's type, or says NULL:
//   redact      text types: the replacement ('***' by default); json/jsonb: it as a JSON string;
//               numbers: 0; date: 1900-01-01; timestamp: 1900-01-01 00:00:00; timestamptz:
//               1900-01-01 00:00:00+00; time: 00:00:00; uuid: nil; bool: f; inet: 0.0.0.0.
//   partial     text types only; keeps `prefix` leading and `suffix` trailing code points with
//               the pad between; a value of prefix + suffix code points or fewer becomes the
//               pad alone, so partial never shows a whole value. Other types: redaction.
//   email       text types: first code point of the local part, "***@***.", and the top-level
//               domain ('a***@***.com'); no '.' in the domain: 'a***@***'; no '@': the
//               redaction. Other types: redaction.
//   generalize  year|month|decade: date, timestamp and timestamptz truncated (timestamps to
//               midnight; a timestamptz as an instant, in UTC, printed with "+00" whatever the
//               session's TimeZone); text holding an ISO date or timestamp likewise.
//               N: int2/4/8, numeric, float4/8 (and text holding a number) to the lower bound
//               of their bucket of width N, flooring negatives (-7 with N=5 gives -10).
//               Where the result cannot be a value of the type (out of range, numeric(p,s)
//               overflow, more than 18 integer digits, a period on a number or N on a date),
//               the redaction.
//   hash        text types: the first n hex digits of the HMAC; json/jsonb: them as a JSON
//               string. Other types get a value derived from the HMAC, so equal inputs still
//               give equal outputs: int2/4/8 a non-negative number in range; numeric one with
//               at most 18 (or p - s) digits; float4/float8 an integer below 2^24/2^53; date a
//               day in 1900..2099; timestamp that day plus a second of it (+00 for
//               timestamptz); time a second of the day; uuid the first 16 bytes as a version-8
//               UUID; bool its low bit; inet an IPv6 address in fd00::/8.
// Text types always end fitted to the column (varchar(n), bpchar(n), name: see pg_type.h).
// Values of types pg_type.h does not know become NULL under every function.
#pragma once

#include <string>
#include <string_view>

#include "policy/keyed_hash.h"
#include "policy/mask_spec.h"
#include "policy/pg_type.h"

namespace pgmask::policy {

enum class MaskOutput { kValue, kNull };

inline constexpr std::string_view kDefaultRedaction = "***";

// Each appends to `out`, which the caller has cleared; `in` is never SQL NULL here, and for
// text types it is valid UTF-8 (the caller redacts invalid UTF-8).
MaskOutput AppendRedaction(PgType type, std::string_view text, std::string& out);
MaskOutput AppendPartial(const MaskSpec& spec, PgType type, std::string_view in, std::string& out);
MaskOutput AppendEmail(PgType type, std::string_view in, std::string& out);
MaskOutput AppendGeneralized(const MaskSpec& spec, ColumnType column, PgType type,
                             std::string_view in, std::string& out);
MaskOutput AppendHashValue(const KeyedHash::Digest& digest, int hex_chars, ColumnType column,
                           PgType type, std::string& out);

}  // namespace pgmask::policy
