// RFC 5929 tls-server-end-point: the channel binding data SCRAM-SHA-256-PLUS signs, a hash of
// the TLS server's certificate. A client binds to the certificate pgmask presents, PostgreSQL to
// its own; the binding verifies through pgmask only when the two are the same.
#pragma once

#include <openssl/x509.h>

#include <string>

namespace pgmask::proxy {

// The hash of `cert`'s DER encoding with the hash function of its signature, SHA-256 when that
// is MD5 or SHA-1. Empty when the signature names no hash function (Ed25519, for one), as then
// PostgreSQL cannot bind either.
std::string TlsServerEndPoint(X509* cert);

}  // namespace pgmask::proxy
