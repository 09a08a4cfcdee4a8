// SCRAM keys derived from a password, as a client does (RFC 5802 section 3), for tests: pgmask
// itself never sees a password.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "proxy/scram_crypto.h"
#include "proxy/scram_verifier.h"

namespace pgmask::proxy::scram::testing {

struct PasswordKeys {
  Verifier verifier;
  Key client_key{};
};

inline PasswordKeys KeysFromPassword(std::string_view password, std::string_view salt, int iterations) {
  Key salted{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), static_cast<int>(salted.size()), salted.data());
  PasswordKeys keys;
  keys.client_key = Hmac(salted, "Client Key");
  keys.verifier.iterations = iterations;
  keys.verifier.salt = std::string(salt);
  keys.verifier.stored_key = Hash(keys.client_key);
  keys.verifier.server_key = Hmac(salted, "Server Key");
  return keys;
}

// The verifier as pg_authid.rolpassword holds it.
inline std::string VerifierText(const Verifier& v) {
  return "SCRAM-SHA-256$" + std::to_string(v.iterations) + ":" + Base64(v.salt) + "$" + Base64(AsText(v.stored_key)) +
         ":" + Base64(AsText(v.server_key));
}

// A tls-server-end-point value: SCRAM carries it opaquely.
inline constexpr std::string_view kCertificateHash = "0123456789abcdef0123456789abcdef";

// RFC 7677 section 3: user "user", password "pencil".
inline constexpr std::string_view kRfcSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
inline constexpr int kRfcIterations = 4096;
inline constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
inline constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
inline constexpr std::string_view kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
inline constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
inline constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
inline constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

inline PasswordKeys RfcKeys() { return KeysFromPassword("pencil", *FromBase64(kRfcSalt), kRfcIterations); }

}  // namespace pgmask::proxy::scram::testing
