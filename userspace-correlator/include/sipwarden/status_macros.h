// SPDX-License-Identifier: BSD-2-Clause
// Debian's Abseil (20220623) has no status macros; these two are ours.
#pragma once

#include "absl/status/status.h"

#define SW_CONCAT_INNER(a, b) a##b
#define SW_CONCAT(a, b) SW_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if expr is not OK.
#define SW_RETURN_IF_ERROR(expr)               \
  do {                                         \
    if (absl::Status _st = (expr); !_st.ok()) { \
      return _st;                              \
    }                                          \
  } while (0)

// SW_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error status otherwise.
#define SW_ASSIGN_OR_RETURN(lhs, expr) \
  SW_ASSIGN_OR_RETURN_IMPL(SW_CONCAT(_sw_or_, __LINE__), lhs, expr)
#define SW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)
