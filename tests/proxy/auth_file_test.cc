#include "proxy/auth_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/proxy/scram_test_util.h"

namespace pgmask::proxy {
namespace {

const scram::testing::PasswordKeys kKeys = scram::testing::RfcKeys();
const std::string kVerifier = scram::testing::VerifierText(kKeys.verifier);

TEST(AuthFile, ReadsPgBouncerUserlist) {
  const std::string text = "; comment\n"
                           "# another comment\n"
                           "\n"
                           "  \"alice\" \"" + kVerifier + "\"\r\n"
                           "\"bob\" \"md5" + std::string(32, '0') + "\"\n"
                           "\"carol\" \"plain password\" ignored rest\n"
                           "\"say \"\"hi\"\"\"\t\"" + kVerifier + "\" \"\"\n";
  const auto file = AuthFile::Parse(text, "users.txt");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->scram_users(), 2u);
  const auto alice = file->Find("alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->stored_key, kKeys.verifier.stored_key);
  EXPECT_TRUE(file->Find("say \"hi\"").has_value());
  // md5 and plain entries keep the relayed login.
  EXPECT_FALSE(file->Find("bob").has_value());
  EXPECT_FALSE(file->Find("carol").has_value());
  EXPECT_FALSE(file->Find("nobody").has_value());
}

TEST(AuthFile, EmptyFileHasNoUsers) {
  const auto file = AuthFile::Parse("", "users.txt");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->scram_users(), 0u);
}

struct BadCase {
  std::string name;
  std::string text;
  std::string error;  // the whole message
};

class AuthFileErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(AuthFileErrorTest, NamesFileAndLine) {
  const BadCase& c = GetParam();
  const auto file = AuthFile::Parse(c.text, "users.txt");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), c.error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AuthFileErrorTest,
    ::testing::Values(
        BadCase{"Unquoted", "alice secret\n", "users.txt:1: expected a user name in double quotes"},
        BadCase{"EmptyUser", "\"\" \"secret\"\n", "users.txt:1: expected a user name in double quotes"},
        BadCase{"UnterminatedUser", "\"alice secret\n", "users.txt:1: expected a user name in double quotes"},
        BadCase{"NoSecret", "\n\"alice\"\n",
                "users.txt:2: expected the password or SCRAM verifier in double quotes after the user name"},
        BadCase{"UnterminatedSecret", "\"alice\" \"secret\n",
                "users.txt:1: expected the password or SCRAM verifier in double quotes after the user name"},
        BadCase{"BrokenVerifier", "; users\n\"alice\" \"SCRAM-SHA-256$4096:c2FsdA==\"\n",
                "users.txt:2: user \"alice\": expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"},
        BadCase{"Duplicate", "\"alice\" \"x\"\n\"bob\" \"y\"\n\"alice\" \"z\"\n",
                "users.txt:3: user \"alice\" is listed again (first on line 1)"},
        BadCase{"LongLine", "\"alice\" \"" + std::string(kMaxAuthFileLine, 'x') + "\"\n",
                "users.txt:1: line longer than 4096 bytes"},
        BadCase{"Binary", std::string("\0\xff\"a\" \"b\"", 9), "users.txt:1: expected a user name in double quotes"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

std::string TempPath(std::string_view name) {
  return std::string(::testing::TempDir()) + "/" + std::string(name) + "." + std::to_string(getpid());
}

TEST(AuthFile, LoadNamesTheFileAndCapsItsSize) {
  EXPECT_EQ(AuthFile::Load("/nonexistent/users.txt").status().code(), absl::StatusCode::kNotFound);
  const std::string big = TempPath("big_users");
  {
    std::ofstream out(big, std::ios::binary);
    out << std::string(kMaxAuthFileBytes + 1, '#');
  }
  const auto file = AuthFile::Load(big);
  EXPECT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find(big), absl::string_view::npos) << file.status();
  std::remove(big.c_str());
}

TEST(AuthFileStore, KeepsTheFileInForceWhenAReloadFails) {
  const std::string path = TempPath("users");
  AuthFileStore store;
  EXPECT_EQ(store.current(), nullptr);
  {
    std::ofstream out(path, std::ios::binary);
    out << "\"alice\" \"" << kVerifier << "\"\n";
  }
  ASSERT_TRUE(store.Load(path).ok());
  const auto first = store.current();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(first->Find("alice").has_value());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "not quoted\n";
  }
  EXPECT_FALSE(store.Load(path).ok());
  EXPECT_EQ(store.current(), first);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pgmask::proxy
