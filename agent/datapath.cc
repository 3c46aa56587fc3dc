// SPDX-License-Identifier: BSD-2-Clause
#include "datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "sipwarden.skel.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/status_macros.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

namespace sw {

absl::StatusOr<XdpMode> ParseXdpMode(std::string_view text) {
  if (text == "auto") return XdpMode::kAuto;
  if (text == "native" || text == "drv") return XdpMode::kNative;
  if (text == "generic" || text == "skb") return XdpMode::kGeneric;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown XDP mode '", AV(text), "' (auto, native or generic)"));
}

std::string_view XdpModeName(XdpMode mode) {
  switch (mode) {
    case XdpMode::kAuto: return "auto";
    case XdpMode::kNative: return "native";
    case XdpMode::kGeneric: return "generic";
  }
  return "?";
}

namespace {

bool IsBpffs(const std::string& dir) {
  struct statfs fs;
  return statfs(dir.c_str(), &fs) == 0 && static_cast<uint32_t>(fs.f_type) == BPF_FS_MAGIC;
}

absl::Status MkdirP(const std::string& dir) {
  std::string cur;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      cur = dir.substr(0, i);
      if (mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, absl::StrCat("mkdir ", cur));
      }
    }
  }
  return absl::OkStatus();
}

std::string ParentDir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::Status EnsureBpffs(const std::string& dir) {
  SW_RETURN_IF_ERROR(MkdirP(dir));
  if (IsBpffs(dir)) return absl::OkStatus();
  if (mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0) {
    return ErrnoStatus(errno, absl::StrCat("mount bpffs at ", dir));
  }
  return absl::OkStatus();
}

absl::Status WriteDefaultConfig(Maps& maps) {
  sw_config cfg{};
  cfg.snap_len = SW_SNAP_DEFAULT;
  cfg.rb_wakeup_bytes = kDefaultRingWakeupBytes;
  SW_RETURN_IF_ERROR(maps.WriteConfig(cfg));
  for (uint16_t port : {5060, 5080}) {
    SW_RETURN_IF_ERROR(maps.SetPortFlags(port, SW_PORT_SIP_UDP | SW_PORT_SIP_TCP));
  }
  for (uint16_t port : {2427, 2727}) SW_RETURN_IF_ERROR(maps.SetPortFlags(port, SW_PORT_MGCP));
  return absl::OkStatus();
}

namespace {
bool g_libbpf_verbose = false;
// While Datapath::Load runs without --verbose: libbpf's warnings, the
// verifier's log among them, are kept here instead of printed.
std::string* g_libbpf_capture = nullptr;

int LibbpfToStderr(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  if (level == LIBBPF_INFO && !g_libbpf_verbose) return 0;
  if (g_libbpf_capture != nullptr) {
    va_list copy;
    va_copy(copy, args);
    const int n = std::vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    if (n > 0) {
      const size_t at = g_libbpf_capture->size();
      g_libbpf_capture->resize(at + n + 1);
      std::vsnprintf(g_libbpf_capture->data() + at, n + 1, fmt, args);
      g_libbpf_capture->resize(at + n);
    }
    return n;
  }
  std::fprintf(stderr, "libbpf: ");
  return std::vfprintf(stderr, fmt, args);
}

// Captures libbpf's warnings for its lifetime when it was asked to log
// quietly (LogLibbpfToStderr(false)); otherwise they go on to stderr.
class LibbpfCapture {
 public:
  LibbpfCapture() {
    if (!g_libbpf_verbose && g_libbpf_capture == nullptr) g_libbpf_capture = &text_;
  }
  ~LibbpfCapture() {
    if (g_libbpf_capture == &text_) g_libbpf_capture = nullptr;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace

std::string VerifierReason(std::string_view log) {
  // The verifier ends with "<reason>\nprocessed N insns ...": the reason is
  // the last line before that summary.
  const size_t summary = log.rfind("\nprocessed ");
  if (summary == std::string_view::npos) return "";
  const std::string_view before = log.substr(0, summary);
  size_t start = before.find_last_of('\n');
  start = start == std::string_view::npos ? 0 : start + 1;
  std::string_view line = before.substr(start);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  return std::string(line);
}

void LogLibbpfToStderr(bool verbose) {
  g_libbpf_verbose = verbose;
  libbpf_set_print(LibbpfToStderr);
}

absl::StatusOr<std::unique_ptr<Datapath>> Datapath::Load(const DatapathOptions& options) {
  auto dp = std::unique_ptr<Datapath>(new Datapath());
  dp->pin_dir_ = options.pin_dir;
  dp->skel_ = sw_xdp_skel__open();
  if (!dp->skel_) return ErrnoStatus(errno, "open BPF skeleton");
  const uint32_t rb = options.ringbuf_bytes;
  if (rb < 4096 || (rb & (rb - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring buffer size ", rb, " is not a power of two of at least 4096"));
  }
  if (bpf_map__set_max_entries(dp->skel_->maps.sw_events, rb) != 0) {
    return ErrnoStatus(errno, "size ring buffer");
  }
  if (options.block_entries < 1 || options.src_entries < 1) {
    return absl::InvalidArgumentError("map capacities must be at least 1");
  }
  for (bpf_map* m : {dp->skel_->maps.sw_block_v4, dp->skel_->maps.sw_block_v6}) {
    if (bpf_map__set_max_entries(m, options.block_entries) != 0) {
      return ErrnoStatus(errno, "size the blocklist");
    }
  }
  if (bpf_map__set_max_entries(dp->skel_->maps.sw_src, options.src_entries) != 0) {
    return ErrnoStatus(errno, "size the source table");
  }

  if (!dp->pin_dir_.empty()) {
    // The pin directory must be on a bpffs; /sys/fs/bpf is mounted if missing.
    if (!IsBpffs(dp->pin_dir_)) {
      const std::string parent = ParentDir(dp->pin_dir_);
      if (!IsBpffs(parent)) {
        if (parent == "/sys/fs/bpf") {
          SW_RETURN_IF_ERROR(EnsureBpffs(parent));
        } else {
          return absl::FailedPreconditionError(absl::StrCat(
              "pin directory ", dp->pin_dir_, " is not on a BPF filesystem (mount -t bpf bpf ",
              parent, ")"));
        }
      }
      SW_RETURN_IF_ERROR(MkdirP(dp->pin_dir_));
    }
    bpf_map* map;
    bpf_object__for_each_map(map, dp->skel_->obj) {
      const char* name = bpf_map__name(map);
      if (name[0] == '.') continue;  // .rodata and friends
      const std::string path = absl::StrCat(dp->pin_dir_, "/", name);
      if (access(path.c_str(), F_OK) == 0) dp->reused_pins_ = true;
      if (bpf_map__set_pin_path(map, path.c_str()) != 0) {
        return ErrnoStatus(errno, absl::StrCat("set pin path ", path));
      }
    }
  }
  LibbpfCapture capture;
  if (int err = sw_xdp_skel__load(dp->skel_); err != 0) {
    if (dp->reused_pins_) {
      return ErrnoStatus(-err, absl::StrCat("load BPF program (maps pinned in ", dp->pin_dir_,
                                            " may be from an incompatible version: remove them)"));
    }
    // One line: what the verifier objected to, not its whole log.
    const std::string reason = VerifierReason(capture.text());
    if (!reason.empty()) {
      return ErrnoStatus(-err, absl::StrCat("the kernel's verifier rejected the XDP program (\"",
                                            reason, "\"; --verbose shows its log)"));
    }
    return ErrnoStatus(-err, "load BPF program");
  }
  // Loaded: warnings libbpf had (none is expected) are still shown.
  if (!capture.text().empty()) std::fprintf(stderr, "libbpf: %s", capture.text().c_str());
  MapFds fds;
  auto& m = dp->skel_->maps;
  fds.config = bpf_map__fd(m.sw_config);
  fds.ports = bpf_map__fd(m.sw_ports);
  fds.stats = bpf_map__fd(m.sw_stats);
  fds.allow_v4 = bpf_map__fd(m.sw_allow_v4);
  fds.allow_v6 = bpf_map__fd(m.sw_allow_v6);
  fds.block_v4 = bpf_map__fd(m.sw_block_v4);
  fds.block_v6 = bpf_map__fd(m.sw_block_v6);
  fds.src = bpf_map__fd(m.sw_src);
  fds.media = bpf_map__fd(m.sw_media);
  fds.events = bpf_map__fd(m.sw_events);
  fds.src_limit = bpf_map__fd(m.sw_src_limit);
  dp->maps_ = Maps::Borrow(fds);
  dp->maps_.set_lock_dir(dp->pin_dir_);
  if (!dp->reused_pins_) {
    SW_RETURN_IF_ERROR(WriteDefaultConfig(dp->maps_));
  } else {
    // Reused state: keep it, but an all-zero config (never written) gets defaults.
    SW_ASSIGN_OR_RETURN(auto cfg, dp->maps_.ReadConfig());
    if (cfg.abi_version == 0) SW_RETURN_IF_ERROR(WriteDefaultConfig(dp->maps_));
  }
  return dp;
}

Datapath::~Datapath() {
  maps_ = Maps::Borrow(MapFds{});
  if (skel_) sw_xdp_skel__destroy(skel_);
}

int Datapath::prog_fd() const { return bpf_program__fd(skel_->progs.sw_xdp); }

namespace {

// The name of the BPF program with this id ("" when it cannot be read).
std::string ProgName(uint32_t id) {
  const int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return "";
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  std::string name;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name = info.name;
  close(fd);
  return name;
}

}  // namespace

absl::StatusOr<XdpMode> Datapath::Attach(int ifindex, XdpMode mode, bool replace) {
  if (ifindex <= 0) return absl::InvalidArgumentError("bad interface index");
  // What is attached now, in which mode.
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (int err = bpf_xdp_query(ifindex, 0, &q); err != 0) {
    return ErrnoStatus(-err, "query the interface's XDP programs");
  }
  const uint32_t old_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
  if (q.hw_prog_id != 0 && old_id == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "an offloaded XDP program (id ", q.hw_prog_id, ") is attached; remove it first"));
  }
  if (old_id != 0) {
    const std::string name = ProgName(old_id);
    const uint32_t old_flags = q.drv_prog_id ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    const char* old_mode = q.drv_prog_id ? "native" : "generic";
    if (name != "sw_xdp" && !replace) {
      return absl::FailedPreconditionError(absl::StrCat(
          "XDP program '", name.empty() ? "?" : name, "' (id ", old_id, ") is attached in ",
          old_mode, " mode; sipwarden does not replace another program unless --replace is given"));
    }
    const bool same_mode = mode == XdpMode::kAuto ||
                           (mode == XdpMode::kNative) == (old_flags == XDP_FLAGS_DRV_MODE);
    const int old_fd = bpf_prog_get_fd_by_id(old_id);
    if (old_fd < 0) return ErrnoStatus(errno, absl::StrCat("open XDP program id ", old_id));
    int err;
    if (same_mode) {
      // Swap in place: no moment without a program on the interface.
      LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
      err = bpf_xdp_attach(ifindex, prog_fd(), old_flags | XDP_FLAGS_REPLACE, &opts);
    } else {
      LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
      err = bpf_xdp_detach(ifindex, old_flags | XDP_FLAGS_REPLACE, &opts);
    }
    close(old_fd);
    if (err != 0) {
      return ErrnoStatus(-err, absl::StrCat("replace XDP program '", name, "' (id ", old_id, ")"));
    }
    if (same_mode) {
      attached_.push_back({ifindex, old_flags});
      return old_flags == XDP_FLAGS_DRV_MODE ? XdpMode::kNative : XdpMode::kGeneric;
    }
  }
  // Nothing attached (any more): attach only if that is still so.
  auto try_attach = [&](uint32_t flags) {
    return bpf_xdp_attach(ifindex, prog_fd(), flags | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  };
  if (mode == XdpMode::kNative || mode == XdpMode::kAuto) {
    const int err = try_attach(XDP_FLAGS_DRV_MODE);
    if (err == 0) {
      attached_.push_back({ifindex, XDP_FLAGS_DRV_MODE});
      return XdpMode::kNative;
    }
    if (mode == XdpMode::kNative) return ErrnoStatus(-err, "attach XDP in native mode");
  }
  const int err = try_attach(XDP_FLAGS_SKB_MODE);
  if (err != 0) return ErrnoStatus(-err, "attach XDP in generic mode");
  attached_.push_back({ifindex, XDP_FLAGS_SKB_MODE});
  return XdpMode::kGeneric;
}

absl::Status Datapath::Detach() {
  absl::Status result;
  for (const Attachment& a : attached_) {
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd());
    const int err = bpf_xdp_detach(a.ifindex, a.flags | XDP_FLAGS_REPLACE, &opts);
    // ENOENT/EEXIST/ENODEV: the interface is gone, or another program replaced ours.
    if (err != 0 && err != -ENOENT && err != -EEXIST && err != -ENODEV && result.ok()) {
      result = ErrnoStatus(-err, absl::StrCat("detach XDP from ifindex ", a.ifindex));
    }
  }
  attached_.clear();
  return result;
}

absl::Status Datapath::Unpin() {
  if (pin_dir_.empty()) return absl::OkStatus();
  bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) {
    if (!bpf_map__pin_path(map)) continue;
    if (bpf_map__unpin(map, nullptr) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("unpin ", bpf_map__name(map)));
    }
  }
  rmdir(pin_dir_.c_str());  // only succeeds when empty, which is what we want
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RingReader>> RingReader::Create(int map_fd, Callback cb) {
  auto r = std::unique_ptr<RingReader>(new RingReader());
  r->cb_ = std::move(cb);
  r->rb_ = ring_buffer__new(map_fd, &RingReader::Trampoline, r.get(), nullptr);
  if (!r->rb_) return ErrnoStatus(errno, "open ring buffer");
  return r;
}

RingReader::~RingReader() {
  if (rb_) ring_buffer__free(rb_);
}

int RingReader::Trampoline(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingReader*>(ctx);
  self->cb_(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}

absl::StatusOr<int> RingReader::Poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return ErrnoStatus(-n, "poll ring buffer");
  if (n < 0) n = 0;
  // ring_buffer__poll consumes only rings that signalled; records written
  // without a wake-up (BPF_RB_NO_WAKEUP) are collected here.
  const int more = ring_buffer__consume(rb_);
  if (more < 0) return ErrnoStatus(-more, "consume ring buffer");
  return n + more;
}

absl::StatusOr<int> RingReader::Drain() {
  const int n = ring_buffer__consume(rb_);
  if (n < 0) return ErrnoStatus(-n, "consume ring buffer");
  return n;
}

int RingReader::epoll_fd() const { return ring_buffer__epoll_fd(rb_); }

}  // namespace sw
