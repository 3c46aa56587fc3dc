// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Programs measured beside sw_xdp in the benchmarks (tools/bench), as
 * references: the bare verdicts, and the floors of three paths: the least
 * work a blocklist drop, a rate-limit drop and a copy to the ring buffer
 * can do with the kernel's helpers, without parsing or deciding anything
 * else. Where each helper call costs tens of nanoseconds (return thunks:
 * see docs/datapath.md), a floor says how far below its figure a path
 * could go on that machine.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sipwarden.h"

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

/* The rate-limit floor's per-source state: the same key, value and map
 * type as sw_src. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sw_src_key);
	__type(value, struct sw_src_state);
} sw_floor_src SEC(".maps");

/* The copy floor's ring: four times sw_events' default, so that a consumer
 * draining every millisecond keeps up with the floor's faster pace (the
 * benchmark fails the figure if a record is lost: a full ring is less
 * work). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * SW_RINGBUF_BYTES);
} sw_floor_ring SEC(".maps");

/* The blocklist floor's trie: the same key, value and flags as
 * sw_block_v4; the benchmark copies sw_block_v4's entries into it. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_BLOCK_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v4);
	__type(value, struct sw_block_entry);
} sw_floor_block_v4 SEC(".maps");

/* Ethernet + IPv4 without options + UDP: where the benchmarks' packets put
 * the source address and the payload. */
#define SW_FLOOR_SADDR_OFF (14 + 12)
#define SW_FLOOR_PAYLOAD_OFF (14 + 20 + 8)

/*
 * The least a blocklist drop does: one longest-prefix lookup of the IPv4
 * source, the packet dropped on a hit. No parsing beyond the address, no
 * expiry, no allowlist, no counters.
 */
SEC("xdp")
int sw_floor_block(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct sw_lpm_v4 key = { .prefixlen = 32 };

	if (data + SW_FLOOR_SADDR_OFF + 4 > end)
		return XDP_PASS;
	__builtin_memcpy(key.addr, data + SW_FLOOR_SADDR_OFF, 4);
	return bpf_map_lookup_elem(&sw_floor_block_v4, &key) ? XDP_DROP : XDP_PASS;
}

/*
 * The least a rate-limit drop does: the source's state looked up, the
 * clock read, one bucket decided (GCRA at 1 per second, burst 1, as the
 * benchmark configures sw_xdp), the drop counted. No parsing, no method,
 * no blocklist or allowlist. The first packet of a source inserts its
 * state (the benchmark warms up first).
 */
SEC("xdp")
int sw_floor_rate(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct sw_src_key key = {};

	if (data + SW_FLOOR_SADDR_OFF + 4 > end)
		return XDP_PASS;
	__builtin_memcpy(&key.addr[12], data + SW_FLOOR_SADDR_OFF, 4);
	struct sw_src_state *s = bpf_map_lookup_elem(&sw_floor_src, &key);
	if (!s) {
		struct sw_src_state init = {};
		bpf_map_update_elem(&sw_floor_src, &key, &init, BPF_NOEXIST);
		return XDP_DROP;
	}
	const __u64 interval = 1000000000ull;
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 tat = s->tat_ns[0] > now ? s->tat_ns[0] : now;
	if (tat - now >= interval) {
		s->rate_dropped[0]++;
		return XDP_DROP;
	}
	s->tat_ns[0] = tat + interval;
	return XDP_PASS;
}

/*
 * The least a copy to the ring buffer does: a record reserved at the size
 * class sw_copy would pick, the UDP payload loaded straight into it, the
 * record submitted without a wakeup. No header filled, no statistics.
 */
#define SW_FLOOR_CLASS(cap)                                                         \
	if (len <= (cap)) {                                                         \
		__u32 n = len - 1;                                                  \
		barrier_var(n);                                                     \
		if (n >= (cap))                                                     \
			return XDP_PASS;                                            \
		n += 1;                                                             \
		struct {                                                            \
			struct sw_record_hdr hdr;                                   \
			__u8 payload[cap];                                          \
		} *r = bpf_ringbuf_reserve(&sw_floor_ring, sizeof(*r), 0);           \
		if (!r)                                                             \
			return XDP_PASS;                                            \
		if (bpf_xdp_load_bytes(ctx, SW_FLOOR_PAYLOAD_OFF, r->payload, n)) { \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                   \
			return XDP_PASS;                                            \
		}                                                                   \
		r->hdr.caplen = n;                                                  \
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);                            \
		return XDP_PASS;                                                    \
	}

SEC("xdp")
int sw_floor_copy(struct xdp_md *ctx)
{
	__u32 pkt = ctx->data_end - ctx->data;
	if (pkt <= SW_FLOOR_PAYLOAD_OFF)
		return XDP_PASS;
	__u32 len = pkt - SW_FLOOR_PAYLOAD_OFF;
	__u32 last = len - 1;
	barrier_var(last);
	if (last >= SW_SNAP_MAX)
		return XDP_PASS;
	len = last + 1;
	SW_COPY_CLASSES(SW_FLOOR_CLASS)
	return XDP_PASS;
}
