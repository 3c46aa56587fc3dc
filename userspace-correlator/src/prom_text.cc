// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/prom_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"

namespace sw {

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0) {
    // Whole numbers (most counters) in full: 100000, not the shorter 1e+05.
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    out.append(buf, r.ptr);
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round trip
    out.append(buf, r.ptr);
  }
}

// HELP text escapes \ and newline; label values also ".
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

bool PromText::ValidMetricName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_' || c == ':'; });
}

bool PromText::ValidLabelName(std::string_view name) {
  if (name.empty() || IsDigit(name[0]) || name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; });
}

void PromText::Counter(std::string_view name, std::string_view help, double value,
                       const PromLabels& labels) {
  if (value < 0) {
    Fail(absl::InvalidArgumentError(absl::StrCat("counter ", AV(name), " is negative")));
    return;
  }
  Add("counter", name, help, value, labels);
}

void PromText::Gauge(std::string_view name, std::string_view help, double value,
                     const PromLabels& labels) {
  Add("gauge", name, help, value, labels);
}

void PromText::Fail(absl::Status st) {
  if (status_.ok()) status_ = std::move(st);
}

void PromText::Add(const char* type, std::string_view name, std::string_view help, double value,
                   const PromLabels& labels) {
  if (!ValidMetricName(name)) {
    Fail(absl::InvalidArgumentError(absl::StrCat("invalid metric name '", AV(name), "'")));
    return;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& ln = labels[i].first;
    if (!ValidLabelName(ln)) {
      Fail(absl::InvalidArgumentError(absl::StrCat("invalid label name '", ln, "' on ", AV(name))));
      return;
    }
    for (size_t k = 0; k < i; ++k) {
      if (labels[k].first == ln) {
        Fail(
            absl::InvalidArgumentError(absl::StrCat("label '", ln, "' given twice on ", AV(name))));
        return;
      }
    }
  }
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back(Family{std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  } else if (std::strcmp(it->type, type) != 0) {
    Fail(absl::InvalidArgumentError(absl::StrCat(AV(name), " is a ", it->type, ", not a ", type)));
    return;
  }
  std::string& s = it->samples;
  s.append(name);
  if (!labels.empty()) {
    s += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) s += ',';
      s += labels[i].first;
      s += "=\"";
      AppendEscaped(s, labels[i].second, /*quote=*/true);
      s += '"';
    }
    s += '}';
  }
  s += ' ';
  AppendValue(s, value);
  s += '\n';
}

std::string PromText::Take() {
  std::string out;
  for (const Family& f : families_) {
    if (!f.help.empty()) {
      absl::StrAppend(&out, "# HELP ", f.name, " ");
      AppendEscaped(out, f.help, /*quote=*/false);
      out += '\n';
    }
    absl::StrAppend(&out, "# TYPE ", f.name, " ", f.type, "\n", f.samples);
  }
  families_.clear();
  status_ = absl::OkStatus();
  return out;
}

}  // namespace sw
