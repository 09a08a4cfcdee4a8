#include "proxy/auth_file.h"

#include <fstream>

#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

namespace {

struct Entry {
  std::string user;
  std::string secret;
};

void SkipBlanks(std::string_view line, size_t& pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
}

// A field in double quotes starting at line[pos], '""' standing for '"'; moves `pos` past it.
std::optional<std::string> QuotedField(std::string_view line, size_t& pos) {
  if (pos >= line.size() || line[pos] != '"') return std::nullopt;
  std::string field;
  for (size_t i = pos + 1; i < line.size(); ++i) {
    if (line[i] != '"') {
      field.push_back(line[i]);
    } else if (i + 1 < line.size() && line[i + 1] == '"') {
      field.push_back('"');
      ++i;
    } else {
      pos = i + 1;
      return field;
    }
  }
  return std::nullopt;
}

// One line: nullopt for a blank line or a comment.
absl::StatusOr<std::optional<Entry>> ParseLine(std::string_view line) {
  if (line.size() > kMaxAuthFileLine) {
    return absl::InvalidArgumentError(absl::StrFormat("line longer than %d bytes", kMaxAuthFileLine));
  }
  size_t pos = 0;
  SkipBlanks(line, pos);
  if (pos == line.size() || line[pos] == ';' || line[pos] == '#') return std::nullopt;
  std::optional<std::string> user = QuotedField(line, pos);
  if (!user || user->empty()) return absl::InvalidArgumentError("expected a user name in double quotes");
  SkipBlanks(line, pos);
  std::optional<std::string> secret = QuotedField(line, pos);
  if (!secret) return absl::InvalidArgumentError("expected the password or SCRAM verifier in double quotes after the user name");
  return Entry{*std::move(user), *std::move(secret)};
}

}  // namespace

absl::StatusOr<AuthFile> AuthFile::Parse(std::string_view text, std::string_view path) {
  AuthFile file;
  absl::flat_hash_map<std::string, int> first_line;
  int line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto fail = [&](std::string_view message) {
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s", path, line_number, message));
    };
    absl::StatusOr<std::optional<Entry>> entry = ParseLine(line);
    if (!entry.ok()) return fail(ToStd(entry.status().message()));
    if (!entry->has_value()) continue;
    const Entry& e = **entry;
    const auto [seen, inserted] = first_line.try_emplace(e.user, line_number);
    if (!inserted) return fail(absl::StrFormat("user \"%s\" is listed again (first on line %d)", e.user, seen->second));
    if (!scram::IsScramSecret(e.secret)) continue;  // md5 or plain: that user's login stays relayed
    absl::StatusOr<scram::Verifier> verifier = scram::ParseVerifier(e.secret);
    if (!verifier.ok()) return fail(absl::StrFormat("user \"%s\": %s", e.user, verifier.status().message()));
    file.verifiers_.emplace(e.user, *std::move(verifier));
  }
  return file;
}

absl::StatusOr<AuthFile> AuthFile::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot open the auth file", path));
  // One byte past the cap tells an oversized file (or an endless pipe) without reading it all.
  std::string text(kMaxAuthFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return absl::DataLossError(absl::StrFormat("%s: cannot read the auth file", path));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxAuthFileBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: the auth file is larger than %d bytes", path, kMaxAuthFileBytes));
  }
  return Parse(text, path);
}

std::optional<scram::Verifier> AuthFile::Find(std::string_view user) const {
  const auto it = verifiers_.find(ToAbsl(user));
  if (it == verifiers_.end()) return std::nullopt;
  return it->second;
}

absl::Status AuthFileStore::Load(const std::string& path) {
  absl::StatusOr<AuthFile> file = AuthFile::Load(path);
  if (!file.ok()) return file.status();
  auto loaded = std::make_shared<const AuthFile>(*std::move(file));
  absl::MutexLock lock(&mu_);
  current_ = std::move(loaded);
  return absl::OkStatus();
}

std::shared_ptr<const AuthFile> AuthFileStore::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace pgmask::proxy
