// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/record.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <vector>

namespace sw {
namespace {

std::vector<uint8_t> SipRecordBytes(std::string_view payload, uint32_t orig_len) {
  sw_record_hdr h{};
  h.ts_ns = 1'500'000'000;
  h.ifindex = 3;
  h.kind = SW_REC_SIP;
  h.caplen = static_cast<uint16_t>(payload.size());
  h.orig_len = orig_len;
  h.sport = 5062;
  h.dport = 5060;
  h.family = 4;
  h.transport = SW_TRANSPORT_UDP;
  h.msg_class = SW_CLASS_INVITE;
  const IpAddress s = *IpAddress::Parse("192.0.2.1"), d = *IpAddress::Parse("192.0.2.2");
  std::memcpy(h.saddr, s.bytes.data(), 16);
  std::memcpy(h.daddr, d.bytes.data(), 16);
  if (payload.size() < orig_len) h.flags |= SW_RECF_TRUNCATED;
  std::vector<uint8_t> out(sizeof(h) + payload.size());
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + sizeof(h), payload.data(), payload.size());
  return out;
}

TEST(Record, DecodesSipRecord) {
  const std::string msg = "INVITE sip:bob@example.com SIP/2.0\r\nVia: x\r\n\r\n";
  auto bytes = SipRecordBytes(msg, msg.size());
  auto r = DecodeRecord(bytes);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->payload, msg);
  EXPECT_EQ(r->src.ToString(), "192.0.2.1");
  EXPECT_EQ(r->dst.ToString(), "192.0.2.2");
  const std::string json = RecordToJson(*r, 1'700'000'000'000'000'000);
  EXPECT_NE(json.find(R"("class":"INVITE")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("first_line":"INVITE sip:bob@example.com SIP/2.0")"), std::string::npos);
  EXPECT_NE(json.find(R"("ts":"2023-11-14T22:13:21.500000Z")"), std::string::npos) << json;
  EXPECT_EQ(json.find("truncated"), std::string::npos);
}

TEST(Record, MarksTruncation) {
  auto bytes = SipRecordBytes("OPTIONS sip:x SIP/2.0\r\n", 3000);
  auto r = DecodeRecord(bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(RecordToJson(*r, 0).find(R"("truncated":true)"), std::string::npos);
}

TEST(Record, RejectsInconsistentRecords) {
  auto bytes = SipRecordBytes("abc", 3);
  // Shorter than the header.
  EXPECT_FALSE(DecodeRecord(std::span(bytes.data(), sizeof(sw_record_hdr) - 1)).ok());
  // caplen larger than the bytes present.
  EXPECT_FALSE(DecodeRecord(std::span(bytes.data(), bytes.size() - 1)).ok());
  // Unknown kind and family.
  auto bad_kind = bytes;
  reinterpret_cast<sw_record_hdr*>(bad_kind.data())->kind = 99;
  EXPECT_FALSE(DecodeRecord(bad_kind).ok());
  auto bad_family = bytes;
  reinterpret_cast<sw_record_hdr*>(bad_family.data())->family = 5;
  EXPECT_FALSE(DecodeRecord(bad_family).ok());
  // caplen above orig_len.
  auto bad_len = bytes;
  reinterpret_cast<sw_record_hdr*>(bad_len.data())->orig_len = 1;
  EXPECT_FALSE(DecodeRecord(bad_len).ok());
}

TEST(Record, MediaNotice) {
  std::vector<uint8_t> bytes(sizeof(sw_record_hdr) + sizeof(sw_media_notice));
  auto* h = reinterpret_cast<sw_record_hdr*>(bytes.data());
  h->kind = SW_REC_MEDIA;
  h->family = 6;
  h->caplen = sizeof(sw_media_notice);
  auto* n = reinterpret_cast<sw_media_notice*>(bytes.data() + sizeof(sw_record_hdr));
  n->dialog_id = 77;
  n->ssrc = 0xdeadbeef;
  n->is_rtp = 1;
  auto r = DecodeRecord(bytes);
  ASSERT_TRUE(r.ok());
  const std::string json = RecordToJson(*r, 0);
  EXPECT_NE(json.find(R"("dialog_id":77)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("ssrc":3735928559)"), std::string::npos) << json;
}

TEST(Names, ReasonsRoundTrip) {
  for (uint32_t i = 0; i < SW_REASON_MAX; ++i) {
    auto back = ReasonFromName(ReasonName(i));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, i);
  }
  EXPECT_FALSE(ReasonFromName("because").ok());
  EXPECT_EQ(ClassName(SW_CLASS_RESP_4XX), "4xx");
  EXPECT_EQ(ClassName(SW_CLASS_MAX), "invalid");
}

// RFC 3339 in UTC with microseconds, the same within a second (formatted
// once per second) and across seconds, days and the epoch's negative side.
TEST(FormatRfc3339, MicrosecondsWithinAndAcrossSeconds) {
  constexpr int64_t kS = 1'000'000'000;
  EXPECT_EQ(FormatRfc3339(1700000000 * kS + 123456789), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatRfc3339(1700000000 * kS + 7000), "2023-11-14T22:13:20.000007Z");
  EXPECT_EQ(FormatRfc3339(1700000000 * kS + 999999999), "2023-11-14T22:13:20.999999Z");
  EXPECT_EQ(FormatRfc3339(1700000001 * kS), "2023-11-14T22:13:21.000000Z");
  EXPECT_EQ(FormatRfc3339(1700000000 * kS), "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(-1000), "1969-12-31T23:59:59.999999Z");
  // The buffered form gives the same text, within and across seconds.
  for (int64_t t : {1700000000 * kS + 5, 1700000000 * kS + 999999999, 1700000001 * kS, int64_t{0},
                    int64_t{-1000}, 7258118399 * kS}) {
    EXPECT_EQ(FormatRfc3339View(t), FormatRfc3339(t));
  }
  EXPECT_EQ(FormatRfc3339View(7258118399 * kS + 1000), "2199-12-31T23:59:59.000001Z");
}

// The date and time of day, written digit by digit, are what printf's
// "%04d-%02d-%02dT%02d:%02d:%02d." makes of gmtime's fields: random instants
// over all of int64's nanoseconds (1677 to 2262) and its ends, alternating
// seconds as a call record's start and end do.
TEST(FormatRfc3339, DigitsAsPrintfWritesThem) {
  constexpr int64_t kS = 1'000'000'000;
  auto printf_form = [](int64_t ns) {
    int64_t secs = ns / kS, sub = ns % kS;
    if (sub < 0) {
      sub += kS;
      --secs;
    }
    const time_t t = static_cast<time_t>(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(sub / 1000));
    return std::string(buf);
  };
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    const int64_t ns = static_cast<int64_t>(rng());
    ASSERT_EQ(FormatRfc3339View(ns), printf_form(ns)) << ns;
    ASSERT_EQ(FormatRfc3339View(1700000000 * kS + i), printf_form(1700000000 * kS + i));
  }
  for (int64_t ns : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                     int64_t{0}, int64_t{-1}, 951782400 * kS /* 2000-02-29 */}) {
    EXPECT_EQ(FormatRfc3339View(ns), printf_form(ns)) << ns;
  }
}

}  // namespace
}  // namespace sw
