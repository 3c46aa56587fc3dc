// SPDX-License-Identifier: BSD-2-Clause
// The engine's byte buffer (rules/src/byte_buf.h) against std::string: every
// length of piece from 0 to 80 bytes (each of CopyShort's branches and their
// edges) appended at every offset of the buffer, through growth, with copies,
// moves, truncation and reuse.
#include "byte_buf.h"

#include <random>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace sw::rules::internal {
namespace {

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(ByteBuf, CopyShortCopiesEveryLengthExactly) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 80; ++n) {
    const std::string src = RandomBytes(rng, n);
    // Guard bytes around the destination: nothing outside [0, n) is written.
    std::string dst(n + 32, '#');
    CopyShort(dst.data() + 16, src.data(), n);
    EXPECT_EQ(dst.substr(16, n), src) << n;
    EXPECT_EQ(dst.substr(0, 16), std::string(16, '#')) << n;
    EXPECT_EQ(dst.substr(16 + n), std::string(16, '#')) << n;
  }
}

TEST(ByteBuf, AppendsMatchAStringAtEveryOffset) {
  std::mt19937 rng(11);
  for (size_t offset = 0; offset <= 40; ++offset) {
    for (size_t n = 0; n <= 80; ++n) {
      ByteBuf b;
      std::string model = RandomBytes(rng, offset);
      b.Append(model);
      const std::string piece = RandomBytes(rng, n);
      b.Append(piece.data(), piece.size());
      model += piece;
      ASSERT_EQ(b.view(), model) << offset << " " << n;
      b.Push('z');
      model.push_back('z');
      ASSERT_EQ(b.view(), model) << offset << " " << n;
    }
  }
}

TEST(ByteBuf, GrowsKeepsItsBytesAndIsReusedAfterClear) {
  std::mt19937 rng(13);
  ByteBuf b;
  std::string model;
  for (int i = 0; i < 2000; ++i) {
    const std::string piece = RandomBytes(rng, rng() % 70);
    b.Append(piece);
    model += piece;
    ASSERT_EQ(b.view(), model) << i;
    ASSERT_GE(b.capacity(), b.size());
  }
  const size_t cap = b.capacity();
  b.clear();
  EXPECT_TRUE(b.empty());
  b.Append("abc");
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(b.capacity(), cap);  // cleared, not freed
  b.clear();
  b.Append("0123456789");
  EXPECT_EQ(b.view(), "0123456789");
  b.Truncate(4);
  EXPECT_EQ(b.view(), "0123");
  b.Truncate(10);  // longer than it is: unchanged
  EXPECT_EQ(b.view(), "0123");
}

// An empty buffer's bytes are at a valid address, as an empty std::string's
// are: a table copies a key's bytes with memcpy, and a rule's key can be
// empty (a rule without key fields).
TEST(ByteBuf, EmptyBuffersHaveAnAddress) {
  ByteBuf never;
  EXPECT_NE(never.data(), nullptr);
  EXPECT_NE(never.view().data(), nullptr);
  EXPECT_TRUE(never.view().empty());
  ByteBuf moved;
  moved.Append("x");
  ByteBuf to(std::move(moved));
  EXPECT_NE(moved.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  ByteBuf copy(never);
  EXPECT_NE(copy.data(), nullptr);
}

TEST(ByteBuf, CopiesAndMovesCarryTheBytes) {
  // (Built with +=: GCC 12 warns falsely about string(100, 'q') + "tail".)
  std::string want(100, 'q');
  want += "tail";
  std::string want_more = want;
  want_more += "more";
  ByteBuf a;
  a.Append(std::string(100, 'q'));
  a.Append("tail");
  ByteBuf b(a);
  EXPECT_EQ(b.view(), a.view());
  b.Append("more");
  EXPECT_EQ(a.view(), want);  // the copy is its own
  ByteBuf c;
  c.Append("old");
  c = a;
  EXPECT_EQ(c.view(), a.view());
  c = *&c;  // self-assignment keeps it
  EXPECT_EQ(c.view(), a.view());
  ByteBuf d(std::move(b));
  EXPECT_EQ(d.view(), want_more);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  b.Append("reused");      // and usable
  EXPECT_EQ(b.view(), "reused");
  ByteBuf e;
  e = std::move(d);
  EXPECT_EQ(e.view(), want_more);
  EXPECT_EQ(std::string_view(e), e.view());
}

}  // namespace
}  // namespace sw::rules::internal
