#include "proxy/tls_server_end_point.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

namespace pgmask::proxy {

std::string TlsServerEndPoint(X509* cert) {
  if (cert == nullptr) return {};
  int digest_nid = NID_undef;
  if (X509_get_signature_info(cert, &digest_nid, nullptr, nullptr, nullptr) != 1) return {};
  // RFC 5929 section 4.1: MD5 and SHA-1 are replaced by SHA-256.
  if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
  const EVP_MD* digest = EVP_get_digestbynid(digest_nid);
  if (digest == nullptr) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, digest, hash, &size) != 1) return {};
  return std::string(reinterpret_cast<const char*>(hash), size);
}

}  // namespace pgmask::proxy
