// SPDX-License-Identifier: BSD-2-Clause
// What can still be read from a SIP message the parser refused, for the event
// that reports the refusal (the verdict stays the parser's: nothing here
// accepts a message). The start line and a few headers are each read on
// their own, leniently, and left out when they do not parse.
//
// Bounded: at most limits.max_message_size bytes and limits.max_headers
// header lines are looked at; a header value longer than
// limits.max_header_size, and folded continuation lines, are skipped; every
// part is read with the parser's own limits. One pass over the bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "sipwarden/sip/sip_message.h"

namespace sw::sip {

struct SalvagedSip {
  bool has_start_line = false;  // a request or status line was recognised
  bool is_request = false;
  std::string_view method;       // requests: the first word, if a token
  std::string_view request_uri;  // requests: as written
  std::optional<Uri> uri;        // the Request-URI, when it parses
  int status = 0;                // responses: 100..699
  std::string_view reason_phrase;
  std::string_view call_id;  // the first Call-ID, up to any control character
  std::optional<CSeq> cseq;  // "N METHOD" with N < 2^31
  std::optional<NameAddr> from, to;
  std::optional<Via> top_via;    // the first Via value
  std::string_view user_agent;   // User-Agent
  std::string_view server;       // Server
  std::optional<uint32_t> content_length;
  size_t header_lines = 0;  // header lines looked at
};

// Views point into data: keep it alive as long as the result.
SalvagedSip SalvageSip(std::string_view data, const SipLimits& limits = {});
template <TemporaryString S>
SalvagedSip SalvageSip(S&& data, const SipLimits& limits = {}) = delete;

}  // namespace sw::sip
