// SPDX-License-Identifier: BSD-2-Clause
#include "honeypot_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sipwarden/ip.h"

namespace sw::controller {

namespace v1 = sipwarden::v1;

HoneypotPolicy::HoneypotPolicy(DecisionTable* table, HoneypotPolicyOptions options)
    : table_(table), o_(std::move(options)) {
  o_.block_hits = std::max<uint32_t>(1, o_.block_hits);
  o_.max_sources = std::max<size_t>(1, o_.max_sources);
}

size_t HoneypotPolicy::sources() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sources_.size();
}

bool HoneypotPolicy::Counts(const v1::HoneypotHit& hit, int64_t now, int64_t* t) const {
  // A deflected call went to a real user: its caller was graylisted already
  // and called no deflector, so it is no new evidence.
  if (!o_.enabled || hit.stage() != v1::HoneypotHit::STAGE_ARRIVED || hit.deflected()) {
    return false;
  }
  // The honeypot's clock, except that a hit is never taken to be from the
  // future (a fast clock would stretch the window).
  *t = hit.ts_unix_ns() > 0 ? std::min(hit.ts_unix_ns(), now) : now;
  return true;
}

void HoneypotPolicy::Record(const std::string& src, const std::string& honeypot,
                            const v1::HoneypotHit& hit, int64_t t, bool* first, bool* news,
                            bool* over) {
  auto it = sources_.find(src);
  if (it == sources_.end()) {
    if (sources_.size() >= o_.max_sources) {
      sources_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(src);
    it = sources_.emplace(src, Source{}).first;
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Source& s = it->second;
  const int64_t oldest = t - o_.window_ns;
  std::erase_if(s.calls, [&](const auto& c) { return c.first < oldest; });
  std::erase_if(s.honeypots, [&](const auto& h) { return h.second < oldest; });
  *first = s.calls.empty() && s.honeypots.empty();
  *news = false;
  // A call is its called user and Call-ID: a retransmission (or the redial
  // of one INVITE) carries the same; a request without a Call-ID counts on
  // its own.
  std::string key = hit.call_id().empty() ? absl::StrCat("\x01", honeypot, "\x01", hit.id())
                                          : absl::StrCat(hit.callee(), "\x01", hit.call_id());
  auto call =
      std::find_if(s.calls.begin(), s.calls.end(), [&](const auto& c) { return c.second == key; });
  if (call == s.calls.end()) {
    *news = true;
    // Only block_hits of them matter: the oldest makes room.
    if (s.calls.size() >= o_.block_hits) {
      s.calls.erase(std::min_element(s.calls.begin(), s.calls.end()));
    }
    s.calls.emplace_back(t, std::move(key));
  } else {
    call->first = std::max(call->first, t);
  }
  auto pot = s.honeypots.find(honeypot);
  if (pot == s.honeypots.end()) {
    *news = true;
    if (s.honeypots.size() >= 2) {
      s.honeypots.erase(
          std::min_element(s.honeypots.begin(), s.honeypots.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; }));
    }
    s.honeypots.emplace(honeypot, t);
  } else {
    pot->second = std::max(pot->second, t);
  }
  *over = s.calls.size() >= o_.block_hits || s.honeypots.size() >= 2;
}

void HoneypotPolicy::Replay(const std::string& honeypot, const v1::HoneypotHit& hit, int64_t now) {
  int64_t t = 0;
  if (!Counts(hit, now, &t) || t < now - o_.window_ns) return;
  auto addr = IpAddress::Parse(hit.src_ip());
  if (!addr.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  bool first, news, over;
  Record(addr->ToString(), honeypot, hit, t, &first, &news, &over);
}

HoneypotPolicy::Result HoneypotPolicy::Observe(const std::string& honeypot,
                                               const v1::HoneypotHit& hit, int64_t now) {
  Result r;
  int64_t t = 0;
  if (!Counts(hit, now, &t)) return r;
  if (t < now - o_.window_ns) {
    r.outcome = Outcome::kStale;
    return r;
  }
  auto addr = IpAddress::Parse(hit.src_ip());
  if (!addr.ok()) return r;  // the controller refuses such hits before
  IpPrefix host;
  host.addr = *addr;
  host.length = addr->is_v4() ? 32 : 128;
  if (table_->Allowed(host)) {
    r.outcome = Outcome::kSpared;
    return r;
  }
  std::lock_guard<std::mutex> lock(mu_);
  bool first, news, over;
  Record(addr->ToString(), honeypot, hit, t, &first, &news, &over);
  r.outcome = Outcome::kNothingNew;
  // Blocked already (by this policy or anyone): the block stands as it is,
  // and a graylist under it would change nothing.
  const bool blocked = table_->Find(host, v1::ACTION_BLOCK).has_value();
  absl::StatusOr<v1::Decision> d;
  if (over && news && !blocked) {
    d = table_->Block(host, now + o_.block_ttl_ns, v1::ORIGIN_HONEYPOT, "honeypot", honeypot, now);
    r.outcome = Outcome::kBlocked;
  } else if (first && !over && !blocked) {
    d = table_->Graylist(host, now + o_.graylist_ttl_ns, o_.graylist_rate, o_.graylist_burst,
                         v1::ORIGIN_HONEYPOT, "honeypot", honeypot, now);
    r.outcome = Outcome::kGraylisted;
  } else {
    return r;
  }
  if (!d.ok()) {
    r.outcome = Outcome::kRefused;
    r.error = d.status();
    return r;
  }
  r.decision = *std::move(d);
  return r;
}

}  // namespace sw::controller
