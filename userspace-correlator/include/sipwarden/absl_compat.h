// SPDX-License-Identifier: BSD-2-Clause
// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view). Our APIs speak std::string_view; this bridges the two.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace sw {

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace sw
