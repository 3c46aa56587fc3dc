#include "outputs.h"

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
  std::fflush(f_);
  if (owned_) std::fclose(f_);
}

void JsonLinesOut::Write(const std::string& line) {
  if (!f_) return;
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fputc('\n', f_);
  ++lines_;
}

void JsonLinesOut::Flush() {
  if (f_) std::fflush(f_);
}

}  // namespace sw
