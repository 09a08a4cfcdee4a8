// TLS contexts: the one pgmask presents to clients (certificate and key from files, swapped
// whole on reload) and the one it uses towards the upstream server (sslmode and a CA file).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proxy/serve_config.h"
#include "proxy/stream.h"

namespace pgmask::proxy {

// Builds a server context from PEM files: TLS 1.2 or newer, ALPN "postgresql" selected when the
// client offers it and the handshake refused when it offers only other protocols (as PostgreSQL
// 17 does).
absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                   const std::string& key_file);

// Builds the context for connections to the upstream server. verify-ca and verify-full check the
// server's chain against `root_cert_file` (or the system's CAs when it is empty).
absl::StatusOr<std::shared_ptr<ssl::context>> MakeUpstreamTlsContext(UpstreamSslMode mode,
                                                                     const std::string& root_cert_file);

// The client-facing context in force. Sessions take a reference when they start TLS and keep it,
// so a reload affects new handshakes only.
class ServerTlsStore {
 public:
  // Loads the files; on error the context in force stays.
  absl::Status Load(const std::string& cert_file, const std::string& key_file);
  std::shared_ptr<ssl::context> current() const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<ssl::context> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgmask::proxy
