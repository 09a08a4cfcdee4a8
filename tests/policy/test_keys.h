// Fixed keys for the policy tests.
#pragma once

#include <string>

#include "policy/key_file.h"

namespace pgmask::policy::testing_keys {

inline constexpr char kTokenKeyHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
inline constexpr char kHashKeyHex[] =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

inline Key TokenKey() { return *ParseKeyMaterial(kTokenKeyHex); }
inline Key HashKey() { return *ParseKeyMaterial(kHashKeyHex); }

inline Keys BothKeys() {
  Keys keys;
  keys.token = TokenKey();
  keys.hash = HashKey();
  return keys;
}

}  // namespace pgmask::policy::testing_keys
