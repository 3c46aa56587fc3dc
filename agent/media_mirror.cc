// SPDX-License-Identifier: BSD-2-Clause
#include "media_mirror.h"

#include <cstring>
#include <functional>

namespace sw {

MediaMirror::Key MediaMirror::KeyOf(const IpAddress& addr, uint16_t port) {
  Key k;
  std::memcpy(k.data(), addr.bytes.data(), 16);
  k[16] = static_cast<char>(port >> 8);
  k[17] = static_cast<char>(port & 0xff);
  return k;
}

IpAddress MediaMirror::AddrOf(const Key& k) {
  IpAddress a;
  std::memcpy(a.bytes.data(), k.data(), 16);
  return a;
}

uint16_t MediaMirror::PortOf(const Key& k) {
  return static_cast<uint16_t>((static_cast<uint8_t>(k[16]) << 8) | static_cast<uint8_t>(k[17]));
}

void MediaMirror::InstallOffers(const std::string& owner) {
  auto o = offers_.find(owner);
  if (o == offers_.end()) return;
  for (const Key& k : o->second) {
    auto it = entries_.find(k);
    if (it == entries_.end() || it->second.owner != owner || it->second.installed) continue;
    it->second.installed = true;
    ++stats_.expected;
    Arm(AddrOf(k), PortOf(k), it->second, it->second.watch_until_ns != 0, BootNs(), false);
  }
  offers_.erase(o);
}

void MediaMirror::Arm(const IpAddress& addr, uint16_t port, const Entry& e, bool watch,
                      uint64_t since_ns, bool keep_counters) {
  const sw_media_key key = MediaKey(addr, port);
  sw_media_entry v{};
  if (keep_counters) {
    auto old = maps_.Media(key);
    if (old.ok() && old->has_value()) v = **old;
  }
  v.dialog_id = std::hash<std::string>{}(e.owner);
  if (watch) {
    v.flags = SW_MEDIA_WATCH;  // clears NOTIFIED: one new notice
    v.watch_since_ns = since_ns;
  } else {
    v.flags = 0;
    v.watch_since_ns = 0;
  }
  if (!maps_.MediaPut(key, v).ok()) ++stats_.map_errors;
}

void MediaMirror::OnEndpoint(const ev::MediaEndpointChange& c) {
  using Kind = ev::MediaEndpointChange::Kind;
  const Key k = KeyOf(c.addr, c.port);
  auto it = entries_.find(k);
  switch (c.kind) {
    case Kind::kExpected: {
      if (it == entries_.end()) {
        if (entries_.size() >= max_tracked_) {
          ++stats_.over_limit;
          return;
        }
        it = entries_.emplace(k, Entry{}).first;
      }
      Entry& e = it->second;
      const bool was_installed = e.installed;
      e.owner = c.owner;
      e.from_sdp = true;
      e.ended = false;
      if (!c.answered) {
        // An offer: held back until the call is answered.
        if (offers_.size() >= kMaxPendingOwners) {
          stats_.offers_dropped += offers_.size();
          offers_.clear();
        }
        offers_[c.owner].push_back(k);
        ++stats_.offers_pending;
        // The kernel still holds the endpoint for an earlier call: quiet it,
        // so that this call's media is not taken for media after that one.
        if (was_installed) Arm(c.addr, c.port, e, e.watch_until_ns != 0, BootNs(), false);
        return;
      }
      e.installed = true;
      ++stats_.expected;
      // A rule watch on the endpoint stays armed; otherwise count quietly.
      Arm(c.addr, c.port, e, e.watch_until_ns != 0, BootNs(), /*keep_counters=*/false);
      InstallOffers(c.owner);
      return;
    }
    case Kind::kEnded: {
      if (it == entries_.end()) return;
      it->second.owner = c.owner;  // the pipeline knows which call had it last
      it->second.ended = true;
      offers_.erase(c.owner);
      if (!it->second.installed) return;  // never answered: no media expected
      ++stats_.ended;
      // Armed in the kernel's clock: the grace runs from now.
      Arm(c.addr, c.port, it->second, true, BootNs() + static_cast<uint64_t>(c.grace_ns),
          /*keep_counters=*/true);
      return;
    }
    case Kind::kForgotten: {
      if (it == entries_.end()) return;
      ++stats_.forgotten;
      offers_.erase(c.owner);
      if (it->second.watch_until_ns) {  // a rule still watches it
        it->second.from_sdp = false;
        return;
      }
      if (it->second.installed) (void)maps_.MediaDel(MediaKey(c.addr, c.port));
      entries_.erase(it);
      return;
    }
  }
}

void MediaMirror::OnWatch(const rules::WatchVerdict& v) {
  const uint64_t now = BootNs();
  const uint64_t ttl = v.ttl_ns > 0 ? static_cast<uint64_t>(v.ttl_ns) : 60'000'000'000ull;
  for (const auto& ep : v.endpoints) {
    const Key k = KeyOf(ep.addr, ep.port);
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      if (entries_.size() >= max_tracked_) {
        ++stats_.over_limit;
        continue;
      }
      it = entries_.emplace(k, Entry{}).first;
      it->second.owner = v.call_id;
    }
    if (it->second.watch_until_ns == 0) ++watched_;
    it->second.watch_until_ns = now + ttl;
    it->second.installed = true;
    ++stats_.watches;
    Arm(ep.addr, ep.port, it->second, true, now, /*keep_counters=*/true);
  }
}

void MediaMirror::Describe(const IpAddress& src, uint16_t sport, const IpAddress& dst,
                           uint16_t dport, ev::RtpEvent* e) const {
  e->reason = "watched_media";
  auto it = entries_.find(KeyOf(dst, dport));
  if (it == entries_.end()) return;
  e->owner = it->second.owner;
  if (!it->second.ended) return;
  e->reason = "media_after_end";
  auto from = entries_.find(KeyOf(src, sport));
  if (from != entries_.end() && from->second.ended) e->owner = from->second.owner;
}

void MediaMirror::Expire(uint64_t boot_now_ns) {
  if (boot_now_ns < next_expire_ns_) return;
  next_expire_ns_ = boot_now_ns + 1'000'000'000ull;
  if (watched_ == 0) return;  // nothing a rule watches: nothing expires
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!e.watch_until_ns || e.watch_until_ns > boot_now_ns) {
      ++it;
      continue;
    }
    ++stats_.watch_expired;
    e.watch_until_ns = 0;
    --watched_;
    const IpAddress addr = AddrOf(it->first);
    const uint16_t port = PortOf(it->first);
    if (e.from_sdp) {
      // Back to what the call's state asks for.
      Arm(addr, port, e, e.ended, boot_now_ns, /*keep_counters=*/true);
      ++it;
    } else {
      (void)maps_.MediaDel(MediaKey(addr, port));
      entries_.erase(it++);  // flat_hash_map: erasing leaves the other iterators valid
    }
  }
}

}  // namespace sw
