// SPDX-License-Identifier: BSD-2-Clause
// SIP messages counted by request method, with a bounded set of buckets: the
// methods of RFC 3261 and of the extensions a proxy commonly sees (PRACK,
// SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE), OTHER for any
// other method (a name from the wire never becomes a label or a key), and
// RESPONSE for every response. Method names are case-sensitive (RFC 3261
// 7.1): "invite" is OTHER.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sw {

inline constexpr std::array<std::string_view, 16> kSipMethodBuckets = {
    "INVITE", "ACK",  "BYE",   "CANCEL",  "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE", "OTHER", "RESPONSE"};
inline constexpr size_t kSipMethodOther = 14;
inline constexpr size_t kSipMethodResponse = 15;

// The bucket of a request's method, or of a response.
inline size_t SipMethodBucket(bool is_request, std::string_view method) {
  if (!is_request) return kSipMethodResponse;
  for (size_t i = 0; i < kSipMethodOther; ++i) {
    if (kSipMethodBuckets[i] == method) return i;
  }
  return kSipMethodOther;
}

class SipMethodCounts {
 public:
  void Count(bool is_request, std::string_view method) { ++n_[SipMethodBucket(is_request, method)]; }
  uint64_t operator[](size_t bucket) const { return n_[bucket]; }
  uint64_t total() const {
    uint64_t t = 0;
    for (uint64_t v : n_) t += v;
    return t;
  }

 private:
  std::array<uint64_t, kSipMethodBuckets.size()> n_{};
};

}  // namespace sw
