// SPDX-License-Identifier: BSD-2-Clause
// Reads pcap and pcapng capture files (libpcap) frame by frame for offline
// analysis. A corrupt or truncated file ends with an error that names the
// packet number; every frame before it has been delivered.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "sipwarden/net/decoder.h"

typedef struct pcap pcap_t;

namespace sw {

struct CapturedFrame {
  int64_t ts_ns = 0;  // Unix time
  uint64_t number = 0;  // 1-based
  uint32_t orig_len = 0;
  std::span<const uint8_t> data;  // valid until the next call to Next
};

class PcapSource {
 public:
  static absl::StatusOr<std::unique_ptr<PcapSource>> Open(const std::string& path);
  ~PcapSource();

  // The next frame: true, false at the end of the file, or an error.
  absl::StatusOr<bool> Next(CapturedFrame* frame);
  net::LinkType link_type() const { return link_; }
  int dlt() const { return dlt_; }
  const std::string& path() const { return path_; }

 private:
  PcapSource() = default;
  pcap_t* pcap_ = nullptr;
  std::string path_;
  net::LinkType link_ = net::LinkType::kEthernet;
  int dlt_ = 0;
  uint64_t count_ = 0;
  bool nano_ = false;
};

}  // namespace sw
