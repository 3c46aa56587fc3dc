// SPDX-License-Identifier: BSD-2-Clause
// A copy of a few bytes without a call into libc: the JSON writer and the
// rule engine's key and snapshot buffers copy pieces of 1 to 40 bytes (a
// field's text), where memcpy's call and size dispatch cost more than the
// copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sw {

// Copies n bytes, n known only at run time, without a call for n <= 32: two
// overlapping loads and stores of the widest size that fits. The ranges must
// not overlap. (Inlined where the source is a small array, GCC warns about
// the wider branches that n's range excludes; hence the pragma.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
inline void CopyShort(char* d, const char* s, size_t n) {
  if (n <= 16) {
    if (n >= 8) {
      uint64_t a, b;
      std::memcpy(&a, s, 8);
      std::memcpy(&b, s + n - 8, 8);
      std::memcpy(d, &a, 8);
      std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, s, 4);
      std::memcpy(&b, s + n - 4, 4);
      std::memcpy(d, &a, 4);
      std::memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {  // 1..3: the first, middle and last byte cover them
      d[0] = s[0];
      d[n / 2] = s[n / 2];
      d[n - 1] = s[n - 1];
    }
  } else if (n <= 32) {
    char a[16], b[16];
    std::memcpy(a, s, 16);
    std::memcpy(b, s + n - 16, 16);
    std::memcpy(d, a, 16);
    std::memcpy(d + n - 16, b, 16);
  } else {
    std::memcpy(d, s, n);
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace sw
