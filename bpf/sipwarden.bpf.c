// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * sipwarden XDP data plane.
 *
 * Per packet: parse Ethernet (up to two VLAN tags), IPv4/IPv6 (IHL and
 * extension headers honoured, fragments recognised), UDP/TCP; drop a
 * blocklisted source unless it is allowlisted; classify SIP on the configured
 * ports by its first line; apply the per-source token buckets; copy passed SIP
 * messages to the ring buffer; count media sent to endpoints the agent expects
 * and post one notice when a watched endpoint sees a packet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sipwarden.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- maps: one place, one line each ------------------------------------ */

/* Runtime settings written by the agent and sipwardenctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_config);
} sw_config SEC(".maps");

/* Per-port role: SIP over UDP and/or TCP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} sw_ports SEC(".maps");

/* Per-CPU counters for every verdict and parse outcome. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_stats);
} sw_stats SEC(".maps");

/* Sources that are never dropped nor rate limited. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_ALLOW_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v4);
	__type(value, struct sw_allow_entry);
} sw_allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_ALLOW_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v6);
	__type(value, struct sw_allow_entry);
} sw_allow_v6 SEC(".maps");

/* Blocked sources with expiry, reason and hit counter. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_BLOCK_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v4);
	__type(value, struct sw_block_entry);
} sw_block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SW_BLOCK_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_lpm_v6);
	__type(value, struct sw_block_entry);
} sw_block_v6 SEC(".maps");

/* Per-source message counters and token buckets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_SRC_ENTRIES);
	__type(key, struct sw_src_key);
	__type(value, struct sw_src_state);
} sw_src SEC(".maps");

/* Per-CPU room for the first state of a new source: built here rather than
 * on sw_l4's stack (248 bytes of the 512 Linux 6.1 allows over sw_xdp,
 * sw_l4 and sw_first_line together). Written afresh before each use. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_src_state);
} sw_src_init SEC(".maps");

/* Per-source rate limits set by rules through the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_SRC_LIMIT_ENTRIES);
	__type(key, struct sw_src_key);
	__type(value, struct sw_src_limit);
} sw_src_limit SEC(".maps");

/* Expected media endpoints installed by the agent from SDP and MGCP. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_MEDIA_ENTRIES);
	__type(key, struct sw_media_key);
	__type(value, struct sw_media_entry);
} sw_media SEC(".maps");

/* SIP messages and media notices for the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SW_RINGBUF_BYTES);
} sw_events SEC(".maps");

/* ---- helpers ------------------------------------------------------------ */

/*
 * The kernel's own LPM trie structure, the one field read here: how many
 * entries the trie holds. Read straight from the map (CO-RE: the offset
 * comes from the running kernel's BTF; Linux 5.10+ lets a program read its
 * maps' fields, with CAP_PERFMON), it costs one load, where a lookup in an
 * empty trie costs a helper call. So an empty allowlist or blocklist is
 * skipped exactly, however its entries were written (sipwardenctl, the
 * agent, bpftool).
 */
struct lpm_trie {
	unsigned long n_entries; /* size_t */
} __attribute__((preserve_access_index));

static __always_inline int trie_empty(void *map)
{
	return ((struct lpm_trie *)map)->n_entries == 0;
}

#define VLAN_HDR_LEN 4
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define SIP_MIN_LEN 12    /* "ACK x SIP/2.0" minus a few: anything shorter is not SIP */
#define SIP_LINE_SCAN 256 /* first-line bytes searched for CRLF */

/*
 * A 16-bit big-endian length field, read byte by byte. bpf_ntohs compiles to
 * a byte swap whose result the 6.12 verifier does not bound (any 64-bit
 * value), so a length from it could not be added to a packet pointer; and
 * 6.1's verifier forgets the bounds of an OR of two unknown values, so the
 * bytes are added: 0..65535 for every verifier.
 */
static __always_inline __u32 be16_len(const void *p)
{
	const __u8 *b = p;
	__u32 hi = (__u32)b[0] << 8;
	barrier_var(hi); /* or clang turns the add of disjoint bits into an OR */
	return hi + b[1];
}
/* Largest L4 offset we follow; keeps packet-pointer ranges provable. */
#define SW_MAX_L4_OFF 0x3fff

/* What the L2/L3 parser learned: scalars only, so it can be handed to a
 * global function (verified once, whatever path led to it). */
struct meta {
	__u64 now;
	__u32 l4_off;      /* offset of the L4 header from data */
	__u32 payload_off; /* offset of the L4 payload */
	__u32 payload_len; /* L4 payload length as the headers declare it */
	__u16 sport, dport;
	__u16 vlan_id;
	__u8 family;
	__u8 l4proto;
	__u8 frag_first;
	__u8 frag_later;
	__u8 has_vlan;
	__u8 allowed; /* the allowlist overrode a drop of this packet */
	__u8 long_line; /* a request whose first line the kernel could not see end */
	__u8 tcp_flags; /* TCP: the header's flags byte */
	__u8 midstream; /* TCP: the segment does not start a SIP message */
	__u8 over_rate; /* TCP: a request over a limit (passed, charged to the source) */
	__u32 tcp_seq;  /* TCP: sequence number, host order */
	__u32 copy;     /* what sw_l4 asks sw_copy to copy (see copy_msg), 0 = nothing */
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Per-packet handles that are not part of the parse result. */
struct env {
	struct sw_stats *st;
	struct sw_config *cfg;
};

/* CLOCK_BOOTTIME, read once per packet and only when needed (the clock read
 * is a noticeable part of the cheapest paths). */
static __always_inline __u64 now_ns(struct meta *m)
{
	if (!m->now)
		m->now = bpf_ktime_get_boot_ns();
	return m->now;
}

static __always_inline void map_v4(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

union lpm_key;
static __always_inline int allowed_k(struct meta *m, struct env *env, union lpm_key *k);
static __always_inline int allowed(struct meta *m, struct env *env);

/* m: the parse result once the source is known (an allowlisted source is
 * never dropped), else NULL. */
static __always_inline int malformed(struct env *e, struct meta *m)
{
	e->st->malformed++;
	if ((e->cfg->flags & SW_CFG_DROP_MALFORMED) && !(m && allowed(m, e))) {
		e->st->drop_malformed++;
		return XDP_DROP;
	}
	e->st->pass_other++;
	return XDP_PASS;
}

/* Ethernet and up to two VLAN tags: the L3 ethertype and its offset. */
static __always_inline int parse_eth(void *data, void *end, struct meta *m, __u32 *off,
				     __u16 *proto)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return -1;
	__u16 type = bpf_ntohs(eth->h_proto);
	__u32 o = sizeof(*eth);
#pragma unroll
	for (int i = 0; i < SW_MAX_VLAN_TAGS; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		__be16 *tag = data + o;
		if ((void *)(tag + 2) > end)
			return -1;
		if (!m->has_vlan) {
			m->vlan_id = bpf_ntohs(tag[0]) & 0x0fff;
			m->has_vlan = 1;
		}
		type = bpf_ntohs(tag[1]);
		o += VLAN_HDR_LEN;
	}
	*off = o;
	*proto = type;
	return 0;
}

/* Whether an L3 packet of len bytes from offset off fits the frame: within
 * the linear data, or, for a multi-buffer frame (jumbo, GRO), within the
 * whole buffer (asked only when the linear data is shorter). */
static __always_inline int fits(struct xdp_md *ctx, void *data, void *end, __u32 off, __u32 len)
{
	if (data + off + len <= end)
		return 1;
	return off + len <= bpf_xdp_get_buff_len(ctx);
}

static __always_inline int parse_ipv4(struct xdp_md *ctx, void *data, void *end, struct meta *m,
				      __u32 off)
{
	struct iphdr *ip = data + off;

	if ((void *)(ip + 1) > end)
		return -1;
	__u32 ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip))
		return -1;
	__u32 tot = be16_len(&ip->tot_len);
	if (tot < ihl || !fits(ctx, data, end, off, tot))
		return -1;
	m->family = 4;
	map_v4(m->saddr, ip->saddr);
	map_v4(m->daddr, ip->daddr);
	m->l4proto = ip->protocol;
	__u16 frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_OFFSET)
		m->frag_later = 1;
	else if (frag & IP_MF)
		m->frag_first = 1;
	m->l4_off = off + ihl;
	m->payload_len = tot - ihl; /* L4 bytes; the L4 parser refines it */
	return 0;
}

static __always_inline int parse_ipv6(struct xdp_md *ctx, void *data, void *end, struct meta *m,
				      __u32 off)
{
	struct ipv6hdr *ip6 = data + off;

	if ((void *)(ip6 + 1) > end)
		return -1;
	if (ip6->version != 6)
		return -1;
	__u32 plen = be16_len(&ip6->payload_len);
	__u32 o = off + sizeof(*ip6);
	if (!fits(ctx, data, end, o, plen))
		return -1;
	m->family = 6;
	__builtin_memcpy(m->saddr, &ip6->saddr, 16);
	__builtin_memcpy(m->daddr, &ip6->daddr, 16);
	__u8 nh = ip6->nexthdr;
	__u32 stop = o + plen;
#pragma unroll
	for (int i = 0; i < SW_MAX_IPV6_EXT; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			__u8 *h = data + o;
			if ((void *)(h + 2) > end)
				return -1;
			nh = h[0];
			o += (h[1] + 1) * 8;
		} else if (nh == IPPROTO_FRAGMENT) {
			__u8 *h = data + o;
			if ((void *)(h + 8) > end)
				return -1;
			__u16 fo = ((__u16)h[2] << 8) | h[3];
			if (fo & 0xfff8)
				m->frag_later = 1;
			else if (fo & 1)
				m->frag_first = 1;
			nh = h[0];
			o += 8;
		} else if (nh == IPPROTO_AH) {
			__u8 *h = data + o;
			if ((void *)(h + 2) > end)
				return -1;
			nh = h[0];
			o += (h[1] + 2) * 4;
		} else {
			break;
		}
		if (o > stop)
			return -1;
	}
	m->l4proto = nh;
	m->l4_off = o;
	m->payload_len = stop - o;
	return 0;
}

/* Blocklist lookup: the entry blocking the source now, or NULL. Expired
 * entries are deleted and the lookup repeated, so a covering prefix still
 * applies. */
/* One key for either trie, its address handed to the lookups: one stack
 * slot for all of them (Linux 6.1 allows 512 bytes of stack over sw_xdp,
 * sw_l4 and sw_first_line together). */
union lpm_key {
	struct sw_lpm_v4 v4;
	struct sw_lpm_v6 v6;
};

/* The source's full-length key in k. */
static __always_inline void src_key(struct meta *m, union lpm_key *k)
{
	if (m->family == 4) {
		k->v4.prefixlen = 32;
		__builtin_memcpy(k->v4.addr, m->saddr + 12, 4);
	} else {
		k->v6.prefixlen = 128;
		__builtin_memcpy(k->v6.addr, m->saddr, 16);
	}
}

static __always_inline struct sw_block_entry *blocked(struct meta *m, struct env *env,
						      union lpm_key *k)
{
	struct sw_block_entry *e = 0;

	if (trie_empty(m->family == 4 ? (void *)&sw_block_v4 : (void *)&sw_block_v6))
		return 0;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		src_key(m, k);
		if (m->family == 4) {
			e = bpf_map_lookup_elem(&sw_block_v4, k);
			if (!e)
				return 0;
			if (!e->expires_ns || e->expires_ns > now_ns(m))
				break;
			k->v4.prefixlen = e->prefixlen;
			bpf_map_delete_elem(&sw_block_v4, k);
		} else {
			e = bpf_map_lookup_elem(&sw_block_v6, k);
			if (!e)
				return 0;
			if (!e->expires_ns || e->expires_ns > now_ns(m))
				break;
			k->v6.prefixlen = e->prefixlen;
			bpf_map_delete_elem(&sw_block_v6, k);
		}
		env->st->block_expired++;
		e = 0;
	}
	return e;
}

/*
 * A hit on a blocklist or allowlist entry, which every CPU shares: counted
 * exactly while the entry has fewer than SW_HITS_EXACT hits, then sampled,
 * SW_HITS_SAMPLE at a time whenever this CPU's own counter of such hits
 * (cpu_count, per-CPU stats) reaches a multiple of SW_HITS_SAMPLE. A flood
 * then writes the shared entry once per SW_HITS_SAMPLE packets per CPU
 * instead of one locked add per packet.
 */
static __always_inline void count_hit(__u64 *hits, __u64 cpu_count)
{
	if (*hits < SW_HITS_EXACT)
		__sync_fetch_and_add(hits, 1);
	else if (!(cpu_count & (SW_HITS_SAMPLE - 1)))
		__sync_fetch_and_add(hits, SW_HITS_SAMPLE);
}

/* Allowlist lookup, made only when a drop is about to happen, and not at
 * all while the family's allowlist is empty. k: room for the key. */
static __always_inline int allowed_k(struct meta *m, struct env *env, union lpm_key *k)
{
	struct sw_allow_entry *a;

	if (m->allowed)
		return 1; /* counted once per packet */
	if (trie_empty(m->family == 4 ? (void *)&sw_allow_v4 : (void *)&sw_allow_v6))
		return 0;
	src_key(m, k);
	if (m->family == 4)
		a = bpf_map_lookup_elem(&sw_allow_v4, k);
	else
		a = bpf_map_lookup_elem(&sw_allow_v6, k);
	if (!a)
		return 0;
	env->st->pass_allowed++;
	count_hit(&a->hits, env->st->pass_allowed);
	m->allowed = 1;
	return 1;
}

static __always_inline int allowed(struct meta *m, struct env *env)
{
	union lpm_key k;

	return allowed_k(m, env, &k);
}

/* Token characters of RFC 3261 (method names). */
static __always_inline int is_token(__u8 c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' ||
	       c == '`' || c == '\'' || c == '~';
}

#define W4(a, b, c, d) ((__u32)(a) | ((__u32)(b) << 8) | ((__u32)(c) << 16) | ((__u32)(d) << 24))

/* Method from the first bytes; tok_len is the token length found before SP. */
static __always_inline int method_class(const __u8 *s, __u32 tok_len)
{
	__u32 w = W4(s[0], s[1], s[2], s[3]);

	switch (tok_len) {
	case 3:
		if (w == W4('A', 'C', 'K', ' '))
			return SW_CLASS_ACK;
		if (w == W4('B', 'Y', 'E', ' '))
			return SW_CLASS_BYE;
		break;
	case 4:
		if (w == W4('I', 'N', 'F', 'O'))
			return SW_CLASS_INFO;
		break;
	case 5:
		if (w == W4('P', 'R', 'A', 'C') && s[4] == 'K')
			return SW_CLASS_PRACK;
		if (w == W4('R', 'E', 'F', 'E') && s[4] == 'R')
			return SW_CLASS_REFER;
		break;
	case 6:
		if (w == W4('I', 'N', 'V', 'I') && s[4] == 'T' && s[5] == 'E')
			return SW_CLASS_INVITE;
		if (w == W4('C', 'A', 'N', 'C') && s[4] == 'E' && s[5] == 'L')
			return SW_CLASS_CANCEL;
		if (w == W4('N', 'O', 'T', 'I') && s[4] == 'F' && s[5] == 'Y')
			return SW_CLASS_NOTIFY;
		if (w == W4('U', 'P', 'D', 'A') && s[4] == 'T' && s[5] == 'E')
			return SW_CLASS_UPDATE;
		break;
	case 7:
		if (w == W4('O', 'P', 'T', 'I') && s[4] == 'O' && s[5] == 'N' && s[6] == 'S')
			return SW_CLASS_OPTIONS;
		if (w == W4('P', 'U', 'B', 'L') && s[4] == 'I' && s[5] == 'S' && s[6] == 'H')
			return SW_CLASS_PUBLISH;
		if (w == W4('M', 'E', 'S', 'S') && s[4] == 'A' && s[5] == 'G' && s[6] == 'E')
			return SW_CLASS_MESSAGE;
		break;
	case 8:
		if (w == W4('R', 'E', 'G', 'I') && s[4] == 'S' && s[5] == 'T' && s[6] == 'E' &&
		    s[7] == 'R')
			return SW_CLASS_REGISTER;
		break;
	case 9:
		if (w == W4('S', 'U', 'B', 'S') && s[4] == 'C' && s[5] == 'R' && s[6] == 'I' &&
		    s[7] == 'B' && s[8] == 'E')
			return SW_CLASS_SUBSCRIBE;
		break;
	}
	return SW_CLASS_OTHER_REQUEST;
}

enum first_line { FL_NOT_SIP = 0, FL_SIP = 1, FL_KEEPALIVE = 2, FL_SIP_LONG = 3, FL_NOISE = 4 };
#define FL_RESULT(fl, cls, status) ((fl) | ((cls) << 8) | ((status) << 16))

static __always_inline int is_crlf(__u8 c)
{
	return c == '\r' || c == '\n';
}

/*
 * CRLFs before a SIP start line (RFC 3261 7.5: ignored; up to 4 here):
 * returns how many, or -1 when the payload is nothing else (a keep-alive,
 * RFC 5626). Its own global function so that sw_first_line is verified for
 * any offset once, not once per count skipped.
 */
__noinline int sw_lead_crlf(struct xdp_md *ctx, __u32 off, __u32 n)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (!ctx || off > SW_MAX_L4_OFF || n == 0)
		return 0;
	__u8 *s = data + off;
	if (s + 4 <= (__u8 *)end && n >= 4) {
		int lead = 0;
		if (is_crlf(s[0])) {
			lead = 1;
			if (is_crlf(s[1])) {
				lead = 2;
				if (is_crlf(s[2])) {
					lead = 3;
					if (is_crlf(s[3]))
						lead = 4;
				}
			}
		}
		return (__u32)lead == n ? -1 : lead;
	}
	if (s + 1 <= (__u8 *)end && is_crlf(s[0])) {
		if (n == 1)
			return -1;
		if (s + 2 <= (__u8 *)end && is_crlf(s[1]))
			return n == 2 ? -1 : 2;
		return 1;
	}
	return 0;
}

/*
 * Classifies the first line of the L4 payload at offset off (n bytes belong to
 * the message; the caller skipped CRLFs before it), as the agent's parser
 * will: "SIP" in the version
 * is case-insensitive, a method is any token, a status line may end right
 * after its code. A request is `token SP ... SP SIP/2.0 CRLF`, a response
 * `SIP/2.0 SP 3DIGIT (SP|CR|LF)`, lines end at the first CR or LF. A request
 * whose end the kernel cannot see (a method token or a line longer than it
 * scans, a line in a later buffer of the frame) is FL_SIP_LONG: accounted and
 * copied like SIP, flagged, and left to the agent's parser; never passed
 * unseen. A global function, so the verifier checks its loops once instead
 * of once per caller state. Returns FL_RESULT(first_line, class, status).
 */
__noinline int sw_first_line(struct xdp_md *ctx, __u32 off, __u32 n)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (!ctx || off > SW_MAX_L4_OFF)
		return FL_NOT_SIP;
	__u8 *s = data + off;
	if (n < SIP_MIN_LEN || s + SIP_MIN_LEN > (__u8 *)end)
		return FL_NOT_SIP;

	/* Response: "SIP/2.0 NNN" and SP or the line's end. */
	if ((s[0] | 0x20) == 's' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'p' && s[3] == '/' &&
	    s[4] == '2' && s[5] == '.' && s[6] == '0' && s[7] == ' ') {
		__u8 a = s[8], b = s[9], c = s[10], e = s[11];
		if (a < '1' || a > '6' || b < '0' || b > '9' || c < '0' || c > '9' ||
		    (e != ' ' && !is_crlf(e)))
			return FL_NOT_SIP;
		__u32 status = (a - '0') * 100 + (b - '0') * 10 + (c - '0');
		return FL_RESULT(FL_SIP, SW_CLASS_RESP_1XX + (a - '1'), status);
	}

	/* Request: token, SP, then " SIP/2.0" right before the first CRLF. */
	if (!is_token(s[0]))
		return FL_NOT_SIP;
	__u32 tok = 0;
	__u32 i;
	for (i = 1; i < 16; i++) {
		__u8 *c = s + i;
		if (i >= n)
			return FL_RESULT(FL_NOT_SIP, SW_CLASS_OTHER_REQUEST, 0);
		if ((void *)(c + 1) > end)
			return FL_RESULT(FL_SIP_LONG, SW_CLASS_OTHER_REQUEST, 0);
		if (*c == ' ') {
			tok = i;
			break;
		}
		if (!is_token(*c))
			return FL_RESULT(FL_NOT_SIP, SW_CLASS_OTHER_REQUEST, 0);
	}
	/* A method longer than the kernel reads: an extension method, or
	 * padding meant to slip past; the agent decides. */
	if (!tok)
		return FL_RESULT(FL_SIP_LONG, SW_CLASS_OTHER_REQUEST, 0);
	__u32 cls = method_class(s, tok);
	/* Find the line's end, the first CR or LF (the agent's parser takes a
	 * lone LF, or a lone CR, as a line end too); " SIP/2.0" must precede
	 * it. Eight bytes at a time (a CR or LF in a word shows as a zero byte
	 * of w ^ 0x0d.. or w ^ 0x0a..), then byte by byte inside the word that
	 * holds it and for the tail. */
	__u32 cr = 0;
	__u32 at = tok + 1;
	for (int k = 0; k < SIP_LINE_SCAN / 8; k++) {
		if (at + 8 > n || (void *)(s + at + 8) > end)
			break;
		__u64 w;
		__builtin_memcpy(&w, s + at, 8);
		__u64 x = w ^ 0x0d0d0d0d0d0d0d0dULL;
		__u64 y = w ^ 0x0a0a0a0a0a0a0a0aULL;
		if (((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) ||
		    ((y - 0x0101010101010101ULL) & ~y & 0x8080808080808080ULL))
			break;
		at += 8;
	}
	for (int k = 0; k < 8; k++) {
		__u32 j = at + k;
		barrier_var(j); /* keeps clang from rewriting s + j into 64-bit wrap-around */
		if (j >= SIP_LINE_SCAN)
			break;
		if (j + 1 > n) /* the message ends inside its first line */
			return FL_RESULT(FL_NOT_SIP, cls, 0);
		__u8 *c = s + j;
		if ((void *)(c + 1) > end)
			return FL_RESULT(FL_SIP_LONG, cls, 0); /* the rest is in a later buffer */
		if (is_crlf(c[0])) {
			cr = j;
			break;
		}
	}
	if (!cr)
		return FL_RESULT(FL_SIP_LONG, cls, 0); /* longer than the kernel scans */
	if (cr < tok + 9 || cr > SIP_LINE_SCAN)
		return FL_RESULT(FL_NOT_SIP, cls, 0);
	__u8 *v = s + (cr - 8);
	if ((void *)(v + 8) > end)
		return FL_RESULT(FL_NOT_SIP, cls, 0);
	if (v[0] != ' ' || (v[1] | 0x20) != 's' || (v[2] | 0x20) != 'i' || (v[3] | 0x20) != 'p' ||
	    v[4] != '/' || v[5] != '2' || v[6] != '.' || v[7] != '0')
		return FL_RESULT(FL_NOT_SIP, cls, 0);
	return FL_RESULT(FL_SIP, cls, 0);
}

static __always_inline int bucket_of(__u8 cls)
{
	if (cls == SW_CLASS_INVITE)
		return SW_BUCKET_INVITE;
	if (cls == SW_CLASS_REGISTER)
		return SW_BUCKET_REGISTER;
	return SW_BUCKET_OTHER;
}

/*
 * One GCRA step: 1 when a message at now exceeds the bucket (rate/s, burst
 * deep) whose theoretical arrival time is *tat; otherwise the message takes
 * a token and 0 is returned. Lock-free and exact across CPUs: the token is
 * taken with a compare-and-swap of tat, retried when another CPU took one
 * in between, so two CPUs never take the same token and a bucket admits
 * burst messages at once and rate per second after, however its source's
 * packets are spread over CPUs. A message that exceeds the bucket writes
 * nothing (a flood reads the shared value, it does not bounce it between
 * CPUs). Should the swap lose SW_GCRA_TRIES times in a row (CPUs taking
 * tokens of one bucket without pause: a flood), the message counts as
 * exceeding.
 */
#define SW_GCRA_TRIES 4
static __always_inline int gcra_exceeds(__u64 *tat_p, __u64 now, __u32 rate, __u32 burst_cfg)
{
	const __u64 burst = burst_cfg ? burst_cfg : 1;
	__u64 seen = *(volatile __u64 *)tat_p;

	/* A flood is refused without a division (a 64-bit divide is the
	 * dearest instruction of this path): rate * backlog above
	 * (burst - 1) seconds means the backlog is above burst - 1 intervals
	 * of 1e9 / rate rounded down too. Both factors stay below 2^32. */
	if (seen > now) {
		const __u64 backlog = seen - now;
		if (backlog < (1ULL << 32) && backlog * rate > (burst - 1) * 1000000000ULL)
			return 1;
	}
	const __u64 interval = 1000000000ULL / rate;
#pragma unroll
	for (int i = 0; i < SW_GCRA_TRIES; i++) {
		__u64 tat = seen < now ? now : seen;
		/* Conforming while the backlog stays within burst - 1 intervals. */
		if (tat - now > (burst - 1) * interval)
			return 1;
		__u64 was = __sync_val_compare_and_swap(tat_p, seen, tat + interval);
		if (was == seen)
			return 0;
		seen = was;
	}
	return 1;
}

/* A request over a limit that was passed anyway (TCP: dropping a segment
 * of an established connection stalls all its dialogs): it is charged to
 * the bucket, which runs into debt, at most SW_TCP_DEBT_MAX_NS deep. */
static __always_inline void gcra_charge(__u64 *tat_p, __u64 now, __u32 rate)
{
	__u64 tat = *tat_p;

	if (tat < now)
		tat = now;
	tat += 1000000000ULL / rate;
	if (tat > now + SW_TCP_DEBT_MAX_NS)
		tat = now + SW_TCP_DEBT_MAX_NS;
	*tat_p = tat;
}

/* Whether the bucket has no token left at now (the next request would
 * exceed it), without taking one. */
static __always_inline int gcra_empty(__u64 tat, __u64 now, __u32 rate, __u32 burst_cfg)
{
	__u64 burst = burst_cfg ? burst_cfg : 1;

	return tat > now && tat - now > (burst - 1) * (1000000000ULL / rate);
}

/* A rate limit a rule set on this one source: returns the entry when the
 * request exceeds it (the caller counts the drop), NULL otherwise. Expired
 * limits are removed on the next hit. Tokens are taken as for the global
 * buckets (gcra_exceeds: lock-free, exact across CPUs). */
static __always_inline struct sw_src_limit *over_source_limit(struct meta *m, struct env *env,
							      struct sw_src_key *key)
{
	struct sw_src_limit *l = bpf_map_lookup_elem(&sw_src_limit, key);

	if (!l || !l->rate)
		return NULL;
	const __u64 now = now_ns(m);
	if (l->expires_ns && l->expires_ns <= now) {
		bpf_map_delete_elem(&sw_src_limit, key);
		env->st->src_limit_expired++;
		return NULL;
	}
	if (!gcra_exceeds(&l->tat_ns, now, l->rate, l->burst))
		return NULL;
	if (m->l4proto == IPPROTO_TCP)
		gcra_charge(&l->tat_ns, now, l->rate);
	return l;
}

enum { SW_SRC_OK = 0, SW_SRC_OVER_RATE = 1, SW_SRC_OVER_LIMIT = 2 };

/*
 * Per-source accounting and the token buckets (GCRA form: one timestamp per
 * bucket): the global per-class buckets, then a limit set for this source.
 * Returns SW_SRC_OVER_* when the message exceeds one (an allowlisted source
 * never does): UDP drops it; TCP passes it and charges it to the bucket, so
 * that the source's new connections are refused (tcp_syn_refused) until
 * the debt is paid.
 */
static __always_inline int account_source(struct meta *m, struct env *env, __u8 cls)
{
	struct sw_src_key key;
	struct sw_src_state *s;

	__builtin_memcpy(key.addr, m->saddr, 16);
	s = bpf_map_lookup_elem(&sw_src, &key);
	if (!s) {
		__u32 zero = 0;
		struct sw_src_state *init = bpf_map_lookup_elem(&sw_src_init, &zero);
		if (!init)
			return SW_SRC_OK;
		__builtin_memset(init, 0, sizeof(*init));
		init->first_ns = now_ns(m);
		bpf_map_update_elem(&sw_src, &key, init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&sw_src, &key);
		if (!s)
			return SW_SRC_OK;
	}
	s->last_ns = now_ns(m);
	__u32 idx = cls;
	barrier_var(idx);
	if (idx < SW_CLASS_MAX)
		s->msgs[idx]++;
	/* Plain increments: a source's packets mostly land on one CPU (RSS), and
	 * an occasional lost update costs less than a locked add per packet. */
	s->bytes += m->payload_len;

	if (!SW_CLASS_IS_REQUEST(cls))
		return SW_SRC_OK;
	__u32 b = bucket_of(cls);
	barrier_var(b);
	if (b >= SW_BUCKET_MAX)
		return SW_SRC_OK;
	struct sw_rate *r = &env->cfg->limits[b];
	if (r->rate && gcra_exceeds(&s->tat_ns[b], now_ns(m), r->rate, r->burst)) {
		if (allowed(m, env))
			return SW_SRC_OK;
		if (m->l4proto == IPPROTO_TCP)
			gcra_charge(&s->tat_ns[b], now_ns(m), r->rate);
		else
			s->rate_dropped[b]++;
		return SW_SRC_OVER_RATE;
	}
	/* A source's limit spares the requests that end what is under way
	 * (ACK, BYE, CANCEL): a limited PBX keeps tearing its calls down. */
	if (cls == SW_CLASS_ACK || cls == SW_CLASS_BYE || cls == SW_CLASS_CANCEL)
		return SW_SRC_OK;
	if (env->cfg->flags & SW_CFG_SRC_LIMITS) {
		struct sw_src_limit *l = over_source_limit(m, env, &key);
		if (l) {
			if (allowed(m, env))
				return SW_SRC_OK;
			if (m->l4proto != IPPROTO_TCP)
				l->dropped++;
			return SW_SRC_OVER_LIMIT;
		}
	}
	return SW_SRC_OK;
}

/* A connection attempt (SYN) to a SIP port from a source with an empty
 * bucket, global or its own limit: refused, unless allowlisted. Its open
 * connections carry on (see account_source). */
static __always_inline int tcp_syn_refused(struct meta *m, struct env *env)
{
	struct sw_src_key key;
	const __u64 now = now_ns(m);

	__builtin_memcpy(key.addr, m->saddr, 16);
	struct sw_src_state *s = bpf_map_lookup_elem(&sw_src, &key);
	int over = 0;
	if (s) {
		for (int b = 0; b < SW_BUCKET_MAX; b++) {
			struct sw_rate *r = &env->cfg->limits[b];
			if (r->rate && gcra_empty(s->tat_ns[b], now, r->rate, r->burst))
				over = 1;
		}
	}
	if (!over && (env->cfg->flags & SW_CFG_SRC_LIMITS)) {
		struct sw_src_limit *l = bpf_map_lookup_elem(&sw_src_limit, &key);
		if (l && l->rate && (!l->expires_ns || l->expires_ns > now) &&
		    gcra_empty(l->tat_ns, now, l->rate, l->burst))
			over = 1;
	}
	return over && !allowed(m, env);
}

static __always_inline void fill_hdr(struct meta *m, struct sw_record_hdr *h, __u32 ifindex)
{
	h->ts_ns = now_ns(m);
	h->ifindex = ifindex;
	h->sport = m->sport;
	h->dport = m->dport;
	h->family = m->family;
	h->transport = m->l4proto;
	h->vlan_id = m->vlan_id;
	h->flags = (m->has_vlan ? SW_RECF_VLAN : 0) | (m->frag_first ? SW_RECF_FRAGMENT : 0) |
		   (m->long_line ? SW_RECF_LONG_LINE : 0);
	h->tcp_seq = 0;
	if (m->l4proto == IPPROTO_TCP) {
		h->tcp_seq = m->tcp_seq;
		h->flags |= (m->midstream ? SW_RECF_TCP_MIDSTREAM : 0) |
			    (m->over_rate ? SW_RECF_OVER_RATE : 0) |
			    ((m->tcp_flags & 0x02) ? SW_RECF_TCP_SYN : 0) |
			    ((m->tcp_flags & 0x01) ? SW_RECF_TCP_FIN : 0) |
			    ((m->tcp_flags & 0x04) ? SW_RECF_TCP_RST : 0);
	}
	__builtin_memcpy(h->saddr, m->saddr, 16);
	__builtin_memcpy(h->daddr, m->daddr, 16);
}

/* Wake-up flags for a ring-buffer write of size bytes (see
 * sw_config.rb_wakeup_bytes): one wake-up when the backlog crosses the
 * threshold, none otherwise (the reader also polls on a short timeout). */
static __always_inline __u64 rb_flags(struct sw_config *cfg, __u64 size)
{
	__u32 threshold = cfg->rb_wakeup_bytes;

	if (!threshold)
		return 0;
	__u64 avail = bpf_ringbuf_query(&sw_events, BPF_RB_AVAIL_DATA);
	return (avail < threshold && avail + size >= threshold) ? BPF_RB_FORCE_WAKEUP
								 : BPF_RB_NO_WAKEUP;
}

/* One size class of ring records (SW_COPY_CLASSES): the record is reserved
 * at the class's size and the message loaded straight into it, one copy. */
#define SW_COPY_CLASS(cap)                                                                    \
	if (len <= (cap)) {                                                                  \
		/* 1..cap, proven on the register handed to the load */                     \
		__u32 n = len - 1;                                                           \
		barrier_var(n);                                                              \
		if (n >= (cap))                                                              \
			return 0;                                                            \
		n += 1;                                                                      \
		struct {                                                                     \
			struct sw_record_hdr hdr;                                            \
			__u8 payload[cap];                                                   \
		} *r = bpf_ringbuf_reserve(&sw_events, sizeof(*r), 0);                        \
		if (!r)                                                                      \
			goto lost;                                                           \
		if (bpf_xdp_load_bytes(ctx, m->payload_off, r->payload, n) < 0) {            \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                            \
			return 0;                                                            \
		}                                                                            \
		fill_record(ctx, m, &r->hdr, kind_cls_status, n);                            \
		bpf_ringbuf_submit(r, flags);                                                \
		st->rb_records++;                                                            \
		return 0;                                                                    \
	}

static __always_inline void fill_record(struct xdp_md *ctx, struct meta *m,
					struct sw_record_hdr *h, __u32 kind_cls_status, __u32 len)
{
	fill_hdr(m, h, ctx->ingress_ifindex);
	h->kind = kind_cls_status & 0xff;
	h->msg_class = (kind_cls_status >> 8) & 0xff;
	h->status = kind_cls_status >> 16;
	h->caplen = len;
	h->orig_len = m->payload_len;
	h->verdict = m->allowed ? SW_VERDICT_PASS_ALLOWED : SW_VERDICT_PASS;
	if (len < m->payload_len)
		h->flags |= SW_RECF_TRUNCATED;
}

/*
 * Copies a passed SIP message or MGCP datagram, up to snap_len bytes, to the
 * ring buffer. kind_cls_status packs the record kind (bits 0-7), the class
 * (8-15) and the status (16-31). A global function: its size classes are
 * verified once, not once per caller, and its frame is small.
 */
__noinline int sw_copy(struct xdp_md *ctx, struct meta *m, __u32 kind_cls_status)
{
	__u32 zero = 0;
	struct sw_stats *st = bpf_map_lookup_elem(&sw_stats, &zero);
	struct sw_config *cfg = bpf_map_lookup_elem(&sw_config, &zero);

	if (!ctx || !m || !st || !cfg || (cfg->flags & SW_CFG_NO_COPY))
		return 0;
	__u32 snap = cfg->snap_len;
	if (!snap || snap > SW_SNAP_MAX)
		snap = SW_SNAP_DEFAULT;
	__u32 len = m->payload_len;
	/* What is really in the frame (a first fragment carries less). */
	__u32 buf = bpf_xdp_get_buff_len(ctx);
	__u32 avail = buf > m->payload_off ? buf - m->payload_off : 0;
	if (len > avail)
		len = avail;
	if (len > snap) {
		len = snap;
		st->rb_truncated++;
	}
	/* 1..SW_SNAP_MAX in a form old verifiers can prove: 6.1 learns nothing
	 * from "len == 0" (it needs a non-zero lower bound for the load
	 * below), but bounds len - 1 by the unsigned compare. */
	__u32 last = len - 1;
	barrier_var(last);
	if (last >= SW_SNAP_MAX)
		return 0;
	len = last + 1;
	const __u64 flags = rb_flags(cfg, sizeof(struct sw_record_hdr) + len);
	SW_COPY_CLASSES(SW_COPY_CLASS)
	return 0;
lost:
	st->rb_lost++;
	return 0;
}

/* Asks for the packet's message to be copied to the ring buffer (kind: a
 * record kind, never 0) once sw_l4 has returned: sw_xdp calls sw_copy then,
 * so that sw_copy's frame is not stacked on sw_l4's (Linux 6.1 allows 512
 * bytes for a chain of calls, and sw_xdp + sw_l4 + sw_first_line use them). */
static __always_inline void copy_msg(struct meta *m, __u16 kind, __u8 cls, __u16 status)
{
	m->copy = (__u32)kind | ((__u32)cls << 8) | ((__u32)status << 16);
}

/* Media to an expected endpoint: count it; post one notice when watched. */
static __always_inline void media(struct xdp_md *ctx, struct meta *m, struct env *env)
{
	struct sw_media_key k = {.port = m->dport, .proto = IPPROTO_UDP};
	struct sw_media_entry *me;

	__builtin_memcpy(k.addr, m->daddr, 16);
	me = bpf_map_lookup_elem(&sw_media, &k);
	if (!me)
		return;
	env->st->media_packets++;
	__u64 pkts = __sync_fetch_and_add(&me->packets, 1) + 1;
	__sync_fetch_and_add(&me->bytes, m->payload_len);
	if (!me->first_ns)
		me->first_ns = now_ns(m);
	me->last_ns = now_ns(m);
	if ((me->flags & (SW_MEDIA_WATCH | SW_MEDIA_NOTIFIED)) != SW_MEDIA_WATCH)
		return;
	/* Media still in flight when the watch was set (a BYE's grace) is not
	 * reported: only packets from watch_since_ns on. */
	if (me->watch_since_ns > now_ns(m))
		return;
	/* Exactly one notice per watch, whichever CPU gets here first. */
	__u32 old = __sync_fetch_and_or(&me->flags, SW_MEDIA_NOTIFIED);
	if (old & SW_MEDIA_NOTIFIED)
		return;
	struct {
		struct sw_record_hdr hdr;
		struct sw_media_notice n;
	} *r = bpf_ringbuf_reserve(&sw_events, sizeof(*r), 0);
	if (!r) {
		/* Not posted: re-arm, so the next packet tries again. */
		__sync_fetch_and_and(&me->flags, ~(__u32)SW_MEDIA_NOTIFIED);
		env->st->rb_lost++;
		return;
	}
	fill_hdr(m, &r->hdr, ctx->ingress_ifindex);
	r->hdr.kind = SW_REC_MEDIA;
	r->hdr.caplen = sizeof(r->n);
	r->hdr.orig_len = m->payload_len;
	r->hdr.msg_class = SW_CLASS_NONE;
	r->hdr.verdict = SW_VERDICT_PASS;
	r->hdr.status = 0;
	r->n.dialog_id = me->dialog_id;
	r->n.packets = pkts;
	r->n.ssrc = 0;
	r->n.seq = 0;
	r->n.payload_type = 0;
	r->n.is_rtp = 0;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 off = m->payload_off;
	if (off > SW_MAX_L4_OFF)
		off = SW_MAX_L4_OFF;
	__u8 *rtp = data + off;
	if (m->payload_len >= 12 && (void *)(rtp + 12) <= end && (rtp[0] >> 6) == 2) {
		r->n.is_rtp = 1;
		r->n.payload_type = rtp[1] & 0x7f;
		r->n.seq = ((__u16)rtp[2] << 8) | rtp[3];
		r->n.ssrc = ((__u32)rtp[8] << 24) | ((__u32)rtp[9] << 16) | ((__u32)rtp[10] << 8) |
			    rtp[11];
	} else {
		env->st->rtp_not_rtp++;
	}
	bpf_ringbuf_submit(r, rb_flags(env->cfg, sizeof(*r)));
	env->st->media_notices++;
	env->st->rb_records++;
}

/* Looks up the port roles of a segment's two ports. */
static __always_inline __u32 port_roles(__u16 a, __u16 b)
{
	__u32 ka = a, kb = b;
	__u32 *fa = bpf_map_lookup_elem(&sw_ports, &ka);
	__u32 *fb = bpf_map_lookup_elem(&sw_ports, &kb);
	return (fa ? *fa : 0) | (fb ? *fb : 0);
}

/*
 * Everything after L3 and the blocklist: fragments, UDP/TCP, SIP
 * classification, token buckets, ring-buffer copy, media. A global
 * function, verified once for all the L2/L3 paths that lead here.
 */
__noinline int sw_l4(struct xdp_md *ctx, struct meta *m)
{
	__u32 zero = 0;
	struct env env;

	env.st = bpf_map_lookup_elem(&sw_stats, &zero);
	env.cfg = bpf_map_lookup_elem(&sw_config, &zero);
	if (!ctx || !m || !env.st || !env.cfg)
		return XDP_PASS;

	if (m->frag_later) {
		env.st->frag_later++;
		env.st->pass_other++;
		return XDP_PASS;
	}
	if (m->frag_first)
		env.st->frag_first++;

	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l4 = m->l4_off;
	if (l4 > SW_MAX_L4_OFF)
		return malformed(&env, m);

	if (m->l4proto == IPPROTO_UDP) {
		struct udphdr *uh = data + l4;
		barrier_var(uh);
		if ((void *)(uh + 1) > end)
			return malformed(&env, m);
		__u32 ulen = be16_len(&uh->len);
		/* A first fragment carries only part of the datagram. */
		if (ulen < sizeof(*uh) || (!m->frag_first && ulen > m->payload_len))
			return malformed(&env, m);
		m->sport = bpf_ntohs(uh->source);
		m->dport = bpf_ntohs(uh->dest);
		m->payload_off = l4 + sizeof(*uh);
		m->payload_len = ulen - sizeof(*uh);
		const __u32 roles = port_roles(m->sport, m->dport);
		if (!(roles & SW_PORT_SIP_UDP)) {
			/* MGCP commands and responses go to the agent whole
			 * (the gateway and audit rules); everything else
			 * may be media of a call. */
			if ((roles & SW_PORT_MGCP) && m->payload_len > 0)
				copy_msg(m, SW_REC_MGCP, SW_CLASS_NONE, 0);
			else
				media(ctx, m, &env);
			env.st->pass_other++;
			return XDP_PASS;
		}
	} else if (m->l4proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4;
		barrier_var(th);
		if ((void *)(th + 1) > end)
			return malformed(&env, m);
		__u32 doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > m->payload_len)
			return malformed(&env, m);
		m->sport = bpf_ntohs(th->source);
		m->dport = bpf_ntohs(th->dest);
		m->payload_off = l4 + doff;
		m->payload_len -= doff;
		m->tcp_seq = bpf_ntohl(th->seq);
		m->tcp_flags = ((__u8 *)th)[13];
		if (!(port_roles(m->sport, m->dport) & SW_PORT_SIP_TCP)) {
			env.st->pass_other++;
			return XDP_PASS;
		}
		/* SYN without ACK: a connection attempt. Rate limits act here. */
		if ((m->tcp_flags & 0x12) == 0x02 && tcp_syn_refused(m, &env)) {
			env.st->drop_tcp_syn++;
			return XDP_DROP;
		}
		if (m->payload_len == 0) {
			env.st->pass_other++;
			return XDP_PASS;
		}
	} else {
		env.st->pass_other++;
		return XDP_PASS;
	}

	/* CRLFs before the start line are rare: sw_lead_crlf is only called
	 * when the payload starts with one (or its first byte is not in the
	 * linear data), which spares the common path a call and its return. */
	int lead = 0;
	__u32 po = m->payload_off;
	if (po > SW_MAX_L4_OFF)
		po = SW_MAX_L4_OFF;
	__u8 *p0 = data + po;
	barrier_var(p0);
	if (m->payload_len > 0 && ((void *)(p0 + 1) > end || is_crlf(p0[0])))
		lead = sw_lead_crlf(ctx, m->payload_off, m->payload_len);
	int res = lead < 0 ? FL_KEEPALIVE
			   : sw_first_line(ctx, m->payload_off + (lead & 7),
					   m->payload_len - (lead & 7));
	int fl = res & 0xff;
	__u8 cls = (res >> 8) & 0xff;
	__u16 status = (res >> 16) & 0xffff;
	if (fl == FL_KEEPALIVE) {
		env.st->sip_port_keepalive++;
		env.st->pass_other++;
		/* Keep-alives take sequence space: the agent needs them to
		 * follow the stream. */
		if (m->l4proto == IPPROTO_TCP) {
			m->midstream = 1;
			copy_msg(m, SW_REC_SIP, SW_CLASS_NONE, 0);
		}
		return XDP_PASS;
	}
	if (fl == FL_SIP_LONG) {
		/* Over TCP a segment that begins mid-line (16 token characters
		 * of a Call-ID, a line cut by the MSS) looks the same: only a
		 * complete request line is accounted there, the rest is copied
		 * as a continuation and the agent's reassembly decides. */
		if (m->l4proto == IPPROTO_TCP) {
			fl = FL_NOT_SIP;
		} else {
			m->long_line = 1;
			fl = FL_SIP;
		}
	}
	if (fl != FL_SIP) {
		if (m->l4proto == IPPROTO_TCP) {
			/* The rest of a message that began in an earlier segment:
			 * copied for the agent's stream reassembly. */
			env.st->tcp_continuation++;
			env.st->pass_other++;
			m->midstream = 1;
			copy_msg(m, SW_REC_SIP, SW_CLASS_NONE, 0);
			return XDP_PASS;
		}
		env.st->sip_port_not_sip++;
		/* Still this source's traffic: charged below to its bucket for
		 * the class its first word claims, so that rate limits hold for
		 * malformed floods too. A line that starts like a request
		 * (FL_NOT_SIP with that class) goes to the agent, whose parser
		 * reports the refusal as an event; anything else (FL_NOISE:
		 * binary bytes, a broken status line) counts as another request
		 * and is not copied. The path below is shared with SIP (one
		 * accounting, one copy): sw_l4's frame is at the limit Linux 6.1
		 * allows (sw_xdp + sw_l4 + sw_first_line: 512 bytes of stack). */
		if (cls == SW_CLASS_NONE) {
			fl = FL_NOISE;
			cls = SW_CLASS_OTHER_REQUEST;
		}
	} else {
		if (m->l4proto == IPPROTO_TCP)
			env.st->sip_tcp++;
		else
			env.st->sip_udp++;
		if (SW_CLASS_IS_REQUEST(cls))
			env.st->sip_requests++;
		else
			env.st->sip_responses++;
	}

	const int over = account_source(m, &env, cls);
	if (over != SW_SRC_OK && m->l4proto == IPPROTO_TCP) {
		/* Never a segment of an established connection: its other
		 * dialogs would stall and the sender retransmit. Charged to
		 * the source instead (its SYNs are refused) and flagged for
		 * the agent, whose rules block a source that keeps it up. */
		env.st->tcp_over_rate++;
		m->over_rate = 1;
	} else if (over != SW_SRC_OK) {
		if (fl != FL_SIP)
			env.st->malformed++;
		if (over == SW_SRC_OVER_RATE)
			env.st->drop_rate++;
		else
			env.st->drop_src_limit++;
		return XDP_DROP;
	}
	if (fl == FL_NOISE)
		return malformed(&env, m);
	copy_msg(m, SW_REC_SIP, fl == FL_SIP ? cls : SW_CLASS_NONE, status);
	if (fl != FL_SIP)
		return malformed(&env, m);
	env.st->pass_sip++;
	return XDP_PASS;
}

SEC("xdp")
int sw_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct meta m = {};
	struct env env;
	__u32 off;
	__u16 proto;

	env.st = bpf_map_lookup_elem(&sw_stats, &zero);
	env.cfg = bpf_map_lookup_elem(&sw_config, &zero);
	if (!env.st || !env.cfg)
		return XDP_PASS;
	env.st->rx_packets++;

	if (parse_eth(data, end, &m, &off, &proto) < 0)
		return malformed(&env, 0);
	if (m.has_vlan)
		env.st->vlan++;
	if (proto == ETH_P_IP) {
		env.st->ipv4++;
		if (parse_ipv4(ctx, data, end, &m, off) < 0)
			return malformed(&env, 0);
	} else if (proto == ETH_P_IPV6) {
		env.st->ipv6++;
		if (parse_ipv6(ctx, data, end, &m, off) < 0)
			return malformed(&env, 0);
	} else {
		env.st->pass_non_ip++;
		return XDP_PASS;
	}
	/* The blocklist here, not in sw_l4: a blocked source's packets are
	 * dropped without the call (every call and return is dear where the
	 * kernel mitigates return-stack attacks). */
	union lpm_key k;
	struct sw_block_entry *be = blocked(&m, &env, &k);
	if (be && !allowed_k(&m, &env, &k)) {
		env.st->drop_blocked++;
		count_hit(&be->hits, env.st->drop_blocked); /* hits count drops only */
		return XDP_DROP;
	}
	const int verdict = sw_l4(ctx, &m);
	if (m.copy)
		sw_copy(ctx, &m, m.copy);
	return verdict;
}
