#include "proxy/audit_verify.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proxy/audit_reader.h"

namespace pgmask::proxy {
namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

std::string SeqRange(uint64_t from, uint64_t to) {
  if (from == to) return absl::StrFormat("record seq %d was", from);
  return absl::StrFormat("records seq %d..%d (%d records) were", from, to, to - from + 1);
}

bool IsSeal(const AuditLine& r, std::string_view reason) {
  return r.type == "seal" && AuditString(r, "reason") == reason;
}

// Indexes (into `seqs`) of a longest strictly increasing subsequence.
std::vector<size_t> LongestIncreasing(const std::vector<uint64_t>& seqs) {
  std::vector<size_t> tails;  // index of the smallest tail of each length
  std::vector<size_t> parent(seqs.size(), kNone);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto it = std::lower_bound(tails.begin(), tails.end(), seqs[i],
                                     [&](size_t idx, uint64_t v) { return seqs[idx] < v; });
    if (it != tails.begin()) parent[i] = *(it - 1);
    if (it == tails.end()) {
      tails.push_back(i);
    } else {
      *it = i;
    }
  }
  std::vector<size_t> out;
  for (size_t i = tails.empty() ? kNone : tails.back(); i != kNone; i = parent[i]) out.push_back(i);
  std::reverse(out.begin(), out.end());
  return out;
}

// A run of seqs missing between two in-order records.
struct Gap {
  uint64_t from = 0;
  uint64_t to = 0;
  size_t before = kNone;  // entry index of the in-order record before it
  size_t after = kNone;   // ... and after it
  std::set<uint64_t> filled;  // seqs accounted for by a changed line
};

class Verifier {
 public:
  Verifier(const AuditTrail& trail, const AuditVerifyOptions& options, AuditVerifyReport& report)
      : t_(trail), e_(trail.entries), options_(options), r_(report) {}

  void Run();

 private:
  const AuditLine& Rec(size_t i) const { return *e_[i].record; }
  void Fault(AuditFaultKind kind, size_t entry, std::string message) {
    r_.faults.push_back({kind, entry == kNone ? std::string() : t_.Where(e_[entry]),
                         std::move(message), entry == kNone ? 0 : entry});
  }
  std::string At(size_t i) const { return t_.Where(e_[i]); }
  std::string SeqAt(size_t i) const { return absl::StrFormat("seq %d (%s)", Rec(i).seq, At(i)); }
  void FindOrder();
  void CheckLinks();
  void FindGaps();
  void ClassifyUnauthentic();
  void ReportGaps();
  void CheckTail();
  void CheckSeals();
  // The in-order neighbours of entry `i` by position.
  std::pair<size_t, size_t> Neighbours(size_t i) const;
  // The first gap seq between in-order neighbours b and a not yet accounted for.
  std::optional<uint64_t> FreeSlot(size_t b, size_t a);
  bool Fill(uint64_t seq);

  const AuditTrail& t_;
  const std::vector<AuditEntry>& e_;
  const AuditVerifyOptions& options_;
  AuditVerifyReport& r_;
  std::vector<size_t> unique_;    // authentic entries, first of each seq, in position order
  std::vector<size_t> ordered_;   // the in-order subset of unique_
  std::vector<uint64_t> misplaced_;  // seqs present but out of order (sorted)
  absl::flat_hash_map<uint64_t, size_t> by_seq_;
  std::vector<Gap> gaps_;
  uint64_t last_changed_seq_ = 0;  // the highest seq a changed line stands for
};

void Verifier::Run() {
  size_t parsed = 0;
  for (size_t i = 0; i < e_.size(); ++i) {
    if (!e_[i].record.has_value()) continue;
    ++parsed;
    if (!e_[i].authentic) continue;
    ++r_.authentic;
    const auto [it, inserted] = by_seq_.try_emplace(Rec(i).seq, i);
    if (inserted) {
      unique_.push_back(i);
    } else if (Rec(it->second).hmac == Rec(i).hmac) {
      Fault(AuditFaultKind::kDuplicated, i,
            absl::StrFormat("record seq %d appears twice (first at %s)", Rec(i).seq, At(it->second)));
    } else {
      Fault(AuditFaultKind::kDuplicated, i,
            absl::StrFormat("a second, different record with seq %d (the other at %s): two trails "
                            "mixed, or the key was used for another trail",
                            Rec(i).seq, At(it->second)));
    }
  }
  if (unique_.empty()) {
    if (parsed > 0) {
      r_.faults.push_back({AuditFaultKind::kWrongKey, t_.files.empty() ? "" : t_.files.front(),
                           absl::StrFormat("none of the %d records authenticates with this key: the "
                                           "wrong audit key, or every record was changed",
                                           parsed),
                           0});
    } else {
      for (size_t i = 0; i < e_.size(); ++i) {
        Fault(AuditFaultKind::kCorrupt, i, absl::StrFormat("not an audit record: %s", e_[i].error));
      }
    }
    return;
  }
  FindOrder();
  CheckLinks();
  FindGaps();
  ClassifyUnauthentic();
  ReportGaps();
  CheckTail();
  CheckSeals();
}

void Verifier::FindOrder() {
  std::vector<uint64_t> seqs;
  seqs.reserve(unique_.size());
  for (const size_t i : unique_) seqs.push_back(Rec(i).seq);
  const std::vector<size_t> lis = LongestIncreasing(seqs);
  std::vector<bool> in_order(unique_.size(), false);
  for (const size_t k : lis) {
    in_order[k] = true;
    ordered_.push_back(unique_[k]);
  }
  for (size_t k = 0; k < unique_.size(); ++k) {
    if (in_order[k]) continue;
    const size_t i = unique_[k];
    misplaced_.push_back(Rec(i).seq);
    const auto [b, a] = Neighbours(i);
    std::string where;
    if (b != kNone) {
      where = absl::StrFormat("it comes after %s", SeqAt(b));
    } else {
      where = absl::StrFormat("it comes before %s", SeqAt(a));
    }
    Fault(AuditFaultKind::kReordered, i,
          absl::StrFormat("record seq %d is out of order: %s", Rec(i).seq, where));
  }
  std::sort(misplaced_.begin(), misplaced_.end());
}

void Verifier::CheckLinks() {
  for (const size_t i : unique_) {
    const AuditLine& rec = Rec(i);
    if (rec.seq == 1) {
      if (rec.prev != kAuditGenesis) {
        Fault(AuditFaultKind::kBrokenLink, i,
              "record seq 1 does not start a trail: its prev is not the genesis value");
      }
      continue;
    }
    const auto it = by_seq_.find(rec.seq - 1);
    if (it != by_seq_.end() && Rec(it->second).hmac != rec.prev) {
      Fault(AuditFaultKind::kBrokenLink, i,
            absl::StrFormat("record seq %d does not follow %s: its prev is not that record's hmac",
                            rec.seq, SeqAt(it->second)));
    }
  }
}

void Verifier::FindGaps() {
  uint64_t last = 0;
  size_t before = kNone;
  auto add = [&](uint64_t from, uint64_t to, size_t after) {
    // Split around seqs that are present elsewhere (reordered), which are not missing.
    auto it = std::lower_bound(misplaced_.begin(), misplaced_.end(), from);
    uint64_t start = from;
    for (; it != misplaced_.end() && *it <= to; ++it) {
      if (*it > start) gaps_.push_back({start, *it - 1, before, after, {}});
      start = *it + 1;
    }
    if (start <= to) gaps_.push_back({start, to, before, after, {}});
  };
  for (const size_t i : ordered_) {
    const uint64_t seq = Rec(i).seq;
    if (seq > last + 1) add(last + 1, seq - 1, i);
    last = seq;
    before = i;
  }
}

std::pair<size_t, size_t> Verifier::Neighbours(size_t i) const {
  const auto it = std::lower_bound(ordered_.begin(), ordered_.end(), i);
  const size_t after = it == ordered_.end() ? kNone : (*it == i ? (it + 1 == ordered_.end() ? kNone : *(it + 1)) : *it);
  const size_t before = it == ordered_.begin() ? kNone : *(it - 1);
  return {before, after};
}

std::optional<uint64_t> Verifier::FreeSlot(size_t b, size_t a) {
  for (Gap& g : gaps_) {
    if (g.before != b || g.after != a) continue;
    for (uint64_t s = g.from; s <= g.to; ++s) {
      if (!g.filled.contains(s)) return s;
    }
  }
  return std::nullopt;
}

bool Verifier::Fill(uint64_t seq) {
  for (Gap& g : gaps_) {
    if (seq >= g.from && seq <= g.to) return g.filled.insert(seq).second;
  }
  return false;
}

void Verifier::ClassifyUnauthentic() {
  for (size_t i = 0; i < e_.size(); ++i) {
    if (e_[i].authentic) continue;
    const auto [b, a] = Neighbours(i);
    if (!e_[i].record.has_value()) {
      if (e_[i].incomplete) {
        Fault(AuditFaultKind::kTruncated, i,
              "the file ends in an incomplete line: a write was cut short (pgmask stopped while "
              "writing, or the file was truncated)");
        continue;
      }
      const std::optional<uint64_t> slot = FreeSlot(b, a);
      if (slot.has_value() && Fill(*slot)) {
        Fault(AuditFaultKind::kChanged, i,
              absl::StrFormat("record seq %d was changed: the line is no longer an audit record (%s)",
                              *slot, e_[i].error));
      } else {
        Fault(AuditFaultKind::kCorrupt, i,
              absl::StrFormat("a line that is not an audit record (%s) was inserted", e_[i].error));
      }
      continue;
    }
    const AuditLine& rec = Rec(i);
    std::optional<uint64_t> slot;
    if (a != kNone && Rec(a).prev == rec.hmac && Rec(a).seq > 1) {
      slot = Rec(a).seq - 1;  // the original record, edited in place
    } else if (b != kNone && rec.seq == Rec(b).seq + 1 && rec.prev == Rec(b).hmac) {
      slot = rec.seq;
    } else if (b == kNone && rec.seq == 1 && rec.prev == kAuditGenesis) {
      slot = 1;
    } else {
      slot = FreeSlot(b, a);
    }
    if (slot.has_value() && (Fill(*slot) || !by_seq_.contains(*slot))) {
      std::string also;
      if (rec.seq != *slot) also = absl::StrFormat(" (its seq now reads %d)", rec.seq);
      Fault(AuditFaultKind::kChanged, i,
            absl::StrFormat("record seq %d was changed: its hmac does not match its content%s",
                            *slot, also));
      last_changed_seq_ = std::max(last_changed_seq_, *slot);
      continue;
    }
    std::string between;
    if (b != kNone && a != kNone) {
      between = absl::StrFormat("between %s and %s", SeqAt(b), SeqAt(a));
    } else if (b != kNone) {
      between = absl::StrFormat("after %s", SeqAt(b));
    } else if (a != kNone) {
      between = absl::StrFormat("before %s", SeqAt(a));
    }
    Fault(AuditFaultKind::kInserted, i,
          absl::StrFormat("a record pgmask did not write (claiming seq %d) was inserted %s",
                          rec.seq, between));
  }
}

void Verifier::ReportGaps() {
  for (const Gap& g : gaps_) {
    // What is left of the gap after changed lines took their seqs, as ranges.
    uint64_t s = g.from;
    while (s <= g.to) {
      if (g.filled.contains(s)) {
        ++s;
        continue;
      }
      uint64_t end = s;
      while (end + 1 <= g.to && !g.filled.contains(end + 1)) ++end;
      const size_t b = g.before;
      const size_t a = g.after;
      if (b == kNone) {
        Fault(AuditFaultKind::kMissingStart, a,
              absl::StrFormat("the trail starts at seq %d: %s missing (an earlier rotated file, or "
                              "the start of this one, was removed)",
                              end + 1, s == end ? absl::StrFormat("record seq %d is", s)
                                                : absl::StrFormat("records seq %d..%d are", s, end)));
      } else if (e_[b].file != e_[a].file) {
        if (IsSeal(Rec(b), "rotate") && Rec(a).type == "file_start") {
          Fault(AuditFaultKind::kMissingFile, a,
                absl::StrFormat("a rotated file is missing: %s written between %s (sealed at seq "
                                "%d) and %s, which follows \"%s\"",
                                SeqRange(s, end), t_.files[e_[b].file], Rec(b).seq,
                                t_.files[e_[a].file], AuditString(Rec(a), "previous_file")));
        } else {
          Fault(AuditFaultKind::kRemoved, a,
                absl::StrFormat("%s removed between the end of %s (%s) and the start of %s (%s)",
                                SeqRange(s, end), t_.files[e_[b].file], SeqAt(b),
                                t_.files[e_[a].file], SeqAt(a)));
        }
      } else {
        Fault(AuditFaultKind::kRemoved, a,
              absl::StrFormat("%s removed between %s and %s", SeqRange(s, end), SeqAt(b), SeqAt(a)));
      }
      s = end + 1;
    }
  }
}

void Verifier::CheckTail() {
  size_t last = unique_.front();
  for (const size_t i : unique_) {
    if (Rec(i).seq > Rec(last).seq) last = i;
  }
  r_.head = {Rec(last).seq, Rec(last).hmac};
  if (IsSeal(Rec(last), "shutdown")) {
    r_.sealed = true;
  } else if (last_changed_seq_ > Rec(last).seq) {
    // The last record is there but changed (reported above); whether it was a seal is unknown.
  } else if (IsSeal(Rec(last), "rotate")) {
    Fault(AuditFaultKind::kMissingFile, last,
          absl::StrFormat("the trail ends with a rotation seal (seq %d): the file that continued "
                          "it is missing",
                          Rec(last).seq));
  } else if (options_.live) {
    r_.notes.push_back(absl::StrFormat("%s: the trail is open: it ends at seq %d without a "
                                       "shutdown seal",
                                       At(last), Rec(last).seq));
  } else {
    Fault(AuditFaultKind::kTruncated, last,
          absl::StrFormat("the trail ends at seq %d without a shutdown seal: records after it were "
                          "cut off, or pgmask has not closed it yet (--live verifies a trail in use)",
                          Rec(last).seq));
  }
}

void Verifier::CheckSeals() {
  std::vector<uint64_t> seals;
  for (const size_t i : unique_) {
    if (Rec(i).type == "seal") seals.push_back(Rec(i).seq);
  }
  std::sort(seals.begin(), seals.end());
  for (const size_t i : unique_) {
    const AuditLine& rec = Rec(i);
    if (rec.type == "seal") {
      const std::optional<uint64_t> last_seq = AuditUint(rec, "last_seq");
      if (!last_seq.has_value() || *last_seq + 1 != rec.seq || AuditString(rec, "head") != rec.prev) {
        Fault(AuditFaultKind::kBadSeal, i,
              absl::StrFormat("the seal at seq %d does not name the head it follows", rec.seq));
      }
    } else if (rec.type == "start") {
      if (AuditString(rec, "previous") == "unsealed") {
        AuditUnsealedReopen reopen{At(i), rec.seq, 0, false};
        const auto before = std::lower_bound(seals.begin(), seals.end(), rec.seq);
        if (before != seals.begin()) reopen.sealed_to = *std::prev(before);
        const std::vector<uint64_t>& accepted = options_.accepted_unsealed;
        reopen.accepted = std::find(accepted.begin(), accepted.end(), rec.seq) != accepted.end();
        r_.unsealed_reopens.push_back(std::move(reopen));
      }
      const std::optional<uint64_t> discarded = AuditUint(rec, "discarded_bytes");
      if (discarded.has_value() && *discarded > 0) {
        r_.notes.push_back(absl::StrFormat("%s: on reopening, pgmask cut off an incomplete last line "
                                           "of %d bytes that had never been acknowledged",
                                           At(i), *discarded));
      }
    } else if (rec.type == "audit_degraded") {
      r_.notes.push_back(absl::StrFormat("%s: the audit trail could not be written from %s: %s",
                                         At(i), AuditString(rec, "ts"), AuditString(rec, "reason")));
    } else if (rec.type == "audit_resumed") {
      r_.notes.push_back(absl::StrFormat("%s: writing resumed at %s (%d records written late, %d "
                                         "dropped)",
                                         At(i), AuditString(rec, "ts"),
                                         AuditUint(rec, "queued").value_or(0),
                                         AuditUint(rec, "dropped").value_or(0)));
    }
  }
}

}  // namespace

std::string_view AuditFaultKindName(AuditFaultKind k) {
  switch (k) {
    case AuditFaultKind::kUnreadable: return "unreadable";
    case AuditFaultKind::kCorrupt: return "corrupt";
    case AuditFaultKind::kChanged: return "changed";
    case AuditFaultKind::kInserted: return "inserted";
    case AuditFaultKind::kRemoved: return "removed";
    case AuditFaultKind::kReordered: return "reordered";
    case AuditFaultKind::kDuplicated: return "duplicated";
    case AuditFaultKind::kBrokenLink: return "broken link";
    case AuditFaultKind::kMissingStart: return "missing start";
    case AuditFaultKind::kMissingFile: return "missing file";
    case AuditFaultKind::kTruncated: return "truncated";
    case AuditFaultKind::kBadSeal: return "bad seal";
    case AuditFaultKind::kWrongKey: return "wrong key";
  }
  return "fault";
}

AuditVerifyReport VerifyAuditTrail(const std::vector<std::string>& files, const policy::Key& key,
                                   const AuditVerifyOptions& options) {
  AuditVerifyReport report;
  absl::StatusOr<AuditChain> chain = AuditChain::Create(key, "");
  if (!chain.ok()) {
    report.faults.push_back({AuditFaultKind::kWrongKey, "", std::string(chain.status().message()), 0});
    return report;
  }
  const AuditTrail trail = ReadAuditTrail(files, *chain);
  report.files = trail.files.size();
  report.lines = trail.entries.size();
  for (const std::string& u : trail.unreadable) {
    report.faults.push_back({AuditFaultKind::kUnreadable, u.substr(0, u.rfind(':')), "cannot open the file", 0});
  }
  if (!trail.entries.empty()) {
    Verifier(trail, options, report).Run();
  } else if (trail.unreadable.empty()) {
    report.faults.push_back({AuditFaultKind::kTruncated, files.empty() ? "" : files.front(),
                             "the trail holds no record", 0});
  }
  std::stable_sort(report.faults.begin(), report.faults.end(),
                   [](const AuditFault& a, const AuditFault& b) { return a.order < b.order; });
  return report;
}

bool AuditVerifyReport::complete() const {
  if (!ok()) return false;
  for (const AuditUnsealedReopen& r : unsealed_reopens) {
    if (!r.accepted) return false;
  }
  return true;
}

int AuditVerifyExitStatus(const AuditVerifyReport& report) {
  if (!report.ok()) return 1;
  return report.complete() ? 0 : kAuditVerifyUnproven;
}

void PrintAuditVerifyReport(const AuditVerifyReport& report, std::ostream& out) {
  for (const AuditFault& f : report.faults) {
    out << (f.where.empty() ? "" : f.where + ": ") << AuditFaultKindName(f.kind) << ": " << f.message
        << "\n";
  }
  for (const AuditUnsealedReopen& r : report.unsealed_reopens) {
    const std::string range = r.sealed_to > 0 ? absl::StrFormat("after the seal at seq %d", r.sealed_to)
                                              : std::string("from seq 1");
    if (r.accepted) {
      out << absl::StrFormat("note: %s: pgmask reopened the trail at seq %d after a stop without a seal "
                             "(accepted as a crash with --accept-unsealed %d)\n",
                             r.where, r.seq, r.seq);
    } else {
      out << absl::StrFormat("WARNING: %s: pgmask reopened the trail at seq %d after a stop without a seal: "
                             "a crash or kill -9, or records cut off the end of the trail before a restart; "
                             "the records %s up to seq %d cannot be shown complete\n",
                             r.where, r.seq, range, r.seq - 1);
    }
  }
  for (const std::string& n : report.notes) out << "note: " << n << "\n";
  if (report.ok() && !report.complete()) {
    std::string seqs;
    for (const AuditUnsealedReopen& r : report.unsealed_reopens) {
      if (!r.accepted) absl::StrAppend(&seqs, seqs.empty() ? "" : ",", r.seq);
    }
    out << absl::StrFormat("audit verify: UNPROVEN: %d records in %d file%s, seq 1..%d, every record authentic "
                           "and linked, but records may have been cut off before a restart (see WARNING); "
                           "once a crash explains it, --accept-unsealed %s\n",
                           report.lines, report.files, report.files == 1 ? "" : "s", report.head.seq, seqs);
  } else if (report.ok()) {
    out << absl::StrFormat("audit verify: OK: %d records in %d file%s, seq 1..%d, %s, head %s\n",
                           report.lines, report.files, report.files == 1 ? "" : "s", report.head.seq,
                           report.sealed ? "sealed at shutdown" : "open (no shutdown seal yet)",
                           report.head.hmac);
  } else {
    out << absl::StrFormat("audit verify: %d fault%s in %d records (%d file%s)\n",
                           report.faults.size(), report.faults.size() == 1 ? "" : "s", report.lines,
                           report.files, report.files == 1 ? "" : "s");
  }
}

}  // namespace pgmask::proxy
