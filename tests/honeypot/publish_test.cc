// SPDX-License-Identifier: BSD-2-Clause
// `sipwardenctl honeypot publish`: the page hands every deflector URI to a
// regex scraper and to a link crawler, tells humans not to call them, hides
// the list from view, escapes everything and loads nothing from elsewhere;
// the domain check; the atomic write; the registration list.
#include "publish.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "users.h"

namespace sw::ctl {
namespace {

using honeypot::Role;
using honeypot::User;

constexpr char kDomain[] = "honeypot.example.net";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  return names;
}

class TempDir {
 public:
  TempDir() {
    std::string t = ::testing::TempDir() + "/sw_publish_XXXXXX";
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What a typical regex harvester collects from the raw page.
std::set<std::string> Scrape(const std::string& html) {
  static const std::regex kScraper("sip:[^\"'<> ]+@[A-Za-z0-9.-]+");
  std::set<std::string> found;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kScraper);
       it != std::sregex_iterator(); ++it) {
    found.insert(it->str());
  }
  return found;
}

// What a link crawler collects: every href, with its whole <a ...> tag.
std::vector<std::pair<std::string, std::string>> Links(const std::string& html) {
  static const std::regex kAnchor("<a ([^>]*)>");
  static const std::regex kHref("href=\"([^\"]*)\"");
  std::vector<std::pair<std::string, std::string>> links;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kAnchor);
       it != std::sregex_iterator(); ++it) {
    const std::string attrs = (*it)[1].str();
    std::smatch m;
    if (std::regex_search(attrs, m, kHref)) links.emplace_back(m[1].str(), attrs);
  }
  return links;
}

// The page's elements nest properly: every tag is a known one, every
// non-void element is closed in order; every '&' starts one of our entities.
void ExpectWellFormed(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta"};
  static const std::set<std::string> kKnown = {"html", "head", "meta", "title", "style",
                                               "body", "h1",   "div",  "p",     "strong",
                                               "ul",   "li",   "a"};
  ASSERT_EQ(html.rfind("<!DOCTYPE html>\n", 0), 0u);
  std::vector<std::string> open;
  size_t i = html.find('\n') + 1;
  while ((i = html.find('<', i)) != std::string::npos) {
    const size_t end = html.find('>', i);
    ASSERT_NE(end, std::string::npos);
    std::string tag = html.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    if (closing) tag = tag.substr(1);
    const std::string name = tag.substr(0, tag.find(' '));
    ASSERT_TRUE(kKnown.count(name)) << "unknown tag <" << tag << ">";
    if (closing) {
      ASSERT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(open.back(), name) << "</" << name << "> closes <" << open.back() << ">";
      open.pop_back();
    } else if (!kVoid.count(name)) {
      open.push_back(name);
    }
    // No attribute value holds a '<' or a stray quote: attributes are
    // name="value" pairs.
    ASSERT_EQ(tag.find('<'), std::string::npos) << tag;
    ASSERT_EQ(std::count(tag.begin(), tag.end(), '"') % 2, 0) << tag;
    i = end + 1;
  }
  EXPECT_TRUE(open.empty()) << "<" << open.back() << "> left open";
  static const std::regex kEntity("^&(amp|lt|gt|quot|#39);");
  for (size_t a = html.find('&'); a != std::string::npos; a = html.find('&', a + 1)) {
    EXPECT_TRUE(std::regex_search(html.substr(a, 8), kEntity)) << html.substr(a, 20);
  }
  EXPECT_EQ(html.find('\''), std::string::npos) << "a raw apostrophe";
}

TEST(Page, EveryDeflectorIsHarvestableByRegexAndByLinks) {
  const auto users = honeypot::GenerateDeflectors(2000, 11);
  const std::string html = DeflectorPage(users, kDomain);
  std::set<std::string> want;
  for (const User& u : users) want.insert("sip:" + u.user + "@" + kDomain);
  EXPECT_EQ(Scrape(html), want);

  const auto links = Links(html);
  EXPECT_EQ(links.size(), users.size());
  std::set<std::string> hrefs;
  for (const auto& [href, attrs] : links) {
    hrefs.insert(href);
    EXPECT_NE(attrs.find("rel=\"nofollow\""), std::string::npos) << attrs;
    EXPECT_NE(attrs.find("tabindex=\"-1\""), std::string::npos) << attrs;
  }
  EXPECT_EQ(hrefs, want);
  ExpectWellFormed(html);
}

TEST(Page, HumansAreToldAndTheListIsHidden) {
  const std::string html = DeflectorPage({User{"alice.kowalski", Role::kDeflector}}, kDomain);
  const size_t notice =
      html.find("Do not call these addresses: they are traps for unsolicited calls");
  const size_t list = html.find("<div class=\"contacts\" aria-hidden=\"true\"");
  ASSERT_NE(notice, std::string::npos);
  ASSERT_NE(list, std::string::npos);
  EXPECT_LT(notice, list);
  // The notice is not inside the hidden block, the URI is.
  EXPECT_GT(html.find("sip:alice.kowalski@"), list);
  // Hidden by the style sheet and again inline: off-screen, 1 px, white on white.
  for (const char* rule : {"left:-10000px", "width:1px", "height:1px", "overflow:hidden",
                           "color:#fff", "background:#fff", "font-size:1px"}) {
    const size_t in_sheet = html.find(std::string(".contacts{"));
    ASSERT_NE(in_sheet, std::string::npos);
    EXPECT_NE(html.find(rule, in_sheet), std::string::npos) << rule;
    EXPECT_NE(html.find(rule, list), std::string::npos) << rule << " (inline)";
  }
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.find("<title>"), std::string::npos);
  ExpectWellFormed(html);
}

TEST(Page, LoadsNothingFromElsewhere) {
  const std::string html = DeflectorPage(honeypot::GenerateDeflectors(100, 2), kDomain);
  for (const char* bad : {"http:", "https:", "//", "src=", "<link", "<script", "<img", "<iframe",
                          "@import", "url(", "<base"}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  }
}

TEST(Page, EscapesEverythingAndListsOnlyDeflectors) {
  const std::vector<User> users = {
      {"o'brien&co", Role::kDeflector},
      {"a=b+c$d,e;f?g/h(i)!~*", Role::kDeflector},
      {"voicemail", Role::kVoicemail},
      {"gw-pstn", Role::kGateway},
  };
  const std::string html = DeflectorPage(users, kDomain);
  EXPECT_NE(html.find("href=\"sip:o&#39;brien&amp;co@honeypot.example.net\""), std::string::npos);
  EXPECT_NE(html.find(">sip:o&#39;brien&amp;co@honeypot.example.net<"), std::string::npos);
  EXPECT_EQ(html.find("o'brien"), std::string::npos);
  EXPECT_EQ(html.find("&co"), std::string::npos);
  EXPECT_NE(html.find("sip:a=b+c$d,e;f?g/h(i)!~*@honeypot.example.net"), std::string::npos);
  EXPECT_EQ(html.find("sip:voicemail@"), std::string::npos);
  EXPECT_EQ(html.find("sip:gw-pstn@"), std::string::npos);
  EXPECT_EQ(Links(html).size(), 2u);
  ExpectWellFormed(html);
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

TEST(Domain, GoodAndBad) {
  for (const char* good :
       {"honeypot.example.net", "localhost", "Honeypot.Example.NET", "xn--bcher-kva.example",
        "192.0.2.10", "[2001:db8::1]", "a-b.c0", "3com.example"}) {
    EXPECT_TRUE(CheckSipDomain(good).ok()) << good << ": " << CheckSipDomain(good);
  }
  struct Bad {
    const char* domain;
    const char* why;
  } bads[] = {
      {"", "empty"},
      {"honeypot.example.net.", "ends with '.'"},
      {"a..b", "empty label"},
      {".a.b", "empty label"},
      {"-a.b", "starts or ends with '-'"},
      {"a-.b", "starts or ends with '-'"},
      {"host.example.net:5060", "no port here"},
      {"bad_domain.net", "'_' is not allowed"},
      {"<script>.net", "'<' is not allowed"},
      {"a b.net", "' ' is not allowed"},
      {"1.2.3.999", "not a host name nor an IPv4 address"},
      {"example.123", "not a host name nor an IPv4 address"},
      {"[2001:db8::1", "closing ']'"},
      {"[nonsense]", "not an IPv6 address"},
  };
  for (const Bad& b : bads) {
    const absl::Status st = CheckSipDomain(b.domain);
    ASSERT_FALSE(st.ok()) << b.domain;
    EXPECT_NE(std::string(st.message()).find(b.why), std::string::npos) << b.domain << ": " << st;
    EXPECT_NE(std::string(st.message()).find("bad --domain"), std::string::npos);
  }
  EXPECT_FALSE(CheckSipDomain(std::string(64, 'a') + ".net").ok());
  EXPECT_TRUE(CheckSipDomain(std::string(63, 'a') + ".net").ok());
  std::string long_name;
  for (int i = 0; i < 51; ++i) long_name += "abcd.";  // 258 bytes
  long_name += "net";
  EXPECT_FALSE(CheckSipDomain(long_name).ok());
}

TEST(AtomicWrite, ReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir.path() + "/page.html";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  EXPECT_EQ(Read(path), "second");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(DirEntries(dir.path()), std::vector<std::string>{"page.html"});
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/missing/page.html", "x").ok());
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/", "x").ok());
  EXPECT_EQ(DirEntries(dir.path()), std::vector<std::string>{"page.html"});
}

TEST(Publish, MadeUpUsersGiveThePageAndTheRegistrationList) {
  TempDir dir;
  PublishOptions o;
  o.domain = kDomain;
  o.count = 300;
  o.seed = 9;
  o.out = dir.path() + "/contacts.html";
  auto r = Publish(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->published, 300u);
  EXPECT_EQ(r->registered, 302u);
  EXPECT_EQ(r->registrations_out, o.out + ".users");
  auto registered = honeypot::LoadUsers(r->registrations_out);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(*registered, honeypot::WithServiceUsers(honeypot::GenerateDeflectors(300, 9)));
  const std::string html = Read(o.out);
  std::set<std::string> want;
  for (const User& u : *registered) {
    if (u.role == Role::kDeflector) want.insert("sip:" + u.user + "@" + kDomain);
  }
  EXPECT_EQ(Scrape(html), want);
}

TEST(Publish, AUsersFileAndItsRefusals) {
  TempDir dir;
  const std::string users = dir.path() + "/users.txt";
  {
    std::ofstream out(users);
    out << "alice.kowalski deflector\ndo-not-call-4711 deflector\ngw-pstn gateway\n";
  }
  PublishOptions o;
  o.domain = kDomain;
  o.users_file = users;
  o.out = dir.path() + "/p.html";
  o.registrations_out = dir.path() + "/reg.users";
  auto r = Publish(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->published, 2u);
  auto registered = honeypot::LoadUsers(o.registrations_out);
  ASSERT_TRUE(registered.ok());
  EXPECT_EQ(*registered, (std::vector<User>{{"alice.kowalski", Role::kDeflector},
                                            {"do-not-call-4711", Role::kDeflector},
                                            {"gw-pstn", Role::kGateway},
                                            {"voicemail", Role::kVoicemail}}));

  auto refused = [&](PublishOptions bad, const std::string& why) {
    auto res = Publish(bad);
    ASSERT_FALSE(res.ok()) << why;
    EXPECT_NE(std::string(res.status().message()).find(why), std::string::npos) << res.status();
  };
  PublishOptions b = o;
  b.domain = "";
  refused(b, "needs --domain");
  b = o;
  b.domain = "bad domain";
  refused(b, "bad --domain 'bad domain'");
  b = o;
  b.out = "";
  refused(b, "needs --out");
  b = o;
  b.registrations_out = b.out;
  refused(b, "must differ from --out");
  b = o;
  b.users_file = dir.path() + "/none.txt";
  refused(b, "none.txt: cannot open");
  {
    std::ofstream out(dir.path() + "/services.txt");
    out << "voicemail voicemail\n";
  }
  b = o;
  b.users_file = dir.path() + "/services.txt";
  refused(b, "no deflector users to publish");
  {
    std::ofstream out(dir.path() + "/broken.txt");
    out << "alice deflector\nbob@x deflector\n";
  }
  b = o;
  b.users_file = dir.path() + "/broken.txt";
  refused(b, "broken.txt:2: bad user 'bob@x'");
  b = o;
  b.users_file = "";
  b.count = 0;
  refused(b, "--count must be within");
}

}  // namespace
}  // namespace sw::ctl
