// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/cli.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sw {
namespace {

std::vector<std::string> Normalize(std::vector<std::string> in) {
  std::vector<char*> argv;
  for (auto& s : in) argv.push_back(s.data());
  NormalizedArgs n(static_cast<int>(argv.size()), argv.data());
  std::vector<std::string> out;
  for (int i = 0; i < n.argc(); ++i) out.push_back(n.argv()[i]);
  EXPECT_EQ(n.argv()[n.argc()], nullptr);
  return out;
}

TEST(NormalizedArgs, DashesInNamesOnlyAndLoneDashValues) {
  EXPECT_EQ(Normalize({"prog-name", "--pin-dir=/a-b", "--events-out", "-", "block", "add", "--ttl", "5m",
                 "-", "--x-y"}),
            (std::vector<std::string>{"prog-name", "--pin_dir=/a-b", "--events_out=-", "block", "add",
                                      "--ttl", "5m", "-", "--x_y"}));
  EXPECT_EQ(Normalize({"p", "--a-b=-", "--c-d", "-"}),
            (std::vector<std::string>{"p", "--a_b=-", "--c_d=-"}));
}

}  // namespace
}  // namespace sw
