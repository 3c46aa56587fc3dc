// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Bare programs measured beside sw_xdp in the benchmarks, as baselines. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int sw_bare_pass(struct xdp_md *ctx __attribute__((unused)))
{
	return XDP_PASS;
}

SEC("xdp")
int sw_bare_drop(struct xdp_md *ctx __attribute__((unused)))
{
	return XDP_DROP;
}
