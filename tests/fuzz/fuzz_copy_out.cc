// CopyOutRewriter over a COPY ... TO STDOUT stream in text, CSV or binary format, received in
// arbitrary chunks. Checks, beyond sanitizer reports:
//   - a rewrite that keeps every field gives back the input byte for byte;
//   - how the stream is chunked does not change the rewritten output;
//   - the rewritten stream reads back (with the same options) as the same number of rows, each
//     field the value the mask asked for: replacements are escaped or quoted so that no value
//     can spill into another field or row;
//   - text and CSV: a replaced field's bytes depend on its new value, its column and the
//     options only, never on the field it replaces (how the server quoted a clear value tells
//     what it holds).
//
// Input: [options byte][delimiter][quote][escape][NULL string choice][columns][chunk seed]
//        [mask seed], then the COPY data. Options byte: bits 0-1 format (0 text, 1 CSV, 2 binary,
//        3 CSV), bit 2 HEADER, bit 3 take delimiter/quote/escape/NULL from the input (else the
//        format's defaults), bit 4 a small partial-row cap, bit 5 (CSV) FORCE_QUOTE *, bit 6
//        (CSV) FORCE_QUOTE of columns 0 and 2.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/copy_out_rewriter.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {
namespace {

using protocol::CopyFormat;
using protocol::CopyOptions;
using protocol::CopyOutRewriter;
using protocol::FieldReplacement;

const std::string_view kNullStrings[] = {"\\N", "", "NULL", "N", "\\", "\"", "\\t", "-"};

// Values a mask may put in place of a field; the first entries are built from the options so
// that the delimiter, quote and escape characters appear in them.
std::vector<std::string> Replacements(const CopyOptions& o) {
  return {
      std::string(1, o.delimiter),
      std::string{'a', o.quote, 'b'},
      std::string{o.escape, o.quote},
      std::string{o.quote},
      std::string{o.escape},
      o.null_string,
      "***",
      "",
      "line\nbreak",
      "cr\r",
      "\\.",
      "back\\slash\\",
      std::string("\0\x01\xff", 3),
      "\\N",
  };
}

struct Expected {
  size_t column;
  std::optional<std::string> value;
  bool operator==(const Expected&) const = default;
};

struct Result {
  bool ok = true;
  std::string out;
  uint64_t rows = 0;
};

// Feeds `data` to a fresh rewriter in chunks (all at once when `chunker` is null).
template <typename Mask>
Result RunRewriter(const CopyOptions& options, size_t columns, size_t max_partial, std::string_view data,
                   Chunker* chunker, Mask&& mask) {
  Result result;
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(options, columns, max_partial);
  PGMASK_FUZZ_CHECK(rewriter.ok());
  std::string out;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = chunker != nullptr ? chunker->Next(data.size() - pos) : data.size() - pos;
    // Each payload in a block of its own size, as a CopyData body would be.
    const std::string payload(data.substr(pos, n));
    pos += n;
    if (!rewriter->Rewrite(payload, mask, out).ok()) {
      result.ok = false;
      return result;
    }
    result.out += out;
  }
  result.ok = rewriter->Finish().ok();
  result.rows = rewriter->rows();
  return result;
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask::fuzz;
  Input in(data, size);
  const uint8_t flags = in.Byte();
  const CopyFormat format = (flags & 3) == 0 ? CopyFormat::kText : (flags & 3) == 2 ? CopyFormat::kBinary
                                                                                      : CopyFormat::kCsv;
  CopyOptions options = CopyOptions::ForFormat(format);
  options.header = (flags & 4) != 0;
  const char delimiter = static_cast<char>(in.Byte());
  const char quote = static_cast<char>(in.Byte());
  const char escape = static_cast<char>(in.Byte());
  const uint8_t null_choice = in.Byte();
  if ((flags & 8) != 0) {
    options.delimiter = delimiter;
    options.quote = quote;
    options.escape = escape;
    options.null_string = std::string(kNullStrings[null_choice % std::size(kNullStrings)]);
  }
  if (format == CopyFormat::kCsv) {
    options.force_quote_all = (flags & 32) != 0;
    if ((flags & 64) != 0) options.force_quote_columns = {0, 2};
  }
  const size_t columns = in.Byte() % 8;
  const uint8_t chunk_seed = in.Byte();
  const uint8_t mask_seed = in.Byte();
  const size_t max_partial = (flags & 16) != 0 ? 64 : CopyOutRewriter::kDefaultMaxPartialRow;
  const auto rest = in.Rest();
  const std::string_view stream(reinterpret_cast<const char*>(rest.data()), rest.size());
  if (!CopyOutRewriter::Create(options, columns, max_partial).ok()) return 0;

  // 1. Keeping every field is the identity.
  {
    Chunker chunker(chunk_seed);
    auto keep = [](size_t, std::optional<std::string_view>) { return FieldReplacement::Keep(); };
    const Result kept = RunRewriter(options, columns, max_partial, stream, &chunker, keep);
    if (kept.ok) PGMASK_FUZZ_CHECK(kept.out == stream);
  }

  // 2. A mask that keeps, nulls or replaces fields, chunked and whole.
  const std::vector<std::string> replacements = Replacements(options);
  std::vector<Expected> expected;
  auto mask = [&](size_t column, std::optional<std::string_view> value) -> FieldReplacement {
    PGMASK_FUZZ_CHECK(column < columns);
    if (value) Touch(*value);
    const unsigned choice = (mask_seed >> (2 * (column % 4))) & 3;
    if (choice == 0) {
      expected.push_back({column, value ? std::optional<std::string>(*value) : std::nullopt});
      return FieldReplacement::Keep();
    }
    if (choice == 1) {
      expected.push_back({column, std::nullopt});
      return FieldReplacement::Null();
    }
    const std::string& v = replacements[(mask_seed + column * 7 + expected.size()) % replacements.size()];
    std::optional<std::string> reads_back = v;
    if (options.format == CopyFormat::kText) {
      // Documented: a text-format value spelled like the NULL string reads back as NULL.
      std::string encoded;
      pgmask::protocol::AppendCopyTextField(options, v, false, false, encoded);
      if (encoded == options.null_string) reads_back = std::nullopt;
    }
    expected.push_back({column, reads_back});
    return FieldReplacement::Value(v);
  };
  Chunker chunker(chunk_seed);
  const Result masked = RunRewriter(options, columns, max_partial, stream, &chunker, mask);
  if (!masked.ok) return 0;
  const std::vector<Expected> want = expected;
  expected.clear();
  const Result whole = RunRewriter(options, columns, max_partial, stream, nullptr, mask);
  PGMASK_FUZZ_CHECK(whole.ok && whole.out == masked.out && whole.rows == masked.rows);
  PGMASK_FUZZ_CHECK(expected == want);

  // 3. The masked stream reads back as what the mask decided.
  std::vector<Expected> got;
  auto record = [&](size_t column, std::optional<std::string_view> value) {
    got.push_back({column, value ? std::optional<std::string>(*value) : std::nullopt});
    return FieldReplacement::Keep();
  };
  const Result reread =
      RunRewriter(options, columns, CopyOutRewriter::kDefaultMaxPartialRow, masked.out, nullptr, record);
  PGMASK_FUZZ_CHECK(reread.ok);
  PGMASK_FUZZ_CHECK(reread.rows == masked.rows);
  PGMASK_FUZZ_CHECK(got == want);

  // 4. Every field replaced by one value: every data row comes out the same, whatever it held.
  if (options.format != CopyFormat::kBinary && columns > 0) {
    const std::string& v = replacements[mask_seed % replacements.size()];
    auto replace_all = [&v](size_t, std::optional<std::string_view>) { return FieldReplacement::Value(v); };
    const Result replaced = RunRewriter(options, columns, max_partial, stream, nullptr, replace_all);
    PGMASK_FUZZ_CHECK(replaced.ok);
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      if (i > 0) line.push_back(options.delimiter);
      pgmask::protocol::AppendCopyTextField(options, v, options.ForceQuote(i), columns == 1, line);
    }
    line.push_back('\n');
    std::string_view rest = replaced.out;
    if (options.header && !stream.empty()) {
      // The header row passes unchanged: skip it as the rewriter split it.
      pgmask::protocol::CopyTextRow header;
      const absl::StatusOr<size_t> length = header.Split(options, stream);
      PGMASK_FUZZ_CHECK(length.ok() && *length > 0 && *length <= rest.size());
      rest.remove_prefix(*length);
    }
    PGMASK_FUZZ_CHECK(rest.size() == line.size() * replaced.rows);
    for (uint64_t r = 0; r < replaced.rows; ++r) {
      PGMASK_FUZZ_CHECK(rest.substr(r * line.size(), line.size()) == line);
    }
  }
  return 0;
}
