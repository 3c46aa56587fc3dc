// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/result.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"

namespace sw::sip {

ReasonCategory CategoryOf(Reason r) {
  switch (r) {
    case Reason::kOk:
      return ReasonCategory::kNone;
    case Reason::kMessageTooLarge:
    case Reason::kHeaderTooLong:
    case Reason::kTooManyHeaders:
    case Reason::kTooManyVias:
    case Reason::kTooManyValues:
    case Reason::kTooManyParams:
    case Reason::kTooManyLines:
    case Reason::kTooManyMedia:
    case Reason::kTooManyPackets:
      return ReasonCategory::kLimit;
    case Reason::kEmpty:
    case Reason::kIncomplete:
    case Reason::kTruncated:
      return ReasonCategory::kIncomplete;
    case Reason::kValueOutOfRange:
      return ReasonCategory::kRange;
    case Reason::kBadVersion:
      return ReasonCategory::kVersion;
    case Reason::kBadContentLength:
    case Reason::kMultipleContentLength:
    case Reason::kContentLengthMismatch:
    case Reason::kMissingContentLength:
    case Reason::kBadLength:
      return ReasonCategory::kFraming;
    case Reason::kMissingHeader:
    case Reason::kDuplicateHeader:
    case Reason::kCSeqMethodMismatch:
    case Reason::kMissingSdpField:
      return ReasonCategory::kSemantic;
    default:
      return ReasonCategory::kSyntax;
  }
}

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kOk:
      return "ok";
    case Reason::kMessageTooLarge:
      return "message_too_large";
    case Reason::kHeaderTooLong:
      return "header_too_long";
    case Reason::kTooManyHeaders:
      return "too_many_headers";
    case Reason::kTooManyVias:
      return "too_many_vias";
    case Reason::kTooManyValues:
      return "too_many_values";
    case Reason::kTooManyParams:
      return "too_many_params";
    case Reason::kTooManyLines:
      return "too_many_lines";
    case Reason::kTooManyMedia:
      return "too_many_media";
    case Reason::kTooManyPackets:
      return "too_many_packets";
    case Reason::kEmpty:
      return "empty";
    case Reason::kIncomplete:
      return "incomplete";
    case Reason::kTruncated:
      return "truncated";
    case Reason::kBadStartLine:
      return "bad_start_line";
    case Reason::kBadMethod:
      return "bad_method";
    case Reason::kBadRequestUri:
      return "bad_request_uri";
    case Reason::kBadStatusLine:
      return "bad_status_line";
    case Reason::kBadHeaderName:
      return "bad_header_name";
    case Reason::kBadHeaderLine:
      return "bad_header_line";
    case Reason::kUnterminatedQuote:
      return "unterminated_quote";
    case Reason::kBadUri:
      return "bad_uri";
    case Reason::kBadNameAddr:
      return "bad_name_addr";
    case Reason::kBadParam:
      return "bad_param";
    case Reason::kBadVia:
      return "bad_via";
    case Reason::kBadCSeq:
      return "bad_cseq";
    case Reason::kBadCallId:
      return "bad_call_id";
    case Reason::kBadMaxForwards:
      return "bad_max_forwards";
    case Reason::kBadHeaderValue:
      return "bad_header_value";
    case Reason::kBadSdpLine:
      return "bad_sdp_line";
    case Reason::kBadSdpOrigin:
      return "bad_sdp_origin";
    case Reason::kBadSdpConnection:
      return "bad_sdp_connection";
    case Reason::kBadSdpMedia:
      return "bad_sdp_media";
    case Reason::kBadSdpAttribute:
      return "bad_sdp_attribute";
    case Reason::kBadMgcpLine:
      return "bad_mgcp_line";
    case Reason::kBadMgcpVerb:
      return "bad_mgcp_verb";
    case Reason::kBadMgcpTransactionId:
      return "bad_mgcp_transaction_id";
    case Reason::kBadMgcpEndpoint:
      return "bad_mgcp_endpoint";
    case Reason::kBadMgcpParam:
      return "bad_mgcp_param";
    case Reason::kBadRtpHeader:
      return "bad_rtp_header";
    case Reason::kBadRtcpHeader:
      return "bad_rtcp_header";
    case Reason::kValueOutOfRange:
      return "value_out_of_range";
    case Reason::kBadVersion:
      return "bad_version";
    case Reason::kBadContentLength:
      return "bad_content_length";
    case Reason::kMultipleContentLength:
      return "multiple_content_length";
    case Reason::kContentLengthMismatch:
      return "content_length_mismatch";
    case Reason::kMissingContentLength:
      return "missing_content_length";
    case Reason::kBadLength:
      return "bad_length";
    case Reason::kMissingHeader:
      return "missing_header";
    case Reason::kDuplicateHeader:
      return "duplicate_header";
    case Reason::kCSeqMethodMismatch:
      return "cseq_method_mismatch";
    case Reason::kMissingSdpField:
      return "missing_sdp_field";
  }
  return "unknown";
}

std::string_view CategoryName(ReasonCategory c) {
  switch (c) {
    case ReasonCategory::kNone:
      return "none";
    case ReasonCategory::kLimit:
      return "limit";
    case ReasonCategory::kIncomplete:
      return "incomplete";
    case ReasonCategory::kSyntax:
      return "syntax";
    case ReasonCategory::kRange:
      return "range";
    case ReasonCategory::kVersion:
      return "version";
    case ReasonCategory::kFraming:
      return "framing";
    case ReasonCategory::kSemantic:
      return "semantic";
  }
  return "unknown";
}

std::string ParseError::ToString() const {
  if (what.empty()) return absl::StrCat(AV(ReasonName(reason)), " at byte ", offset);
  return absl::StrCat(AV(ReasonName(reason)), " (", AV(what), ") at byte ", offset);
}

absl::Status ParseError::ToStatus() const {
  switch (category()) {
    case ReasonCategory::kNone:
      return absl::OkStatus();
    case ReasonCategory::kLimit:
      return absl::ResourceExhaustedError(ToString());
    case ReasonCategory::kIncomplete:
      return absl::OutOfRangeError(ToString());
    default:
      return absl::InvalidArgumentError(ToString());
  }
}

namespace internal {
void DieOnBadAccess(const ParseError& e) {
  std::fprintf(stderr, "sw::sip::ParseResult: value() of a failed parse: %s\n",
               e.ToString().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace sw::sip
