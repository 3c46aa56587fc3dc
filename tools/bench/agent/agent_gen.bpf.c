// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Traffic generator of sw-bench-agent: SIP dialogs, paced, through a veth.
 *
 * Run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on one end of a
 * veth pair (as live_gen.bpf.c is): every run that returns XDP_TX puts one
 * frame on the wire to the peer, where sipwarden's XDP program receives it.
 * Unlike live_gen, each frame is made here from a template: the frame of
 * run n is message slot n % n_slots of dialog n / n_slots - lag (a schedule
 * set by userspace: INVITE, 100, 180, 200, ACK now, BYE and its 200 for the
 * dialog that began `lag` dialogs ago, ...), with the dialog's Call-ID,
 * tags, branch, user numbers and caller/callee addresses written into the
 * template's marked places and into the IP header. So no two dialogs share
 * a Call-ID, and sources spread over many addresses, as on a busy SBC.
 *
 * Pacing: a run that is ahead of rate x elapsed time returns XDP_DROP (no
 * frame sent; the kernel recycles it), so the test run's CPU spins until the
 * next frame is due. A run that falls behind by more than `burst` frames
 * (the syscall's own set-up between runs) catches up at most `burst`.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "agent_gen.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SWB_TMPL_MAX);
	__type(key, __u32);
	__type(value, struct swb_tmpl);
} swb_tmpls SEC(".maps");

/* Set by userspace between runs (mmapped .data/.bss). */
struct swb_slot slots[SWB_SLOTS_MAX];
__u32 n_slots;
__u64 rate;     /* frames per second; 0 = as fast as possible */
__u64 burst;    /* frames a late run may catch up */
__u64 epoch_ns; /* pacing starts here (bpf_ktime_get_ns); 0 = at the next run */
__u64 paced;    /* frames counted against the epoch (sent or skipped) */
__u64 limit;    /* stop sending after this many frames in total */
__u64 dialog_base; /* added to every dialog number (distinct Call-IDs per phase) */

/* Counters, read by userspace. */
__u64 seq;     /* schedule position: slots taken */
__u64 sent;    /* frames transmitted (XDP_TX) */
__u64 waits;   /* runs that found the next frame not yet due */
__u64 skipped; /* slots whose dialog is not there yet or not every cycle */
__u64 errors;  /* templates missing or the frame not resizable */

static __always_inline void put_hex8(__u8 *p, __u32 v)
{
	for (int i = 0; i < 8; i++) {
		__u8 d = (v >> (28 - 4 * i)) & 15;
		p[i] = d < 10 ? '0' + d : 'a' + d - 10;
	}
}

/* width is a constant at every call (3 or 5): the loop unrolls. */
static __always_inline void put_dec(__u8 *p, __u32 v, const int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = '0' + v % 10;
		v /= 10;
	}
}

/* Octets 2..4 of a pool address: pool (10 addresses per pool in octet 2),
 * then 156 x 156 in octets 3 and 4, all three-digit (100..255), so the text
 * "PPx.yyy.zzz" has a fixed width. */
static __always_inline void pool_octets(__u32 pool, __u64 dialog, __u32 *o2, __u32 *o3, __u32 *o4)
{
	__u32 idx = (__u32)(dialog % SWB_POOL_SIZE);
	*o2 = pool + idx / (156 * 156);
	*o3 = 100 + (idx / 156) % 156;
	*o4 = 100 + idx % 156;
}

static __always_inline __u16 ip_csum(const __u16 *w)
{
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int swb_agent_gen(struct xdp_md *ctx)
{
	if (sent >= limit)
		return XDP_DROP;
	if (rate) {
		__u64 now = bpf_ktime_get_ns();
		if (epoch_ns == 0 || now < epoch_ns) {
			epoch_ns = now;
			paced = 0;
		}
		__u64 due = (now - epoch_ns) * rate / 1000000000ull;
		if (paced >= due) {
			waits++;
			return XDP_DROP;
		}
		if (due - paced > burst)
			paced = due - burst;
		paced++;
	}

	__u32 n = n_slots;
	if (n == 0 || n > SWB_SLOTS_MAX) {
		errors++;
		return XDP_DROP;
	}
	__u64 s = seq++;
	__u64 slot = s % n;
	/* The compiler knows slot < n <= SWB_SLOTS_MAX and would drop the check
	 * the verifier needs: hide the value from it. */
	asm volatile("" : "+r"(slot));
	if (slot >= SWB_SLOTS_MAX)
		return XDP_DROP;
	__u64 cycle = s / n;
	const struct swb_slot *sl = &slots[slot];
	/* A slot without a frame this cycle gives its turn back: the next run
	 * (at once) takes the next slot, so the offered rate is frames sent. */
	if (cycle < sl->lag) {
		skipped++;
		paced -= !!rate;
		return XDP_DROP;
	}
	__u64 dialog = cycle - sl->lag;
	if (sl->every > 1 && dialog % sl->every) {
		skipped++;
		paced -= !!rate;
		return XDP_DROP;
	}
	dialog += dialog_base;

	__u32 key = sl->tmpl;
	const struct swb_tmpl *t = bpf_map_lookup_elem(&swb_tmpls, &key);
	if (!t) {
		errors++;
		return XDP_DROP;
	}
	__u32 len = t->len;
	if (len < sizeof(struct ethhdr) + sizeof(struct iphdr) + 8 || len > SWB_FRAME_MAX) {
		errors++;
		return XDP_DROP;
	}
	int have = (int)(ctx->data_end - ctx->data);
	if (have != (int)len && bpf_xdp_adjust_tail(ctx, (int)len - have) != 0) {
		errors++;
		return XDP_DROP;
	}
	if (bpf_xdp_store_bytes(ctx, 0, (void *)t->data, len) != 0) {
		errors++;
		return XDP_DROP;
	}

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	__u32 o2, o3, o4;
	pool_octets(t->src_pool, dialog, &o2, &o3, &o4);
	ip->saddr = bpf_htonl((10u << 24) | (o2 << 16) | (o3 << 8) | o4);
	ip->check = 0;
	ip->check = ip_csum((const __u16 *)ip);

	__u32 np = t->n_patch;
	for (__u32 i = 0; i < SWB_PATCH_MAX; i++) {
		if (i >= np)
			break;
		__u32 off = t->patch[i].off & (SWB_FRAME_MAX - 1);
		__u8 *p = data + off;
		if ((void *)(p + SWB_PATCH_WIDTH) > data_end)
			break;
		switch (t->patch[i].kind) {
		case SWB_PATCH_HEX:
			put_hex8(p, (__u32)dialog);
			break;
		case SWB_PATCH_USER:
			put_dec(p, (__u32)(dialog % 100000), 5);
			break;
		case SWB_PATCH_CALLER:
		case SWB_PATCH_CALLEE: {
			__u32 a2, a3, a4;
			pool_octets(t->patch[i].kind == SWB_PATCH_CALLER ? SWB_POOL_CALLER
									 : SWB_POOL_CALLEE,
				    dialog, &a2, &a3, &a4);
			put_dec(p, a2, 3);
			p[3] = '.';
			put_dec(p + 4, a3, 3);
			p[7] = '.';
			put_dec(p + 8, a4, 3);
			break;
		}
		default:
			break;
		}
	}
	sent++;
	return XDP_TX;
}
