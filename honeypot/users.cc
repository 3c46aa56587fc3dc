// SPDX-License-Identifier: BSD-2-Clause
#include "users.h"
#include "seeded_rng.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sipwarden/absl_compat.h"

namespace sw::honeypot {
namespace {

using sw::AV;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// RFC 3261 25.1: user = 1*( unreserved / escaped / user-unreserved ).
bool IsUserChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  // mark and user-unreserved
  return c != '\0' && std::string_view("-_.!~*'()&=+$,;?/").find(c) != std::string_view::npos;
}

// How a byte is named in an error: '@', or 0x09 for what does not print.
std::string Show(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02x", u);
}

// The user part with its %XX escapes decoded: two spellings of one user
// (alice and %61lice) are the same user to a SIP registrar.
std::string Decoded(std::string_view user) {
  std::string out;
  out.reserve(user.size());
  for (size_t i = 0; i < user.size(); ++i) {
    if (user[i] == '%' && i + 2 < user.size() && IsHex(user[i + 1]) && IsHex(user[i + 2])) {
      out.push_back(static_cast<char>(HexValue(user[i + 1]) * 16 + HexValue(user[i + 2])));
      i += 2;
    } else {
      out.push_back(user[i]);
    }
  }
  return out;
}

// ---- made-up names --------------------------------------------------------

// First and last names from many countries, in ASCII (what a user part holds
// without escapes), lower case.
constexpr std::array kFirst = {
    "aaron",   "abdul",   "ada",     "adam",   "adrian", "agnes",  "ahmed",  "aiko",   "alan",
    "albert",  "alberto", "alex",    "alice",  "alina",  "amelia", "amir",   "ana",    "andre",
    "andrea",  "anna",    "anton",   "arjun",  "astrid", "ben",    "bernd",  "bianca", "boris",
    "brian",   "bruno",   "carla",   "carlos", "carmen", "chen",   "chloe",  "chris",  "claire",
    "clara",   "daniel",  "david",   "diana",  "diego",  "dmitri", "elena",  "elias",  "elif",
    "ella",    "emil",    "emily",   "emma",   "eric",   "erik",   "eva",    "fatima", "felix",
    "fiona",   "frank",   "gabriel", "george", "greta",  "hana",   "hannah", "hans",   "harry",
    "helen",   "hugo",    "ian",     "ines",   "irene",  "isabel", "ivan",   "jack",   "jakob",
    "jan",     "james",   "jana",    "javier", "jean",   "jens",   "jonas",  "jose",   "julia",
    "julien",  "karin",   "kasia",   "kenji",  "kevin",  "laila",  "lars",   "laura",  "lea",
    "lena",    "leon",    "lina",    "linda",  "lucas",  "lucia",  "luis",   "maja",   "marco",
    "maria",   "marie",   "mark",    "marta",  "martin", "mateo",  "max",    "mei",    "mia",
    "michael", "mila",    "mohamed", "nadia",  "nina",   "noah",   "nora",   "olga",   "oliver",
    "omar",    "oscar",   "pablo",   "paul",   "pedro",  "peter",  "petra",  "pierre", "priya",
    "rafael",  "rahul",   "rosa",    "ruth",   "sam",    "sara",   "sofia",  "sophie", "stefan",
    "susan",   "tanja",   "thomas",  "tim",    "tobias", "tom",    "ulrich", "vera",   "victor",
    "wei",     "yara",    "yuki",    "yusuf",  "zoe",    "zofia",
};
constexpr std::array kLast = {
    "adams",     "alvarez",  "andersen",  "bauer",    "becker",    "bernard",  "berg",
    "brown",     "carter",   "castro",    "chen",     "clarke",    "costa",    "dahl",
    "davies",    "dubois",   "duarte",    "evans",    "fischer",   "fontaine", "garcia",
    "gomez",     "gonzalez", "gruber",    "hansen",   "hartmann",  "hoffmann", "horvath",
    "hughes",    "ivanova",  "jansen",    "jensen",   "johansson", "jones",    "kaya",
    "keller",    "khan",     "kim",       "klein",    "koch",      "kovacs",   "kowalski",
    "kramer",    "kumar",    "lambert",   "larsen",   "laurent",   "lee",      "lehmann",
    "lopez",     "lorenz",   "martin",    "martinez", "meyer",     "miller",   "moreau",
    "moreno",    "morris",   "muller",    "nagy",     "nielsen",   "novak",    "nowak",
    "olsen",     "ortiz",    "patel",     "perez",    "petrov",    "popescu",  "quinn",
    "ramos",     "reyes",    "richter",   "rossi",    "roux",      "russo",    "santos",
    "schafer",   "schmidt",  "schneider", "schulz",   "silva",     "singh",    "smith",
    "sorensen",  "suzuki",   "svensson",  "tanaka",   "taylor",    "thomas",   "torres",
    "varga",     "vogel",    "wagner",    "walker",   "wang",      "weber",    "wilson",
    "wolf",      "wright",   "yamamoto",  "yilmaz",   "young",     "zhang",    "zimmermann",
    "zielinski",
};

// Names that tell a human at once that nobody answers them.
constexpr std::array<std::pair<const char*, int>, 6> kTraps = {{
    {"do-not-call-", 4},
    {"honeypot-trap-", 3},
    {"not.a.real.person.", 3},
    {"spam-trap-", 4},
    {"trap.do.not.dial.", 3},
    {"fake-number-", 4},
}};

using Rng = SeededRng;

std::string Digits(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng.Below(10)));
  return s;
}

std::string PersonName(Rng& rng) {
  const std::string first = kFirst[rng.Below(kFirst.size())];
  const std::string last = kLast[rng.Below(kLast.size())];
  const uint64_t style = rng.Below(100);
  if (style < 34) return absl::StrCat(first, ".", last);                      // anna.schmidt
  if (style < 54) return absl::StrCat(first.substr(0, 1), last);              // aschmidt
  if (style < 68) return absl::StrCat(first, "_", last, 10 + rng.Below(90));  // anna_schmidt84
  if (style < 78) return absl::StrCat(first, ".", last, 2 + rng.Below(8));    // anna.schmidt3
  if (style < 88) return absl::StrCat(first, 1950 + rng.Below(56));           // anna1987
  if (style < 95) return absl::StrCat(first.substr(0, 1), ".", last);         // a.schmidt
  return absl::StrCat(last, ".", first);                                      // schmidt.anna
}

std::string TrapName(Rng& rng) {
  const auto& [prefix, digits] = kTraps[rng.Below(kTraps.size())];
  return absl::StrCat(prefix, Digits(rng, digits));
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kDeflector:
      return "deflector";
    case Role::kVoicemail:
      return "voicemail";
    case Role::kGateway:
      return "gateway";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kDeflector, Role::kVoicemail, Role::kGateway}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

absl::Status CheckUserPart(std::string_view user) {
  if (user.empty()) return absl::InvalidArgumentError("empty user part");
  if (user.size() > kMaxUserLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("user part of ", user.size(), " bytes is longer than ", kMaxUserLength));
  }
  for (size_t i = 0; i < user.size(); ++i) {
    const char c = user[i];
    if (c == '%') {
      if (i + 2 >= user.size() || !IsHex(user[i + 1]) || !IsHex(user[i + 2])) {
        return absl::InvalidArgumentError(
            absl::StrCat("'%' (byte ", i + 1, ") does not start a %XX escape (two hex digits)"));
      }
      i += 2;
      continue;
    }
    if (!IsUserChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Show(c), " (byte ", i + 1,
                       ") is not allowed in a SIP user part (RFC 3261: letters, digits, "
                       "-_.!~*'()&=+$,;?/ and %XX escapes)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<User>> ParseUsers(std::string_view text, std::string_view name) {
  std::vector<User> users;
  absl::flat_hash_map<std::string, size_t> seen;  // decoded user -> line
  size_t line_no = 0;
  size_t pos = 0;
  auto error = [&](std::string_view msg) {
    return absl::InvalidArgumentError(absl::StrCat(AV(name), ":", line_no, ": ", AV(msg)));
  };
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<std::string_view> fields;
    for (size_t i = 0; i < line.size();) {
      if (line[i] == ' ' || line[i] == '\t') {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.empty()) continue;
    if (fields.size() == 1) {
      return error(absl::StrCat("'", AV(fields[0]),
                                "' has no role (expected USER ROLE, ROLE one of deflector, "
                                "voicemail, gateway)"));
    }
    if (fields.size() > 2) {
      return error(absl::StrCat("expected USER ROLE, got ", fields.size(),
                                " fields (a user part has no spaces)"));
    }
    if (absl::Status st = CheckUserPart(fields[0]); !st.ok()) {
      return error(absl::StrCat("bad user '", AV(fields[0]), "': ", st.message()));
    }
    const std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return error(absl::StrCat("unknown role '", AV(fields[1]), "' for user '", AV(fields[0]),
                                "' (one of deflector, voicemail, gateway)"));
    }
    auto [it, inserted] = seen.emplace(Decoded(fields[0]), line_no);
    if (!inserted) {
      return error(
          absl::StrCat("duplicate user '", AV(fields[0]), "' (first on line ", it->second, ")"));
    }
    users.push_back(User{std::string(fields[0]), *role});
  }
  return users;
}

absl::StatusOr<std::vector<User>> LoadUsers(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the users file"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ParseUsers(buf.str(), path);
}

std::string FormatUsers(const std::vector<User>& users) {
  size_t width = 4;
  for (const User& u : users) width = std::max(width, u.user.size());
  std::string out = "# sipwarden-honeypot users (--users FILE): one USER ROLE per line.\n";
  absl::StrAppend(&out, "# ROLE: deflector (rings, answers, greeting, records), voicemail,\n",
                  "# gateway (announcement as early media, then 503).\n");
  absl::StrAppend(&out, "# ", absl::StrFormat("%-*s", static_cast<int>(width) - 2, "USER"),
                  " ROLE\n");
  for (const User& u : users) {
    absl::StrAppend(&out, absl::StrFormat("%-*s", static_cast<int>(width), u.user), " ",
                    AV(RoleName(u.role)), "\n");
  }
  return out;
}

std::vector<User> GenerateDeflectors(size_t count, uint64_t seed) {
  count = std::min(count, kMaxGeneratedUsers);
  Rng rng(seed ^ 0x5157a7de3f1ec705ull);
  // Exactly a tenth (rounded) are obvious traps, at places the seed picks.
  std::vector<bool> trap(count, false);
  const size_t traps = (count + 5) / 10;
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  for (size_t i = count; i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  for (size_t i = 0; i < traps; ++i) trap[order[i]] = true;

  absl::flat_hash_set<std::string> taken = {std::string(kVoicemailUser), std::string(kGatewayUser)};
  taken.reserve(count + 2);
  std::vector<User> users;
  users.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string name;
    // A few fresh draws, then a number appended: every name is distinct and
    // the loop ends whatever the count.
    for (int attempt = 0; attempt < 8; ++attempt) {
      name = trap[i] ? TrapName(rng) : PersonName(rng);
      if (!taken.contains(name)) break;
    }
    if (taken.contains(name)) {
      const std::string base = name + (trap[i] ? "-" : "");
      for (uint64_t k = 2;; ++k) {
        name = absl::StrCat(base, k);
        if (!taken.contains(name)) break;
      }
    }
    taken.insert(name);
    users.push_back(User{std::move(name), Role::kDeflector});
  }
  return users;
}

bool IsObviousTrapName(std::string_view user) {
  for (const auto& [prefix, digits] : kTraps) {
    const std::string_view p(prefix);
    if (user.size() <= p.size() || user.substr(0, p.size()) != p) continue;
    const std::string_view rest = user.substr(p.size());
    if (std::all_of(rest.begin(), rest.end(),
                    [](char c) { return (c >= '0' && c <= '9') || c == '-'; })) {
      return true;
    }
  }
  return false;
}

std::vector<User> WithServiceUsers(std::vector<User> users) {
  bool voicemail = false, gateway = false;
  for (const User& u : users) {
    voicemail = voicemail || u.user == kVoicemailUser;
    gateway = gateway || u.user == kGatewayUser;
  }
  if (!voicemail) users.push_back(User{std::string(kVoicemailUser), Role::kVoicemail});
  if (!gateway) users.push_back(User{std::string(kGatewayUser), Role::kGateway});
  return users;
}

}  // namespace sw::honeypot
