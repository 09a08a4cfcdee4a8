#include "policy/ff1.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pgmask::policy {
namespace {

constexpr size_t kBlock = 16;
constexpr int kRounds = 10;

using U128 = unsigned __int128;

// radix^length when it is at most 2^64.
bool SmallPower(uint32_t radix, size_t length, U128& power) {
  constexpr U128 kLimit = U128{1} << 64;
  power = 1;
  for (size_t i = 0; i < length; ++i) {
    power *= radix;
    if (power > kLimit) return false;
  }
  return true;
}

size_t BitLength(U128 x) {
  size_t bits = 0;
  while (x != 0) {
    x >>= 1;
    ++bits;
  }
  return bits;
}

uint64_t SmallNum(std::span<const uint8_t> numerals, uint32_t radix) {
  uint64_t value = 0;
  for (const uint8_t d : numerals) value = value * radix + d;
  return value;
}

void SmallStr(uint64_t value, uint32_t radix, std::span<uint8_t> numerals) {
  for (size_t i = numerals.size(); i > 0; --i) {
    numerals[i - 1] = static_cast<uint8_t>(value % radix);
    value /= radix;
  }
}

}  // namespace

struct Ff1::State {
  Arithmetic arithmetic = Arithmetic::kAuto;
  EVP_CIPHER_CTX* aes = nullptr;
  BN_CTX* bn_ctx = nullptr;
  BIGNUM* a = nullptr;
  BIGNUM* b = nullptr;
  BIGNUM* c = nullptr;
  BIGNUM* y = nullptr;
  BIGNUM* mod_u = nullptr;  // radix^u
  BIGNUM* mod_v = nullptr;  // radix^v
  BIGNUM* tmp = nullptr;
  std::vector<uint8_t> pq;  // P || Q
  std::vector<uint8_t> s;   // S, whole blocks

  ~State() {
    EVP_CIPHER_CTX_free(aes);
    for (BIGNUM* n : {a, b, c, y, mod_u, mod_v, tmp}) BN_clear_free(n);
    BN_CTX_free(bn_ctx);
    OPENSSL_cleanse(pq.data(), pq.size());
    OPENSSL_cleanse(s.data(), s.size());
  }

  bool Aes(const uint8_t* in, uint8_t* out) {
    int len = 0;
    return EVP_EncryptUpdate(aes, out, &len, in, kBlock) == 1 && len == kBlock;
  }

  // CBC-MAC of pq under the key (FF1's PRF): the last block of AES-CBC with a zero IV. P, the
  // first block, is the same in every round: `p_mac` is its MAC, computed once per call.
  bool Prf(const uint8_t* p_mac, uint8_t* r) {
    uint8_t block[kBlock];
    std::copy(p_mac, p_mac + kBlock, block);
    for (size_t off = kBlock; off < pq.size(); off += kBlock) {
      for (size_t i = 0; i < kBlock; ++i) block[i] ^= pq[off + i];
      if (!Aes(block, block)) return false;
    }
    std::copy(block, block + kBlock, r);
    return true;
  }

  // value = NUM_radix(numerals)
  bool Num(std::span<const uint8_t> numerals, uint32_t radix, BIGNUM* value) {
    BN_zero(value);
    for (const uint8_t d : numerals) {
      if (BN_mul_word(value, radix) != 1 || BN_add_word(value, d) != 1) return false;
    }
    return true;
  }

  // numerals = STR^m_radix(value); clobbers tmp.
  bool Str(const BIGNUM* value, uint32_t radix, std::span<uint8_t> numerals) {
    if (BN_copy(tmp, value) == nullptr) return false;
    for (size_t i = numerals.size(); i > 0; --i) {
      const BN_ULONG rem = BN_div_word(tmp, radix);
      if (rem == static_cast<BN_ULONG>(-1)) return false;
      numerals[i - 1] = static_cast<uint8_t>(rem);
    }
    return true;
  }
};

Ff1::Ff1(std::unique_ptr<State> state) : state_(std::move(state)) {}
Ff1::Ff1(Ff1&&) noexcept = default;
Ff1& Ff1::operator=(Ff1&&) noexcept = default;
Ff1::~Ff1() = default;

absl::StatusOr<Ff1> Ff1::Create(std::string_view key, Arithmetic arithmetic) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16: cipher = EVP_aes_128_ecb(); break;
    case 24: cipher = EVP_aes_192_ecb(); break;
    case 32: cipher = EVP_aes_256_ecb(); break;
    default: return absl::InvalidArgumentError("an FF1 key must be 16, 24 or 32 bytes");
  }
  auto state = std::make_unique<State>();
  state->arithmetic = arithmetic;
  state->aes = EVP_CIPHER_CTX_new();
  state->bn_ctx = BN_CTX_new();
  if (state->aes == nullptr || state->bn_ctx == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate FF1 state");
  }
  for (BIGNUM** n : {&state->a, &state->b, &state->c, &state->y, &state->mod_u, &state->mod_v,
                     &state->tmp}) {
    *n = BN_new();
    if (*n == nullptr) return absl::ResourceExhaustedError("cannot allocate FF1 state");
  }
  if (EVP_EncryptInit_ex(state->aes, cipher, nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(state->aes, 0) != 1) {
    return absl::InternalError("cannot initialise AES");
  }
  return Ff1(std::move(state));
}

bool Ff1::DomainLargeEnough(uint32_t radix, size_t length) {
  uint64_t domain = 1;
  for (size_t i = 0; i < length && domain < kMinDomain; ++i) domain *= radix;
  return domain >= kMinDomain;
}

absl::Status Ff1::Encrypt(uint32_t radix, std::span<const uint8_t> tweak,
                          std::span<uint8_t> numerals) {
  return Run(true, radix, tweak, numerals);
}

absl::Status Ff1::Decrypt(uint32_t radix, std::span<const uint8_t> tweak,
                          std::span<uint8_t> numerals) {
  return Run(false, radix, tweak, numerals);
}

absl::Status Ff1::Run(bool encrypt, uint32_t radix, std::span<const uint8_t> tweak,
                      std::span<uint8_t> numerals) {
  const size_t n = numerals.size();
  if (radix < 2 || radix > kMaxRadix) return absl::InvalidArgumentError("FF1: bad radix");
  if (n < 2 || n > kMaxLength || !DomainLargeEnough(radix, n)) {
    return absl::InvalidArgumentError(absl::StrCat("FF1: length ", n, " out of range"));
  }
  if (tweak.size() > kMaxTweakLength) return absl::InvalidArgumentError("FF1: tweak too long");
  for (const uint8_t d : numerals) {
    if (d >= radix) return absl::InvalidArgumentError("FF1: numeral out of range");
  }
  State& st = *state_;
  const absl::Status internal = absl::InternalError("FF1: OpenSSL failure");
  const size_t u = n / 2;
  const size_t v = n - u;
  const size_t t = tweak.size();

  // radix^u, radix^v; b = ceil(ceil(v * log2(radix)) / 8) = bytes of (radix^v - 1).
  U128 small_mod_u = 0;
  U128 small_mod_v = 0;
  const bool small = st.arithmetic == Arithmetic::kAuto && SmallPower(radix, u, small_mod_u) &&
                     SmallPower(radix, v, small_mod_v);
  size_t b = 0;
  if (small) {
    b = (BitLength(small_mod_v - 1) + 7) / 8;
  } else {
    if (BN_set_word(st.mod_u, 1) != 1 || BN_set_word(st.mod_v, 1) != 1) return internal;
    for (size_t i = 0; i < v; ++i) {
      if ((i < u && BN_mul_word(st.mod_u, radix) != 1) || BN_mul_word(st.mod_v, radix) != 1) {
        return internal;
      }
    }
    if (BN_copy(st.tmp, st.mod_v) == nullptr || BN_sub_word(st.tmp, 1) != 1) return internal;
    b = (static_cast<size_t>(BN_num_bits(st.tmp)) + 7) / 8;
  }
  const size_t d = 4 * ((b + 3) / 4) + 4;

  // P, then Q = T || 0^((-t-b-1) mod 16) || [i] || [NUM(B)]^b.
  const size_t pad = (kBlock - (t + b + 1) % kBlock) % kBlock;
  st.pq.assign(kBlock + t + pad + 1 + b, 0);
  uint8_t* p = st.pq.data();
  p[0] = 1;
  p[1] = 2;
  p[2] = 1;
  p[3] = static_cast<uint8_t>(radix >> 16);
  p[4] = static_cast<uint8_t>(radix >> 8);
  p[5] = static_cast<uint8_t>(radix);
  p[6] = 10;
  p[7] = static_cast<uint8_t>(u % 256);
  for (int i = 0; i < 4; ++i) {
    p[8 + i] = static_cast<uint8_t>(static_cast<uint32_t>(n) >> (24 - 8 * i));
    p[12 + i] = static_cast<uint8_t>(static_cast<uint32_t>(t) >> (24 - 8 * i));
  }
  std::copy(tweak.begin(), tweak.end(), st.pq.begin() + kBlock);
  uint8_t* round_byte = st.pq.data() + kBlock + t + pad;
  uint8_t* num_bytes = round_byte + 1;

  const size_t s_blocks = (d + kBlock - 1) / kBlock;
  st.s.assign(s_blocks * kBlock, 0);
  uint8_t p_mac[kBlock];
  if (!st.Aes(st.pq.data(), p_mac)) return internal;

  // One round's S = R || CIPH(R xor [1]) || CIPH(R xor [2]) ..., from the PRF input in pq.
  auto round_s = [&]() {
    if (!st.Prf(p_mac, st.s.data())) return false;
    for (size_t j = 1; j < s_blocks; ++j) {
      uint8_t block[kBlock];
      for (size_t k = 0; k < kBlock; ++k) block[k] = st.s[k];
      for (size_t k = 0; k < 8; ++k) block[kBlock - 1 - k] ^= static_cast<uint8_t>(j >> (8 * k));
      if (!st.Aes(block, st.s.data() + j * kBlock)) return false;
    }
    return true;
  };

  if (small) {
    uint64_t a = SmallNum(numerals.first(u), radix);
    uint64_t bb = SmallNum(numerals.subspan(u), radix);
    for (int step = 0; step < kRounds; ++step) {
      const int i = encrypt ? step : kRounds - 1 - step;
      *round_byte = static_cast<uint8_t>(i);
      const uint64_t fed = encrypt ? bb : a;
      for (size_t k = 0; k < b; ++k) num_bytes[b - 1 - k] = static_cast<uint8_t>(fed >> (8 * k));
      if (!round_s()) return internal;
      // y mod radix^m, eight bytes of S at a time (the modulus is at most 2^64).
      const U128 modulus = i % 2 == 0 ? small_mod_u : small_mod_v;
      U128 y = 0;
      for (size_t j = 0; j < d;) {
        const size_t take = std::min<size_t>(8, d - j);
        uint64_t word = 0;
        for (size_t k = 0; k < take; ++k) word = (word << 8) | st.s[j + k];
        y = ((y << (8 * take)) | word) % modulus;
        j += take;
      }
      if (encrypt) {
        const auto c = static_cast<uint64_t>((U128{a} + y) % modulus);
        a = bb;
        bb = c;
      } else {
        const auto c = static_cast<uint64_t>((U128{bb} + modulus - y) % modulus);
        bb = a;
        a = c;
      }
    }
    SmallStr(a, radix, numerals.first(u));
    SmallStr(bb, radix, numerals.subspan(u));
    return absl::OkStatus();
  }

  // A and B as numbers; the halves swap lengths every round.
  if (!st.Num(numerals.first(u), radix, st.a) || !st.Num(numerals.subspan(u), radix, st.b)) {
    return internal;
  }
  for (int step = 0; step < kRounds; ++step) {
    const int i = encrypt ? step : kRounds - 1 - step;
    *round_byte = static_cast<uint8_t>(i);
    // Encryption feeds B into the PRF, decryption A (the previous round's B).
    if (BN_bn2binpad(encrypt ? st.b : st.a, num_bytes, static_cast<int>(b)) < 0) return internal;
    if (!round_s()) return internal;
    if (BN_bin2bn(st.s.data(), static_cast<int>(d), st.y) == nullptr) return internal;
    const BIGNUM* modulus = i % 2 == 0 ? st.mod_u : st.mod_v;
    if (encrypt) {
      // C = (NUM(A) + y) mod radix^m; A = B; B = C.
      if (BN_mod_add(st.c, st.a, st.y, modulus, st.bn_ctx) != 1) return internal;
      std::swap(st.a, st.b);
      std::swap(st.b, st.c);
    } else {
      // C = (NUM(B) - y) mod radix^m; B = A; A = C.
      if (BN_mod_sub(st.c, st.b, st.y, modulus, st.bn_ctx) != 1) return internal;
      std::swap(st.b, st.a);
      std::swap(st.a, st.c);
    }
  }
  if (!st.Str(st.a, radix, numerals.first(u)) || !st.Str(st.b, radix, numerals.subspan(u))) {
    return internal;
  }
  return absl::OkStatus();
}

}  // namespace pgmask::policy
