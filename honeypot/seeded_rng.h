// SPDX-License-Identifier: BSD-2-Clause
// A seeded random stream that gives the same numbers on every platform
// (the standard library's distributions do not), so that a seed names one
// generated deflector list or one simulation table everywhere: splitmix64,
// with Lemire's multiply-shift for bounded draws.
#pragma once

#include <cstdint>

namespace sw::honeypot {

class SeededRng {
 public:
  explicit SeededRng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (rejection keeps it unbiased).
  uint64_t Below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
      if (static_cast<uint64_t>(m) >= threshold) return static_cast<uint64_t>(m >> 64);
    }
  }

 private:
  uint64_t s_;
};

}  // namespace sw::honeypot
