// SPDX-License-Identifier: BSD-2-Clause
// Who is calling the controller, and what they may do.
//
// With TLS (--tls-ca): the client's certificate, verified against the CA.
// Its common name is the caller's name; its organisational unit the role:
// "agent" (register, report, watch decisions: nothing of OperatorService)
// or "operator" (everything). No certificate, one the CA did not sign, or
// one without a valid name or role: UNAUTHENTICATED.
//
// Without TLS (loopback, or --insecure): the name the client sends in its
// "sw-name" metadata, with the operator role (whoever reaches a loopback
// port is trusted as the host's administrator).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class ServerContext;
}

namespace sw::controller {

// kReadOnly: the HTTP API's read-only tokens (may look, not change).
enum class Role { kAgent, kOperator, kReadOnly };

struct Peer {
  std::string name;
  Role role = Role::kOperator;
};

class Authenticator {
 public:
  // Metadata names, operator role (no TLS).
  static std::unique_ptr<Authenticator> Plain();
  // Certificates verified against the CA bundle (PEM).
  static absl::StatusOr<std::unique_ptr<Authenticator>> WithCa(const std::string& ca_pem);
  ~Authenticator();

  absl::StatusOr<Peer> Identify(const grpc::ServerContext* ctx);
  // The same for one PEM certificate (tests, and Identify's core).
  absl::StatusOr<Peer> FromCertificate(const std::string& pem);

 private:
  Authenticator() = default;
  struct Store;
  std::unique_ptr<Store> store_;  // null: plain
  std::mutex mu_;
  std::map<std::string, Peer> verified_;  // certificate PEM -> peer (bounded)
};

}  // namespace sw::controller
