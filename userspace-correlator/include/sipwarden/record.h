// SPDX-License-Identifier: BSD-2-Clause
// Decoding of the kernel's ring-buffer records (bpf/sipwarden.h) into C++
// values, and their names and JSON form. Pure: no BPF, no sockets, no clocks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sipwarden.h"
#include "sipwarden/ip.h"

namespace sw {

// Name of a message class ("INVITE", "2xx", ...), "none" for SW_CLASS_NONE.
std::string_view ClassName(uint32_t cls);
// Name of a verdict ("pass", "drop_blocked", ...).
std::string_view VerdictName(uint32_t verdict);
// Name of a block reason ("manual", "flood", ...), and back.
std::string_view ReasonName(uint32_t reason);
absl::StatusOr<uint32_t> ReasonFromName(std::string_view name);

// A decoded record. payload points into the buffer handed to DecodeRecord.
struct Record {
  sw_record_hdr hdr{};
  IpAddress src;
  IpAddress dst;
  std::string_view payload;  // SIP bytes for SW_REC_SIP
  sw_media_notice media{};   // for SW_REC_MEDIA
};

// Checks kind, lengths and sizes; never reads past data.
absl::StatusOr<Record> DecodeRecord(std::span<const uint8_t> data);

// RFC 3339 UTC with microseconds, e.g. 2026-11-25T09:21:22.123456Z.
std::string FormatRfc3339(int64_t unix_ns);
// The same text in a per-thread buffer, valid until the thread's next call:
// for writers that copy it at once (no allocation per event).
std::string_view FormatRfc3339View(int64_t unix_ns);

// One JSON line (no newline) describing a record. boot_to_unix_ns converts the
// record's CLOCK_BOOTTIME stamp to Unix time.
std::string RecordToJson(const Record& r, int64_t boot_to_unix_ns);

}  // namespace sw
