// SPDX-License-Identifier: BSD-2-Clause
// The agent's kernel check: what it says for a kernel that lacks what the
// data plane needs (features forced off, as on kernels older than the
// minimum), and the verifier's complaint picked out of its log.
#include "kernel_probe.h"

#include <gtest/gtest.h>

#include "datapath.h"

namespace sw {
namespace {

KernelFeatures Everything() {
  KernelFeatures f;
  f.release = "6.1.0-57-cloud-amd64";
  f.bpf_syscall = f.btf = f.xdp = f.ringbuf = f.lpm_trie = true;
  f.xdp_load_bytes = f.xdp_get_buff_len = f.ktime_boot = true;
  return f;
}

TEST(KernelProbe, AcceptsAKernelWithEverything) {
  EXPECT_TRUE(CheckKernel(Everything()).ok());
  EXPECT_TRUE(MissingFeatures(Everything()).empty());
}

TEST(KernelProbe, RefusesUbuntu2204KernelInOneLine) {
  // Linux 5.15 has ring buffers and BTF but not the 5.18 XDP helpers.
  KernelFeatures f = Everything();
  f.release = "5.15.0-91-generic";
  f.xdp_load_bytes = f.xdp_get_buff_len = false;
  const absl::Status st = CheckKernel(f);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "kernel 5.15.0-91-generic lacks bpf_xdp_load_bytes (Linux 5.18), "
            "bpf_xdp_get_buff_len (Linux 5.18); sipwarden needs Linux 6.1 or newer with BTF "
            "(tested: Debian 12's 6.1 and 6.12, and 6.18)");
  EXPECT_EQ(std::string(st.message()).find('\n'), std::string::npos);
}

TEST(KernelProbe, NamesEachMissingPiece) {
  KernelFeatures f = Everything();
  f.release = "5.4.0";
  f.btf = f.ringbuf = f.ktime_boot = false;
  const auto missing = MissingFeatures(f);
  ASSERT_EQ(missing.size(), 3u);
  EXPECT_EQ(missing[0], "BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)");
  EXPECT_EQ(missing[1], "the BPF ring buffer (Linux 5.8)");
  EXPECT_EQ(missing[2], "bpf_ktime_get_boot_ns in XDP (Linux 5.8)");
}

TEST(KernelProbe, NoXdpMeansNoHelperComplaints) {
  KernelFeatures f = Everything();
  f.xdp = f.xdp_load_bytes = f.xdp_get_buff_len = f.ktime_boot = false;
  EXPECT_EQ(MissingFeatures(f), std::vector<std::string>{"XDP programs"});
}

TEST(KernelProbe, NoPrivilegeIsSaidPlainly) {
  KernelFeatures f;
  f.release = "6.12.118+deb12-cloud-amd64";
  f.bpf_error = "bpf() is not permitted (run as root, or with CAP_BPF, CAP_NET_ADMIN and "
                "CAP_PERFMON)";
  EXPECT_EQ(CheckKernel(f).message(),
            "kernel 6.12.118+deb12-cloud-amd64: bpf() is not permitted (run as root, or with "
            "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)");
}

TEST(KernelProbe, DescribesEveryProbe) {
  KernelFeatures f = Everything();
  f.ringbuf = false;
  EXPECT_EQ(DescribeKernel(f),
            "kernel 6.1.0-57-cloud-amd64: bpf() yes, BTF yes, XDP yes, ring buffer no, LPM trie "
            "yes, bpf_xdp_load_bytes yes, bpf_xdp_get_buff_len yes, bpf_ktime_get_boot_ns yes");
}

TEST(VerifierReason, TakesTheLineBeforeTheSummary) {
  // As Debian 12's 6.1 verifier rejected an earlier sw_xdp.
  const std::string log =
      "prog 'sw_xdp': -- BEGIN PROG LOAD LOG --\n"
      "1917: (85) call bpf_xdp_load_bytes#189\n"
      "invalid access to map value, value_size=8264 off=72 size=0\n"
      "R3 min value is outside of the allowed memory range\n"
      "processed 870 insns (limit 1000000) max_states_per_insn 1 total_states 52\n"
      "-- END PROG LOAD LOG --\n";
  EXPECT_EQ(VerifierReason(log), "R3 min value is outside of the allowed memory range");
  EXPECT_EQ(VerifierReason("no summary here\n"), "");
  EXPECT_EQ(VerifierReason(""), "");
}

}  // namespace
}  // namespace sw
