// SPDX-License-Identifier: BSD-2-Clause
#include "controller_channel.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/pem_file.h"

namespace sw {

absl::StatusOr<std::vector<std::string>> ParseControllerList(std::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(AV(text), ',', absl::SkipEmpty())) {
    const std::string a(part);
    const size_t colon = a.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() ||
        !absl::SimpleAtoi(a.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--controller: '", a, "' is not HOST:PORT (a list: HOST:PORT,HOST:PORT)"));
    }
    out.push_back(a);
  }
  if (out.empty()) return absl::InvalidArgumentError("--controller: no address");
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ControllerCredentials(const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  if (tls.ca.empty()) return absl::InvalidArgumentError("TLS needs --tls-ca");
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  auto ca = ReadPemFile(tls.ca, "CA bundle (--tls-ca)");
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = *ca;
  // Without a certificate the controller is verified but the client is
  // anonymous (the controller refuses it: useful to check that it does).
  if (!tls.cert.empty()) {
    auto cert = ReadPemFile(tls.cert, "certificate (--tls-cert)");
    if (!cert.ok()) return cert.status();
    auto key = ReadPemFile(tls.key, "key (--tls-key)");
    if (!key.ok()) return key.status();
    o.pem_private_key = *key;
    o.pem_cert_chain = *cert;
  }
  return grpc::SslCredentials(o);
}

}  // namespace sw
