// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's users: the file `sipwarden-honeypot --users FILE` reads and
// `sipwardenctl honeypot publish` writes, and the deflector names it makes up.
//
// The file has one user per line, "USER ROLE", fields separated by spaces or
// tabs; '#' starts a comment (it cannot occur in a user part), blank lines
// are ignored:
//
//   # USER ROLE
//   alice.kowalski   deflector
//   do-not-call-4711 deflector
//   voicemail        voicemail
//   gw-pstn          gateway
//
// USER is a SIP user part (RFC 3261 `user`: letters, digits,
// - _ . ! ~ * ' ( ) & = + $ , ; ? / and %XX escapes), at most kMaxUserLength
// bytes, each user once (compared with %XX escapes decoded). ROLE is one of:
//   deflector  a fake person: rings about 3 s, answers, plays a voicemail
//              greeting and records what the caller says;
//   voicemail  answers at once, plays the greeting, records;
//   gateway    an emulated PSTN gateway: a "temporarily unavailable"
//              announcement as early media, then 503.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sw::honeypot {

enum class Role { kDeflector, kVoicemail, kGateway };

struct User {
  std::string user;  // the SIP user part, as written in the file
  Role role = Role::kDeflector;

  friend bool operator==(const User&, const User&) = default;
};

// Longest user part accepted (bytes).
inline constexpr size_t kMaxUserLength = 128;

// The two service users every published registration list carries.
inline constexpr std::string_view kVoicemailUser = "voicemail";
inline constexpr std::string_view kGatewayUser = "gw-pstn";

// "deflector", "voicemail", "gateway".
std::string_view RoleName(Role role);
// The inverse of RoleName (exact, lower case); nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);

// OK when `user` is a SIP user part this file accepts; otherwise why not
// (without a FILE:LINE prefix), e.g. "'@' (byte 6) is not allowed in a SIP
// user part".
absl::Status CheckUserPart(std::string_view user);

// Parses a users file's text. `name` is the file name used in errors, which
// read "NAME:LINE: message" (the first error found).
absl::StatusOr<std::vector<User>> ParseUsers(std::string_view text, std::string_view name);
// Reads and parses the file at `path`.
absl::StatusOr<std::vector<User>> LoadUsers(const std::string& path);

// The file text for `users` (a comment header, then one aligned line per
// user, in the given order). ParseUsers(FormatUsers(u), ...) == u.
std::string FormatUsers(const std::vector<User>& users);

// `count` deflector users with made-up names, the same for the same seed:
// about 90% look like people (first.last, flast, first_last with digits,
// ...) drawn from built-in name lists, about 10% are names a human sees are
// not real (do-not-call-NNNN, honeypot-trap-NNN, not.a.real.person.NNN, ...).
// All distinct, never a service user's name. Supported up to
// kMaxGeneratedUsers.
inline constexpr size_t kMaxGeneratedUsers = 1000000;
std::vector<User> GenerateDeflectors(size_t count, uint64_t seed);

// True for the names GenerateDeflectors uses for its obvious traps.
bool IsObviousTrapName(std::string_view user);

// `users` plus the service users (voicemail/voicemail, gw-pstn/gateway) that
// are not in it yet, appended at the end.
std::vector<User> WithServiceUsers(std::vector<User> users);

}  // namespace sw::honeypot
