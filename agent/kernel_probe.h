// SPDX-License-Identifier: BSD-2-Clause
// What the data plane needs from the running kernel, probed before the XDP
// program is loaded, so that a kernel that cannot run it is refused with one
// line naming what is missing instead of a verifier dump.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sw {

// The oldest kernel whose verifier the kernel tier (tests/kernels) proves
// the program against, and every kernel it boots.
inline constexpr char kMinimumKernel[] = "6.1";
inline constexpr char kTestedKernels[] = "Debian 12's 6.1 and 6.12, and 6.18";

struct KernelFeatures {
  std::string release;           // uname -r
  bool bpf_syscall = false;      // bpf() answers and we may use it
  std::string bpf_error;         // why not, when it does not
  bool btf = false;              // /sys/kernel/btf/vmlinux (the maps carry BTF)
  bool xdp = false;              // BPF_PROG_TYPE_XDP
  bool ringbuf = false;          // BPF_MAP_TYPE_RINGBUF (5.8)
  bool lpm_trie = false;         // BPF_MAP_TYPE_LPM_TRIE (allow/blocklists)
  bool xdp_load_bytes = false;   // bpf_xdp_load_bytes (5.18)
  bool xdp_get_buff_len = false; // bpf_xdp_get_buff_len (5.18)
  bool ktime_boot = false;       // bpf_ktime_get_boot_ns (5.8)
};

// Probes the running kernel (loads and discards tiny programs and maps;
// needs the privileges the agent runs with).
KernelFeatures ProbeKernel();

// What is missing, one short phrase each ("the ring buffer map (Linux 5.8)").
std::vector<std::string> MissingFeatures(const KernelFeatures& f);

// OK when nothing is missing; otherwise FailedPrecondition with one line:
// the kernel's release, what it lacks, and what sipwarden needs.
absl::Status CheckKernel(const KernelFeatures& f);

// One line for --verbose: every probe's answer.
std::string DescribeKernel(const KernelFeatures& f);

}  // namespace sw
