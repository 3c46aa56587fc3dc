// SPDX-License-Identifier: BSD-2-Clause
#include "kernel_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sw {

namespace {

// libbpf's probes return 1 (supported), 0 (not) or a negative errno.
bool Supported(int rc) { return rc == 1; }

}  // namespace

KernelFeatures ProbeKernel() {
  KernelFeatures f;
  struct utsname u;
  if (uname(&u) == 0) f.release = u.release;
  f.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;

  // bpf() itself: an array map is the least a kernel with BPF can make.
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sw_probe", 4, 4, 1, nullptr);
  if (fd < 0) {
    const int err = errno;
    f.bpf_error = err == EPERM || err == EACCES
                      ? "bpf() is not permitted (run as root, or with CAP_BPF, CAP_NET_ADMIN "
                        "and CAP_PERFMON)"
                      : absl::StrCat("bpf() failed: ", std::strerror(err));
    return f;
  }
  close(fd);
  f.bpf_syscall = true;
  f.xdp = Supported(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr));
  f.ringbuf = Supported(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr));
  f.lpm_trie = Supported(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, nullptr));
  if (f.xdp) {
    f.xdp_load_bytes =
        Supported(libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_load_bytes, nullptr));
    f.xdp_get_buff_len =
        Supported(libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_get_buff_len, nullptr));
    f.ktime_boot = Supported(
        libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_ktime_get_boot_ns, nullptr));
  }
  return f;
}

std::vector<std::string> MissingFeatures(const KernelFeatures& f) {
  if (!f.bpf_syscall) {
    return {f.bpf_error.empty() ? std::string("the bpf() system call") : f.bpf_error};
  }
  std::vector<std::string> missing;
  if (!f.btf) missing.push_back("BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)");
  if (!f.xdp) missing.push_back("XDP programs");
  if (!f.ringbuf) missing.push_back("the BPF ring buffer (Linux 5.8)");
  if (!f.lpm_trie) missing.push_back("LPM trie maps");
  if (f.xdp) {
    if (!f.xdp_load_bytes) missing.push_back("bpf_xdp_load_bytes (Linux 5.18)");
    if (!f.xdp_get_buff_len) missing.push_back("bpf_xdp_get_buff_len (Linux 5.18)");
    if (!f.ktime_boot) missing.push_back("bpf_ktime_get_boot_ns in XDP (Linux 5.8)");
  }
  return missing;
}

absl::Status CheckKernel(const KernelFeatures& f) {
  const std::vector<std::string> missing = MissingFeatures(f);
  if (missing.empty()) return absl::OkStatus();
  const std::string kernel = f.release.empty() ? "this kernel" : absl::StrCat("kernel ", f.release);
  if (!f.bpf_syscall) {
    return absl::FailedPreconditionError(absl::StrCat(kernel, ": ", missing.front()));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      kernel, " lacks ", absl::StrJoin(missing, ", "), "; sipwarden needs Linux ",
      kMinimumKernel, " or newer with BTF (tested: ", kTestedKernels, ")"));
}

std::string DescribeKernel(const KernelFeatures& f) {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  return absl::StrCat("kernel ", f.release, ": bpf() ", yn(f.bpf_syscall), ", BTF ", yn(f.btf),
                      ", XDP ", yn(f.xdp), ", ring buffer ", yn(f.ringbuf), ", LPM trie ",
                      yn(f.lpm_trie), ", bpf_xdp_load_bytes ", yn(f.xdp_load_bytes),
                      ", bpf_xdp_get_buff_len ", yn(f.xdp_get_buff_len),
                      ", bpf_ktime_get_boot_ns ", yn(f.ktime_boot));
}

}  // namespace sw
