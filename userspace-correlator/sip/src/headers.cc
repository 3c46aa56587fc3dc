// SPDX-License-Identifier: BSD-2-Clause
// The header name table: long names, compact forms, list-ness.
#include <array>
#include <cstdint>
#include <cstring>

#include "scan.h"
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/text.h"

namespace sw::sip {
namespace {

struct HeaderInfo {
  HeaderId id;
  std::string_view name;
  char compact;  // 0 if none
  bool list;
};

// In alphabetical order (kIndexes finds them by first letter and size).
constexpr HeaderInfo kHeaders[] = {
    {HeaderId::kAccept, "Accept", 0, true},
    {HeaderId::kAcceptContact, "Accept-Contact", 'a', true},
    {HeaderId::kAcceptEncoding, "Accept-Encoding", 0, true},
    {HeaderId::kAcceptLanguage, "Accept-Language", 0, true},
    {HeaderId::kAlertInfo, "Alert-Info", 0, true},
    {HeaderId::kAllow, "Allow", 0, true},
    {HeaderId::kAllowEvents, "Allow-Events", 'u', true},
    {HeaderId::kAuthorization, "Authorization", 0, false},
    {HeaderId::kCallId, "Call-ID", 'i', false},
    {HeaderId::kCallInfo, "Call-Info", 0, true},
    {HeaderId::kContact, "Contact", 'm', true},
    {HeaderId::kContentDisposition, "Content-Disposition", 0, false},
    {HeaderId::kContentEncoding, "Content-Encoding", 'e', true},
    {HeaderId::kContentLanguage, "Content-Language", 0, true},
    {HeaderId::kContentLength, "Content-Length", 'l', false},
    {HeaderId::kContentType, "Content-Type", 'c', false},
    {HeaderId::kCSeq, "CSeq", 0, false},
    {HeaderId::kDate, "Date", 0, false},
    {HeaderId::kErrorInfo, "Error-Info", 0, true},
    {HeaderId::kEvent, "Event", 'o', false},
    {HeaderId::kExpires, "Expires", 0, false},
    {HeaderId::kFrom, "From", 'f', false},
    {HeaderId::kIdentity, "Identity", 'y', false},
    {HeaderId::kIdentityInfo, "Identity-Info", 'n', false},
    {HeaderId::kInReplyTo, "In-Reply-To", 0, true},
    {HeaderId::kMaxForwards, "Max-Forwards", 0, false},
    {HeaderId::kMimeVersion, "MIME-Version", 0, false},
    {HeaderId::kMinExpires, "Min-Expires", 0, false},
    {HeaderId::kOrganization, "Organization", 0, false},
    {HeaderId::kPAssertedIdentity, "P-Asserted-Identity", 0, true},
    {HeaderId::kPPreferredIdentity, "P-Preferred-Identity", 0, true},
    {HeaderId::kPath, "Path", 0, true},
    {HeaderId::kPriority, "Priority", 0, false},
    {HeaderId::kPrivacy, "Privacy", 0, false},
    {HeaderId::kProxyAuthenticate, "Proxy-Authenticate", 0, false},
    {HeaderId::kProxyAuthorization, "Proxy-Authorization", 0, false},
    {HeaderId::kProxyRequire, "Proxy-Require", 0, true},
    {HeaderId::kRAck, "RAck", 0, false},
    {HeaderId::kReason, "Reason", 0, true},
    {HeaderId::kRecordRoute, "Record-Route", 0, true},
    {HeaderId::kReferTo, "Refer-To", 'r', false},
    {HeaderId::kReferredBy, "Referred-By", 'b', false},
    {HeaderId::kRejectContact, "Reject-Contact", 'j', true},
    {HeaderId::kReplaces, "Replaces", 0, false},
    {HeaderId::kReplyTo, "Reply-To", 0, false},
    {HeaderId::kRequestDisposition, "Request-Disposition", 'd', true},
    {HeaderId::kRequire, "Require", 0, true},
    {HeaderId::kRetryAfter, "Retry-After", 0, false},
    {HeaderId::kRoute, "Route", 0, true},
    {HeaderId::kRSeq, "RSeq", 0, false},
    {HeaderId::kServer, "Server", 0, false},
    {HeaderId::kSessionExpires, "Session-Expires", 'x', false},
    {HeaderId::kSubject, "Subject", 's', false},
    {HeaderId::kSubscriptionState, "Subscription-State", 0, false},
    {HeaderId::kSupported, "Supported", 'k', true},
    {HeaderId::kTimestamp, "Timestamp", 0, false},
    {HeaderId::kTo, "To", 't', false},
    {HeaderId::kUnsupported, "Unsupported", 0, true},
    {HeaderId::kUserAgent, "User-Agent", 0, false},
    {HeaderId::kVia, "Via", 'v', true},
    {HeaderId::kWarning, "Warning", 0, true},
    {HeaderId::kWwwAuthenticate, "WWW-Authenticate", 0, false},
};
constexpr size_t kNumHeaders = sizeof(kHeaders) / sizeof(kHeaders[0]);

constexpr size_t kMaxNameSize = 20;  // "P-Preferred-Identity"

// A long name as the lookup compares it, a word at a time: octet k of a
// name matches when (octet | fold[k]) == lower[k], fold[k] being 0x20 where
// the name has a letter (either case matches) and 0 elsewhere (only that
// octet matches).
struct NameKey {
  char lower[kMaxNameSize] = {};
  char fold[kMaxNameSize] = {};
  HeaderId id = HeaderId::kOther;
};

// The long names by (first letter, size): a name is compared only with the
// one or few known names of its size that start like it (at most three:
// Refer-To, Replaces, Reply-To).
struct Indexes {
  // bucket[b] .. bucket[b + 1] in by_bucket, b = letter * (kMaxNameSize + 1) + size.
  uint8_t bucket[26 * (kMaxNameSize + 1) + 1];
  NameKey by_bucket[kNumHeaders];
  HeaderId compact[26];                                               // per letter a..z
  std::array<uint8_t, static_cast<size_t>(HeaderId::kCount)> by_id;  // into kHeaders
};

constexpr size_t BucketOf(char first, size_t size) {
  return static_cast<size_t>(internal::ToLower(first) - 'a') * (kMaxNameSize + 1) + size;
}

constexpr Indexes MakeIndexes() {
  Indexes x{};
  for (int l = 0; l < 26; ++l) x.compact[l] = HeaderId::kOther;
  for (size_t k = 0; k < x.by_id.size(); ++k) x.by_id[k] = static_cast<uint8_t>(kNumHeaders);
  // Counting sort of kHeaders by bucket.
  uint8_t count[26 * (kMaxNameSize + 1)] = {};
  for (const HeaderInfo& h : kHeaders) ++count[BucketOf(h.name[0], h.name.size())];
  uint8_t n = 0;
  for (size_t b = 0; b < 26 * (kMaxNameSize + 1); ++b) {
    x.bucket[b] = n;
    n = static_cast<uint8_t>(n + count[b]);
  }
  x.bucket[26 * (kMaxNameSize + 1)] = n;
  uint8_t fill[26 * (kMaxNameSize + 1)] = {};
  for (size_t k = 0; k < kNumHeaders; ++k) {
    const std::string_view name = kHeaders[k].name;
    const size_t b = BucketOf(name[0], name.size());
    NameKey& key = x.by_bucket[x.bucket[b] + fill[b]++];
    for (size_t i = 0; i < name.size(); ++i) {
      key.lower[i] = internal::ToLower(name[i]);
      key.fold[i] = key.lower[i] >= 'a' && key.lower[i] <= 'z' ? 0x20 : 0;
    }
    key.id = kHeaders[k].id;
    if (kHeaders[k].compact != 0) x.compact[kHeaders[k].compact - 'a'] = kHeaders[k].id;
    x.by_id[static_cast<size_t>(kHeaders[k].id)] = static_cast<uint8_t>(k);
  }
  return x;
}
constexpr Indexes kIndexes = MakeIndexes();

constexpr bool NamesFitTheIndex() {
  for (const HeaderInfo& h : kHeaders) {
    const char c = internal::ToLower(h.name[0]);
    if (c < 'a' || c > 'z' || h.name.size() < 2 || h.name.size() > kMaxNameSize) return false;
  }
  return true;
}
static_assert(NamesFitTheIndex());

template <typename Word>
bool WordMatches(const char* name, const NameKey& key, size_t at) {
  Word n;
  Word fold;
  Word lower;
  std::memcpy(&n, name + at, sizeof(Word));
  std::memcpy(&fold, key.fold + at, sizeof(Word));
  std::memcpy(&lower, key.lower + at, sizeof(Word));
  return static_cast<Word>(n | fold) == lower;
}

// name (its size that of the key's name, 2 to kMaxNameSize) matches the key:
// compared in words, the last one overlapping the one before rather than
// an octet at a time.
bool Matches(std::string_view name, const NameKey& key) {
  const char* p = name.data();
  const size_t n = name.size();
  if (n >= 8) {
    for (size_t at = 0; at + 8 < n; at += 8) {
      if (!WordMatches<uint64_t>(p, key, at)) return false;
    }
    return WordMatches<uint64_t>(p, key, n - 8);
  }
  if (n >= 4) return WordMatches<uint32_t>(p, key, 0) && WordMatches<uint32_t>(p, key, n - 4);
  return WordMatches<uint16_t>(p, key, 0) && WordMatches<uint16_t>(p, key, n - 2);
}

}  // namespace

HeaderId HeaderIdFromName(std::string_view name) {
  if (name.empty()) return HeaderId::kOther;
  const char c = internal::ToLower(name[0]);
  if (c < 'a' || c > 'z') return HeaderId::kOther;
  if (name.size() == 1) return kIndexes.compact[c - 'a'];
  if (name.size() > kMaxNameSize) return HeaderId::kOther;
  const size_t b = BucketOf(c, name.size());
  for (size_t k = kIndexes.bucket[b]; k < kIndexes.bucket[b + 1]; ++k) {
    if (Matches(name, kIndexes.by_bucket[k])) return kIndexes.by_bucket[k].id;
  }
  return HeaderId::kOther;
}

std::string_view HeaderName(HeaderId id) {
  const size_t k = static_cast<size_t>(id);
  if (k >= kIndexes.by_id.size() || kIndexes.by_id[k] >= kNumHeaders) return "";
  return kHeaders[kIndexes.by_id[k]].name;
}

bool IsListHeader(HeaderId id) {
  const size_t k = static_cast<size_t>(id);
  if (k >= kIndexes.by_id.size() || kIndexes.by_id[k] >= kNumHeaders) return false;
  return kHeaders[kIndexes.by_id[k]].list;
}

Method MethodFromString(std::string_view s) {
  switch (s.size()) {
    case 3:
      if (s == "ACK") return Method::kAck;
      if (s == "BYE") return Method::kBye;
      break;
    case 4:
      if (s == "INFO") return Method::kInfo;
      break;
    case 5:
      if (s == "PRACK") return Method::kPrack;
      if (s == "REFER") return Method::kRefer;
      break;
    case 6:
      if (s == "INVITE") return Method::kInvite;
      if (s == "CANCEL") return Method::kCancel;
      if (s == "NOTIFY") return Method::kNotify;
      if (s == "UPDATE") return Method::kUpdate;
      break;
    case 7:
      if (s == "OPTIONS") return Method::kOptions;
      if (s == "MESSAGE") return Method::kMessage;
      if (s == "PUBLISH") return Method::kPublish;
      break;
    case 8:
      if (s == "REGISTER") return Method::kRegister;
      break;
    case 9:
      if (s == "SUBSCRIBE") return Method::kSubscribe;
      break;
    default:
      break;
  }
  return Method::kUnknown;
}

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kUnknown:
      return "";
    case Method::kInvite:
      return "INVITE";
    case Method::kAck:
      return "ACK";
    case Method::kBye:
      return "BYE";
    case Method::kCancel:
      return "CANCEL";
    case Method::kRegister:
      return "REGISTER";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kInfo:
      return "INFO";
    case Method::kPrack:
      return "PRACK";
    case Method::kSubscribe:
      return "SUBSCRIBE";
    case Method::kNotify:
      return "NOTIFY";
    case Method::kUpdate:
      return "UPDATE";
    case Method::kMessage:
      return "MESSAGE";
    case Method::kRefer:
      return "REFER";
    case Method::kPublish:
      return "PUBLISH";
  }
  return "";
}

std::string_view WarningName(SipWarning w) {
  switch (w) {
    case SipWarning::kNonCrlfLineEnd:
      return "non_crlf_line_end";
    case SipWarning::kNoHeaderTerminator:
      return "no_header_terminator";
    case SipWarning::kTrailingBytes:
      return "trailing_bytes";
    case SipWarning::kNoContentLength:
      return "no_content_length";
    case SipWarning::kLeadingCrlf:
      return "leading_crlf";
    case SipWarning::kViaBranchMissing:
      return "via_branch_missing";
    case SipWarning::kViaBranchNotRfc3261:
      return "via_branch_not_rfc3261";
    case SipWarning::kBroadcastVia:
      return "broadcast_via";
    case SipWarning::kMaxForwardsZero:
      return "max_forwards_zero";
    case SipWarning::kUnknownUriScheme:
      return "unknown_uri_scheme";
    case SipWarning::kUriHeadersInContact:
      return "uri_headers_in_contact";
    case SipWarning::kBadDate:
      return "bad_date";
    case SipWarning::kInvalidIpv6Reference:
      return "invalid_ipv6_reference";
    case SipWarning::kBracketedReceived:
      return "bracketed_received";
    case SipWarning::kValueOutOfRange:
      return "value_out_of_range";
    case SipWarning::kBadAuthorization:
      return "bad_authorization";
    case SipWarning::kNulByte:
      return "nul_byte";
    case SipWarning::kNonTokenDisplayName:
      return "non_token_display_name";
    case SipWarning::kUnbracketedIpv6Host:
      return "unbracketed_ipv6_host";
    case SipWarning::kNonTokenTag:
      return "non_token_tag";
  }
  return "unknown";
}

}  // namespace sw::sip
