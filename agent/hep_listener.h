// SPDX-License-Identifier: BSD-2-Clause
// A UDP socket receiving HEPv3 mirrors (Kamailio siptrace, heplify) for the
// live agent. Non-blocking: Drain() reads what is queued and hands each
// decoded packet over; undecodable datagrams are counted, never fatal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sipwarden/net/hep.h"

namespace sw {

class HepListener {
 public:
  // listen: "HOST:PORT" or "[IPv6]:PORT" (numeric).
  static absl::StatusOr<std::unique_ptr<HepListener>> Open(const std::string& listen);
  ~HepListener();

  int fd() const { return fd_; }
  // Reads every queued datagram; returns how many were decoded.
  int Drain(const std::function<void(const net::HepPacket&)>& fn);

  uint64_t received() const { return received_; }
  uint64_t bad() const { return bad_; }
  uint16_t port() const { return port_; }

 private:
  HepListener() = default;
  int fd_ = -1;
  uint16_t port_ = 0;
  uint64_t received_ = 0;
  uint64_t bad_ = 0;
};

}  // namespace sw
