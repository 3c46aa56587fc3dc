// SPDX-License-Identifier: BSD-2-Clause
#include "publish.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"

namespace sw::ctl {
namespace {

using sw::AV;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(AV(what), " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status CheckSipDomain(std::string_view domain) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad --domain '", AV(domain), "': ", AV(why)));
  };
  if (domain.empty()) return bad("empty");
  if (domain.front() == '[') {
    if (domain.back() != ']') return bad("an IPv6 address needs its closing ']'");
    const std::string inner(domain.substr(1, domain.size() - 2));
    in6_addr a6;
    if (inet_pton(AF_INET6, inner.c_str(), &a6) != 1) return bad("not an IPv6 address");
    return absl::OkStatus();
  }
  if (domain.size() > 253) return bad("longer than 253 bytes");
  if (domain.back() == '.') return bad("ends with '.' (write the name without the root dot)");
  std::string_view last_label;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    const std::string_view label = domain.substr(start, dot - start);
    if (label.empty()) return bad("empty label (two dots, or a leading dot)");
    if (label.size() > 63) return bad("a label is longer than 63 bytes");
    for (size_t i = 0; i < label.size(); ++i) {
      const char c = label[i];
      if (c == ':') return bad("no port here (the domain only, e.g. honeypot.example.net)");
      if (!IsAlnum(c) && c != '-') {
        return bad(absl::StrCat("'", std::string(1, c),
                                "' is not allowed in a host name (letters, digits, '-', '.')"));
      }
    }
    if (label.front() == '-' || label.back() == '-') return bad("a label starts or ends with '-'");
    last_label = label;
    start = dot + 1;
  }
  bool numeric = true;
  for (char c : last_label) numeric = numeric && c >= '0' && c <= '9';
  if (numeric) {
    in_addr a4;
    const std::string s(domain);
    if (inet_pton(AF_INET, s.c_str(), &a4) != 1) return bad("not a host name nor an IPv4 address");
  }
  return absl::OkStatus();
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string DeflectorPage(const std::vector<honeypot::User>& users, std::string_view domain) {
  const std::string d = HtmlEscape(domain);
  std::string out;
  out.reserve(1024 + users.size() * (2 * (domain.size() + 24) + 64));
  absl::StrAppend(
      &out,
      "<!DOCTYPE html>\n"
      "<html lang=\"en\">\n"
      "<head>\n"
      "<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>SIP contacts at ",
      d, "</title>\n",
      "<style>\n"
      "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;"
      "color:#222;background:#fff}\n"
      ".notice{border:2px solid #b00000;padding:0.5em 1em;background:#fff4f4}\n"
      ".contacts{position:absolute;left:-10000px;top:-10000px;width:1px;height:1px;"
      "overflow:hidden;color:#fff;background:#fff;font-size:1px;line-height:1px}\n"
      ".contacts a{color:#fff;text-decoration:none}\n"
      "</style>\n"
      "</head>\n"
      "<body>\n"
      "<h1>SIP contacts at ",
      d, "</h1>\n",
      "<div class=\"notice\" role=\"note\">\n"
      "<p><strong>Do not call these addresses: they are traps for unsolicited calls.</strong>"
      "</p>\n"
      "<p>Nobody answers them. Every call to them is recorded and reported, and the "
      "calling system is blocked. If you can see a list of addresses on this page, your "
      "browser shows text this page hides: please ignore the list.</p>\n"
      "</div>\n",
      // The inline style repeats the class for readers that drop <style>.
      "<div class=\"contacts\" aria-hidden=\"true\" style=\"position:absolute;left:-10000px;"
      "width:1px;height:1px;overflow:hidden;color:#fff;background:#fff;font-size:1px\">\n"
      "<ul>\n");
  for (const honeypot::User& u : users) {
    if (u.role != honeypot::Role::kDeflector) continue;
    const std::string uri = absl::StrCat("sip:", HtmlEscape(u.user), "@", d);
    absl::StrAppend(&out, "<li><a href=\"", uri, "\" rel=\"nofollow\" tabindex=\"-1\">", uri,
                    "</a></li>\n");
  }
  absl::StrAppend(&out,
                  "</ul>\n"
                  "</div>\n"
                  "</body>\n"
                  "</html>\n");
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' names a directory, not a file"));
  }
  std::string tmp = absl::StrCat(dir == "." ? "" : dir, ".", base, ".tmp.XXXXXX");
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return ErrnoError("cannot create a temporary file beside", path);
  auto fail = [&](std::string_view what) {
    absl::Status st = ErrnoError(what, tmp);
    close(fd);
    unlink(tmp.c_str());
    return st;
  };
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  if (fsync(fd) != 0) return fail("cannot sync");
  if (close(fd) != 0) {
    absl::Status st = ErrnoError("cannot close", tmp);
    unlink(tmp.c_str());
    return st;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = ErrnoError("cannot rename the temporary file to", path);
    unlink(tmp.c_str());
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<PublishResult> Publish(const PublishOptions& o) {
  if (o.domain.empty()) {
    return absl::InvalidArgumentError(
        "honeypot publish needs --domain DOMAIN (the honeypot's SIP domain)");
  }
  if (absl::Status st = CheckSipDomain(o.domain); !st.ok()) return st;
  if (o.out.empty()) {
    return absl::InvalidArgumentError("honeypot publish needs --out FILE (the HTML page)");
  }
  PublishResult r;
  r.out = o.out;
  r.registrations_out = o.registrations_out.empty() ? o.out + ".users" : o.registrations_out;
  if (r.registrations_out == r.out) {
    return absl::InvalidArgumentError("--registrations-out must differ from --out");
  }
  std::vector<honeypot::User> users;
  if (!o.users_file.empty()) {
    auto loaded = honeypot::LoadUsers(o.users_file);
    if (!loaded.ok()) return loaded.status();
    users = std::move(*loaded);
  } else {
    if (o.count < 1 || o.count > honeypot::kMaxGeneratedUsers) {
      return absl::InvalidArgumentError(
          absl::StrCat("--count must be within 1..", honeypot::kMaxGeneratedUsers));
    }
    users = honeypot::GenerateDeflectors(o.count, o.seed);
  }
  for (const honeypot::User& u : users) r.published += u.role == honeypot::Role::kDeflector;
  if (r.published == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.users_file, ": no deflector users to publish"));
  }
  const std::vector<honeypot::User> registrations = honeypot::WithServiceUsers(users);
  r.registered = registrations.size();
  // The registration list first: a page never names users the honeypot
  // was not given.
  if (absl::Status st =
          WriteFileAtomically(r.registrations_out, honeypot::FormatUsers(registrations));
      !st.ok()) {
    return st;
  }
  if (absl::Status st = WriteFileAtomically(r.out, DeflectorPage(users, o.domain)); !st.ok()) {
    return st;
  }
  return r;
}

}  // namespace sw::ctl
