// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sw {
namespace {

TEST(JsonWriter, NestsAndSeparates) {
  JsonWriter w;
  w.BeginObject().Field("a", 1).Key("b").BeginArray().Int(1).String("x").Null().EndArray();
  w.Key("c").BeginObject().Field("d", true).EndObject().Field("e", uint64_t{18446744073709551615u});
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[1,"x",null],"c":{"d":true},"e":18446744073709551615})");
}

TEST(JsonWriter, EscapesControlQuotesAndBadUtf8) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\r\n\t\x01\x7f", 10));
  EXPECT_EQ(out, R"("a\"b\\c\r\n\t\u0001\u007f")");
  out.clear();
  AppendJsonString(out, "caf\xc3\xa9 \xff\xc3");  // valid é, then two bad bytes
  EXPECT_EQ(out, "\"caf\xc3\xa9 \\ufffd\\ufffd\"");
  out.clear();
  AppendJsonString(out, std::string("\0x", 2));
  EXPECT_EQ(out, R"("\u0000x")");
  out.clear();
  AppendJsonString(out, "\xed\xa0\x80");  // a UTF-16 surrogate encoded in UTF-8
  EXPECT_EQ(out, R"("\ufffd\ufffd\ufffd")");
}

// Byte by byte, as the escaper was before its 16-byte scan: what a byte
// becomes does not depend on where it sits in the string.
std::string EscapeByteWise(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x80) {
      // Tested with ASCII only below: a high byte is checked as UTF-8.
      out.push_back(static_cast<char>(c));
    } else {
      std::string one;
      AppendJsonString(one, std::string_view(s.data() + i, 1));
      out.append(one.substr(1, one.size() - 2));
    }
  }
  out.push_back('"');
  return out;
}

// Calls check(s) for every string of 1 to 40 bytes holding one byte value
// below `bytes` at one position and 'a' elsewhere: a scan that reads 16, 8
// or 4 bytes at a time must stop exactly at it, in the first, a middle and
// the last block and in the tail.
template <typename Check>
void ForEachByteAtEveryOffset(int bytes, Check check) {
  for (int c = 0; c < bytes; ++c) {
    for (size_t len = 1; len <= 40; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(c);
        SCOPED_TRACE("byte " + std::to_string(c) + " at " + std::to_string(at) + " of " +
                     std::to_string(len));
        check(s);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(JsonWriter, EscapesEveryAsciiByteAtEveryOffset) {
  ForEachByteAtEveryOffset(0x80, [](const std::string& s) {
    std::string out;
    AppendJsonString(out, s);
    ASSERT_EQ(out, EscapeByteWise(s));
  });
}

TEST(JsonWriter, RandomAsciiMatchesByteWise) {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    std::string s(rng() % 100, ' ');
    for (auto& ch : s) ch = static_cast<char>(rng() % 8 == 0 ? rng() % 0x20 : 0x20 + rng() % 0x60);
    std::string out;
    AppendJsonString(out, s);
    ASSERT_EQ(out, EscapeByteWise(s));
  }
}

TEST(JsonWriter, KeysNeedingEscapesAndLongKeys) {
  JsonWriter w;
  const std::string long_key(100, 'k');
  w.BeginObject().Field("a\"b", 1).Field(long_key, 2).Field("", 3).EndObject();
  EXPECT_EQ(w.str(), "{\"a\\\"b\":1,\"" + long_key + "\":2,\"\":3}");
}

TEST(JsonWriter, InlineAndEscapedPathsAgree) {
  // Keys and strings that need no escaping are copied as they are, the
  // others escaped: the text is the same either way, short or long, and
  // whatever the buffer's room.
  for (size_t reserve : {size_t{0}, size_t{8}, size_t{4096}}) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{300}}) {
      for (bool special : {false, true}) {
        std::string s(len, 'v');
        if (special && len) s[len / 2] = '"';
        JsonWriter w;
        w.Reserve(reserve);
        w.BeginObject().Field(s, s).Key("n").BeginArray().String(s).String(s).EndArray();
        w.Field(s, 1).EndObject();
        std::string quoted;
        AppendJsonString(quoted, s);
        EXPECT_EQ(w.str(), "{" + quoted + ":" + quoted + ",\"n\":[" + quoted + "," + quoted + "]," +
                               quoted + ":1}")
            << "length " << len << (special ? " with a quote" : "") << ", reserve " << reserve;
      }
    }
  }
}

TEST(JsonWriter, WriterEscapesEveryByteAtEveryOffset) {
  // The writer copies text it finds plain (checked 16 bytes at a time, 8 or
  // 4 below 16) and escapes the rest: every byte value at every offset of
  // keys and strings comes out as AppendJsonString writes it.
  ForEachByteAtEveryOffset(0x100, [](const std::string& s) {
    std::string quoted;
    AppendJsonString(quoted, s);
    JsonWriter w;
    w.BeginObject().Field(s, s).EndObject();
    ASSERT_EQ(w.str(), "{" + quoted + ":" + quoted + "}");
  });
}

TEST(JsonWriter, NumbersAtTheirLimitsAndGrowth) {
  JsonWriter w;  // no room reserved: every piece grows the buffer at first
  w.BeginArray();
  w.Int(std::numeric_limits<int64_t>::min()).Int(std::numeric_limits<int64_t>::max());
  w.Uint(std::numeric_limits<uint64_t>::max()).Int(0).Bool(false).Bool(true).Null();
  for (int i = 0; i < 1000; ++i) w.Int(i);
  w.EndArray();
  const std::string text = w.Take();
  const std::string head =
      "[-9223372036854775808,9223372036854775807,18446744073709551615,0,false,true,null,0,1,2,";
  EXPECT_EQ(text.substr(0, head.size()), head);
  EXPECT_EQ(text.substr(text.size() - 9), ",998,999]");
  // Take leaves the writer empty and ready for the next line.
  EXPECT_EQ(w.str(), "");
  w.BeginObject().Field("k", 1).EndObject();
  EXPECT_EQ(w.Take(), R"({"k":1})");
}

// Clear starts a new line in the same buffer, from any state: within an
// open container, after a key, after a line far longer than the next.
TEST(JsonWriter, ClearStartsTheNextLineInTheSameBuffer) {
  JsonWriter w;
  w.BeginObject().Field("long", std::string(5000, 'x')).Key("open").BeginArray().Int(1);
  w.Clear();
  EXPECT_EQ(w.str(), "");
  w.BeginObject().Field("a", 1).Field("q", "\"").EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"q":"\""})");
  const char* buffer = w.str().data();
  w.BeginObject().Key("dangling");
  w.Clear();
  w.BeginArray().String("x").Int(2).EndArray();
  EXPECT_EQ(w.str(), R"(["x",2])");
  EXPECT_EQ(w.str().data(), buffer);  // no new buffer
  w.Clear();
  w.Int(7);
  EXPECT_EQ(w.Take(), "7");
}

// Doubles are written as printf's "%.6g" writes them (durations in call
// records): exponents, rounding at the sixth digit, trailing zeros dropped,
// negative zero, subnormals, the largest and smallest values.
TEST(JsonWriter, DoublesAreWrittenAsPercentPointSixG) {
  std::vector<double> values = {
      0.0,  -0.0, 1.0,     0.5,    1e-5,   1.5e-4, 123456, 1234567, 999999.5,       9.999995,  1e21,
      -2.5, 0.1,  1.0 / 3, 100000, 1e-300, 5e-324, 1e308,  4.35,    0.000123456789, 12.3456789};
  values.push_back(std::numeric_limits<double>::max());
  values.push_back(std::numeric_limits<double>::min());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    double d;
    const uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isfinite(d)) values.push_back(d);
    values.push_back(static_cast<double>(rng() % 100000000) / 1000.0);  // call durations
  }
  for (double v : values) {
    char want[64];
    std::snprintf(want, sizeof(want), "%.6g", v);
    JsonWriter w;
    w.Double(v);
    ASSERT_EQ(w.str(), want) << v;
  }
}

TEST(JsonWriter, NonFiniteDoublesBecomeNull) {
  JsonWriter w;
  w.BeginArray().Double(1.5).Double(1.0 / 0.0).EndArray();
  EXPECT_EQ(w.str(), "[1.5,null]");
}

}  // namespace
}  // namespace sw
