// SPDX-License-Identifier: BSD-2-Clause
#include "outputs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sw {

absl::StatusOr<std::unique_ptr<JsonLinesOut>> JsonLinesOut::Open(const std::string& where) {
  auto out = std::unique_ptr<JsonLinesOut>(new JsonLinesOut());
  if (where.empty()) return out;
  if (where == "-") {
    out->f_ = stdout;
    return out;
  }
  out->f_ = std::fopen(where.c_str(), "a");
  if (!out->f_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open ", where, " for writing: ", std::strerror(errno)));
  }
  out->owned_ = true;
  return out;
}

JsonLinesOut::~JsonLinesOut() {
  if (!f_) return;
  Flush();
  if (owned_) std::fclose(f_);
}

void JsonLinesOut::Write(std::string_view line) {
  if (!f_) return;
  if (!owned_) {
    // stdout: through stdio, so that outputs sharing it keep their order.
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fputc('\n', f_);
    ++lines_;
    return;
  }
  pending_.append(line);
  pending_.push_back('\n');
  ++lines_;
  if (pending_.size() >= kFlushBytes) Flush();
}

void JsonLinesOut::Flush() {
  if (!f_) return;
  if (!owned_) {
    std::fflush(f_);
    return;
  }
  if (pending_.empty()) return;
  // Straight to the descriptor: stdio would cut the block at its buffer size.
  const int fd = fileno(f_);
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // disk full, closed pipe: the lines are dropped, as stdio would
    done += static_cast<size_t>(n);
  }
  pending_.clear();
}

}  // namespace sw
