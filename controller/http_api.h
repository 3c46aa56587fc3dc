// SPDX-License-Identifier: BSD-2-Clause
// The controller's HTTP side (docs/api.md): the operator's console (static
// files built in), the JSON API under /api/v1/, the live event stream
// (server-sent events) and Prometheus metrics, served by cpp-httplib on a
// port of its own. Who may do what follows the gRPC port: operator
// certificates (over TLS) and operator tokens may change state, read-only
// tokens may only look.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "auth.h"

namespace sw::controller {

class Controller;

// A bearer token's holder.
struct HttpToken {
  std::string name;
  Role role = Role::kReadOnly;
};

// Parses a tokens file: lines "ROLE NAME TOKEN" (ROLE operator or
// read-only; NAME as agent names; TOKEN 16..256 of [A-Za-z0-9._~+/=-]), "#"
// comments and blank lines. Keys are the tokens' SHA-256 (hex), so the
// tokens themselves are not kept. Errors name the line (never the token).
absl::StatusOr<std::map<std::string, HttpToken>> ParseHttpTokens(std::string_view text);
// SHA-256 of a token, hex.
std::string TokenDigest(std::string_view token);

// A time in a query: Unix seconds, RFC 3339, or a duration back from now
// ("90s", "15m", "1h", "7d"). Returns Unix nanoseconds.
absl::StatusOr<int64_t> ParseSince(std::string_view text, int64_t now_unix_ns);

class HttpApi {
 public:
  // Binds options().http_listen and starts serving on a thread of its own.
  static absl::StatusOr<std::unique_ptr<HttpApi>> Start(Controller* c);
  ~HttpApi();
  int port() const { return port_; }
  // Stops serving: event streams end, the listening thread is joined.
  void Stop();

 private:
  HttpApi() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace sw::controller
