// SPDX-License-Identifier: BSD-2-Clause
// `sipwardenctl honeypot publish`: the web page that hands the honeypot's
// deflector users to address harvesters (and tells humans not to call
// them), and the matching users file for `sipwarden-honeypot --users`.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "users.h"

namespace sw::ctl {

// OK for a SIP domain a URI can carry after '@': a host name (labels of
// letters, digits and '-', 1..63 bytes each, not starting or ending with
// '-', 253 bytes at most, the last label not all digits), an IPv4 address,
// or an IPv6 address in brackets. No port, no trailing dot.
absl::Status CheckSipDomain(std::string_view domain);

// Text for HTML element content and double- or single-quoted attribute
// values: & < > " ' escaped.
std::string HtmlEscape(std::string_view text);

// The page: a standalone HTML5 document (UTF-8, no external resources) with
// a visible notice not to call the addresses, and the deflectors of `users`
// as sip:user@domain links whose text is the URI too, in a list that
// browsers keep out of sight (off-screen, 1 px, white on white,
// aria-hidden, not focusable) and that crawlers are asked not to follow
// (rel="nofollow"). Users of other roles are left out.
std::string DeflectorPage(const std::vector<honeypot::User>& users, std::string_view domain);

// Writes `content` to `path` through a temporary file in the same directory
// renamed over it (readers see the old file or the new one, never a part),
// with the given mode.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content,
                                 mode_t mode = 0644);

struct PublishOptions {
  std::string domain;
  // The users to publish; empty: made up (count, seed).
  std::string users_file;
  size_t count = 2000;
  uint64_t seed = 1;
  std::string out;                // the page
  std::string registrations_out;  // empty: out + ".users"
};

struct PublishResult {
  size_t published = 0;   // deflector URIs on the page
  size_t registered = 0;  // users in the registration list
  std::string out;
  std::string registrations_out;
};

// Checks the options, builds the page and the registration list (the users
// plus the service users voicemail and gw-pstn) and writes both.
absl::StatusOr<PublishResult> Publish(const PublishOptions& options);

}  // namespace sw::ctl
