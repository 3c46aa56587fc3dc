// SPDX-License-Identifier: BSD-2-Clause
// sipwardenctl --controller: the same verbs, fleet-wide, through the
// controller's OperatorService (proto/sipwarden/v1/operator.proto).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sw::ctl {

struct FleetOptions {
  std::string controller;  // HOST:PORT
  std::string name;        // who the operator is (audit log; with TLS: the certificate's)
  std::string tls_cert, tls_key, tls_ca;
  bool json = false;
  // block add
  absl::Duration ttl = absl::Hours(1);
  std::string reason = "manual";
  // alarms; src, since and limit also honeypot hits and calls
  bool follow = false;
  std::string category, src;
  absl::Duration since = absl::ZeroDuration();  // 0 = all kept
  int limit = 100;
  // honeypot hits|calls|campaigns
  std::string callee, honeypot;
  int min_sources = 1;
};

// block add|del|list, graylist list, allow add|del|list, agents, alarms,
// stats, honeypot hits|calls|campaigns.
absl::Status FleetDispatch(const std::vector<std::string>& args, const FleetOptions& o);

}  // namespace sw::ctl
