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
  // alarms
  bool follow = false;
  std::string category, src;
  absl::Duration since = absl::ZeroDuration();  // 0 = all kept
  int limit = 100;
};

// block add|del|list, allow add|del|list, agents, alarms, stats.
absl::Status FleetDispatch(const std::vector<std::string>& args, const FleetOptions& o);

}  // namespace sw::ctl
