// The hash chain that makes the audit trail tamper-evident. Every line is one JSON object:
//   {"seq":N,"id":"...","proxy":"...",<record body>,"prev":"<hmac of seq N-1>","hmac":"<hex>"}
// where hmac = HMAC-SHA-256(audit key, prev || canonical), prev is 64 hex digits (all zeros for
// seq 1) and canonical is the line's own bytes up to "prev"'s value, closed with "}" - the line
// without its "hmac" member. Changing any byte, removing, inserting or reordering a record breaks
// either a record's HMAC or the seq/prev links, and only the key holder can mend them.
//
// Sinks also write records of their own into the chain: a seal when a file is rotated or closed
// (it names the file, its first seq and the head it closes, so a cut tail is detectable), a
// file_start as the first record of a file after rotation, and a start record whenever a sink
// opens. The key comes from --audit-key-file or PGMASK_AUDIT_KEY, in the forms key_file.h accepts.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "policy/key_file.h"
#include "policy/keyed_hash.h"

namespace pgmask::proxy {

inline constexpr std::string_view kAuditKeyFlag = "--audit-key-file";
inline constexpr std::string_view kAuditKeyEnv = "PGMASK_AUDIT_KEY";
// prev of the first record of a trail.
inline constexpr std::string_view kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The key from `key_file` when non-empty, else from PGMASK_AUDIT_KEY; NotFound names both.
absl::StatusOr<policy::Key> LoadAuditKey(const std::string& key_file);

// The last record of a chain: the next one gets seq + 1 and prev = hmac.
struct AuditChainHead {
  uint64_t seq = 0;
  std::string hmac = std::string(kAuditGenesis);
};

enum class AuditSealReason { kRotate, kShutdown };

// One line of a trail, parsed but not yet authenticated.
struct AuditLine {
  uint64_t seq = 0;
  std::string prev;
  std::string hmac;
  std::string type;
  std::string canonical;  // the bytes the HMAC covers (after prev)
  boost::json::object fields;
};

// Structure only: one JSON object with seq, prev and, as its last member, hmac. Errors name what
// is wrong without quoting the line.
absl::StatusOr<AuditLine> ParseAuditLine(std::string_view line);

// Not thread-safe: one per writer.
class AuditChain {
 public:
  static absl::StatusOr<AuditChain> Create(const policy::Key& key, std::string proxy,
                                           AuditChainHead head = {});

  // Wraps `body` (AuditRecordBody or one of the *Body functions below) as the next record and
  // returns its line, '\n' included; `body_begin`, when given, gets where `body` starts in it.
  // `id` is the record's id (32 hex digits, AuditStatement::id); empty: a random one.
  std::string Append(std::string_view body, size_t* body_begin = nullptr, std::string_view id = {});

  // Whether the line's HMAC is right for its content and prev (not whether it links).
  bool Authentic(const AuditLine& line);

  const AuditChainHead& head() const { return head_; }
  void set_head(AuditChainHead head) { head_ = std::move(head); }
  const std::string& proxy() const { return proxy_; }

 private:
  AuditChain(policy::KeyedHash hmac, std::string proxy, AuditChainHead head)
      : hmac_(std::move(hmac)), proxy_(std::move(proxy)), head_(std::move(head)) {}
  std::string Mac(std::string_view prev, std::string_view canonical);

  policy::KeyedHash hmac_;
  std::string proxy_;
  AuditChainHead head_;
  std::string scratch_;
};

// Bodies of the chain's own records. `head` is the chain head the record follows.
// seal: "type":"seal","reason":"rotate"|"shutdown","file":NAME,"first_seq":F,"last_seq":N,"head":H
std::string AuditSealBody(absl::Time now, AuditSealReason reason, std::string_view file,
                          uint64_t file_first_seq, const AuditChainHead& head);
// file_start: "type":"file_start","previous_file":NAME,"previous_seal":H
std::string AuditFileStartBody(absl::Time now, std::string_view previous_file,
                               const AuditChainHead& head);
// start: "type":"start","previous":"new"|"sealed"|"unsealed","discarded_bytes":N
// (`discarded_bytes`: an incomplete last line, never acknowledged, cut off when reopening).
std::string AuditStartBody(absl::Time now, std::string_view previous, uint64_t discarded_bytes);

// Lower-case hex of `n` random bytes (record ids).
std::string RandomHex(size_t n);

}  // namespace pgmask::proxy
