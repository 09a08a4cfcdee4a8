#include "proxy/tls_server_end_point.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "tests/proxy/test_certificates.h"

namespace pgmask::proxy {
namespace {

using testing::MakeTestCertificate;

// The hash of the certificate's DER encoding, computed apart from X509_digest.
std::string HashOfDer(X509* cert, const EVP_MD* digest) {
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int hash_size = 0;
  EVP_Digest(der, static_cast<size_t>(size), hash, &hash_size, digest, nullptr);
  OPENSSL_free(der);
  return std::string(reinterpret_cast<const char*>(hash), hash_size);
}

struct Case {
  std::string name;
  const EVP_MD* (*signature)();
  const EVP_MD* (*expected)();  // RFC 5929: the signature's hash, SHA-256 for MD5 and SHA-1
};

class TlsServerEndPointTest : public ::testing::TestWithParam<Case> {};

TEST_P(TlsServerEndPointTest, HashesTheCertificateWithItsSignatureHash) {
  const Case& c = GetParam();
  const auto certificate = MakeTestCertificate(c.signature());
  const std::string binding = TlsServerEndPoint(certificate.cert.get());
  EXPECT_EQ(binding.size(), static_cast<size_t>(EVP_MD_get_size(c.expected())));
  EXPECT_EQ(binding, HashOfDer(certificate.cert.get(), c.expected()));
}

INSTANTIATE_TEST_SUITE_P(Cases, TlsServerEndPointTest,
                         ::testing::Values(Case{"Sha256", EVP_sha256, EVP_sha256},
                                           Case{"Sha384", EVP_sha384, EVP_sha384},
                                           Case{"Sha512", EVP_sha512, EVP_sha512},
                                           Case{"Sha1BecomesSha256", EVP_sha1, EVP_sha256}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(TlsServerEndPoint, DiffersBetweenCertificatesAndIsEmptyWithout) {
  const auto a = MakeTestCertificate(EVP_sha256(), "a");
  const auto b = MakeTestCertificate(EVP_sha256(), "b");
  EXPECT_NE(TlsServerEndPoint(a.cert.get()), TlsServerEndPoint(b.cert.get()));
  EXPECT_EQ(TlsServerEndPoint(a.cert.get()), TlsServerEndPoint(a.cert.get()));
  EXPECT_EQ(TlsServerEndPoint(nullptr), "");
}

}  // namespace
}  // namespace pgmask::proxy
