// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/numbers.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace sw::profiles {
namespace {

// The two-digit country codes of ITU-T E.164 (every code starting 2..9
// that is not listed here has three digits; 1 and 7 have one).
constexpr int kTwoDigit[] = {20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46,
                             47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63,
                             64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98};

constexpr int kMaxDigits = 32;  // more digits than any dialled number

// Keeps digits in out[0..*n) (at most cap); false when a character other
// than digits and visual separators appears, or there are more digits.
bool Digits(std::string_view s, char* out, int cap, int* n) {
  int k = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      if (k == cap) return false;
      out[k++] = c;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return false;
    }
  }
  *n = k;
  return k > 0;
}

bool Digits(std::string_view s, std::string* out) {
  out->clear();
  for (char c : s) {
    if (c >= '0' && c <= '9') out->push_back(c);
    else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') return false;
  }
  return !out->empty();
}

}  // namespace

int CountryCode(std::string_view d) {
  if (d.empty() || d[0] < '1' || d[0] > '9') return 0;
  if (d[0] == '1' || d[0] == '7') return d[0] - '0';
  if (d.size() < 2) return 0;
  const int two = (d[0] - '0') * 10 + (d[1] - '0');
  for (int c : kTwoDigit) {
    if (c == two) return two;
  }
  if (d.size() < 3) return 0;
  return two * 10 + (d[2] - '0');
}

const std::vector<std::string>& DefaultHighRisk() {
  static const std::vector<std::string> kList = {
      // Global services: Inmarsat, GMSS satellite (Iridium, Thuraya...),
      // international networks, international premium rate.
      "870", "881", "882", "883", "979",
      // Country ranges that published IRSF and PBX-hacking reports keep
      // naming as destinations of fraudulent traffic (small island and
      // high-termination-rate networks).
      "53", "211", "216", "222", "224", "232", "235", "239", "243", "247", "252", "269", "290",
      "371", "375", "500", "674", "675", "676", "677", "678", "682", "683", "685", "686",
      "688", "690", "691", "692", "960",
      // National premium-rate ranges of the largest markets in E.164 form.
      "1900", "1976", "449", "4470", "49900", "49137", "3389", "39899", "3480", "31900", "31906",
      "31909", "4390", "4190"};
  return kList;
}

absl::Status NumberPlan::SetHighRisk(const std::vector<std::string>& prefixes) {
  prefixes_.clear();
  std::fill(short_.begin(), short_.end(), 0);
  max_len_ = 0;
  std::string d;
  for (const std::string& p : prefixes) {
    std::string_view s = p;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (!Digits(s, &d) || d.size() > 15 || d[0] == '0')
      return absl::InvalidArgumentError(
          absl::StrFormat("high-risk prefix '%s' is not an E.164 prefix (digits, '+' optional, "
                          "no leading 0)", p));
    uint64_t v = 0;
    for (char c : d) v = v * 10 + (c - '0');
    prefixes_.insert((static_cast<uint64_t>(d.size()) << 56) | v);
    if (d.size() <= 4) short_[kShortBase[d.size()] + v] = 1;
    max_len_ = std::max<int>(max_len_, d.size());
  }
  return absl::OkStatus();
}

std::string NumberPlan::OwnE164(std::string_view user) {
  std::string d;
  if (!user.empty() && user[0] == '+') {
    if (!Digits(user.substr(1), &d)) return "";
  } else if (user.substr(0, 2) == "00") {
    if (!Digits(user.substr(2), &d)) return "";
  } else {
    return "";
  }
  return CountryCode(d) != 0 ? d : "";
}

Dialled NumberPlan::Classify(std::string_view user, int home) const {
  Dialled r;
  // E.164 numbers have at most 15 digits: with prefixes and some slack, more
  // than kMaxDigits (32) is no public number.
  char d[kMaxDigits + 4];
  int n = 0;
  std::string_view e164;
  if (!user.empty() && user[0] == '+') {
    if (!Digits(user.substr(1), d, kMaxDigits, &n)) return r;
    e164 = std::string_view(d, n);
  } else {
    if (!Digits(user, d, kMaxDigits, &n)) return r;
    if (n > 2 && d[0] == '0' && d[1] == '0') {
      e164 = std::string_view(d + 2, n - 2);
    } else if (home == 1 && n > 3 && d[0] == '0' && d[1] == '1' && d[2] == '1') {
      e164 = std::string_view(d + 3, n - 3);
    } else if (home == 1 && (n == 10 || (n == 11 && d[0] == '1'))) {
      if (n == 10) {
        memmove(d + 1, d, n);
        d[0] = '1';
        ++n;
      }
      e164 = std::string_view(d, n);
    } else if (home > 1 && n > 4 && d[0] == '0') {
      const int len = home >= 100 ? 3 : home >= 10 ? 2 : 1;
      memmove(d + len, d + 1, n - 1);
      for (int i = len - 1, v = home; i >= 0; --i, v /= 10) d[i] = static_cast<char>('0' + v % 10);
      n += len - 1;
      e164 = std::string_view(d, n);
    } else {
      return r;  // an extension or short code
    }
  }
  r.country = CountryCode(e164);
  if (r.country == 0) return r;
  r.international = home == 0 || r.country != home;
  uint64_t v = 0;
  const int m = std::min<int>(max_len_, e164.size());
  for (int len = 1; len <= m; ++len) {
    v = v * 10 + (e164[len - 1] - '0');
    if (len <= 4 ? short_[kShortBase[len] + v]
                 : prefixes_.contains((static_cast<uint64_t>(len) << 56) | v)) {
      r.high_risk = true;
      break;
    }
  }
  return r;
}

}  // namespace sw::profiles
