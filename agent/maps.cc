// SPDX-License-Identifier: BSD-2-Clause
#include "maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/status_macros.h"

namespace sw {

absl::Status ErrnoStatus(int err, std::string_view what) {
  const std::string msg = absl::StrCat(AV(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case EEXIST: return absl::AlreadyExistsError(msg);
    case EPERM:
    case EACCES: return absl::PermissionDeniedError(msg);
    case EINVAL: return absl::InvalidArgumentError(msg);
    case E2BIG:
    case ENOSPC:
    case ENOMEM: return absl::ResourceExhaustedError(msg);
    default: return absl::InternalError(msg);
  }
}

uint64_t BootNs() {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

int64_t BootToUnixOffsetNs() {
  // Bracket the realtime read with two boottime reads to halve the error.
  const uint64_t b1 = BootNs();
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  const uint64_t b2 = BootNs();
  const int64_t unix_ns = static_cast<int64_t>(rt.tv_sec) * 1000000000ll + rt.tv_nsec;
  return unix_ns - static_cast<int64_t>(b1 + (b2 - b1) / 2);
}

int PossibleCpus() {
  static const int n = libbpf_num_possible_cpus();
  return n > 0 ? n : 1;
}

sw_media_key MediaKey(const IpAddress& addr, uint16_t port) {
  sw_media_key k{};
  std::memcpy(k.addr, addr.bytes.data(), 16);
  k.port = port;
  k.proto = 17;
  return k;
}

namespace {

sw_lpm_v4 KeyV4(const IpPrefix& p) {
  sw_lpm_v4 k{};
  k.prefixlen = p.length;
  const auto b = p.addr.v4();
  std::memcpy(k.addr, b.data(), 4);
  return k;
}

sw_lpm_v6 KeyV6(const IpPrefix& p) {
  sw_lpm_v6 k{};
  k.prefixlen = p.length;
  std::memcpy(k.addr, p.addr.bytes.data(), 16);
  return k;
}

IpPrefix FromKey(const sw_lpm_v4& k) {
  return IpPrefix{IpAddress::FromV4(k.addr), static_cast<int>(k.prefixlen)};
}

IpPrefix FromKey(const sw_lpm_v6& k) {
  return IpPrefix{IpAddress::FromV6(k.addr), static_cast<int>(k.prefixlen)};
}

// Walks every key of a map. The callback returns false to stop.
template <typename Key, typename Fn>
absl::Status ForEachKey(int fd, Fn fn) {
  Key key{}, next{};
  const void* prev = nullptr;
  while (true) {
    if (bpf_map_get_next_key(fd, prev, &next) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, "map iteration");
    }
    key = next;
    prev = &key;
    if (!fn(key)) return absl::OkStatus();
  }
}

// Reads an LPM trie into (key, value) pairs.
template <typename Key, typename Value, typename Out, typename Conv>
absl::Status ReadLpm(int fd, std::vector<Out>& out, Conv conv) {
  absl::Status st;
  SW_RETURN_IF_ERROR(ForEachKey<Key>(fd, [&](const Key& k) {
    Value v{};
    if (bpf_map_lookup_elem(fd, &k, &v) != 0) {
      if (errno != ENOENT) st = ErrnoStatus(errno, "map lookup");
      return st.ok();
    }
    out.push_back(conv(k, v));
    return true;
  }));
  return st;
}

template <typename Key>
absl::Status ClearMap(int fd) {
  std::vector<Key> keys;
  SW_RETURN_IF_ERROR(ForEachKey<Key>(fd, [&](const Key& k) {
    keys.push_back(k);
    return true;
  }));
  for (const auto& k : keys) {
    if (bpf_map_delete_elem(fd, &k) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "map delete");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Maps> Maps::OpenPinned(const std::string& pin_dir) {
  struct stat st;
  if (stat(pin_dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrCat("pin directory ", pin_dir,
                                           " (is sipwarden-agent running, or --pin-dir wrong?)"));
  }
  Maps maps(MapFds{}, true);  // closes whatever was opened if a later open fails
  MapFds& f = maps.fds_;
  int* slots[] = {&f.config,   &f.ports,    &f.stats, &f.allow_v4, &f.allow_v6, &f.block_v4,
                  &f.block_v6, &f.src,      &f.media, &f.events,   &f.src_limit};
  static_assert(std::size(kMapNames) == std::size(slots));
  for (size_t i = 0; i < std::size(kMapNames); ++i) {
    const std::string path = absl::StrCat(pin_dir, "/", kMapNames[i]);
    *slots[i] = bpf_obj_get(path.c_str());
    // Maps newer than the running agent's program are optional: an agent
    // from before them still answers everything else.
    if (*slots[i] < 0 && slots[i] == &f.src_limit && errno == ENOENT) continue;
    if (*slots[i] < 0) return ErrnoStatus(errno, absl::StrCat("open pinned map ", path));
  }
  maps.lock_dir_ = pin_dir;
  return maps;
}

Maps Maps::Borrow(const MapFds& fds) { return Maps(fds, false); }

Maps::Maps(Maps&& other) noexcept
    : fds_(other.fds_), owned_(other.owned_), lock_dir_(std::move(other.lock_dir_)) {
  other.fds_ = MapFds{};
  other.owned_ = false;
}

Maps& Maps::operator=(Maps&& other) noexcept {
  if (this != &other) {
    Close();
    fds_ = other.fds_;
    owned_ = other.owned_;
    lock_dir_ = std::move(other.lock_dir_);
    other.fds_ = MapFds{};
    other.owned_ = false;
  }
  return *this;
}

Maps::~Maps() { Close(); }

void Maps::Close() {
  if (!owned_) return;
  for (int fd : {fds_.config, fds_.ports, fds_.stats, fds_.allow_v4, fds_.allow_v6, fds_.block_v4,
                 fds_.block_v6, fds_.src, fds_.media, fds_.events, fds_.src_limit}) {
    if (fd >= 0) close(fd);
  }
  fds_ = MapFds{};
  owned_ = false;
}

absl::Status Maps::BlockAdd(const IpPrefix& prefix, absl::Duration ttl, uint32_t reason) {
  if (reason >= SW_REASON_MAX) return absl::InvalidArgumentError("block reason out of range");
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("negative TTL");
  sw_block_entry v{};
  v.added_ns = BootNs();
  if (ttl != absl::ZeroDuration() && ttl != absl::InfiniteDuration()) {
    const int64_t ns = absl::ToInt64Nanoseconds(ttl);
    v.expires_ns = v.added_ns + static_cast<uint64_t>(ns);
  }
  v.reason = reason;
  v.prefixlen = prefix.length;
  int rc;
  if (prefix.addr.is_v4()) {
    const auto k = KeyV4(prefix);
    rc = bpf_map_update_elem(fds_.block_v4, &k, &v, BPF_ANY);
  } else {
    const auto k = KeyV6(prefix);
    rc = bpf_map_update_elem(fds_.block_v6, &k, &v, BPF_ANY);
  }
  if (rc != 0) return ErrnoStatus(errno, absl::StrCat("block ", prefix.ToString()));
  return absl::OkStatus();
}

absl::Status Maps::BlockDel(const IpPrefix& prefix) {
  int rc;
  if (prefix.addr.is_v4()) {
    const auto k = KeyV4(prefix);
    rc = bpf_map_delete_elem(fds_.block_v4, &k);
  } else {
    const auto k = KeyV6(prefix);
    rc = bpf_map_delete_elem(fds_.block_v6, &k);
  }
  if (rc != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(prefix.ToString(), " is not in the blocklist"));
    }
    return ErrnoStatus(errno, absl::StrCat("unblock ", prefix.ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BlockEntry>> Maps::BlockList() const {
  std::vector<BlockEntry> out;
  SW_RETURN_IF_ERROR((ReadLpm<sw_lpm_v4, sw_block_entry>(
      fds_.block_v4, out,
      [](const sw_lpm_v4& k, const sw_block_entry& v) { return BlockEntry{FromKey(k), v}; })));
  SW_RETURN_IF_ERROR((ReadLpm<sw_lpm_v6, sw_block_entry>(
      fds_.block_v6, out,
      [](const sw_lpm_v6& k, const sw_block_entry& v) { return BlockEntry{FromKey(k), v}; })));
  return out;
}

absl::StatusOr<int> Maps::BlockExpire() {
  SW_ASSIGN_OR_RETURN(auto entries, BlockList());
  const uint64_t now = BootNs();
  int n = 0;
  for (const auto& e : entries) {
    if (e.value.expires_ns && e.value.expires_ns <= now) {
      auto st = BlockDel(e.prefix);
      if (st.ok()) {
        ++n;
      } else if (!absl::IsNotFound(st)) {  // the kernel may have removed it first
        return st;
      }
    }
  }
  return n;
}

absl::Status Maps::AllowAdd(const IpPrefix& prefix) {
  sw_allow_entry v{};
  v.added_ns = BootNs();
  int rc;
  if (prefix.addr.is_v4()) {
    const auto k = KeyV4(prefix);
    rc = bpf_map_update_elem(fds_.allow_v4, &k, &v, BPF_ANY);
  } else {
    const auto k = KeyV6(prefix);
    rc = bpf_map_update_elem(fds_.allow_v6, &k, &v, BPF_ANY);
  }
  if (rc != 0) return ErrnoStatus(errno, absl::StrCat("allow ", prefix.ToString()));
  return absl::OkStatus();
}

absl::Status Maps::AllowDel(const IpPrefix& prefix) {
  int rc;
  if (prefix.addr.is_v4()) {
    const auto k = KeyV4(prefix);
    rc = bpf_map_delete_elem(fds_.allow_v4, &k);
  } else {
    const auto k = KeyV6(prefix);
    rc = bpf_map_delete_elem(fds_.allow_v6, &k);
  }
  if (rc != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(prefix.ToString(), " is not in the allowlist"));
    }
    return ErrnoStatus(errno, absl::StrCat("disallow ", prefix.ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AllowEntry>> Maps::AllowList() const {
  std::vector<AllowEntry> out;
  SW_RETURN_IF_ERROR((ReadLpm<sw_lpm_v4, sw_allow_entry>(
      fds_.allow_v4, out,
      [](const sw_lpm_v4& k, const sw_allow_entry& v) { return AllowEntry{FromKey(k), v}; })));
  SW_RETURN_IF_ERROR((ReadLpm<sw_lpm_v6, sw_allow_entry>(
      fds_.allow_v6, out,
      [](const sw_lpm_v6& k, const sw_allow_entry& v) { return AllowEntry{FromKey(k), v}; })));
  return out;
}

absl::StatusOr<bool> Maps::IsAllowed(const IpAddress& addr) const {
  sw_allow_entry v{};
  int rc;
  if (addr.is_v4()) {
    const auto k = KeyV4(IpPrefix{addr, 32});
    rc = bpf_map_lookup_elem(fds_.allow_v4, &k, &v);
  } else {
    const auto k = KeyV6(IpPrefix{addr, 128});
    rc = bpf_map_lookup_elem(fds_.allow_v6, &k, &v);
  }
  if (rc == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus(errno, "allowlist lookup");
}

absl::StatusOr<sw_stats> Maps::ReadStats() const {
  std::vector<sw_stats> per_cpu(PossibleCpus());
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(fds_.stats, &key, per_cpu.data()) != 0) {
    return ErrnoStatus(errno, "read sw_stats");
  }
  sw_stats sum{};
  auto* out = reinterpret_cast<uint64_t*>(&sum);
  constexpr size_t kFields = sizeof(sw_stats) / sizeof(uint64_t);
  for (const auto& s : per_cpu) {
    const auto* in = reinterpret_cast<const uint64_t*>(&s);
    for (size_t i = 0; i < kFields; ++i) out[i] += in[i];
  }
  return sum;
}

absl::StatusOr<sw_config> Maps::ReadConfig() const {
  sw_config cfg{};
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(fds_.config, &key, &cfg) != 0) {
    return ErrnoStatus(errno, "read sw_config");
  }
  return cfg;
}

absl::Status Maps::WriteConfig(const sw_config& in) {
  sw_config cfg = in;
  if (cfg.snap_len > SW_SNAP_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("snap length ", cfg.snap_len,
                                                   " exceeds the maximum ", SW_SNAP_MAX));
  }
  for (int b = 0; b < SW_BUCKET_MAX; ++b) {
    // No burst given: allow one second's worth.
    if (cfg.limits[b].rate && !cfg.limits[b].burst) cfg.limits[b].burst = cfg.limits[b].rate;
    if (cfg.limits[b].rate > 1000000000u) {
      return absl::InvalidArgumentError("rate above 1e9 messages per second");
    }
  }
  cfg.abi_version = SW_ABI_VERSION;
  const uint32_t key = 0;
  if (bpf_map_update_elem(fds_.config, &key, &cfg, BPF_ANY) != 0) {
    return ErrnoStatus(errno, "write sw_config");
  }
  return absl::OkStatus();
}

absl::Status Maps::UpdateConfig(const std::function<absl::Status(sw_config&)>& change) {
  int lock_fd = -1;
  if (!lock_dir_.empty()) {
    lock_fd = open(lock_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", lock_dir_, " to lock it"));
    while (flock(lock_fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        close(lock_fd);
        return ErrnoStatus(err, absl::StrCat("lock ", lock_dir_));
      }
    }
  }
  absl::Status st = [&]() -> absl::Status {
    SW_ASSIGN_OR_RETURN(sw_config cfg, ReadConfig());
    SW_RETURN_IF_ERROR(change(cfg));
    return WriteConfig(cfg);
  }();
  if (lock_fd >= 0) close(lock_fd);  // releases the lock
  return st;
}

absl::Status Maps::SetPortRoles(const std::vector<uint16_t>& sip_ports,
                                const std::vector<uint16_t>& mgcp_ports) {
  std::vector<uint32_t> keys(SW_PORTS), values(SW_PORTS, 0);
  for (uint32_t p = 0; p < SW_PORTS; ++p) keys[p] = p;
  for (uint16_t p : sip_ports) {
    if (p == 0) return absl::InvalidArgumentError("port 0 cannot carry SIP");
    values[p] = SW_PORT_SIP_UDP | SW_PORT_SIP_TCP;
  }
  for (uint16_t p : mgcp_ports) {
    if (p == 0) return absl::InvalidArgumentError("port 0 cannot carry MGCP");
    if (values[p] != 0) {
      return absl::InvalidArgumentError(absl::StrCat("port ", p, " cannot carry both SIP and MGCP"));
    }
    values[p] = SW_PORT_MGCP;
  }
  uint32_t count = SW_PORTS;
  if (bpf_map_update_batch(fds_.ports, keys.data(), values.data(), &count, nullptr) != 0) {
    return ErrnoStatus(errno, absl::StrCat("write the port table (", count, " of ", SW_PORTS,
                                           " entries written)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint16_t>> Maps::PortsWith(uint32_t roles) const {
  std::vector<uint32_t> keys(SW_PORTS), values(SW_PORTS);
  uint32_t out_batch = 0;
  uint32_t count = SW_PORTS;
  // An array map hands back every entry; ENOENT marks the end of the map.
  if (bpf_map_lookup_batch(fds_.ports, nullptr, &out_batch, keys.data(), values.data(), &count,
                           nullptr) != 0 &&
      errno != ENOENT) {
    return ErrnoStatus(errno, "read the port table");
  }
  std::vector<uint16_t> ports;
  for (uint32_t i = 0; i < count; ++i) {
    if ((values[i] & roles) != 0 && keys[i] < SW_PORTS) {
      ports.push_back(static_cast<uint16_t>(keys[i]));
    }
  }
  return ports;
}

absl::Status Maps::SetPortFlags(uint16_t port, uint32_t flags) {
  const uint32_t key = port;
  if (bpf_map_update_elem(fds_.ports, &key, &flags, BPF_ANY) != 0) {
    return ErrnoStatus(errno, absl::StrCat("set port ", port));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Maps::PortFlags(uint16_t port) const {
  const uint32_t key = port;
  uint32_t flags = 0;
  if (bpf_map_lookup_elem(fds_.ports, &key, &flags) != 0) {
    return ErrnoStatus(errno, absl::StrCat("read port ", port));
  }
  return flags;
}

absl::StatusOr<std::optional<sw_src_state>> Maps::Source(const IpAddress& addr) const {
  sw_src_key k{};
  std::memcpy(k.addr, addr.bytes.data(), 16);
  sw_src_state v{};
  if (bpf_map_lookup_elem(fds_.src, &k, &v) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoStatus(errno, "read sw_src");
  }
  return v;
}

absl::StatusOr<std::vector<SourceEntry>> Maps::Sources() const {
  std::vector<SourceEntry> out;
  absl::Status st;
  SW_RETURN_IF_ERROR(ForEachKey<sw_src_key>(fds_.src, [&](const sw_src_key& k) {
    sw_src_state v{};
    if (bpf_map_lookup_elem(fds_.src, &k, &v) == 0) {
      out.push_back(SourceEntry{IpAddress::FromMapped(k.addr), v});
    }
    return true;
  }));
  return out;
}

namespace {

absl::Status NoLimitMap(int fd) {
  if (fd >= 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "no sw_src_limit map pinned: the running agent predates per-source limits");
}

sw_src_key SrcKey(const IpAddress& addr) {
  sw_src_key k{};
  std::memcpy(k.addr, addr.bytes.data(), 16);
  return k;
}

}  // namespace

absl::Status Maps::SrcLimitSet(const IpAddress& addr, uint32_t rate, uint32_t burst,
                               absl::Duration ttl, uint32_t reason) {
  if (rate == 0 || rate > 1000000000u) {
    return absl::InvalidArgumentError(
        absl::StrCat("source rate limit must be 1..1e9 messages/s, not ", rate));
  }
  if (reason >= SW_REASON_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("unknown reason code ", reason));
  }
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("negative TTL");
  SW_RETURN_IF_ERROR(NoLimitMap(fds_.src_limit));
  const uint64_t now = BootNs();
  sw_src_limit v{};
  v.rate = rate;
  v.burst = burst ? burst : rate;
  v.reason = reason;
  v.added_ns = now;
  v.expires_ns = (ttl == absl::ZeroDuration() || ttl == absl::InfiniteDuration())
                     ? 0
                     : now + static_cast<uint64_t>(absl::ToInt64Nanoseconds(ttl));
  const sw_src_key k = SrcKey(addr);
  // A limit set again keeps its bucket state and drop count.
  sw_src_limit old{};
  if (bpf_map_lookup_elem(fds_.src_limit, &k, &old) == 0) {
    v.tat_ns = old.tat_ns;
    v.dropped = old.dropped;
    v.added_ns = old.added_ns;
  }
  if (bpf_map_update_elem(fds_.src_limit, &k, &v, BPF_ANY) != 0) {
    return ErrnoStatus(errno, absl::StrCat("write sw_src_limit for ", addr.ToString()));
  }
  SW_ASSIGN_OR_RETURN(sw_config current, ReadConfig());
  if (current.flags & SW_CFG_SRC_LIMITS) return absl::OkStatus();
  return UpdateConfig([](sw_config& cfg) {
    cfg.flags |= SW_CFG_SRC_LIMITS;
    return absl::OkStatus();
  });
}

absl::Status Maps::MediaClear() { return ClearMap<sw_media_key>(fds_.media); }

absl::Status Maps::SrcLimitDel(const IpAddress& addr) {
  SW_RETURN_IF_ERROR(NoLimitMap(fds_.src_limit));
  const sw_src_key k = SrcKey(addr);
  if (bpf_map_delete_elem(fds_.src_limit, &k) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no rate limit for ", addr.ToString()));
    }
    return ErrnoStatus(errno, "delete sw_src_limit");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<sw_src_limit>> Maps::SrcLimit(const IpAddress& addr) const {
  if (fds_.src_limit < 0) return std::nullopt;  // an agent from before them: none
  const sw_src_key k = SrcKey(addr);
  sw_src_limit v{};
  if (bpf_map_lookup_elem(fds_.src_limit, &k, &v) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoStatus(errno, "read sw_src_limit");
  }
  return v;
}

absl::StatusOr<std::vector<SrcLimitEntry>> Maps::SrcLimits() const {
  std::vector<SrcLimitEntry> out;
  if (fds_.src_limit < 0) return out;  // an agent from before them: none
  SW_RETURN_IF_ERROR(ForEachKey<sw_src_key>(fds_.src_limit, [&](const sw_src_key& k) {
    sw_src_limit v{};
    if (bpf_map_lookup_elem(fds_.src_limit, &k, &v) == 0) {
      out.push_back(SrcLimitEntry{IpAddress::FromMapped(k.addr), v});
    }
    return true;
  }));
  return out;
}

absl::StatusOr<int> Maps::SrcLimitExpire() {
  SW_ASSIGN_OR_RETURN(std::vector<SrcLimitEntry> all, SrcLimits());
  const uint64_t now = BootNs();
  int deleted = 0;
  for (const SrcLimitEntry& e : all) {
    if (e.value.expires_ns == 0 || e.value.expires_ns > now) continue;
    const sw_src_key k = SrcKey(e.addr);
    if (bpf_map_delete_elem(fds_.src_limit, &k) == 0) ++deleted;
  }
  // SW_CFG_SRC_LIMITS stays set once a limit was: clearing it here could
  // race with a limit another process (sipwardenctl) adds meanwhile.
  return deleted;
}

absl::Status Maps::MediaPut(const sw_media_key& key, const sw_media_entry& value) {
  if (bpf_map_update_elem(fds_.media, &key, &value, BPF_ANY) != 0) {
    return ErrnoStatus(errno, "write sw_media");
  }
  return absl::OkStatus();
}

absl::Status Maps::MediaDel(const sw_media_key& key) {
  if (bpf_map_delete_elem(fds_.media, &key) != 0) {
    return ErrnoStatus(errno, "delete sw_media");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<sw_media_entry>> Maps::Media(const sw_media_key& key) const {
  sw_media_entry v{};
  if (bpf_map_lookup_elem(fds_.media, &key, &v) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoStatus(errno, "read sw_media");
  }
  return v;
}

absl::Status Maps::ResetAll() {
  SW_RETURN_IF_ERROR(ClearMap<sw_lpm_v4>(fds_.allow_v4));
  SW_RETURN_IF_ERROR(ClearMap<sw_lpm_v6>(fds_.allow_v6));
  SW_RETURN_IF_ERROR(ClearMap<sw_lpm_v4>(fds_.block_v4));
  SW_RETURN_IF_ERROR(ClearMap<sw_lpm_v6>(fds_.block_v6));
  SW_RETURN_IF_ERROR(ClearMap<sw_src_key>(fds_.src));
  SW_RETURN_IF_ERROR(ClearMap<sw_media_key>(fds_.media));
  SW_RETURN_IF_ERROR(ClearMap<sw_src_key>(fds_.src_limit));
  std::vector<sw_stats> zeros(PossibleCpus());
  const uint32_t key = 0;
  if (bpf_map_update_elem(fds_.stats, &key, zeros.data(), BPF_ANY) != 0) {
    return ErrnoStatus(errno, "reset sw_stats");
  }
  return WriteConfig(sw_config{});
}

}  // namespace sw
