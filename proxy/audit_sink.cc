#include "proxy/audit_sink.h"

#include "absl/synchronization/notification.h"

namespace pgmask::proxy {

absl::Status AuditSink::Append(const AuditRecord& record) {
  absl::Notification done;
  absl::Status result;
  Submit(record, [&](absl::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace pgmask::proxy
