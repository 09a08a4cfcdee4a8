#include "proxy/tls_context.h"

#include <openssl/err.h>

#include <cstring>
#include <exception>

#include "absl/strings/str_cat.h"

namespace pgmask::proxy {

namespace {

constexpr unsigned char kAlpnPostgres[] = {'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void*) {
  // `in` is a list of length-prefixed names.
  for (unsigned int i = 0; i < in_len;) {
    const unsigned int len = in[i];
    if (i + 1 + len > in_len) break;
    if (len == sizeof kAlpnPostgres && std::memcmp(in + i + 1, kAlpnPostgres, len) == 0) {
      *out = in + i + 1;
      *out_len = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                   const std::string& key_file) {
  // Asio reports OpenSSL failures as exceptions; they stop here.
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                         ssl::context::single_dh_use);
    context->use_certificate_chain_file(cert_file);
    context->use_private_key_file(key_file, ssl::context::pem);
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(key_file, ": the key does not match ", cert_file));
    }
    SSL_CTX_set_alpn_select_cb(context->native_handle(), SelectAlpn, nullptr);
    return context;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the TLS certificate ", cert_file, " or key ", key_file, ": ", e.what()));
  }
}

absl::StatusOr<std::shared_ptr<ssl::context>> MakeUpstreamTlsContext(UpstreamSslMode mode,
                                                                     const std::string& root_cert_file) {
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
    if (mode == UpstreamSslMode::kVerifyCa || mode == UpstreamSslMode::kVerifyFull) {
      if (root_cert_file.empty()) {
        context->set_default_verify_paths();
      } else {
        context->load_verify_file(root_cert_file);
      }
      context->set_verify_mode(ssl::verify_peer);
    } else {
      // prefer and require encrypt without authenticating the server, as in libpq.
      context->set_verify_mode(ssl::verify_none);
    }
    return context;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the upstream root certificate ", root_cert_file, ": ", e.what()));
  }
}

absl::Status ServerTlsStore::Load(const std::string& cert_file, const std::string& key_file) {
  auto context = MakeServerTlsContext(cert_file, key_file);
  if (!context.ok()) return context.status();
  absl::MutexLock lock(&mu_);
  current_ = *std::move(context);
  return absl::OkStatus();
}

std::shared_ptr<ssl::context> ServerTlsStore::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace pgmask::proxy
