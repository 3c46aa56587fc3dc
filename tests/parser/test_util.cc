// SPDX-License-Identifier: BSD-2-Clause
#include "test_util.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sw::sip::testing {

std::filesystem::path CorpusDir() { return std::filesystem::path(SW_CORPUS_DIR); }
std::filesystem::path DataDir() { return std::filesystem::path(SW_PARSER_DATA_DIR); }

bool CorpusPresent() {
  std::error_code ec;
  return std::filesystem::is_directory(CorpusDir() / "rfc4475", ec);
}

std::string CorpusMissingMessage() {
  return "test corpus not found at " + CorpusDir().string() +
         " (expected tests/data/corpus in the repository)";
}

std::string ReadFile(const std::filesystem::path& p, bool* ok) {
  std::ifstream in(p, std::ios::binary);
  if (ok != nullptr) *ok = static_cast<bool>(in);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::vector<std::string>> ReadTsv(const std::filesystem::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(p));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cols;
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(cols));
  }
  return rows;
}

}  // namespace sw::sip::testing
