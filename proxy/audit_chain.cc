#include "proxy/audit_chain.h"

#include <openssl/rand.h>

#include <boost/json.hpp>

#include <atomic>
#include <cstring>

#include "absl/strings/str_format.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {
namespace json = boost::json;
namespace {

constexpr std::string_view kHmacPrefix = ",\"hmac\":\"";
constexpr size_t kHexLen = 64;
constexpr size_t kSuffixLen = kHmacPrefix.size() + kHexLen + 2;  // + "\"}"

bool IsHex64(std::string_view s) {
  if (s.size() != kHexLen) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Quoted(std::string_view s) { return json::serialize(json::string(ToValidUtf8(s))); }

}  // namespace

absl::StatusOr<policy::Key> LoadAuditKey(const std::string& key_file) {
  if (!key_file.empty()) return policy::LoadKeyFile(key_file);
  absl::StatusOr<policy::Key> key = policy::KeyFromEnv(std::string(kAuditKeyEnv));
  if (absl::IsNotFound(key.status())) {
    return absl::NotFoundError(absl::StrFormat(
        "the audit trail needs a key: pass %s FILE or set %s (64 hex digits)", kAuditKeyFlag,
        kAuditKeyEnv));
  }
  return key;
}

absl::StatusOr<AuditLine> ParseAuditLine(std::string_view line) {
  if (line.size() < kSuffixLen + 2 || line.back() != '}' || line[line.size() - 2] != '"' ||
      line.substr(line.size() - kSuffixLen, kHmacPrefix.size()) != kHmacPrefix) {
    return absl::InvalidArgumentError("not an audit record: it does not end with its hmac");
  }
  AuditLine out;
  out.hmac = std::string(line.substr(line.size() - kHexLen - 2, kHexLen));
  if (!IsHex64(out.hmac)) return absl::InvalidArgumentError("not an audit record: malformed hmac");
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(line.data(), line.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("not an audit record: invalid JSON");
  out.fields = std::move(v.as_object());
  const json::value* seq = out.fields.if_contains("seq");
  const json::value* prev = out.fields.if_contains("prev");
  const json::value* type = out.fields.if_contains("type");
  const json::value* hmac = out.fields.if_contains("hmac");
  if (seq == nullptr || !(seq->is_uint64() || seq->is_int64()) || prev == nullptr ||
      !prev->is_string() || hmac == nullptr || !hmac->is_string() ||
      std::string_view(hmac->as_string()) != out.hmac) {
    return absl::InvalidArgumentError("not an audit record: seq, prev or hmac missing");
  }
  const int64_t s = seq->is_uint64() ? static_cast<int64_t>(seq->as_uint64()) : seq->as_int64();
  if (s <= 0) return absl::InvalidArgumentError("not an audit record: seq must be positive");
  out.seq = static_cast<uint64_t>(s);
  out.prev = std::string(prev->as_string());
  if (!IsHex64(out.prev)) return absl::InvalidArgumentError("not an audit record: malformed prev");
  if (type != nullptr && type->is_string()) out.type = std::string(type->as_string());
  out.canonical.reserve(line.size() - kSuffixLen + 1);
  out.canonical.append(line.substr(0, line.size() - kSuffixLen));
  out.canonical.push_back('}');
  return out;
}

absl::StatusOr<AuditChain> AuditChain::Create(const policy::Key& key, std::string proxy,
                                              AuditChainHead head) {
  absl::StatusOr<policy::KeyedHash> hmac = policy::KeyedHash::Create(key.bytes());
  if (!hmac.ok()) return hmac.status();
  return AuditChain(*std::move(hmac), std::move(proxy), std::move(head));
}

std::string AuditChain::Mac(std::string_view prev, std::string_view canonical) {
  scratch_.clear();
  scratch_.append(prev);
  scratch_.append(canonical);
  std::string hex;
  hex.reserve(kHexLen);
  policy::AppendHex(hmac_.Compute(scratch_), kHexLen, hex);
  return hex;
}

std::string AuditChain::Append(std::string_view body, size_t* body_begin, std::string_view id) {
  const uint64_t seq = head_.seq + 1;
  std::string line = absl::StrFormat("{\"seq\":%d,\"id\":\"%s\",\"proxy\":%s,", seq,
                                     id.empty() ? RandomHex(16) : std::string(id), Quoted(proxy_));
  if (body_begin != nullptr) *body_begin = line.size();
  line.append(body);
  line.append(",\"prev\":\"");
  line.append(head_.hmac);
  line.append("\"}");
  std::string mac = Mac(head_.hmac, line);
  line.pop_back();  // '}'
  line.append(kHmacPrefix);
  line.append(mac);
  line.append("\"}\n");
  head_.seq = seq;
  head_.hmac = std::move(mac);
  return line;
}

bool AuditChain::Authentic(const AuditLine& line) {
  return Mac(line.prev, line.canonical) == line.hmac;
}

std::string AuditSealBody(absl::Time now, AuditSealReason reason, std::string_view file,
                          uint64_t file_first_seq, const AuditChainHead& head) {
  return absl::StrFormat(
      "\"ts\":\"%s\",\"type\":\"seal\",\"reason\":\"%s\",\"file\":%s,\"first_seq\":%d,"
      "\"last_seq\":%d,\"head\":\"%s\"",
      FormatAuditTime(now), reason == AuditSealReason::kRotate ? "rotate" : "shutdown",
      Quoted(file), file_first_seq, head.seq, head.hmac);
}

std::string AuditFileStartBody(absl::Time now, std::string_view previous_file,
                               const AuditChainHead& head) {
  return absl::StrFormat(
      "\"ts\":\"%s\",\"type\":\"file_start\",\"previous_file\":%s,\"previous_seal\":\"%s\"",
      FormatAuditTime(now), Quoted(previous_file), head.hmac);
}

std::string AuditStartBody(absl::Time now, std::string_view previous, uint64_t discarded_bytes) {
  return absl::StrFormat("\"ts\":\"%s\",\"type\":\"start\",\"previous\":\"%s\",\"discarded_bytes\":%d",
                         FormatAuditTime(now), previous, discarded_bytes);
}

std::string RandomHex(size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  // Drawn from a per-thread pool refilled a few KiB at a time: a RAND_bytes call per record costs
  // a getpid() each (OpenSSL's fork check). pgmask does not fork.
  struct Pool {
    unsigned char bytes[4096];
    size_t used = sizeof(bytes);
  };
  thread_local Pool pool;
  unsigned char bytes[64];
  n = std::min(n, sizeof(bytes));
  if (pool.used + n > sizeof(pool.bytes)) {
    if (RAND_bytes(pool.bytes, static_cast<int>(sizeof(pool.bytes))) == 1) {
      pool.used = 0;
    }
  }
  if (pool.used + n <= sizeof(pool.bytes)) {
    std::memcpy(bytes, pool.bytes + pool.used, n);
    pool.used += n;
  } else {
    // Ids only need to tell records apart; the chain does not depend on them.
    static std::atomic<uint64_t> counter{0};
    const uint64_t v = counter.fetch_add(1) ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(v >> ((i % 8) * 8));
  }
  std::string hex;
  hex.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xF]);
  }
  return hex;
}

}  // namespace pgmask::proxy
