// SPDX-License-Identifier: BSD-2-Clause
#include "pcap_source.h"

#include <pcap/pcap.h>

#include "absl/strings/str_cat.h"

namespace sw {

absl::StatusOr<std::unique_ptr<PcapSource>> PcapSource::Open(const std::string& path) {
  auto s = std::unique_ptr<PcapSource>(new PcapSource());
  s->path_ = path;
  char err[PCAP_ERRBUF_SIZE] = {0};
  // Ask for nanosecond stamps; libpcap scales microsecond files up.
  s->pcap_ = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!s->pcap_) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read capture ", path, ": ", err));
  }
  s->nano_ = pcap_get_tstamp_precision(s->pcap_) == PCAP_TSTAMP_PRECISION_NANO;
  s->dlt_ = pcap_datalink(s->pcap_);
  if (!net::LinkTypeFromDlt(s->dlt_, &s->link_)) {
    return absl::UnimplementedError(absl::StrCat(path, ": unsupported link type ", s->dlt_, " (",
                                                 pcap_datalink_val_to_name(s->dlt_) ?: "?", ")"));
  }
  return s;
}

PcapSource::~PcapSource() {
  if (pcap_) pcap_close(pcap_);
}

absl::StatusOr<bool> PcapSource::Next(CapturedFrame* f) {
  struct pcap_pkthdr* h;
  const u_char* data;
  const int rc = pcap_next_ex(pcap_, &h, &data);
  if (rc == PCAP_ERROR_BREAK) return false;  // end of file
  if (rc != 1) {
    return absl::DataLossError(absl::StrCat(path_, ": packet ", count_ + 1, ": ",
                                            rc == PCAP_ERROR ? pcap_geterr(pcap_) : "read error"));
  }
  ++count_;
  f->number = count_;
  f->ts_ns = static_cast<int64_t>(h->ts.tv_sec) * 1000000000 +
             static_cast<int64_t>(h->ts.tv_usec) * (nano_ ? 1 : 1000);
  f->orig_len = h->len;
  f->data = std::span<const uint8_t>(data, h->caplen);
  return true;
}

}  // namespace sw
