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
  // The seqs of `start` records after a stop without a seal that the operator has looked into and
  // accepts as crashes (--accept-unsealed): they no longer make the trail unproven.
  std::vector<uint64_t> accepted_unsealed;
};

// pgmask reopened the trail after a stop without a seal. The new run chains onto whatever the
// file's last line then was, so records after the last seal may have been cut off before the
// restart (by anyone who can write the file) as well as lost to a crash: nothing tells them apart.
struct AuditUnsealedReopen {
  std::string where;
  uint64_t seq = 0;         // the `start` record's
  uint64_t sealed_to = 0;   // the last seal before it (0: none): seqs after it cannot be shown complete
  bool accepted = false;    // named by accepted_unsealed
};

struct AuditVerifyReport {
  std::vector<AuditFault> faults;  // in trail order
  std::vector<std::string> notes;
  size_t files = 0;
  uint64_t lines = 0;
  uint64_t authentic = 0;
  AuditChainHead head;  // the authentic record with the highest seq
  bool sealed = false;  // the trail ends with a shutdown seal
  std::vector<AuditUnsealedReopen> unsealed_reopens;  // in trail order

  bool ok() const { return faults.empty(); }
  // No fault, and no reopen after an unsealed stop left unaccepted: the trail is shown complete.
  bool complete() const;
};

// verify's exit status: 0 intact and complete, 1 any fault, 3 intact but not shown complete (an
// unaccepted reopen after a stop without a seal). 2 is left to usage errors.
inline constexpr int kAuditVerifyUnproven = 3;
int AuditVerifyExitStatus(const AuditVerifyReport& report);

AuditVerifyReport VerifyAuditTrail(const std::vector<std::string>& files, const policy::Key& key,
                                   const AuditVerifyOptions& options = {});

// One line per fault ("FILE:LINE: kind: message"), the notes, then a summary line.
void PrintAuditVerifyReport(const AuditVerifyReport& report, std::ostream& out);

}  // namespace pgmask::proxy
