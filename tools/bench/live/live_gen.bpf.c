// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Traffic generator of sw-bench-live. Run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on one end of a veth pair: the kernel turns
 * XDP_TX into a redirect out of the ingress interface (ctx_in's
 * ingress_ifindex), so every frame is transmitted to the peer, where the
 * program under test (or nftables) sees it as received traffic.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int swb_live_tx(struct xdp_md *ctx __attribute__((unused)))
{
	return XDP_TX;
}
