#include "proxy/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/proxy/test_certificates.h"

namespace pgmask::proxy {
namespace {

using testing::MakeTestCertificate;
using testing::TestCertificate;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/pgmask-tls-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& file, const std::string& text) {
    const std::string path = dir_ + "/" + file;
    std::ofstream(path) << text;
    return path;
  }

  // The certificate a context presents, as DER.
  static std::string Presented(const std::shared_ptr<ssl::context>& context) {
    X509* cert = SSL_CTX_get0_certificate(context->native_handle());
    unsigned char* der = nullptr;
    const int size = i2d_X509(cert, &der);
    std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
    OPENSSL_free(der);
    return out;
  }
  static std::string Der(const TestCertificate& c) {
    unsigned char* der = nullptr;
    const int size = i2d_X509(c.cert.get(), &der);
    std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
    OPENSSL_free(der);
    return out;
  }

  std::string dir_;
};

TEST_F(TlsContextTest, StoreStartsEmptyAndLoads) {
  ServerTlsStore store;
  EXPECT_EQ(store.current(), nullptr);
  const TestCertificate first = MakeTestCertificate(EVP_sha256(), "first");
  ASSERT_TRUE(store.Load(Write("a.crt", first.cert_pem), Write("a.key", first.key_pem)).ok());
  ASSERT_NE(store.current(), nullptr);
  EXPECT_EQ(Presented(store.current()), Der(first));
}

TEST_F(TlsContextTest, ReloadSwapsForNewTakersOnly) {
  ServerTlsStore store;
  const TestCertificate first = MakeTestCertificate(EVP_sha256(), "first");
  const TestCertificate second = MakeTestCertificate(EVP_sha256(), "second");
  const std::string cert = Write("live.crt", first.cert_pem);
  const std::string key = Write("live.key", first.key_pem);
  ASSERT_TRUE(store.Load(cert, key).ok());
  const std::shared_ptr<ssl::context> held = store.current();  // a session mid-handshake

  Write("live.crt", second.cert_pem);
  Write("live.key", second.key_pem);
  ASSERT_TRUE(store.Load(cert, key).ok());
  EXPECT_EQ(Presented(store.current()), Der(second));
  EXPECT_EQ(Presented(held), Der(first));
}

TEST_F(TlsContextTest, ABadReloadKeepsTheContextInForce) {
  ServerTlsStore store;
  const TestCertificate good = MakeTestCertificate(EVP_sha256(), "good");
  const TestCertificate other = MakeTestCertificate(EVP_sha256(), "other");
  const std::string cert = Write("live.crt", good.cert_pem);
  const std::string key = Write("live.key", good.key_pem);
  ASSERT_TRUE(store.Load(cert, key).ok());
  const std::shared_ptr<ssl::context> before = store.current();

  struct Bad {
    std::string what, cert_text, key_text;
  };
  for (const Bad& bad : {Bad{"garbage key", good.cert_pem, "not a key\n"},
                         Bad{"garbage certificate", "not a certificate\n", good.key_pem},
                         Bad{"key of another certificate", good.cert_pem, other.key_pem}}) {
    Write("live.crt", bad.cert_text);
    Write("live.key", bad.key_text);
    const absl::Status s = store.Load(cert, key);
    EXPECT_FALSE(s.ok()) << bad.what;
    EXPECT_NE(std::string(s.message()).find(dir_), std::string::npos) << bad.what << ": " << s.message();
    EXPECT_EQ(store.current(), before) << bad.what;
  }
  EXPECT_FALSE(store.Load(dir_ + "/missing.crt", key).ok());
  EXPECT_EQ(store.current(), before);
}

TEST_F(TlsContextTest, MismatchedKeyIsNamed) {
  const TestCertificate a = MakeTestCertificate(EVP_sha256(), "a");
  const TestCertificate b = MakeTestCertificate(EVP_sha256(), "b");
  const auto context = MakeServerTlsContext(Write("a.crt", a.cert_pem), Write("b.key", b.key_pem));
  ASSERT_FALSE(context.ok());
  EXPECT_NE(std::string(context.status().message()).find("b.key"), std::string::npos) << context.status();
}

TEST_F(TlsContextTest, UpstreamContextVerifiesOnlyInVerifyModes) {
  const TestCertificate ca = MakeTestCertificate(EVP_sha256(), "ca");
  const std::string root = Write("root.crt", ca.cert_pem);
  for (const UpstreamSslMode mode : {UpstreamSslMode::kPrefer, UpstreamSslMode::kRequire}) {
    const auto context = MakeUpstreamTlsContext(mode, root);
    ASSERT_TRUE(context.ok()) << context.status();
    EXPECT_EQ(SSL_CTX_get_verify_mode((*context)->native_handle()), SSL_VERIFY_NONE);
  }
  for (const UpstreamSslMode mode : {UpstreamSslMode::kVerifyCa, UpstreamSslMode::kVerifyFull}) {
    const auto context = MakeUpstreamTlsContext(mode, root);
    ASSERT_TRUE(context.ok()) << context.status();
    EXPECT_EQ(SSL_CTX_get_verify_mode((*context)->native_handle()), SSL_VERIFY_PEER);
  }
  const auto missing = MakeUpstreamTlsContext(UpstreamSslMode::kVerifyCa, dir_ + "/missing.crt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("missing.crt"), std::string::npos) << missing.status();
}

}  // namespace
}  // namespace pgmask::proxy
