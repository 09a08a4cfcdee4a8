#include "policy/key_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "policy/policy_loader.h"
#include "tests/policy/test_keys.h"

namespace pgmask::policy {
namespace {

std::string WriteTemp(const std::string& contents) {
  char path[] = "/tmp/pgmask_key_XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
  close(fd);
  return path;
}

struct KeyCase {
  std::string name;
  std::string material;
  size_t want_size;  // 0: an error is expected
};

const KeyCase kCases[] = {
    {"Hex64", std::string(64, 'a'), 32},
    {"Hex32", std::string(32, 'B'), 16},
    {"HexWithNewline", std::string(64, '0') + "\n", 32},
    {"HexWithSpaces", "  " + std::string(32, '1') + " \r\n", 16},
    {"Raw32", std::string(32, '\x01'), 32},
    {"Raw16", std::string(16, '\xff'), 16},
    {"RawWithWhitespaceBytes", std::string(31, '\x02') + "\n", 32},
    {"Empty", "", 0},
    {"Short", "abc", 0},
    {"Hex63", std::string(63, 'a'), 0},
    {"NotHexNotRaw", std::string(63, 'a') + "z", 0},
    {"Raw24", std::string(24, '\x01'), 0},
};

class KeyMaterialTest : public testing::TestWithParam<KeyCase> {};

TEST_P(KeyMaterialTest, Parses) {
  const KeyCase& c = GetParam();
  absl::StatusOr<Key> key = ParseKeyMaterial(c.material);
  if (c.want_size == 0) {
    ASSERT_FALSE(key.ok());
    return;
  }
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->bytes().size(), c.want_size);
}

INSTANTIATE_TEST_SUITE_P(Cases, KeyMaterialTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<KeyCase>& info) { return info.param.name; });

TEST(KeyFileTest, LoadsHexAndRawFiles) {
  const std::string hex = WriteTemp(std::string(testing_keys::kTokenKeyHex) + "\n");
  absl::StatusOr<Key> key = LoadKeyFile(hex);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->bytes(), testing_keys::TokenKey().bytes());
  EXPECT_EQ(key->bytes()[1], '\x01');
  unlink(hex.c_str());
  const std::string raw = WriteTemp(std::string(16, '\x42'));
  ASSERT_TRUE(LoadKeyFile(raw).ok());
  unlink(raw.c_str());
}

TEST(KeyFileTest, ErrorsNeverShowTheMaterial) {
  const std::string secret = "topsecretkeymaterial";
  const std::string path = WriteTemp(secret);
  absl::StatusOr<Key> key = LoadKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().find("topsecret"), absl::string_view::npos);
  unlink(path.c_str());
  EXPECT_EQ(LoadKeyFile("/nonexistent/key").status().code(), absl::StatusCode::kNotFound);
  const std::string big = WriteTemp(std::string(5000, 'a'));
  EXPECT_FALSE(LoadKeyFile(big).ok());
  unlink(big.c_str());
}

TEST(KeyFileTest, FromEnvironment) {
  setenv("PGMASK_TEST_KEY", testing_keys::kHashKeyHex, 1);
  absl::StatusOr<Key> key = KeyFromEnv("PGMASK_TEST_KEY");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->bytes(), testing_keys::HashKey().bytes());
  setenv("PGMASK_TEST_KEY", "nope", 1);
  EXPECT_EQ(KeyFromEnv("PGMASK_TEST_KEY").status().code(), absl::StatusCode::kInvalidArgument);
  unsetenv("PGMASK_TEST_KEY");
  EXPECT_EQ(KeyFromEnv("PGMASK_TEST_KEY").status().code(), absl::StatusCode::kNotFound);
}

TEST(KeyFileTest, LoadKeysPrefersTheFileThenTheEnvironment) {
  const std::string path = WriteTemp(testing_keys::kTokenKeyHex);
  setenv("PGMASK_HASH_KEY", testing_keys::kHashKeyHex, 1);
  unsetenv("PGMASK_TOKEN_KEY");
  absl::StatusOr<Keys> keys = LoadKeys(path, "");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->token->bytes(), testing_keys::TokenKey().bytes());
  EXPECT_EQ(keys->hash->bytes(), testing_keys::HashKey().bytes());
  unsetenv("PGMASK_HASH_KEY");
  keys = LoadKeys("", "");
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE(keys->token.has_value());
  EXPECT_FALSE(LoadKeys("/nonexistent/key", "").ok());
  unlink(path.c_str());
}

TEST(KeyFileTest, KeysAreCopiedAndMoved) {
  Key a = testing_keys::TokenKey();
  Key b = a;
  EXPECT_EQ(a.bytes(), b.bytes());
  Key c = std::move(a);
  EXPECT_EQ(c.bytes(), b.bytes());
  EXPECT_TRUE(a.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from keys are wiped
}

struct CheckCase {
  std::string name;
  std::string yaml;
  bool token;
  bool hash;
  std::vector<std::string> missing;  // substrings of the error, empty: OK
};

const CheckCase kCheckCases[] = {
    {"NothingNeeded", "version: 1\n", false, false, {}},
    {"TokenizeRoleWithoutKey",
     "version: 1\nclassifications: { PII: { tier: public } }\nroles: { a: { PII: tokenize } }\n",
     false, true, {"--token-key-file", "PGMASK_TOKEN_KEY"}},
    {"TokenizeDefaultWithKey",
     "version: 1\nclassifications: { PII: { tier: public } }\nroles: { '*': { default: tokenize } }\n",
     true, false, {}},
    {"HashColumnWithoutKey",
     "version: 1\nclassifications: { PII: { tier: public } }\n"
     "tables: { t: { columns: { c: { class: PII, mask: hash } } } }\n",
     true, false, {"--hash-key-file", "PGMASK_HASH_KEY"}},
    {"BothMissing",
     "version: 1\nclassifications: { PII: { tier: public } }\n"
     "tables: { t: { columns: { c: { class: PII, mask: tokenize }, d: { class: PII, mask: hash } } } }\n",
     false, false, {"PGMASK_TOKEN_KEY", "PGMASK_HASH_KEY"}},
};

TEST(CheckKeysTest, NamesTheMissingKey) {
  for (const CheckCase& c : kCheckCases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(c.yaml, "t.yaml");
    ASSERT_TRUE(policy.ok()) << policy.status();
    Keys keys;
    if (c.token) keys.token = testing_keys::TokenKey();
    if (c.hash) keys.hash = testing_keys::HashKey();
    const absl::Status status = CheckKeysAvailable(**policy, keys);
    if (c.missing.empty()) {
      EXPECT_TRUE(status.ok()) << status;
      continue;
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    for (const std::string& s : c.missing) {
      EXPECT_NE(status.message().find(s), absl::string_view::npos) << s;
    }
  }
}

}  // namespace
}  // namespace pgmask::policy
