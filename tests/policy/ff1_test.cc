#include "policy/ff1.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include "tests/hex.h"

namespace pgmask::policy {
namespace {

using pgmask::testing::FromHex;

std::vector<uint8_t> ToNumerals(std::string_view s) {
  std::vector<uint8_t> out;
  for (const char c : s) out.push_back(static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10));
  return out;
}

std::string FromNumerals(const std::vector<uint8_t>& n) {
  std::string out;
  for (const uint8_t d : n) out.push_back(d < 10 ? static_cast<char>('0' + d) : static_cast<char>('a' + d - 10));
  return out;
}

struct NistCase {
  std::string name;
  std::string key_hex;
  std::string tweak_hex;
  uint32_t radix;
  std::string plaintext;
  std::string ciphertext;
};

constexpr char kKey128[] = "2B7E151628AED2A6ABF7158809CF4F3C";
constexpr char kKey192[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
constexpr char kKey256[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
constexpr char kTweak10[] = "39383736353433323130";
constexpr char kTweak11[] = "3737373770717273373737";

// NIST SP 800-38G FF1 samples 1-9 (AES-128, AES-192, AES-256).
const NistCase kNistCases[] = {
    {"Sample1", kKey128, "", 10, "0123456789", "2433477484"},
    {"Sample2", kKey128, kTweak10, 10, "0123456789", "6124200773"},
    {"Sample3", kKey128, kTweak11, 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {"Sample4", kKey192, "", 10, "0123456789", "2830668132"},
    {"Sample5", kKey192, kTweak10, 10, "0123456789", "2496655549"},
    {"Sample6", kKey192, kTweak11, 36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {"Sample7", kKey256, "", 10, "0123456789", "6657667009"},
    {"Sample8", kKey256, kTweak10, 10, "0123456789", "1001623463"},
    {"Sample9", kKey256, kTweak11, 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};

class Ff1NistTest : public ::testing::TestWithParam<NistCase> {};

TEST_P(Ff1NistTest, EncryptsAndDecryptsTheSample) {
  const NistCase& c = GetParam();
  for (const Ff1::Arithmetic arithmetic : {Ff1::Arithmetic::kAuto, Ff1::Arithmetic::kBignum}) {
    absl::StatusOr<Ff1> ff1 = Ff1::Create(FromHex(c.key_hex), arithmetic);
    ASSERT_TRUE(ff1.ok()) << ff1.status();
    const std::string tweak_bytes = FromHex(c.tweak_hex);
    const std::span<const uint8_t> tweak(reinterpret_cast<const uint8_t*>(tweak_bytes.data()),
                                         tweak_bytes.size());
    std::vector<uint8_t> numerals = ToNumerals(c.plaintext);
    ASSERT_TRUE(ff1->Encrypt(c.radix, tweak, numerals).ok());
    EXPECT_EQ(FromNumerals(numerals), c.ciphertext);
    ASSERT_TRUE(ff1->Decrypt(c.radix, tweak, numerals).ok());
    EXPECT_EQ(FromNumerals(numerals), c.plaintext);
  }
}

TEST(Ff1Test, NativeAndBignumPathsAgree) {
  absl::StatusOr<Ff1> native = Ff1::Create(FromHex(kKey256));
  absl::StatusOr<Ff1> bignum = Ff1::Create(FromHex(kKey256), Ff1::Arithmetic::kBignum);
  ASSERT_TRUE(native.ok() && bignum.ok());
  const uint8_t tweak[] = {1, 2, 3};
  // Lengths on both sides of the 2^64 boundary for each radix.
  for (const uint32_t radix : {2u, 10u, 16u, 26u, 36u, 256u}) {
    for (size_t len = 2; len <= 48; ++len) {
      if (!Ff1::DomainLargeEnough(radix, len)) continue;
      std::vector<uint8_t> plain(len);
      for (size_t i = 0; i < len; ++i) plain[i] = static_cast<uint8_t>((i * 11 + len) % radix);
      std::vector<uint8_t> a = plain;
      std::vector<uint8_t> b = plain;
      ASSERT_TRUE(native->Encrypt(radix, tweak, a).ok());
      ASSERT_TRUE(bignum->Encrypt(radix, tweak, b).ok());
      EXPECT_EQ(a, b) << radix << " " << len;
      ASSERT_TRUE(native->Decrypt(radix, tweak, a).ok());
      EXPECT_EQ(a, plain) << radix << " " << len;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Nist, Ff1NistTest, ::testing::ValuesIn(kNistCases),
                         [](const ::testing::TestParamInfo<NistCase>& info) { return info.param.name; });

TEST(Ff1Test, RejectsBadKeysAndDomains) {
  EXPECT_FALSE(Ff1::Create("short").ok());
  absl::StatusOr<Ff1> ff1 = Ff1::Create(FromHex(kKey256));
  ASSERT_TRUE(ff1.ok());
  std::vector<uint8_t> one_digit = {5};
  EXPECT_FALSE(ff1->Encrypt(10, {}, one_digit).ok());        // 10 < 100
  std::vector<uint8_t> two_digits = {1, 2};
  EXPECT_TRUE(ff1->Encrypt(10, {}, two_digits).ok());        // 100 is the floor
  std::vector<uint8_t> bad_numeral = {1, 12};
  EXPECT_FALSE(ff1->Encrypt(10, {}, bad_numeral).ok());
  std::vector<uint8_t> radix_one = {0, 0, 0};
  EXPECT_FALSE(ff1->Encrypt(1, {}, radix_one).ok());
  std::vector<uint8_t> too_long(Ff1::kMaxLength + 1, 0);
  EXPECT_FALSE(ff1->Encrypt(10, {}, too_long).ok());
}

TEST(Ff1Test, RoundTripsLongAndOddLengths) {
  absl::StatusOr<Ff1> ff1 = Ff1::Create(FromHex(kKey128));
  ASSERT_TRUE(ff1.ok());
  for (const size_t len : {2u, 3u, 7u, 33u, 128u, 1000u}) {
    for (const uint32_t radix : {10u, 16u, 26u, 256u}) {
      std::vector<uint8_t> plain(len);
      for (size_t i = 0; i < len; ++i) plain[i] = static_cast<uint8_t>((i * 7 + 3) % radix);
      std::vector<uint8_t> numerals = plain;
      ASSERT_TRUE(ff1->Encrypt(radix, {}, numerals).ok()) << len << " " << radix;
      EXPECT_NE(numerals, plain);
      for (const uint8_t d : numerals) EXPECT_LT(d, radix);
      ASSERT_TRUE(ff1->Decrypt(radix, {}, numerals).ok());
      EXPECT_EQ(numerals, plain) << len << " " << radix;
    }
  }
}

}  // namespace
}  // namespace pgmask::policy
