// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/config_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/cli.h"

namespace sw {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

std::string Where(std::string_view file, const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return std::string(file);
  return absl::StrCat(AV(file), ":", m.line + 1, ":", m.column + 1);
}

absl::Status Error(std::string_view file, const YAML::Mark& m, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(Where(file, m), ": ", AV(msg)));
}

std::string FlagName(std::string_view key) {
  std::string name(key);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// The program's own flag called name, or null (unknown, retired, or one of
// Abseil's: flagfile, fromenv, tryfromenv, undefok).
absl::CommandLineFlag* ProgramFlag(const std::string& name) {
  if (name.empty() || name == "flagfile" || name == "fromenv" || name == "tryfromenv" ||
      name == "undefok") {
    return nullptr;
  }
  absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  if (f == nullptr || f->IsRetired()) return nullptr;
  if (f->Filename().find("absl/flags/") != std::string::npos) return nullptr;
  return f;
}

// Whether value parses as the flag's type, without setting the flag (types
// the agent does not use are left to absl::ParseCommandLine).
bool ValueFits(const absl::CommandLineFlag& flag, const std::string& value, std::string* err) {
  auto parses = [&](auto sample) {
    decltype(sample) v;
    return absl::ParseFlag(value, &v, err);
  };
  if (flag.IsOfType<bool>()) return parses(bool{});
  if (flag.IsOfType<int32_t>()) return parses(int32_t{});
  if (flag.IsOfType<uint32_t>()) return parses(uint32_t{});
  if (flag.IsOfType<int64_t>()) return parses(int64_t{});
  if (flag.IsOfType<uint64_t>()) return parses(uint64_t{});
  if (flag.IsOfType<double>()) return parses(double{});
  if (flag.IsOfType<absl::Duration>()) {
    // Directly: absl::ParseFlag picks a deprecated Duration overload.
    absl::Duration d;
    return absl::AbslParseFlag(value, &d, err);
  }
  return true;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot read"));
    }
    if (r == 0) break;
    text.append(buf, static_cast<size_t>(r));
    if (text.size() > kMaxConfigBytes) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", kMaxConfigBytes, " bytes; not a config file"));
    }
  }
  close(fd);
  return text;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ConfigFileFlags(std::string_view file,
                                                         std::string_view yaml) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error(file, e.mark, absl::StrCat("YAML syntax: ", e.msg));
  }
  if (docs.size() > 1) {
    return Error(file, docs[1].Mark(), "only one YAML document is allowed");
  }
  std::vector<std::string> out;
  if (docs.empty() || docs[0].IsNull()) return out;  // empty file, or comments only
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    return Error(file, root.Mark(),
                 "the config file must be a mapping of flag names to values (name: value)");
  }
  std::map<std::string, int> seen;  // flag name -> line first given
  for (const auto& kv : root) {
    const YAML::Node& k = kv.first;
    const YAML::Node& v = kv.second;
    if (!k.IsScalar()) return Error(file, k.Mark(), "keys must be flag names");
    const std::string& key = k.Scalar();
    const std::string name = FlagName(key);
    if (name == "config") {
      return Error(file, k.Mark(), "'" + key + "' cannot be set inside a config file");
    }
    absl::CommandLineFlag* flag = ProgramFlag(name);
    if (flag == nullptr) return Error(file, k.Mark(), "unknown flag '" + key + "'");
    if (auto [it, fresh] = seen.emplace(name, k.Mark().line + 1); !fresh) {
      return Error(file, k.Mark(),
                   absl::StrCat("'", key, "' given twice (also on line ", it->second, ")"));
    }
    std::string value;
    if (v.IsNull()) {
      return Error(file, k.Mark(),
                   "'" + key + "' has no value (write \"\" for an empty one; quote a lone -)");
    } else if (v.IsScalar()) {
      value = v.Scalar();
    } else if (v.IsSequence()) {
      std::vector<std::string> items;
      for (const YAML::Node& item : v) {
        if (item.IsNull()) {  // a null item's own mark points past it
          return Error(file, v.Mark(),
                       absl::StrCat("'", key, "': list item ", items.size() + 1,
                                    " has no value (quote a lone -)"));
        }
        if (!item.IsScalar()) {
          return Error(file, item.Mark(),
                       "'" + key + "': list items must be plain values, not lists or mappings");
        }
        items.push_back(item.Scalar());
      }
      value = absl::StrJoin(items, ",");
    } else {
      return Error(file, v.Mark(),
                   "'" + key + "' must be a value or a list of values, not a mapping");
    }
    if (std::string err; !ValueFits(*flag, value, &err)) {
      return Error(
          file, v.Mark(),
          absl::StrCat("bad value '", value, "' for '", key, "'", err.empty() ? "" : ": ", err));
    }
    out.push_back(absl::StrCat("--", name, "=", value));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ExpandConfig(const std::vector<std::string>& argv) {
  if (argv.empty()) return argv;
  std::vector<std::string> rest;
  std::string file;
  bool have_file = false;
  size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") break;  // the rest is positional
    if (a.size() < 2 || a[0] != '-') {
      rest.push_back(a);
      continue;
    }
    std::string_view body = std::string_view(a).substr(a[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const std::string name = FlagName(body.substr(0, eq));
    if (name != "config") {
      rest.push_back(a);
      // "--flag value" for a non-boolean flag: the value is not an option.
      if (eq == std::string_view::npos && i + 1 < argv.size()) {
        if (absl::CommandLineFlag* f = ProgramFlag(name); f && !f->IsOfType<bool>()) {
          rest.push_back(argv[++i]);
        }
      }
      continue;
    }
    if (have_file) return absl::InvalidArgumentError("--config given more than once");
    have_file = true;
    if (eq != std::string_view::npos) {
      file = std::string(body.substr(eq + 1));
    } else if (i + 1 < argv.size()) {
      file = argv[++i];
    }
    if (file.empty()) return absl::InvalidArgumentError("--config needs a FILE");
  }
  if (!have_file) return argv;
  for (; i < argv.size(); ++i) rest.push_back(argv[i]);

  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  auto flags = ConfigFileFlags(file, *text);
  if (!flags.ok()) return flags.status();
  std::vector<std::string> out;
  out.reserve(1 + flags->size() + rest.size());
  out.push_back(argv[0]);
  for (std::string& f : *flags) out.push_back(std::move(f));
  for (std::string& r : rest) out.push_back(std::move(r));
  return out;
}

bool ParseCommandLineWithConfig(int argc, char** argv, std::string_view program) {
  // The file's settings become flags placed first: those on the command line
  // override them.
  auto expanded = ExpandConfig(std::vector<std::string>(argv, argv + argc));
  if (!expanded.ok()) {
    std::cerr << program << ": " << expanded.status().message() << "\n";
    return false;
  }
  std::vector<char*> args;
  for (std::string& a : *expanded) args.push_back(a.data());
  NormalizedArgs normalized(static_cast<int>(args.size()), args.data());
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  return true;
}

}  // namespace sw
