// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's users file: a good file, every refusal with its FILE:LINE,
// the round trip through FormatUsers, and the made-up deflector names
// (count, distinct, deterministic, the share of obvious traps).
#include "users.h"

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace sw::honeypot {
namespace {

std::string Message(const absl::Status& st) { return std::string(st.message()); }

TEST(UsersFile, ParsesTheDocumentedExample) {
  constexpr char kText[] =
      "# USER ROLE\n"
      "alice.kowalski   deflector\n"
      "do-not-call-4711 deflector\n"
      "\n"
      "   \t\n"
      "voicemail        voicemail   # answers at once\n"
      "gw-pstn\tgateway\r\n"
      "o'brien(home)&=+$,;?/!~*%41 deflector\n";
  auto users = ParseUsers(kText, "users.txt");
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->size(), 5u);
  EXPECT_EQ((*users)[0], (User{"alice.kowalski", Role::kDeflector}));
  EXPECT_EQ((*users)[1], (User{"do-not-call-4711", Role::kDeflector}));
  EXPECT_EQ((*users)[2], (User{"voicemail", Role::kVoicemail}));
  EXPECT_EQ((*users)[3], (User{"gw-pstn", Role::kGateway}));
  EXPECT_EQ((*users)[4].user, "o'brien(home)&=+$,;?/!~*%41");
}

TEST(UsersFile, EmptyAndCommentOnlyFilesHaveNoUsers) {
  EXPECT_TRUE(ParseUsers("", "f")->empty());
  EXPECT_TRUE(ParseUsers("# nothing\n\n", "f")->empty());
}

TEST(UsersFile, EachErrorNamesFileAndLine) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"alice deflector\nbob\n", "u.txt:2: 'bob' has no role"},
      {"alice deflector extra\n", "u.txt:1: expected USER ROLE, got 3 fields"},
      {"\n\nalice Deflector\n", "u.txt:3: unknown role 'Deflector' for user 'alice'"},
      {"alice robot\n", "u.txt:1: unknown role 'robot'"},
      {"bob@example.net deflector\n",
       "u.txt:1: bad user 'bob@example.net': '@' (byte 4) is not allowed in a SIP user part"},
      {"a:b deflector\n", "u.txt:1: bad user 'a:b': ':' (byte 2) is not allowed"},
      {"a\"b deflector\n", "u.txt:1: bad user 'a\"b': '\"' (byte 2) is not allowed"},
      {"a<b deflector\n", "u.txt:1: bad user 'a<b': '<' (byte 2)"},
      {"caf\xc3\xa9 deflector\n", "u.txt:1: bad user 'caf\xc3\xa9': byte 0xc3 (byte 4)"},
      {"x\x01y deflector\n", "byte 0x01 (byte 2) is not allowed"},
      {"a%4 deflector\n", "u.txt:1: bad user 'a%4': '%' (byte 2) does not start a %XX escape"},
      {"a%zz deflector\n", "'%' (byte 2) does not start a %XX escape"},
      {"alice deflector\nbob gateway\nalice voicemail\n",
       "u.txt:3: duplicate user 'alice' (first on line 1)"},
      {"alice deflector\n%61lice deflector\n",
       "u.txt:2: duplicate user '%61lice' (first on line 1)"},
  };
  for (const Case& c : cases) {
    auto users = ParseUsers(c.text, "u.txt");
    ASSERT_FALSE(users.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(users.status()));
    EXPECT_NE(Message(users.status()).find(c.error), std::string::npos)
        << "for " << c.text << " got: " << users.status();
  }
  const std::string long_user(kMaxUserLength + 1, 'a');
  auto users = ParseUsers(long_user + " deflector\n", "u.txt");
  ASSERT_FALSE(users.ok());
  EXPECT_NE(Message(users.status()).find("u.txt:1: bad user"), std::string::npos);
  EXPECT_NE(Message(users.status()).find("longer than 128"), std::string::npos);
  EXPECT_TRUE(ParseUsers(std::string(kMaxUserLength, 'a') + " deflector\n", "u.txt").ok());
}

TEST(UsersFile, RolesByName) {
  for (Role r : {Role::kDeflector, Role::kVoicemail, Role::kGateway}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_EQ(ParseRole("DEFLECTOR"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

TEST(UsersFile, LoadsFromDiskAndSaysWhichFileIsMissing) {
  const std::string path = ::testing::TempDir() + "/sw_users_test.txt";
  {
    std::ofstream out(path);
    out << "alice deflector\nbad@user deflector\n";
  }
  auto users = LoadUsers(path);
  ASSERT_FALSE(users.ok());
  EXPECT_NE(Message(users.status()).find(path + ":2: bad user 'bad@user'"), std::string::npos)
      << users.status();
  std::remove(path.c_str());
  auto missing = LoadUsers(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(Message(missing.status()).find(path), std::string::npos);
}

TEST(UsersFile, FormatParsesBackToTheSameUsers) {
  std::vector<User> users = WithServiceUsers(GenerateDeflectors(500, 7));
  users.push_back(User{"o'brien&co", Role::kDeflector});
  auto back = ParseUsers(FormatUsers(users), "formatted");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, users);
}

TEST(UsersFile, ServiceUsersAreAddedOnce) {
  auto users = WithServiceUsers({User{"alice", Role::kDeflector}});
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[1], (User{"voicemail", Role::kVoicemail}));
  EXPECT_EQ(users[2], (User{"gw-pstn", Role::kGateway}));
  EXPECT_EQ(WithServiceUsers(users), users);
}

TEST(Generator, TenThousandDistinctValidDeflectors) {
  const auto users = GenerateDeflectors(10000, 42);
  ASSERT_EQ(users.size(), 10000u);
  std::set<std::string> names;
  size_t traps = 0;
  for (const User& u : users) {
    EXPECT_EQ(u.role, Role::kDeflector);
    EXPECT_TRUE(CheckUserPart(u.user).ok()) << u.user;
    EXPECT_NE(u.user, kVoicemailUser);
    EXPECT_NE(u.user, kGatewayUser);
    names.insert(u.user);
    if (IsObviousTrapName(u.user)) ++traps;
  }
  EXPECT_EQ(names.size(), users.size());
  // About a tenth are names a human sees are traps.
  EXPECT_GE(traps, 900u);
  EXPECT_LE(traps, 1100u);
}

TEST(Generator, TheRestLookLikePeople) {
  // Lower-case letters, at most one '.' or '_' between two names, digits at the end.
  const std::regex person("[a-z]+([._][a-z]+)?[0-9]*");
  size_t people = 0;
  for (const User& u : GenerateDeflectors(2000, 3)) {
    if (IsObviousTrapName(u.user)) continue;
    ++people;
    EXPECT_TRUE(std::regex_match(u.user, person)) << u.user;
  }
  EXPECT_EQ(people, 1800u);
}

TEST(Generator, DeterministicPerSeed) {
  EXPECT_EQ(GenerateDeflectors(3000, 1), GenerateDeflectors(3000, 1));
  EXPECT_NE(GenerateDeflectors(50, 1), GenerateDeflectors(50, 2));
  // A shorter list from the same seed is not required to be a prefix, but
  // the same count always gives the same names.
  const auto a = GenerateDeflectors(10, 99);
  const auto b = GenerateDeflectors(10, 99);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(GenerateDeflectors(0, 1).empty());
}

TEST(Generator, ManyNamesStayDistinct) {
  // Far more than the name lists give without digits: the fallback suffixes
  // keep every name distinct.
  const auto users = GenerateDeflectors(100000, 5);
  std::set<std::string> names;
  for (const User& u : users) names.insert(u.user);
  EXPECT_EQ(names.size(), 100000u);
}

TEST(Generator, ObviousTrapNames) {
  EXPECT_TRUE(IsObviousTrapName("do-not-call-4711"));
  EXPECT_TRUE(IsObviousTrapName("honeypot-trap-042"));
  EXPECT_TRUE(IsObviousTrapName("not.a.real.person.17"));
  EXPECT_FALSE(IsObviousTrapName("do-not-call-"));
  EXPECT_FALSE(IsObviousTrapName("alice.kowalski"));
}

}  // namespace
}  // namespace sw::honeypot
