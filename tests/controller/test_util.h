// SPDX-License-Identifier: BSD-2-Clause
// A temporary directory for a test's database, removed with it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace sw::controller {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "sw-ctl-test.XXXXXX").string();
    path_ = mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sw::controller
