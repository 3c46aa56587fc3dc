// Command-line conventions shared by every sipwarden program.
#pragma once

#include <string>
#include <vector>

namespace sw {

// Abseil flag names are C++ identifiers; users type --pin-dir. Rewrites
// "--pin-dir=x" to "--pin_dir=x" (names only, never values) in place.
inline void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (a[0] != '-' || a[1] != '-' || a[2] == '\0') continue;
    for (char* p = a + 2; *p && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

}  // namespace sw
