// Converts column values between PostgreSQL's binary wire format (what typsend produces and
// typreceive reads) and the text format mask functions work on, so a protected column requested
// in binary format is masked exactly like the same column in text format:
//
//   if (!SupportsBinary(oid) || !BinaryToText(oid, typmod, wire, text)) -> send NULL
//   MaskOutput r = masker.Apply(text, masked);
//   r == kNull || !TextToBinary(oid, typmod, masked, wire_out) -> send NULL; else send wire_out
//
// Both directions fail (return false) rather than guess: a value of the wrong length, an
// out-of-range field or text that is not the type's canonical form is rejected, and the proxy
// sends NULL, never the clear value. Neither direction allocates once `out` has grown to the
// largest value of the column.
//
// Covered types and their text forms (what the server prints with the default settings:
// DateStyle ISO, extra_float_digits 1, bytea/IntervalStyle irrelevant):
//   text, varchar, bpchar, name, json  raw bytes in the client encoding (UTF-8 assumed)
//   jsonb        version byte 1, then the JSON text
//   int2/4/8     big-endian two's complement  <->  decimal
//   float4/8     IEEE 754 big-endian  <->  the server's shortest round-trip digits (Ryu without
//                halfway points, see binary_float.cc), "NaN", "Infinity", "-Infinity"
//   numeric      ndigits, weight, sign, dscale, base-10000 digits  <->  plain decimal, "NaN",
//                "Infinity", "-Infinity"; text is rounded to the typmod's scale on the way back
//   date         days since 2000-01-01  <->  "YYYY-MM-DD[ BC]", "infinity", "-infinity"
//   time         microseconds since midnight  <->  "HH:MM:SS[.ffffff]"
//   timestamp    microseconds since 2000-01-01  <->  "YYYY-MM-DD HH:MM:SS[.ffffff][ BC]"
//   timestamptz  as timestamp, in UTC  <->  the same text plus an offset. The server would print
//                the session's TimeZone; a binary value carries no zone, so it is decoded in UTC
//                ("+00") and masks that look at the text (generalize, partial) see the UTC
//                date and time. Encoding accepts any "+HH[:MM[:SS]]" offset.
//   uuid         16 bytes  <->  8-4-4-4-12 lowercase hex
//   bool         1 byte  <->  "t" / "f"
//   inet         family, bits, is_cidr, length, address  <->  "a.b.c.d[/n]", IPv6 with "::"
// Every other type (cidr, timetz, interval, bytea, arrays, ranges, ...) is unsupported.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgmask::policy {

bool SupportsBinary(uint32_t type_oid);

// Replaces `text_out` with the text PostgreSQL prints for the binary value `binary`.
bool BinaryToText(uint32_t type_oid, int32_t typmod, std::string_view binary, std::string& text_out);

// Replaces `binary_out` with the binary encoding of the text value `text`: byte for byte what
// the server's typsend would produce for the value typed in as `text`.
bool TextToBinary(uint32_t type_oid, int32_t typmod, std::string_view text, std::string& binary_out);

}  // namespace pgmask::policy
