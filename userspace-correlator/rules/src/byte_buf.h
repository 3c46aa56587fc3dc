// SPDX-License-Identifier: BSD-2-Clause
// A growable byte buffer for the engine's per-event appends: correlation keys
// (a tag, a length, a value, for every key field of every event) and the
// text of snapshots (every captured field of a Pair's first event). Those
// pieces are 1 to 40 bytes; std::string::append spends a call, its checks
// and a call to libc's memcpy on each, about as much as the rest of building
// the key. Here an append is a capacity check and a copy done inline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "sipwarden/copy_short.h"

namespace sw::rules::internal {

class ByteBuf {
 public:
  ByteBuf() = default;
  ByteBuf(const ByteBuf& o) { Append(o.view()); }
  ByteBuf& operator=(const ByteBuf& o) {
    if (this != &o) {
      n_ = 0;
      Append(o.view());
    }
    return *this;
  }
  ByteBuf(ByteBuf&& o) noexcept : buf_(std::move(o.buf_)), n_(o.n_), cap_(o.cap_) {
    o.n_ = o.cap_ = 0;
  }
  ByteBuf& operator=(ByteBuf&& o) noexcept {
    buf_ = std::move(o.buf_);
    n_ = o.n_;
    cap_ = o.cap_;
    o.n_ = o.cap_ = 0;
    return *this;
  }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  size_t capacity() const { return cap_; }
  // Never null, so that a copy of an empty buffer's bytes (memcpy of 0 bytes
  // from data()) is defined; a buffer never appended to has no storage.
  const char* data() const { return buf_ ? buf_.get() : ""; }
  std::string_view view() const { return std::string_view(data(), n_); }
  operator std::string_view() const { return view(); }  // NOLINT: used as a key's bytes

  void clear() { n_ = 0; }
  // Keeps the first n bytes (n <= size()).
  void Truncate(size_t n) { n_ = n < n_ ? n : n_; }
  // p must not point into this buffer (a growth would free it first).
  void Append(const char* p, size_t n) {
    if (n > cap_ - n_) Grow(n);
    CopyShort(buf_.get() + n_, p, n);
    n_ += n;
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }
  void Push(char c) {
    if (n_ == cap_) Grow(1);
    buf_[n_++] = c;
  }

 private:
  // Room for `more` bytes past size(): doubles, from 32.
  void Grow(size_t more) {
    size_t cap = cap_ ? cap_ * 2 : 32;
    if (cap < n_ + more) cap = n_ + more;
    auto buf = std::make_unique_for_overwrite<char[]>(cap);
    if (n_) std::memcpy(buf.get(), buf_.get(), n_);
    buf_ = std::move(buf);
    cap_ = cap;
  }

  std::unique_ptr<char[]> buf_;
  size_t n_ = 0;
  size_t cap_ = 0;
};

}  // namespace sw::rules::internal
