// SPDX-License-Identifier: BSD-2-Clause
#include "kamailio_graylist.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"

namespace sw {

namespace {

// A graylist without an expiry: the entry lives this long (seconds), and
// every resync writes it again.
constexpr int64_t kNoExpiryTtlS = 365LL * 24 * 3600;
// Addresses written per round before the thread looks at its timers again.
constexpr size_t kChunk = 256;

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

// ---- KamailioRpc ----------------------------------------------------------

KamailioRpc::KamailioRpc(std::string socket_path, absl::Duration timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

KamailioRpc::~KamailioRpc() {
  if (fd_ >= 0) close(fd_);
}

absl::Status KamailioRpc::Open() {
  if (fd_ >= 0) return absl::OkStatus();
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket(AF_UNIX): ", Errno(errno)));
  // Autobind: the kernel gives the socket a unique abstract address, where
  // Kamailio sends its answers; nothing to clean up, no file permissions.
  sockaddr_un self = {};
  self.sun_family = AF_UNIX;
  if (bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof(sa_family_t)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("binding the reply socket: ", Errno(err)));
  }
  fd_ = fd;
  return absl::OkStatus();
}

absl::Status KamailioRpc::SendError(int err) const {
  const std::string where = absl::StrCat("Kamailio RPC socket ", path_);
  struct stat st;
  if (err == ENOENT || stat(path_.c_str(), &st) != 0) {
    return absl::UnavailableError(absl::StrCat(
        where,
        ": no such socket (is Kamailio running, with jsonrpcs' datagram transport there: "
        "modparam(\"jsonrpcs\", \"transport\", 6), modparam(\"jsonrpcs\", \"dgram_socket\", \"",
        path_, "\")?)"));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::UnavailableError(absl::StrCat(where, ": not a socket"));
  }
  switch (err) {
    case ECONNREFUSED:
      return absl::UnavailableError(
          absl::StrCat(where, ": nobody listens on it (Kamailio stopped, or it is a leftover)"));
    case EACCES:
    case EPERM:
      return absl::UnavailableError(absl::StrCat(
          where,
          ": permission denied (jsonrpcs' dgram_mode, dgram_user and dgram_group decide who "
          "may write to it)"));
    case EAGAIN:
    case ENOBUFS:
      return absl::UnavailableError(absl::StrCat(where, ": its queue is full (Kamailio busy)"));
    default:
      return absl::UnavailableError(absl::StrCat(where, ": ", Errno(err)));
  }
}

absl::StatusOr<KamailioRpc::Reply> KamailioRpc::Call(std::string_view method,
                                                     const std::vector<Param>& params) {
  if (auto st = Open(); !st.ok()) return st;
  const int64_t id = next_id_++;
  JsonWriter w;
  w.BeginObject().Field("jsonrpc", "2.0").Field("method", method);
  if (!params.empty()) {
    w.Key("params").BeginArray();
    for (const Param& p : params) {
      if (const auto* s = std::get_if<std::string>(&p)) {
        w.String(*s);
      } else {
        w.Int(std::get<int64_t>(p));
      }
    }
    w.EndArray();
  }
  w.Field("id", id).EndObject();
  const std::string_view req = w.str();
  sockaddr_un to = {};
  to.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(to.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("Kamailio RPC socket path too long: ", path_));
  }
  std::memcpy(to.sun_path, path_.data(), path_.size());
  // Answers to earlier requests that timed out are still queued: skipped
  // below by their id.
  if (sendto(fd_, req.data(), req.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&to),
             sizeof(to)) < 0) {
    return SendError(errno);
  }
  const absl::Time deadline = absl::Now() + timeout_;
  std::string buf(65536, '\0');
  while (true) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      return absl::UnavailableError(absl::StrCat("Kamailio RPC socket ", path_, ": no answer to ",
                                                 AV(method), " within ",
                                                 absl::FormatDuration(timeout_)));
    }
    pollfd pfd = {fd_, POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left_ms));
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", Errno(errno)));
    }
    if (n <= 0) continue;
    const ssize_t got = recv(fd_, buf.data(), buf.size(), 0);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("reading Kamailio's answer: ", Errno(errno)));
    }
    google::protobuf::Struct doc;
    const std::string text(buf.data(), static_cast<size_t>(got));
    if (!google::protobuf::util::JsonStringToMessage(text, &doc).ok()) {
      return absl::UnavailableError(absl::StrCat(
          "Kamailio RPC socket ", path_, ": an answer that is not JSON: ", text.substr(0, 200)));
    }
    const auto& f = doc.fields();
    auto idf = f.find("id");
    if (idf == f.end() || idf->second.kind_case() != google::protobuf::Value::kNumberValue ||
        static_cast<int64_t>(idf->second.number_value()) != id) {
      continue;  // a late answer to an earlier request
    }
    Reply r;
    if (auto res = f.find("result"); res != f.end()) {
      r.ok = true;
      r.result = res->second;
      return r;
    }
    r.ok = false;
    if (auto err = f.find("error");
        err != f.end() && err->second.kind_case() == google::protobuf::Value::kStructValue) {
      const auto& ef = err->second.struct_value().fields();
      if (auto c = ef.find("code"); c != ef.end())
        r.code = static_cast<int>(c->second.number_value());
      if (auto m = ef.find("message"); m != ef.end()) r.message = m->second.string_value();
    } else {
      r.message = text.substr(0, 200);
    }
    return r;
  }
}

// ---- KamailioGraylist -----------------------------------------------------

absl::StatusOr<std::unique_ptr<KamailioGraylist>> KamailioGraylist::Create(
    KamailioGraylistOptions o) {
  if (o.socket_path.empty()) return absl::InvalidArgumentError("no Kamailio RPC socket given");
  if (o.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("the Kamailio RPC socket path is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1,
                                                   " bytes: ", o.socket_path));
  }
  if (o.table.empty() || o.table.size() > 64 ||
      !std::all_of(o.table.begin(), o.table.end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; })) {
    return absl::InvalidArgumentError(absl::StrCat("bad Kamailio htable name '", o.table,
                                                   "' (letters, digits, '_' and '-', at most 64)"));
  }
  if (o.timeout <= absl::ZeroDuration()) o.timeout = absl::Milliseconds(500);
  if (o.check_interval <= absl::ZeroDuration()) o.check_interval = absl::Seconds(5);
  if (o.retry_min <= absl::ZeroDuration()) o.retry_min = absl::Milliseconds(200);
  if (o.retry_max < o.retry_min) o.retry_max = o.retry_min;
  if (!o.now_unix_ns) o.now_unix_ns = [] { return absl::ToUnixNanos(absl::Now()); };
  return std::unique_ptr<KamailioGraylist>(new KamailioGraylist(std::move(o)));
}

KamailioGraylist::KamailioGraylist(KamailioGraylistOptions o)
    : o_(std::move(o)), rpc_(o_.socket_path, o_.timeout), retry_delay_(o_.retry_min) {}

KamailioGraylist::~KamailioGraylist() { Stop(); }

int64_t KamailioGraylist::Now() const { return o_.now_unix_ns(); }

void KamailioGraylist::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  stop_ = false;
  next_check_ = Clock::now();
  thread_ = std::thread([this] { Run(); });
}

void KamailioGraylist::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  started_ = false;
}

void KamailioGraylist::GraylistSet(const IpAddress& host, int64_t expires_unix_ns) {
  std::string key = host.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!desired_.contains(key) && desired_.size() >= o_.max_entries) {
      ++stats_.dropped;
      return;
    }
    desired_[key] = expires_unix_ns;
    dirty_.insert(std::move(key));
  }
  cv_.notify_all();
}

void KamailioGraylist::GraylistRemoved(const IpAddress& host) {
  std::string key = host.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired_.erase(key);
    dirty_.insert(std::move(key));
  }
  cv_.notify_all();
}

void KamailioGraylist::GraylistsReplaced(std::vector<std::pair<IpAddress, int64_t>> all) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired_.clear();
    for (const auto& [host, expires] : all) {
      if (desired_.size() >= o_.max_entries) {
        ++stats_.dropped;
        continue;
      }
      desired_[host.ToString()] = expires;
    }
    dirty_.clear();  // the resync writes them all
    resync_ = true;
    have_snapshot_ = true;
  }
  cv_.notify_all();
}

KamailioGraylist::Stats KamailioGraylist::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.entries = desired_.size();
  s.pending = resync_ ? desired_.size() : dirty_.size();
  return s;
}

bool KamailioGraylist::WaitIdle(absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (have_snapshot_ && !resync_ && dirty_.empty() && !busy_) return true;
    }
    if (absl::Now() >= until) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void KamailioGraylist::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const Clock::time_point now = Clock::now();
    const bool may_ask = now >= retry_at_;
    const bool check_due = now >= next_check_;
    const bool work = have_snapshot_ && (resync_ || !dirty_.empty());
    if (may_ask && (check_due || work)) {
      lock.unlock();
      Step(check_due);
      lock.lock();
      continue;
    }
    if (!may_ask) {
      cv_.wait_until(lock, retry_at_, [&] { return stop_; });
    } else {
      cv_.wait_until(lock, next_check_,
                     [&] { return stop_ || (have_snapshot_ && (resync_ || !dirty_.empty())); });
    }
  }
}

void KamailioGraylist::Away(const absl::Status& why) {
  std::string msg(why.message());
  bool log;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.unreachable;
    log = stats_.reachable || stats_.last_error != msg;
    stats_.reachable = false;
    stats_.last_error = msg;
    retry_at_ = Clock::now() + absl::ToChronoNanoseconds(retry_delay_);
    retry_delay_ = std::min(retry_delay_ * 2, o_.retry_max);
  }
  if (log && o_.log) {
    std::cerr << "sipwarden-agent: " << msg << "; the graylists are pushed when it answers\n";
  }
}

void KamailioGraylist::Refused(std::string_view what, const KamailioRpc::Reply& r) {
  const std::string msg =
      absl::StrCat("Kamailio refused ", AV(what), ": ", r.message, " (", r.code, ")");
  bool log = false;
  uint64_t more = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.rpc_errors;
    stats_.last_error = msg;
    // At most one line every 10 s.
    const Clock::time_point now = Clock::now();
    if (now - last_refusal_log_ >= std::chrono::seconds(10)) {
      log = true;
      more = refusals_unlogged_;
      refusals_unlogged_ = 0;
      last_refusal_log_ = now;
    } else {
      ++refusals_unlogged_;
    }
  }
  if (log && o_.log) {
    std::cerr << "sipwarden-agent: " << msg;
    if (more > 0) std::cerr << " (and " << more << " refusals not shown)";
    std::cerr << "\n";
  }
}

bool KamailioGraylist::Check() {
  auto r = rpc_.Call("core.uptime");
  if (!r.ok()) {
    Away(r.status());
    return false;
  }
  if (!r->ok) {
    Refused("core.uptime", *r);
    Away(absl::UnavailableError(
        absl::StrCat("Kamailio RPC socket ", o_.socket_path, ": core.uptime refused")));
    return false;
  }
  std::string up;
  if (r->result.kind_case() == google::protobuf::Value::kStructValue) {
    const auto& f = r->result.struct_value().fields();
    if (auto it = f.find("up_since"); it != f.end()) up = it->second.string_value();
  }
  bool restarted = false, back = false;
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stats_.up_since.empty() && up != stats_.up_since) {
      restarted = true;
      ++stats_.restarts;
      if (have_snapshot_) resync_ = true;
    }
    back = !stats_.reachable;
    stats_.reachable = true;
    stats_.up_since = up;
    if (back) stats_.last_error.clear();
    retry_delay_ = o_.retry_min;
    next_check_ = Clock::now() + absl::ToChronoNanoseconds(o_.check_interval);
    n = desired_.size();
  }
  if (o_.log && (restarted || back)) {
    std::cerr << "sipwarden-agent: Kamailio answers on " << o_.socket_path << " (up since " << up
              << ")"
              << (restarted ? ": it restarted, its htable '" + o_.table + "' is rewritten"
                            : std::string())
              << "; " << n << " graylists for it\n";
  }
  return true;
}

bool KamailioGraylist::Resync() {
  auto tables = rpc_.Call("htable.listTables");
  if (!tables.ok()) {
    Away(tables.status());
    return false;
  }
  bool found = false;
  if (tables->ok && tables->result.kind_case() == google::protobuf::Value::kListValue) {
    for (const auto& t : tables->result.list_value().values()) {
      if (t.kind_case() != google::protobuf::Value::kStructValue) continue;
      const auto& f = t.struct_value().fields();
      if (auto it = f.find("name"); it != f.end() && it->second.string_value() == o_.table) {
        found = true;
      }
    }
  }
  if (!found) {
    KamailioRpc::Reply r;
    r.code = tables->ok ? 404 : tables->code;
    r.message = tables->ok ? absl::StrCat("Kamailio has no htable '", o_.table,
                                          "': its configuration needs modparam(\"htable\", "
                                          "\"htable\", \"",
                                          o_.table, "=>size=10;autoexpire=3600\")")
                           : tables->message;
    Refused("htable.listTables", r);
    std::lock_guard<std::mutex> lock(mu_);
    retry_at_ = Clock::now() + absl::ToChronoNanoseconds(o_.check_interval);
    return false;
  }
  auto flushed = rpc_.Call("htable.flush", {o_.table});
  if (!flushed.ok()) {
    Away(flushed.status());
    return false;
  }
  if (!flushed->ok) {
    Refused(absl::StrCat("htable.flush ", o_.table), *flushed);
    std::lock_guard<std::mutex> lock(mu_);
    retry_at_ = Clock::now() + absl::ToChronoNanoseconds(o_.check_interval);
    return false;
  }
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, expires] : desired_) dirty_.insert(key);
    n = desired_.size();
    resync_ = false;
    ++stats_.resyncs;
  }
  if (o_.log) {
    std::cerr << "sipwarden-agent: Kamailio htable '" << o_.table << "' flushed; writing " << n
              << " graylists\n";
  }
  return true;
}

bool KamailioGraylist::Push(const std::string& key) {
  std::optional<int64_t> expires;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = desired_.find(key); it != desired_.end()) expires = it->second;
  }
  int64_t ttl_s = 0;
  if (expires) {
    if (*expires == 0) {
      ttl_s = kNoExpiryTtlS;
    } else {
      const int64_t left_ns = *expires - Now();
      ttl_s = left_ns <= 0 ? 0 : (left_ns + 999'999'999) / 1'000'000'000;
    }
  }
  if (expires && ttl_s > 0) {
    // Kamailio's RPC integers are 32-bit.
    const int64_t value = std::min<int64_t>(*expires / 1'000'000'000, INT32_MAX);
    auto r = rpc_.Call("htable.setxi", {o_.table, key, value, std::min<int64_t>(ttl_s, INT32_MAX)});
    if (!r.ok()) {
      Away(r.status());
      return false;
    }
    if (!r->ok) {
      Refused(absl::StrCat("htable.setxi ", o_.table, " ", key), *r);
      return true;  // not retried: a refusal would come again
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.sets;
    return true;
  }
  // Lifted, or expired already (Kamailio would drop it on its own).
  auto r = rpc_.Call("htable.delete", {o_.table, key});
  if (!r.ok()) {
    Away(r.status());
    return false;
  }
  if (!r->ok && r->code != 404) {  // 404: gone already
    Refused(absl::StrCat("htable.delete ", o_.table, " ", key), *r);
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.removes;
  return true;
}

void KamailioGraylist::Step(bool check_due) {
  bool reachable;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reachable = stats_.reachable;
  }
  if ((check_due || !reachable) && !Check()) return;
  bool resync;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!have_snapshot_) return;
    resync = resync_;
  }
  if (resync && !Resync()) return;
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!dirty_.empty() && keys.size() < kChunk) {
      keys.push_back(std::move(dirty_.extract(dirty_.begin()).value()));
    }
    busy_ = !keys.empty();
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!Push(keys[i])) {
      // Kamailio went away: what is left waits for it.
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t j = i; j < keys.size(); ++j) dirty_.insert(keys[j]);
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  busy_ = false;
}

}  // namespace sw
