#include "policy/mask_spec.h"

#include <charconv>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "protocol/string_view_bridge.h"
#include "policy/utf8.h"

namespace pgmask::policy {
namespace {

struct Word {
  std::string text;
};
struct Quoted {
  std::string text;
};
using Arg = std::variant<int64_t, Quoted, Word>;

// A tiny scanner for `name` or `name(arg, ...)` where an argument is an integer, a
// single-quoted string ('' for a quote) or a bare word.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string_view Name() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (absl::ascii_isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  absl::StatusOr<Arg> Argument() {
    SkipSpace();
    if (pos_ >= text_.size()) return absl::InvalidArgumentError("missing argument");
    const char c = text_[pos_];
    if (c == '\'') return QuotedArg();
    if (c == '-' || absl::ascii_isdigit(static_cast<unsigned char>(c))) return Integer();
    std::string_view word = Name();
    if (word.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected '", ToAbsl(text_.substr(pos_, 1)), "'"));
    }
    return Word{std::string(word)};
  }

 private:
  absl::StatusOr<Arg> QuotedArg() {
    ++pos_;
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '\'') {
        if (pos_ < text_.size() && text_[pos_] == '\'') {
          out.push_back('\'');
          ++pos_;
          continue;
        }
        return Quoted{std::move(out)};
      }
      out.push_back(c);
    }
    return absl::InvalidArgumentError("unterminated string argument");
  }
  absl::StatusOr<Arg> Integer() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
    int64_t value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad integer '", ToAbsl(text_.substr(start, pos_ - start)), "'"));
    }
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

absl::string_view ArgKind(const Arg& arg) {
  if (std::holds_alternative<int64_t>(arg)) return "an integer";
  if (std::holds_alternative<Quoted>(arg)) return "a string";
  return "a word";
}

absl::Status WrongType(absl::string_view fn, int index, absl::string_view want, const Arg& got) {
  return absl::InvalidArgumentError(absl::StrCat(fn, ": argument ", index, " must be ", want,
                                                 ", not ", ArgKind(got)));
}

absl::Status CheckText(absl::string_view fn, const std::string& text) {
  if (text.size() > kMaxMaskTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(fn, ": string argument is longer than ", kMaxMaskTextBytes, " bytes"));
  }
  if (!IsValidUtf8(text)) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": string argument is not valid UTF-8"));
  }
  if (text.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": string argument contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status ArgCount(absl::string_view fn, const std::vector<Arg>& args, size_t min, size_t max) {
  if (args.size() >= min && args.size() <= max) return absl::OkStatus();
  std::string want = min == max ? absl::StrCat(min) : absl::StrCat(min, " or ", max);
  return absl::InvalidArgumentError(absl::StrCat(fn, " takes ", want, " argument",
                                                 min == 1 && max == 1 ? "" : "s", ", not ", args.size()));
}

absl::StatusOr<MaskSpec> Build(absl::string_view fn, const std::vector<Arg>& args) {
  MaskSpec spec;
  if (fn == "redact") {
    spec.kind = MaskKind::kRedact;
    if (absl::Status s = ArgCount(fn, args, 0, 1); !s.ok()) return s;
    if (!args.empty()) {
      const auto* q = std::get_if<Quoted>(&args[0]);
      if (q == nullptr) return WrongType(fn, 1, "a string", args[0]);
      if (absl::Status s = CheckText(fn, q->text); !s.ok()) return s;
      spec.text = q->text;
    }
    return spec;
  }
  if (fn == "null" || fn == "email" || fn == "tokenize") {
    if (absl::Status s = ArgCount(fn, args, 0, 0); !s.ok()) return s;
    spec.kind = fn == "null" ? MaskKind::kNull
                : fn == "email" ? MaskKind::kEmail
                                : MaskKind::kTokenize;
    return spec;
  }
  if (fn == "partial") {
    spec.kind = MaskKind::kPartial;
    if (absl::Status s = ArgCount(fn, args, 3, 3); !s.ok()) return s;
    const auto* prefix = std::get_if<int64_t>(&args[0]);
    const auto* pad = std::get_if<Quoted>(&args[1]);
    const auto* suffix = std::get_if<int64_t>(&args[2]);
    if (prefix == nullptr) return WrongType(fn, 1, "an integer", args[0]);
    if (pad == nullptr) return WrongType(fn, 2, "a string", args[1]);
    if (suffix == nullptr) return WrongType(fn, 3, "an integer", args[2]);
    for (const int64_t keep : {*prefix, *suffix}) {
      if (keep < 0 || keep > kMaxPartialKeep) {
        return absl::InvalidArgumentError(absl::StrCat(
            fn, ": prefix and suffix must be between 0 and ", kMaxPartialKeep));
      }
    }
    if (absl::Status s = CheckText(fn, pad->text); !s.ok()) return s;
    spec.prefix = static_cast<int>(*prefix);
    spec.suffix = static_cast<int>(*suffix);
    spec.text = pad->text;
    return spec;
  }
  if (fn == "hash") {
    spec.kind = MaskKind::kHash;
    if (absl::Status s = ArgCount(fn, args, 0, 1); !s.ok()) return s;
    if (!args.empty()) {
      const auto* n = std::get_if<int64_t>(&args[0]);
      if (n == nullptr) return WrongType(fn, 1, "an integer", args[0]);
      if (*n < 1 || *n > kMaxHashChars) {
        return absl::InvalidArgumentError(
            absl::StrCat("hash: length must be between 1 and ", kMaxHashChars));
      }
      spec.hash_chars = static_cast<int>(*n);
    }
    return spec;
  }
  if (fn == "generalize") {
    spec.kind = MaskKind::kGeneralize;
    if (absl::Status s = ArgCount(fn, args, 1, 1); !s.ok()) return s;
    if (const auto* n = std::get_if<int64_t>(&args[0])) {
      if (*n < 1 || *n > kMaxBucket) {
        return absl::InvalidArgumentError(
            absl::StrCat("generalize: bucket width must be between 1 and ", kMaxBucket));
      }
      spec.bucket = *n;
      return spec;
    }
    const auto* word = std::get_if<Word>(&args[0]);
    if (word == nullptr) return WrongType(fn, 1, "year, month, decade or an integer", args[0]);
    if (word->text == "year") {
      spec.date_part = DatePart::kYear;
    } else if (word->text == "month") {
      spec.date_part = DatePart::kMonth;
    } else if (word->text == "decade") {
      spec.date_part = DatePart::kDecade;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "generalize: unknown period '", word->text, "' (expected year, month or decade)"));
    }
    return spec;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown mask function '", fn,
      "' (expected redact, null, partial, email, hash, tokenize or generalize)"));
}

std::string QuoteSql(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

std::string_view MaskKindName(MaskKind kind) {
  switch (kind) {
    case MaskKind::kRedact: return "redact";
    case MaskKind::kNull: return "null";
    case MaskKind::kPartial: return "partial";
    case MaskKind::kEmail: return "email";
    case MaskKind::kHash: return "hash";
    case MaskKind::kTokenize: return "tokenize";
    case MaskKind::kGeneralize: return "generalize";
  }
  return "unknown";
}

std::string MaskSpec::ToString() const {
  switch (kind) {
    case MaskKind::kRedact: return absl::StrCat("redact(", QuoteSql(text), ")");
    case MaskKind::kPartial:
      return absl::StrCat("partial(", prefix, ", ", QuoteSql(text), ", ", suffix, ")");
    case MaskKind::kHash: return absl::StrCat("hash(", hash_chars, ")");
    case MaskKind::kGeneralize:
      if (!date_part.has_value()) return absl::StrCat("generalize(", bucket, ")");
      switch (*date_part) {
        case DatePart::kYear: return "generalize(year)";
        case DatePart::kMonth: return "generalize(month)";
        case DatePart::kDecade: return "generalize(decade)";
      }
      return "generalize";
    default: return std::string(MaskKindName(kind));
  }
}

absl::StatusOr<MaskSpec> ParseMaskSpec(std::string_view text) {
  Scanner scanner(text);
  const absl::string_view fn = ToAbsl(scanner.Name());
  if (fn.empty()) return absl::InvalidArgumentError("empty mask function");
  std::vector<Arg> args;
  if (scanner.Consume('(')) {
    if (!scanner.Consume(')')) {
      while (true) {
        absl::StatusOr<Arg> arg = scanner.Argument();
        if (!arg.ok()) return arg.status();
        args.push_back(*std::move(arg));
        if (scanner.Consume(')')) break;
        if (!scanner.Consume(',')) {
          return absl::InvalidArgumentError(
              absl::StrCat(fn, ": expected ',' or ')' after argument ", args.size()));
        }
      }
    }
  }
  if (!scanner.AtEnd()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected text after mask function '", fn, "'"));
  }
  return Build(fn, args);
}

}  // namespace pgmask::policy
