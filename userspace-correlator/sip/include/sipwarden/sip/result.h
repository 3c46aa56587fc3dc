// SPDX-License-Identifier: BSD-2-Clause
// The result type shared by every message parser in sw_sip: either the parsed
// value or a ParseError that names the reason. Parsers never throw, never
// abort on input, and never read outside the buffer they were given.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/status/status.h"

namespace sw::sip {

// Broad classes of rejection, for callers that act on the kind of fault
// rather than the exact field (a 400 vs a 505, an attack signature vs noise).
enum class ReasonCategory : uint8_t {
  kNone,        // not an error
  kLimit,       // a configured size or count limit was hit (hostile or huge input)
  kIncomplete,  // not enough bytes: empty input, truncated packet, stream needs more
  kSyntax,      // the grammar does not match
  kRange,       // a well-formed number is out of its allowed range
  kVersion,     // unsupported protocol version
  kFraming,     // the message length cannot be determined or does not fit the bytes
  kSemantic,    // well-formed, but the protocol forbids it (missing, duplicate, mismatch)
};

// Every reason a parser can reject its input for.
enum class Reason : uint8_t {
  kOk = 0,
  // kLimit
  kMessageTooLarge,
  kHeaderTooLong,
  kTooManyHeaders,
  kTooManyVias,
  kTooManyValues,  // list elements (Contact, Route, ...) beyond the limit
  kTooManyParams,
  kTooManyLines,    // SDP / MGCP
  kTooManyMedia,    // SDP m= sections
  kTooManyPackets,  // RTCP compound
  // kIncomplete
  kEmpty,
  kIncomplete,  // stream framing: more bytes are needed
  kTruncated,   // a binary header or a length points beyond the buffer
  // kSyntax
  kBadStartLine,
  kBadMethod,
  kBadRequestUri,
  kBadStatusLine,
  kBadHeaderName,
  kBadHeaderLine,
  kUnterminatedQuote,
  kBadUri,
  kBadNameAddr,
  kBadParam,
  kBadVia,
  kBadCSeq,
  kBadCallId,
  kBadMaxForwards,
  kBadHeaderValue,
  kBadSdpLine,
  kBadSdpOrigin,
  kBadSdpConnection,
  kBadSdpMedia,
  kBadSdpAttribute,
  kBadMgcpLine,
  kBadMgcpVerb,
  kBadMgcpTransactionId,
  kBadMgcpEndpoint,
  kBadMgcpParam,
  kBadRtpHeader,
  kBadRtcpHeader,
  // kRange
  kValueOutOfRange,
  // kVersion
  kBadVersion,
  // kFraming
  kBadContentLength,
  kMultipleContentLength,
  kContentLengthMismatch,  // Content-Length larger than the bytes that follow
  kMissingContentLength,   // stream transports need one
  kBadLength,              // RTP/RTCP length fields that do not add up
  // kSemantic
  kMissingHeader,
  kDuplicateHeader,
  kCSeqMethodMismatch,
  kMissingSdpField,
};

ReasonCategory CategoryOf(Reason r);
// Stable snake_case names, used in events and logs: "bad_request_uri".
std::string_view ReasonName(Reason r);
std::string_view CategoryName(ReasonCategory c);

// Why a parse failed. `what` names the field (a static string such as
// "CSeq"), `offset` is the byte offset in the input where the fault was seen.
struct ParseError {
  Reason reason = Reason::kOk;
  std::string_view what;  // static storage, never points into the input
  size_t offset = 0;

  ReasonCategory category() const { return CategoryOf(reason); }
  // "value_out_of_range (CSeq) at byte 112"
  std::string ToString() const;
  // INVALID_ARGUMENT for syntax/range/semantic/version/framing,
  // RESOURCE_EXHAUSTED for limits, OUT_OF_RANGE for incomplete input.
  absl::Status ToStatus() const;
};

// Parsers return views into their input. Handing one a temporary
// std::string would leave every view dangling, so each parser deletes that
// overload: `ParseSip(MakeString())` does not compile; bind the string to a
// variable that outlives the result.
template <typename S>
concept TemporaryString = std::same_as<S, std::string>;

namespace internal {
[[noreturn]] void DieOnBadAccess(const ParseError& e);
}  // namespace internal

// Either a T or a ParseError. Accessing value() of a failed result is a
// programming error and aborts; check ok() first.
template <typename T>
class [[nodiscard]] ParseResult {
 public:
  ParseResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  ParseResult(ParseError error) : v_(std::in_place_index<1>, error) {}    // NOLINT

  bool ok() const { return v_.index() == 0; }
  Reason reason() const { return ok() ? Reason::kOk : std::get_if<1>(&v_)->reason; }
  // Valid only when !ok().
  const ParseError& error() const {
    static constexpr ParseError kNoError{};
    const ParseError* e = std::get_if<1>(&v_);
    return e != nullptr ? *e : kNoError;
  }
  absl::Status status() const { return ok() ? absl::OkStatus() : error().ToStatus(); }

  const T& value() const& { return *Get(); }
  T& value() & { return *Get(); }
  T&& value() && { return std::move(*Get()); }
  const T& operator*() const& { return *Get(); }
  T& operator*() & { return *Get(); }
  const T* operator->() const { return Get(); }
  T* operator->() { return Get(); }

 private:
  T* Get() {
    T* p = std::get_if<0>(&v_);
    if (p == nullptr) internal::DieOnBadAccess(*std::get_if<1>(&v_));
    return p;
  }
  const T* Get() const {
    const T* p = std::get_if<0>(&v_);
    if (p == nullptr) internal::DieOnBadAccess(*std::get_if<1>(&v_));
    return p;
  }
  std::variant<T, ParseError> v_;
};

}  // namespace sw::sip
