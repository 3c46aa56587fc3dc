// SPDX-License-Identifier: BSD-2-Clause
// --config FILE: YAML keys become flags placed before the command line's, so
// that flags given explicitly win; every bad file is refused with
// FILE:LINE:COL and the key.
#include "sipwarden/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "sipwarden/cli.h"

ABSL_FLAG(std::string, cfg_test_iface, "", "test: interfaces");
ABSL_FLAG(std::string, cfg_test_pin_dir, "/sys/fs/bpf/test", "test: a path");
ABSL_FLAG(uint32_t, cfg_test_rate, 0, "test: a number");
ABSL_FLAG(bool, cfg_test_keep, false, "test: a switch");
ABSL_FLAG(absl::Duration, cfg_test_ttl, absl::ZeroDuration(), "test: a duration");

namespace sw {
namespace {

using ::testing::HasSubstr;
using Args = std::vector<std::string>;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sw-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  // The error ExpandConfig gives for a file with this text.
  std::string ErrorFor(const std::string& text, std::string* path = nullptr) {
    const std::string p = Write("bad.yaml", text);
    if (path) *path = p;
    auto r = ExpandConfig({"prog", "--config", p});
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? "" : std::string(r.status().message());
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ConfigTest, WithoutConfigArgvIsUnchanged) {
  const Args argv = {"prog", "--cfg-test-rate=3", "positional", "--", "--config", "x"};
  auto r = ExpandConfig(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, argv);
  EXPECT_EQ(*ExpandConfig({}), Args{});
}

TEST_F(ConfigTest, FileFlagsComeFirstInFileOrder) {
  const std::string f = Write("agent.yaml",
                              "# comment\n"
                              "cfg-test-iface: [p-client, p-uas]\n"
                              "cfg_test_pin_dir: /sys/fs/bpf/sipwarden\n"
                              "cfg-test-rate: 200\n"
                              "cfg-test-keep: true\n");
  auto r = ExpandConfig({"prog", "--cfg-test-rate=5", "--config", f, "pos", "--", "--config", "y"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (Args{"prog", "--cfg_test_iface=p-client,p-uas",
                      "--cfg_test_pin_dir=/sys/fs/bpf/sipwarden", "--cfg_test_rate=200",
                      "--cfg_test_keep=true", "--cfg-test-rate=5", "pos", "--", "--config", "y"}));
}

TEST_F(ConfigTest, EveryWayOfNamingTheFile) {
  const std::string f = Write("a.yaml", "cfg-test-rate: 7\n");
  const Args want = {"prog", "--cfg_test_rate=7", "x"};
  for (const Args& argv : {Args{"prog", "--config", f, "x"}, Args{"prog", "--config=" + f, "x"},
                           Args{"prog", "-config", f, "x"}, Args{"prog", "x", "-config=" + f}}) {
    auto r = ExpandConfig(argv);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, want) << argv[1];
  }
}

TEST_F(ConfigTest, ConfigArgumentErrors) {
  const std::string f = Write("a.yaml", "cfg-test-rate: 7\n");
  for (const Args& argv : {Args{"prog", "--config"}, Args{"prog", "--config="},
                           Args{"prog", "--config", f, "--config=" + f}}) {
    EXPECT_FALSE(ExpandConfig(argv).ok()) << argv.back();
  }
  // The value of a flag given as "--flag VALUE" is never taken for --config.
  const Args argv = {"prog", "--cfg-test-iface", "--config", "--cfg-test-keep"};
  EXPECT_EQ(*ExpandConfig(argv), argv);
}

TEST_F(ConfigTest, EmptyFileAndCommentsOnlyAreFine) {
  for (const char* text : {"", "\n", "# nothing set\n", "---\n"}) {
    const std::string f = Write("empty.yaml", text);
    auto r = ExpandConfig({"prog", "--config", f, "--cfg-test-keep"});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, (Args{"prog", "--cfg-test-keep"}));
  }
}

TEST_F(ConfigTest, ScalarsAsWritten) {
  const uint32_t rate = absl::GetFlag(FLAGS_cfg_test_rate);
  const std::string pin_dir = absl::GetFlag(FLAGS_cfg_test_pin_dir);
  auto r = ConfigFileFlags("t.yaml",
                           "cfg-test-iface: \"-\"\n"
                           "cfg-test-pin-dir: ''\n"
                           "cfg-test-keep: no\n"
                           "cfg-test-rate: 0x10\n"
                           "cfg-test-ttl: 1h30m\n");
  // yaml-cpp hands scalars over as text; Abseil reads them (hex included).
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (Args{"--cfg_test_iface=-", "--cfg_test_pin_dir=", "--cfg_test_keep=no",
                      "--cfg_test_rate=0x10", "--cfg_test_ttl=1h30m"}));
  // Checking values changes no flag.
  EXPECT_EQ(absl::GetFlag(FLAGS_cfg_test_rate), rate);
  EXPECT_EQ(absl::GetFlag(FLAGS_cfg_test_pin_dir), pin_dir);
}

TEST_F(ConfigTest, UnknownKeyNamesFileLineColumnAndKey) {
  std::string path;
  const std::string err = ErrorFor("cfg-test-rate: 1\n\ncfg-test-nope: 2\n", &path);
  EXPECT_EQ(err, path + ":3:1: unknown flag 'cfg-test-nope'");
  // Abseil's own flags are not configuration.
  EXPECT_THAT(ErrorFor("flagfile: /etc/passwd\n"), HasSubstr(":1:1: unknown flag 'flagfile'"));
  EXPECT_THAT(ErrorFor("help: true\n"), HasSubstr(":1:1: unknown flag 'help'"));
  EXPECT_THAT(ErrorFor("undefok: cfg_test_x\n"), HasSubstr(":1:1: unknown flag 'undefok'"));
}

TEST_F(ConfigTest, RefusedShapes) {
  std::string path;
  EXPECT_THAT(ErrorFor("- cfg-test-rate\n- 2\n", &path),
              HasSubstr(path + ":1:1: the config file must be a mapping"));
  EXPECT_THAT(ErrorFor("just a string\n"), HasSubstr(":1:1: the config file must be a mapping"));
  EXPECT_THAT(
      ErrorFor("cfg-test-rate: 1\ncfg-test-iface:\n  a: 1\n"),
      HasSubstr(":3:3: 'cfg-test-iface' must be a value or a list of values, not a mapping"));
  EXPECT_THAT(ErrorFor("cfg-test-iface: [a, [b, c]]\n"),
              HasSubstr(":1:21: 'cfg-test-iface': list items must be plain values"));
  EXPECT_THAT(ErrorFor("cfg-test-iface: [a, {b: c}]\n"), HasSubstr("list items must be plain"));
  EXPECT_THAT(ErrorFor("cfg-test-iface: -\n"), HasSubstr(":1:17: YAML syntax: "));
  EXPECT_THAT(ErrorFor("cfg-test-iface:\n  -\n"),
              HasSubstr(":2:3: 'cfg-test-iface': list item 1 has no value"));
  EXPECT_THAT(ErrorFor("cfg-test-iface: [a, ~]\n"),
              HasSubstr(":1:17: 'cfg-test-iface': list item 2 has"));
  EXPECT_THAT(ErrorFor("cfg-test-iface:\n"), HasSubstr(":1:1: 'cfg-test-iface' has no value"));
  EXPECT_THAT(ErrorFor("config: other.yaml\n"),
              HasSubstr(":1:1: 'config' cannot be set inside a config file"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: 1\ncfg_test_rate: 2\n"),
              HasSubstr(":2:1: 'cfg_test_rate' given twice (also on line 1)"));
  EXPECT_THAT(ErrorFor("? [a, b]\n: 1\n"), HasSubstr(":1:3: keys must be flag names"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: lots\n"),
              HasSubstr(":1:16: bad value 'lots' for 'cfg-test-rate'"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: -1\n"), HasSubstr("bad value '-1' for 'cfg-test-rate'"));
  EXPECT_THAT(ErrorFor("cfg-test-keep: maybe\n"),
              HasSubstr("bad value 'maybe' for 'cfg-test-keep'"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: [1, 2]\n"),
              HasSubstr("bad value '1,2' for 'cfg-test-rate'"));
  EXPECT_THAT(ErrorFor("cfg-test-ttl: 10 minutes\n"),
              HasSubstr("bad value '10 minutes' for 'cfg-test-ttl'"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: 1\n---\ncfg-test-keep: true\n"),
              HasSubstr(":3:1: only one YAML document is allowed"));
  EXPECT_THAT(ErrorFor("cfg-test-rate: [1\n"), HasSubstr(": YAML syntax: "));
  EXPECT_THAT(ErrorFor("a: b\n  c: d: e\n"), HasSubstr(":2:"));
}

TEST_F(ConfigTest, MissingOrUnreadableFile) {
  const std::string missing = dir_ + "/nope.yaml";
  auto r = ExpandConfig({"prog", "--config", missing});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(missing));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("No such file"));
  // A directory opens but cannot be read.
  r = ExpandConfig({"prog", "--config", dir_});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(dir_ + ": cannot read"));
  if (geteuid() != 0) {  // root reads whatever the mode says
    const std::string f = Write("locked.yaml", "cfg-test-rate: 1\n");
    chmod(f.c_str(), 0);
    r = ExpandConfig({"prog", "--config", f});
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("Permission denied"));
  }
}

// The property --config relies on: absl::ParseCommandLine keeps the last
// value a flag is given, so the command line (after the file's flags) wins.
// The only test in this binary that parses a command line.
TEST_F(ConfigTest, CommandLineOverridesTheFileThroughParseCommandLine) {
  const std::string f = Write("agent.yaml",
                              "cfg-test-iface: [eth0, eth1]\n"
                              "cfg-test-rate: 200\n"
                              "cfg-test-keep: true\n"
                              "cfg-test-pin-dir: /from/file\n");
  auto expanded =
      ExpandConfig({"prog", "--cfg-test-rate", "5", "--config", f, "--cfg-test-pin-dir=/from/cli"});
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  // As main() does: dashes to underscores, then Abseil.
  std::vector<char*> ptrs;
  for (std::string& a : *expanded) ptrs.push_back(a.data());
  NormalizedArgs normalized(static_cast<int>(ptrs.size()), ptrs.data());
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  EXPECT_EQ(absl::GetFlag(FLAGS_cfg_test_rate), 5u);
  EXPECT_EQ(absl::GetFlag(FLAGS_cfg_test_pin_dir), "/from/cli");
  EXPECT_EQ(absl::GetFlag(FLAGS_cfg_test_iface), "eth0,eth1");
  EXPECT_TRUE(absl::GetFlag(FLAGS_cfg_test_keep));
}

}  // namespace
}  // namespace sw
