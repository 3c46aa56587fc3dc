// SPDX-License-Identifier: BSD-2-Clause
// PEM files the programs read at start (mTLS certificates, keys, CAs).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace sw {

// The file's text; INVALID_ARGUMENT naming `what` and the path when it cannot
// be read or holds no PEM block ("the key (--tls-key) /x is not PEM").
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what);

}  // namespace sw
