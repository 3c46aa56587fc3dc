// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/json.h"

#include <gtest/gtest.h>

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

TEST(JsonWriter, NonFiniteDoublesBecomeNull) {
  JsonWriter w;
  w.BeginArray().Double(1.5).Double(1.0 / 0.0).EndArray();
  EXPECT_EQ(w.str(), "[1.5,null]");
}

}  // namespace
}  // namespace sw
