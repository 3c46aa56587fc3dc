// SPDX-License-Identifier: BSD-2-Clause
// The profile files' binary encoding (internal): values as their bytes, in
// the machine's order (the files are read where they are written), and
// FNV-1a 64 checksums.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sw::profiles {

class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    buf_.append(p, sizeof(T));
  }
  void Bytes(const void* p, size_t n) {
    if (n > 0) buf_.append(static_cast<const char*>(p), n);  // an empty vector's data() may be null
  }
  std::string& buf() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    return Bytes(v, sizeof(T));
  }
  bool Bytes(void* p, size_t n) {
    if (s_.size() - pos_ < n) return false;
    if (n == 0) return true;  // memcpy wants real pointers even for nothing
    memcpy(p, s_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

inline uint64_t Fnv(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace sw::profiles
