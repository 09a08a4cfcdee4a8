#include "policy/masker.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "policy/date_time.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

// Whether a numeric in PostgreSQL's text form ("-12.340") fits numeric(p, s): below 10^(p - s)
// in magnitude. A token keeps the digit count but not the magnitude of a value below 1 (the
// zero before the point, or the leading zeros after it, become other digits), which a column
// with s >= p cannot hold.
bool FitsNumericTypmod(std::string_view text, int32_t typmod) {
  const std::optional<int> max_digits = NumericIntegerDigits(typmod);
  if (!max_digits) return true;
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  const size_t point = text.find('.');
  std::string_view integer = text.substr(0, point);
  const std::string_view fraction = point == std::string_view::npos ? "" : text.substr(point + 1);
  while (!integer.empty() && integer.front() == '0') integer.remove_prefix(1);
  // 10^(weight - 1) <= |value| < 10^weight
  int weight = static_cast<int>(integer.size());
  if (weight == 0) {
    const size_t zeros = fraction.find_first_not_of('0');
    if (zeros == std::string_view::npos) return true;  // zero fits every numeric
    weight = -static_cast<int>(zeros);
  }
  return weight <= *max_digits;
}

}  // namespace

std::optional<MaskSpec> MaskSpecForAction(Action action, const ColumnRule& rule) {
  MaskSpec spec;
  switch (action) {
    case Action::kClear:
    case Action::kDeny: return std::nullopt;
    case Action::kTokenize: spec.kind = MaskKind::kTokenize; return spec;
    case Action::kNull: spec.kind = MaskKind::kNull; return spec;
    case Action::kMask: return rule.mask;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Masker>> Masker::Create(const MaskSpec& spec, ColumnType type,
                                                       const Keys& keys) {
  std::unique_ptr<Masker> masker(new Masker(spec, type));
  if (spec.kind == MaskKind::kTokenize) {
    if (!keys.token) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tokenize needs a token key: pass ", ToAbsl(kTokenKeyFlag), " FILE or set ", ToAbsl(kTokenKeyEnv)));
    }
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create(*keys.token);
    if (!tokenizer.ok()) return tokenizer.status();
    masker->tokenizer_.emplace(*std::move(tokenizer));
  }
  if (spec.kind == MaskKind::kHash) {
    if (!keys.hash) {
      return absl::FailedPreconditionError(absl::StrCat(
          "hash needs a hash key: pass ", ToAbsl(kHashKeyFlag), " FILE or set ", ToAbsl(kHashKeyEnv)));
    }
    absl::StatusOr<KeyedHash> hash = KeyedHash::Create(keys.hash->bytes());
    if (!hash.ok()) return hash.status();
    masker->hash_.emplace(*std::move(hash));
  }
  return masker;
}

std::string_view Masker::FallbackText() const {
  return spec_.kind == MaskKind::kRedact || spec_.kind == MaskKind::kPartial ? spec_.text
                                                                             : kDefaultRedaction;
}

MaskOutput Masker::Apply(std::optional<std::string_view> in, std::string& out) {
  if (!in.has_value() || spec_.kind == MaskKind::kNull || type_ == PgType::kOther) {
    return MaskOutput::kNull;
  }
  out.clear();
  MaskOutput result = MaskOutput::kValue;
  if (IsTextLike(type_) && !IsValidUtf8(*in)) {
    // Invalid UTF-8 cannot be cut at character boundaries: redact all of it.
    result = AppendRedaction(type_, FallbackText(), out);
  } else {
    result = Mask(*in, out);
  }
  if (result == MaskOutput::kValue && IsTextLike(type_)) FitTextValue(type_, column_.typmod, out);
  return result;
}

MaskOutput Masker::Mask(std::string_view in, std::string& out) {
  // bpchar arrives blank-padded; the padding is not part of the value.
  std::string_view value = in;
  if (type_ == PgType::kBpchar) {
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  }
  switch (spec_.kind) {
    case MaskKind::kNull: return MaskOutput::kNull;
    case MaskKind::kRedact: return AppendRedaction(type_, spec_.text, out);
    case MaskKind::kPartial: return AppendPartial(spec_, type_, value, out);
    case MaskKind::kEmail: return AppendEmail(type_, value, out);
    case MaskKind::kGeneralize: return AppendGeneralized(spec_, column_, type_, value, out);
    case MaskKind::kHash: {
      if (type_ != PgType::kTimestamptz) return AppendHashValue(hash_->Compute(value), spec_.hash_chars, column_, type_, out);
      // The text carries the session's TimeZone offset, which under a daylight-saving rule the
      // client sets depends on the instant: hash the instant, in UTC.
      IsoTimestamp instant;
      if (!ParseIsoInstant(value, instant)) return AppendRedaction(type_, kDefaultRedaction, out);
      std::string& utc = scratch_;
      utc.clear();
      AppendDate(instant.date, utc);
      utc.push_back(' ');
      AppendTime(instant.time, utc);
      utc.append(instant.zone);
      return AppendHashValue(hash_->Compute(utc), spec_.hash_chars, column_, type_, out);
    }
    case MaskKind::kTokenize:
      // Tokenizing is slow per byte and runs on the session's thread, which other sessions share:
      // a value past the cap is redacted rather than stall them.
      if (in.size() > kMaxTokenizedBytes) return AppendRedaction(type_, kDefaultRedaction, out);
      // A token the column cannot hold is redacted, as generalize's results are.
      if (tokenizer_->Tokenize(type_, in, out) &&
          (type_ != PgType::kNumeric || FitsNumericTypmod(out, column_.typmod))) {
        return MaskOutput::kValue;
      }
      out.clear();
      return AppendRedaction(type_, kDefaultRedaction, out);
  }
  return MaskOutput::kNull;
}

}  // namespace pgmask::policy
