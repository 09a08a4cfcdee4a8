#include "proxy/audit_reader.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include <boost/json.hpp>

#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

const boost::json::value* Field(const AuditLine& line, std::string_view name) {
  return line.fields.if_contains(boost::json::string_view(name.data(), name.size()));
}

}  // namespace

std::string AuditString(const AuditLine& line, std::string_view name) {
  const boost::json::value* v = Field(line, name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<uint64_t> AuditUint(const AuditLine& line, std::string_view name) {
  const boost::json::value* v = Field(line, name);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return std::nullopt;
}

std::string AuditTrail::Where(const AuditEntry& e) const {
  return absl::StrFormat("%s:%d", files[e.file], e.line);
}

AuditTrail ReadAuditTrail(const std::vector<std::string>& files, AuditChain& chain, const AuditTexts& texts) {
  struct FileEntries {
    std::string name;
    std::vector<AuditEntry> entries;
    uint64_t first_seq = std::numeric_limits<uint64_t>::max();
    size_t given = 0;
  };
  AuditTrail trail;
  std::vector<FileEntries> read;
  for (size_t f = 0; f < files.size() + texts.size(); ++f) {
    std::string name;
    std::string content;
    if (f < files.size()) {
      name = files[f];
      std::ifstream in(files[f], std::ios::binary);
      if (!in) {
        trail.unreadable.push_back(absl::StrFormat("%s: cannot open", files[f]));
        continue;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      content = buffer.str();
    } else {
      name = texts[f - files.size()].first;
      content = texts[f - files.size()].second;
    }
    FileEntries fe;
    fe.name = name;
    fe.given = f;
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < content.size()) {
      size_t end = content.find('\n', pos);
      AuditEntry e;
      e.line = ++line_no;
      if (end == std::string::npos) {
        e.incomplete = true;
        end = content.size();
      }
      const std::string_view text(content.data() + pos, end - pos);
      pos = end + 1;
      absl::StatusOr<AuditLine> parsed = ParseAuditLine(text);
      if (parsed.ok()) {
        e.authentic = chain.Authentic(*parsed);
        if (e.authentic) fe.first_seq = std::min(fe.first_seq, parsed->seq);
        e.record = *std::move(parsed);
      } else {
        e.error = std::string(ToStd(parsed.status().message()));
      }
      fe.entries.push_back(std::move(e));
    }
    read.push_back(std::move(fe));
  }
  std::stable_sort(read.begin(), read.end(), [](const FileEntries& a, const FileEntries& b) {
    return a.first_seq < b.first_seq;
  });
  for (FileEntries& fe : read) {
    const size_t index = trail.files.size();
    trail.files.push_back(fe.name);
    for (AuditEntry& e : fe.entries) {
      e.file = index;
      trail.entries.push_back(std::move(e));
    }
  }
  return trail;
}

}  // namespace pgmask::proxy
