// SPDX-License-Identifier: BSD-2-Clause
// The XDP data plane's lifecycle in one class: open the embedded skeleton,
// reuse or create pinned maps, load, attach (native or generic), detach,
// unpin. RAII for the skeleton; attachment is explicit because an operator
// may want the program to outlive the agent.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "maps.h"

struct sw_xdp_skel;  // generated skeleton (bpf/sipwarden.skel.h)
struct ring_buffer;

namespace sw {

enum class XdpMode { kAuto, kNative, kGeneric };
absl::StatusOr<XdpMode> ParseXdpMode(std::string_view text);

// Sends libbpf's messages to stderr ("libbpf: ..."): warnings always, its
// informational ones only when verbose, debug ones never.
// Quiet (not verbose), Datapath::Load keeps the verifier's log to itself and
// names only its last complaint.
void LogLibbpfToStderr(bool verbose);
// The verifier's complaint in its log: the line before "processed N insns".
std::string VerifierReason(std::string_view log);
std::string_view XdpModeName(XdpMode mode);

struct DatapathOptions {
  std::string pin_dir;  // empty: do not pin (tests, benchmarks)
  uint32_t ringbuf_bytes = SW_RINGBUF_BYTES;  // power of two, >= page size
  // Capacities, set before the maps are created (maps adopted from pins
  // keep theirs; a different size refuses the pins).
  uint32_t block_entries = SW_BLOCK_ENTRIES;  // blocklist prefixes per family
  uint32_t src_entries = SW_SRC_ENTRIES;      // sources tracked (LRU)
};

class Datapath {
 public:
  // Opens and loads the program. With a pin directory, maps already pinned
  // there (by an earlier agent) are reused, state and all; the others are
  // created and pinned. Fresh maps get the default configuration.
  static absl::StatusOr<std::unique_ptr<Datapath>> Load(const DatapathOptions& options);
  ~Datapath();

  // Attaches to ifindex (call once per interface). kAuto tries native
  // first, then generic. Returns the mode used. Never silently replaces
  // another XDP program: one already attached is refused (naming it) unless
  // replace is set, or it is an earlier sipwarden's sw_xdp (a restart after
  // --keep-attached), which is swapped for ours atomically in its own mode.
  absl::StatusOr<XdpMode> Attach(int ifindex, XdpMode mode, bool replace = false);
  // Detaches from every interface this object attached to (where the
  // program attached is still ours).
  absl::Status Detach();
  // Removes the pins (and the pin directory if it ends up empty).
  absl::Status Unpin();

  Maps& maps() { return maps_; }
  int prog_fd() const;
  sw_xdp_skel* skel() { return skel_; }
  bool reused_pins() const { return reused_pins_; }

 private:
  Datapath() = default;
  sw_xdp_skel* skel_ = nullptr;
  Maps maps_ = Maps::Borrow(MapFds{});
  std::string pin_dir_;
  bool reused_pins_ = false;
  struct Attachment {
    int ifindex;
    uint32_t flags;  // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE
  };
  std::vector<Attachment> attached_;
};

// Ring-buffer bytes that wake the agent (sw_config.rb_wakeup_bytes); below
// that the agent's poll timeout (kRingPollMs) picks records up.
inline constexpr uint32_t kDefaultRingWakeupBytes = 64 * 1024;
inline constexpr int kRingPollMs = 10;

// Writes the default settings: SIP on UDP and TCP 5060 and 5080, default
// snap length, no rate limits, batched ring-buffer wake-ups.
absl::Status WriteDefaultConfig(Maps& maps);

// Consumes ring-buffer records; the callback sees each record's bytes.
class RingReader {
 public:
  using Callback = std::function<void(std::span<const uint8_t>)>;
  static absl::StatusOr<std::unique_ptr<RingReader>> Create(int map_fd, Callback cb);
  ~RingReader();
  // Waits up to timeout_ms for a wake-up, then consumes whatever is there
  // (records written without a wake-up too); returns how many.
  absl::StatusOr<int> Poll(int timeout_ms);
  // Consumes what is there without waiting.
  absl::StatusOr<int> Drain();
  // An fd that becomes readable when records arrive (for a poll loop).
  int epoll_fd() const;

 private:
  RingReader() = default;
  static int Trampoline(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  Callback cb_;
};

// Mounts bpffs at dir if dir is not on one already (creating dir).
absl::Status EnsureBpffs(const std::string& dir);

}  // namespace sw
