// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/record.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <limits>

#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"

namespace sw {
namespace {

constexpr std::string_view kClassNames[SW_CLASS_MAX] = {
    "none",      "INVITE", "ACK",     "BYE",     "CANCEL",  "REGISTER", "OPTIONS", "PRACK",
    "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",    "REFER",   "MESSAGE",  "UPDATE",  "other",
    "1xx",       "2xx",    "3xx",     "4xx",     "5xx",     "6xx"};

constexpr std::string_view kReasonNames[SW_REASON_MAX] = {
    "manual",     "flood",   "scan",       "enumeration", "bruteforce",
    "teardown",   "handshake", "cancel",   "spit",        "toll-fraud",
    "gateway",    "scanner-signature", "anomaly", "honeypot", "controller",
    "malformed"};

}  // namespace

std::string_view ClassName(uint32_t cls) {
  return cls < SW_CLASS_MAX ? kClassNames[cls] : std::string_view("invalid");
}

std::string_view VerdictName(uint32_t verdict) {
  switch (verdict) {
    case SW_VERDICT_PASS: return "pass";
    case SW_VERDICT_DROP_BLOCKED: return "drop_blocked";
    case SW_VERDICT_DROP_RATE: return "drop_rate";
    case SW_VERDICT_DROP_MALFORMED: return "drop_malformed";
    case SW_VERDICT_PASS_ALLOWED: return "pass_allowed";
  }
  return "invalid";
}

std::string_view ReasonName(uint32_t reason) {
  return reason < SW_REASON_MAX ? kReasonNames[reason] : std::string_view("unknown");
}

absl::StatusOr<uint32_t> ReasonFromName(std::string_view name) {
  for (uint32_t i = 0; i < SW_REASON_MAX; ++i) {
    if (kReasonNames[i] == name) return i;
  }
  std::string all;
  for (auto n : kReasonNames) absl::StrAppend(&all, all.empty() ? "" : ", ", AV(n));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown reason '", AV(name), "' (one of: ", all, ")"));
}

absl::StatusOr<Record> DecodeRecord(std::span<const uint8_t> data) {
  Record r;
  if (data.size() < sizeof(sw_record_hdr)) {
    return absl::DataLossError(absl::StrCat("record of ", data.size(), " bytes is shorter than its header"));
  }
  std::memcpy(&r.hdr, data.data(), sizeof(r.hdr));
  const size_t body = data.size() - sizeof(sw_record_hdr);
  if (r.hdr.caplen > body) {
    return absl::DataLossError(
        absl::StrCat("record caplen ", r.hdr.caplen, " exceeds its ", body, " body bytes"));
  }
  if (r.hdr.family != 4 && r.hdr.family != 6) {
    return absl::DataLossError(absl::StrCat("record with address family ", r.hdr.family));
  }
  r.src = IpAddress::FromMapped(r.hdr.saddr);
  r.dst = IpAddress::FromMapped(r.hdr.daddr);
  const auto* body_ptr = data.data() + sizeof(sw_record_hdr);
  switch (r.hdr.kind) {
    case SW_REC_SIP:
    case SW_REC_MGCP:
      if (r.hdr.caplen > r.hdr.orig_len) {
        return absl::DataLossError("SIP record caplen exceeds its original length");
      }
      r.payload = std::string_view(reinterpret_cast<const char*>(body_ptr), r.hdr.caplen);
      break;
    case SW_REC_MEDIA:
      if (r.hdr.caplen < sizeof(sw_media_notice)) {
        return absl::DataLossError("media notice record too short");
      }
      std::memcpy(&r.media, body_ptr, sizeof(r.media));
      break;
    default:
      return absl::DataLossError(absl::StrCat("unknown record kind ", r.hdr.kind));
  }
  return r;
}

std::string_view FormatRfc3339View(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t ns = unix_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    --secs;
  }
  // Events come in time order, many per second: the date and time of day
  // are formatted once per second (per thread), the microseconds each time.
  thread_local int64_t cached_secs = std::numeric_limits<int64_t>::min();
  thread_local char text[40];  // "YYYY-MM-DDTHH:MM:SS.uuuuuuZ"
  thread_local size_t prefix = 0;
  if (secs != cached_secs) {
    const time_t t = static_cast<time_t>(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    // Digits written directly (int64 nanoseconds span the years 1677 to
    // 2262): a call record's start is usually in another second than the
    // events around it, so this runs twice a record.
    auto two = [](char* p, int v) {
      p[0] = static_cast<char>('0' + v / 10);
      p[1] = static_cast<char>('0' + v % 10);
    };
    const int year = tm.tm_year + 1900;
    two(text, year / 100);
    two(text + 2, year % 100);
    text[4] = '-';
    two(text + 5, tm.tm_mon + 1);
    text[7] = '-';
    two(text + 8, tm.tm_mday);
    text[10] = 'T';
    two(text + 11, tm.tm_hour);
    text[13] = ':';
    two(text + 14, tm.tm_min);
    text[16] = ':';
    two(text + 17, tm.tm_sec);
    text[19] = '.';
    prefix = 20;
    cached_secs = secs;
  }
  char* us = text + prefix;
  for (int i = 5, v = static_cast<int>(ns / 1000); i >= 0; --i, v /= 10) us[i] = '0' + v % 10;
  us[6] = 'Z';
  return std::string_view(text, prefix + 7);
}

std::string FormatRfc3339(int64_t unix_ns) { return std::string(FormatRfc3339View(unix_ns)); }

std::string RecordToJson(const Record& r, int64_t boot_to_unix_ns) {
  JsonWriter w;
  const bool media = r.hdr.kind == SW_REC_MEDIA;
  w.BeginObject();
  w.Field("type", media ? "media_notice" : r.hdr.kind == SW_REC_MGCP ? "mgcp_record" : "sip_record");
  w.Field("ts", FormatRfc3339View(static_cast<int64_t>(r.hdr.ts_ns) + boot_to_unix_ns));
  w.Field("ifindex", r.hdr.ifindex);
  w.Field("src_ip", r.src.ToString());
  w.Field("src_port", static_cast<uint32_t>(r.hdr.sport));
  w.Field("dst_ip", r.dst.ToString());
  w.Field("dst_port", static_cast<uint32_t>(r.hdr.dport));
  w.Field("transport", r.hdr.transport == SW_TRANSPORT_TCP ? "tcp" : "udp");
  if (r.hdr.flags & SW_RECF_VLAN) w.Field("vlan", static_cast<uint32_t>(r.hdr.vlan_id));
  if (media) {
    w.Field("dialog_id", static_cast<uint64_t>(r.media.dialog_id));
    w.Field("packets", static_cast<uint64_t>(r.media.packets));
    if (r.media.is_rtp) {
      w.Field("ssrc", r.media.ssrc);
      w.Field("seq", static_cast<uint32_t>(r.media.seq));
      w.Field("payload_type", static_cast<uint32_t>(r.media.payload_type));
    }
    w.Field("reason", "watched_media");
  } else {
    w.Field("class", ClassName(r.hdr.msg_class));
    if (r.hdr.status) w.Field("status", static_cast<uint32_t>(r.hdr.status));
    w.Field("verdict", VerdictName(r.hdr.verdict));
    w.Field("orig_len", r.hdr.orig_len);
    w.Field("caplen", static_cast<uint32_t>(r.hdr.caplen));
    if (r.hdr.flags & SW_RECF_TRUNCATED) w.Field("truncated", true);
    if (r.hdr.flags & SW_RECF_FRAGMENT) w.Field("fragment", true);
    if (r.hdr.flags & SW_RECF_LONG_LINE) w.Field("long_line", true);
    if (r.hdr.transport == SW_TRANSPORT_TCP) {
      w.Field("tcp_seq", r.hdr.tcp_seq);
      std::string tcp_flags;
      if (r.hdr.flags & SW_RECF_TCP_SYN) tcp_flags += 'S';
      if (r.hdr.flags & SW_RECF_TCP_FIN) tcp_flags += 'F';
      if (r.hdr.flags & SW_RECF_TCP_RST) tcp_flags += 'R';
      if (!tcp_flags.empty()) w.Field("tcp_flags", tcp_flags);
      if (r.hdr.flags & SW_RECF_TCP_MIDSTREAM) w.Field("midstream", true);
      if (r.hdr.flags & SW_RECF_OVER_RATE) w.Field("over_rate", true);
    }
    const auto eol = r.payload.find("\r\n");
    w.Field("first_line", r.payload.substr(0, eol == std::string_view::npos ? 200 : eol));
    w.Field("payload", r.payload);
  }
  w.EndObject();
  return w.Take();
}

}  // namespace sw
