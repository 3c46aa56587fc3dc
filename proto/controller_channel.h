// SPDX-License-Identifier: BSD-2-Clause
// How a client of sipwarden-controller (the agent, the honeypot,
// sipwardenctl) reaches it: the --controller address list and the channel
// credentials (insecure, or mTLS from PEM files).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class ChannelCredentials;
}

namespace sw {

// mTLS files of a controller client (agent, honeypot or sipwardenctl): the CA that
// signed the controller's certificate, and the client's certificate and key.
struct TlsFiles {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};
// Insecure credentials without TLS files; else the client's certificate and
// key and the CA that signed the controller's, read now (a precise error
// when a file is missing or not PEM).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ControllerCredentials(const TlsFiles& tls);

// Parses --controller: HOST:PORT[,HOST:PORT...].
absl::StatusOr<std::vector<std::string>> ParseControllerList(std::string_view text);

}  // namespace sw
