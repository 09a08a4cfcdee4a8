// `pgmask scan`'s value detectors (policy/scan_detectors.h) and a column profile over sampled
// values a hostile table could hold. Input: one byte choosing the column's type family, a
// column name up to the first newline, then values separated by newlines (a NUL byte stands
// for SQL NULL). Checks: nothing crashes, and a finding's counts and confidence stay in range.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/scan_classifier.h"
#include "policy/scan_detectors.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {
namespace {

void Detectors(std::string_view v) {
  policy::IsEmailAddress(v);
  policy::IsPhoneNumber(v);
  policy::IsBarePhoneDigits(v);
  policy::ClassifySsn(v, true);
  policy::IsCardNumber(v);
  policy::IsIban(v);
  policy::IsIpAddress(v);
  policy::IsDate(v);
  policy::IsPersonName(v);
  policy::IsStreetAddress(v);
  policy::IsMedicalCode(v);
  policy::IsFreeText(v);
  policy::FindEmbeddedIdentifiers(v);
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask;
  fuzz::Input in(data, size);
  const auto family = static_cast<policy::TypeFamily>(in.Byte() % 5);
  const auto rest = in.Rest();
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  const size_t newline = text.find('\n');
  policy::ColumnProfile profile(text.substr(0, newline), family);
  size_t values = 0;
  for (size_t start = newline; start != std::string_view::npos && start < text.size();) {
    const size_t end = text.find('\n', start + 1);
    const std::string_view value = text.substr(start + 1, end == std::string_view::npos ? end : end - start - 1);
    fuzz::Detectors(value);
    profile.Add(value == std::string_view("\0", 1) ? std::nullopt : std::optional<std::string_view>(value));
    ++values;
    start = end;
  }
  if (const std::optional<policy::Finding> f = profile.Classify()) {
    if (f->matched > f->sampled || f->sampled > values) fuzz::Fail("finding counts out of range");
    if (f->confidence < policy::kReportConfidence || f->confidence > 0.99) fuzz::Fail("confidence out of range");
  }
  return 0;
}
