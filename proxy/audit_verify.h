// `pgmask audit verify`: checks a trail's HMACs, its seq/prev chain and its seals, and names each
// fault precisely: which record was changed, removed, inserted, reordered or repeated, which
// rotated file is missing, or where the tail was cut.
//
// How faults are told apart (only the key holder can make a record that authenticates):
//   changed    a line whose HMAC fails where a record belongs: the next record's prev is its hmac,
//              or its seq/prev continue the chain, or it stands in a gap of the chain;
//   inserted   a line whose HMAC fails between two records that link to each other;
//   removed    authentic records whose seq leave a gap (a whole file when the gap lies between a
//              rotation seal and the next file's file_start; the start of the trail when seq 1
//              is missing);
//   reordered  authentic records outside the longest run of increasing seq;
//   cut tail   the last record is not a shutdown seal (with `live`, a trail still being written,
//              that is only a note); a rotation seal as the last record means the next file is
//              missing;
//   wrong key  no record at all authenticates.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "policy/key_file.h"
#include "proxy/audit_chain.h"

namespace pgmask::proxy {

enum class AuditFaultKind {
  kUnreadable,
  kCorrupt,
  kChanged,
  kInserted,
  kRemoved,
  kReordered,
  kDuplicated,
  kBrokenLink,
  kMissingStart,
  kMissingFile,
  kTruncated,
  kBadSeal,
  kWrongKey,
};

std::string_view AuditFaultKindName(AuditFaultKind k);

struct AuditFault {
  AuditFaultKind kind;
  std::string where;  // "FILE:LINE", or "FILE"
  std::string message;
  size_t order = 0;  // position in the trail, for sorting
};

struct AuditVerifyOptions {
  // The trail is still being written: an unsealed tail is a note, not a fault.
  bool live = false;
};

struct AuditVerifyReport {
  std::vector<AuditFault> faults;  // in trail order
  std::vector<std::string> notes;
  size_t files = 0;
  uint64_t lines = 0;
  uint64_t authentic = 0;
  AuditChainHead head;  // the authentic record with the highest seq
  bool sealed = false;  // the trail ends with a shutdown seal

  bool ok() const { return faults.empty(); }
};

AuditVerifyReport VerifyAuditTrail(const std::vector<std::string>& files, const policy::Key& key,
                                   const AuditVerifyOptions& options = {});

// One line per fault ("FILE:LINE: kind: message"), the notes, then a summary line.
void PrintAuditVerifyReport(const AuditVerifyReport& report, std::ostream& out);

}  // namespace pgmask::proxy
