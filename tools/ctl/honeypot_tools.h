// SPDX-License-Identifier: BSD-2-Clause
// sipwardenctl's honeypot verbs that need neither maps nor a controller:
// `honeypot publish` (publish.h) and `honeypot deflection` (deflection.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sw::ctl {

// True for "honeypot publish ..." and "honeypot deflection ...".
bool IsHoneypotToolVerb(const std::vector<std::string>& args);
absl::Status HoneypotTool(const std::vector<std::string>& args);

}  // namespace sw::ctl
