// SPDX-License-Identifier: BSD-2-Clause
// Helpers for the parser tests: corpus paths and file reading.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sw::sip::testing {

// The test corpus (SW_CORPUS_DIR, set by CMake to tests/data/corpus) and
// this directory's own data.
std::filesystem::path CorpusDir();
std::filesystem::path DataDir();

// True when the corpus is present; tests that need it fail with a message
// naming the expected path otherwise.
bool CorpusPresent();
std::string CorpusMissingMessage();

// The whole file as bytes (binary safe). Empty on failure, with *ok false.
std::string ReadFile(const std::filesystem::path& p, bool* ok = nullptr);

// Regular files under dir, recursively, sorted.
std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir);

// The rows of a tab-separated file, header row excluded.
std::vector<std::vector<std::string>> ReadTsv(const std::filesystem::path& p);

}  // namespace sw::sip::testing
