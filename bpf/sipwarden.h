/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * sipwarden kernel/userspace ABI: every map key and value, every ring-buffer
 * record and every constant shared by the XDP program (bpf/sipwarden.bpf.c)
 * and the C++ side. Fixed-width fields, explicit padding, no bool. The C++
 * side static_asserts sizes and offsets at the bottom of this file.
 *
 * Addresses are stored in 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d), so one key type serves both families.
 * Times are CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns).
 */
#ifndef SIPWARDEN_H
#define SIPWARDEN_H

#include <linux/types.h>

#define SW_ABI_VERSION 1

/* ---- sizes (overridable at build time) ---------------------------------- */
#ifndef SW_SNAP_MAX
#define SW_SNAP_MAX 8192 /* largest SIP payload copy the kernel can make */
#endif
#ifndef SW_SNAP_DEFAULT
#define SW_SNAP_DEFAULT 4096 /* default copy limit (runtime: sw_config.snap_len) */
#endif
#ifndef SW_SRC_ENTRIES
#define SW_SRC_ENTRIES 262144 /* per-source LRU state */
#endif
#ifndef SW_BLOCK_ENTRIES
#define SW_BLOCK_ENTRIES 131072 /* per blocklist family */
#endif
#ifndef SW_ALLOW_ENTRIES
#define SW_ALLOW_ENTRIES 16384 /* per allowlist family */
#endif
#ifndef SW_MEDIA_ENTRIES
#define SW_MEDIA_ENTRIES 131072 /* expected media endpoints */
#endif
#ifndef SW_SRC_LIMIT_ENTRIES
#define SW_SRC_LIMIT_ENTRIES 65536 /* per-source rate limits set by rules */
#endif
#ifndef SW_TCP_DEBT_MAX_NS
/* How far a TCP source over a limit may run its bucket into debt: new
 * connections from it are refused until the debt is paid off. */
#define SW_TCP_DEBT_MAX_NS (60ull * 1000000000ull)
#endif
#ifndef SW_RINGBUF_BYTES
#define SW_RINGBUF_BYTES (16u << 20) /* default; the agent may resize before load */
#endif

#define SW_PORTS 65536
#define SW_MAX_VLAN_TAGS 2
#define SW_MAX_IPV6_EXT 6

/* ---- sw_ports: per-port role (array indexed by port, host order) ------- */
enum sw_port_flags {
	SW_PORT_SIP_UDP = 1u << 0,
	SW_PORT_SIP_TCP = 1u << 1,
	SW_PORT_MGCP = 1u << 2, /* MGCP over UDP: datagrams copied to the agent */
};

/* ---- SIP message classes ------------------------------------------------ */
enum sw_class {
	SW_CLASS_NONE = 0, /* not SIP / not classified */
	SW_CLASS_INVITE,
	SW_CLASS_ACK,
	SW_CLASS_BYE,
	SW_CLASS_CANCEL,
	SW_CLASS_REGISTER,
	SW_CLASS_OPTIONS,
	SW_CLASS_PRACK,
	SW_CLASS_SUBSCRIBE,
	SW_CLASS_NOTIFY,
	SW_CLASS_PUBLISH,
	SW_CLASS_INFO,
	SW_CLASS_REFER,
	SW_CLASS_MESSAGE,
	SW_CLASS_UPDATE,
	SW_CLASS_OTHER_REQUEST, /* any other method token */
	SW_CLASS_RESP_1XX,
	SW_CLASS_RESP_2XX,
	SW_CLASS_RESP_3XX,
	SW_CLASS_RESP_4XX,
	SW_CLASS_RESP_5XX,
	SW_CLASS_RESP_6XX,
	SW_CLASS_MAX,
};
#define SW_CLASS_IS_REQUEST(c) ((c) >= SW_CLASS_INVITE && (c) <= SW_CLASS_OTHER_REQUEST)
#define SW_CLASS_IS_RESPONSE(c) ((c) >= SW_CLASS_RESP_1XX && (c) <= SW_CLASS_RESP_6XX)

/* ---- token buckets ------------------------------------------------------ */
enum sw_bucket {
	SW_BUCKET_INVITE = 0,
	SW_BUCKET_REGISTER,
	SW_BUCKET_OTHER, /* every other request method */
	SW_BUCKET_MAX,
};

/* ---- verdicts ----------------------------------------------------------- */
enum sw_verdict {
	SW_VERDICT_PASS = 0,
	SW_VERDICT_DROP_BLOCKED = 1,
	SW_VERDICT_DROP_RATE = 2,
	SW_VERDICT_DROP_MALFORMED = 3,
	SW_VERDICT_PASS_ALLOWED = 4, /* allowlisted source (never dropped) */
};

enum sw_transport {
	SW_TRANSPORT_UDP = 17,
	SW_TRANSPORT_TCP = 6,
};

/* Reason codes stored with blocklist entries. */
enum sw_block_reason {
	SW_REASON_MANUAL = 0,
	SW_REASON_FLOOD,
	SW_REASON_SCAN,
	SW_REASON_ENUMERATION,
	SW_REASON_BRUTEFORCE,
	SW_REASON_TEARDOWN,
	SW_REASON_HANDSHAKE,
	SW_REASON_CANCEL,
	SW_REASON_SPIT,
	SW_REASON_TOLL_FRAUD,
	SW_REASON_GATEWAY,
	SW_REASON_SCANNER_SIGNATURE,
	SW_REASON_ANOMALY,
	SW_REASON_HONEYPOT,
	SW_REASON_CONTROLLER,
	SW_REASON_MALFORMED,
	SW_REASON_MAX,
};

/* ---- sw_config: runtime settings (array map, one entry, key 0) ---------- */
struct sw_rate {
	__u32 rate;  /* messages per second; 0 = unlimited */
	__u32 burst; /* bucket depth in messages (>= 1 when rate > 0) */
};

enum sw_config_flags {
	SW_CFG_DROP_MALFORMED = 1u << 0, /* malformed packets: drop instead of pass */
	SW_CFG_NO_COPY = 1u << 1,        /* do not copy SIP to the ring buffer */
	SW_CFG_SRC_LIMITS = 1u << 2,     /* sw_src_limit may hold entries: look them up */
};

struct sw_config {
	__u32 flags;    /* enum sw_config_flags */
	__u32 snap_len; /* SIP bytes copied per message, 1..SW_SNAP_MAX; 0 = default */
	struct sw_rate limits[SW_BUCKET_MAX];
	__u32 abi_version;
	/* Ring-buffer wake-ups: 0 = the kernel's adaptive default (wake the
	 * reader whenever it has caught up: costly at high rates); N = wake it
	 * only once N bytes are waiting, the reader polls with a short timeout
	 * for the rest. */
	__u32 rb_wakeup_bytes;
};

/* ---- per-CPU statistics (array map, one entry, key 0) ------------------- */
/* X-macro so both sides get the field list (C++ prints it by name). */
#define SW_STATS_FIELDS(X)                                                      \
	X(rx_packets)          /* every packet seen */                         \
	X(pass_non_ip)         /* not IPv4/IPv6: passed untouched */            \
	X(pass_other)          /* IP but not SIP/RTP we track: passed */        \
	X(pass_sip)            /* SIP passed (and offered to the ring buffer) */\
	X(pass_allowed)        /* allowlisted source that hit a block or limit */\
	X(drop_blocked)        /* blocklisted source */                         \
	X(drop_rate)           /* over a per-source token bucket */             \
	X(drop_malformed)      /* malformed and policy says drop */             \
	X(malformed)           /* truncated or inconsistent headers */          \
	X(ipv4)                                                                 \
	X(ipv6)                                                                 \
	X(vlan)                /* packets carrying at least one VLAN tag */     \
	X(frag_first)          /* first fragments (parsed) */                  \
	X(frag_later)          /* later fragments (counted, passed) */         \
	X(sip_udp)                                                              \
	X(sip_tcp)                                                              \
	X(sip_requests)                                                         \
	X(sip_responses)                                                        \
	X(sip_port_not_sip)    /* bytes on a SIP port that are not SIP */       \
	X(sip_port_keepalive)  /* CRLF keep-alives (RFC 5626) */                \
	X(tcp_continuation)    /* TCP segments on SIP ports not starting a msg (copied) */\
	X(block_expired)       /* expired blocklist entries removed */         \
	X(rb_records)          /* records written to the ring buffer */         \
	X(rb_lost)             /* records lost: ring buffer full */             \
	X(rb_truncated)        /* SIP messages longer than snap_len */          \
	X(media_packets)       /* packets to an expected media endpoint */      \
	X(media_notices)       /* watch notices posted */                       \
	X(rtp_not_rtp)         /* media endpoint hit by a non-RTP payload */    \
	X(drop_src_limit)      /* over a rate limit set for this one source */  \
	X(src_limit_expired)   /* expired per-source limits removed */            \
	X(tcp_over_rate)       /* TCP requests over a limit: passed, the source owes */\
	X(drop_tcp_syn)        /* new TCP connections refused: source over a limit */

#define SW_STATS_DECL(name) __u64 name;
struct sw_stats {
	SW_STATS_FIELDS(SW_STATS_DECL)
};
#undef SW_STATS_DECL

/* ---- addresses, allowlist and blocklist (LPM tries) --------------------- */
struct sw_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct sw_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Entries' hit counters: exact up to SW_HITS_EXACT, then sampled, in steps
 * of SW_HITS_SAMPLE (a power of two) per CPU, so that a flood does not have
 * every CPU write the shared entry once per packet (see count_hit). */
#define SW_HITS_EXACT 64
#define SW_HITS_SAMPLE 16

struct sw_block_entry {
	__u64 expires_ns; /* CLOCK_BOOTTIME; 0 = never */
	__u64 added_ns;
	__u64 hits;       /* packets dropped by this entry (see SW_HITS_EXACT) */
	__u32 reason;     /* enum sw_block_reason */
	__u32 prefixlen;  /* copy of the key's prefix length (lets the kernel delete it) */
};

struct sw_allow_entry {
	__u64 added_ns;
	__u64 hits; /* packets that would have been dropped (see SW_HITS_EXACT) */
};

/* ---- per-source state (LRU hash) ---------------------------------------- */
struct sw_src_key {
	__u8 addr[16];
};

struct sw_src_state {
	__u64 first_ns;
	__u64 last_ns;
	__u64 msgs[SW_CLASS_MAX]; /* messages seen per class */
	__u64 tat_ns[SW_BUCKET_MAX]; /* token bucket state: theoretical arrival time (GCRA) */
	__u64 rate_dropped[SW_BUCKET_MAX];
	__u64 bytes;
};

/* ---- per-source rate limits set by rules (hash keyed by sw_src_key) ----- */
/* One token bucket over all requests from the source, applied after the
 * global per-class buckets of sw_config. The kernel only looks entries up
 * while sw_config.flags has SW_CFG_SRC_LIMITS. */
struct sw_src_limit {
	__u64 expires_ns; /* CLOCK_BOOTTIME; 0 = never */
	__u64 added_ns;
	__u64 tat_ns;     /* GCRA theoretical arrival time */
	__u64 dropped;    /* requests dropped by this limit */
	__u32 rate;       /* requests per second, >= 1 */
	__u32 burst;      /* bucket depth, >= 1 */
	__u32 reason;     /* enum sw_block_reason */
	__u32 _pad;
};

/* ---- expected media (hash keyed by the receiving endpoint) -------------- */
enum sw_media_flags {
	SW_MEDIA_WATCH = 1u << 0,    /* post a notice on the next packet */
	SW_MEDIA_NOTIFIED = 1u << 1, /* set by the kernel once the notice is posted */
};

struct sw_media_key {
	__u8 addr[16]; /* destination address of the media */
	__u16 port;    /* destination port, host order */
	__u8 proto;    /* IPPROTO_UDP */
	__u8 _pad;
};

struct sw_media_entry {
	__u64 dialog_id; /* owner, chosen by userspace */
	__u64 packets;
	__u64 bytes;
	__u64 first_ns;
	__u64 last_ns;
	__u64 watch_since_ns; /* SW_MEDIA_WATCH: report packets from this time on */
	__u32 flags;          /* enum sw_media_flags */
	__u32 _pad;
};

/* ---- ring-buffer records ------------------------------------------------ */
/* A SIP or MGCP record may be longer than its header and caplen bytes: the
 * kernel reserves it in a size class and loads the message straight into it
 * (see sw_copy), so readers take caplen, never the record's size. The
 * classes, payload bytes after the header, ascending: the smallest holds
 * what a media notice holds (a ring too full for a notice is too full for
 * any record), the slack is under 128 bytes up to 1 KiB and under a third
 * of the message above. */
#define SW_COPY_CLASSES(X)                                                             \
	X(24) X(128) X(256) X(384) X(512) X(640) X(768) X(896) X(1024) X(1280) X(1536) \
	X(2048) X(3072) X(4096) X(6144) X(SW_SNAP_MAX)
enum sw_record_kind {
	SW_REC_SIP = 1,   /* struct sw_record_hdr + caplen payload bytes */
	SW_REC_MEDIA = 2, /* struct sw_record_hdr + struct sw_media_notice */
	SW_REC_MGCP = 3,  /* struct sw_record_hdr + caplen bytes of an MGCP datagram */
};

enum sw_record_flags {
	SW_RECF_TRUNCATED = 1u << 0, /* caplen < orig_len */
	SW_RECF_VLAN = 1u << 1,
	SW_RECF_FRAGMENT = 1u << 2, /* first fragment of a fragmented datagram */
	SW_RECF_LONG_LINE = 1u << 3, /* a request whose first line's end the kernel did
				      * not see (too long, later buffer, lone LF):
				      * classified by its method, the agent decides */
	/* SIP over TCP: every segment with payload on a SIP port is copied, so
	 * the agent can reassemble the stream (tcp_seq has its sequence number). */
	SW_RECF_TCP_MIDSTREAM = 1u << 4, /* does not start a SIP message (msg_class NONE):
					  * the rest of one, a keep-alive, or other bytes */
	SW_RECF_TCP_SYN = 1u << 5,       /* the segment's TCP flags */
	SW_RECF_TCP_FIN = 1u << 6,
	SW_RECF_TCP_RST = 1u << 7,
	SW_RECF_OVER_RATE = 1u << 8,     /* a TCP request over a limit, passed (not dropped:
					  * that would stall the connection's other dialogs) */
};

struct sw_record_hdr {
	__u64 ts_ns;      /* CLOCK_BOOTTIME */
	__u32 ifindex;
	__u16 kind;       /* enum sw_record_kind */
	__u16 caplen;     /* payload bytes following this header */
	__u32 orig_len;   /* L4 payload length on the wire */
	__u16 sport;      /* host order */
	__u16 dport;
	__u8 family;      /* 4 or 6 */
	__u8 transport;   /* enum sw_transport */
	__u8 msg_class;   /* enum sw_class */
	__u8 verdict;     /* enum sw_verdict */
	__u16 status;     /* response status code, 0 for requests */
	__u16 vlan_id;    /* outer VLAN id, 0 if untagged */
	__u32 flags;      /* enum sw_record_flags */
	__u32 tcp_seq;    /* TCP: sequence number of the payload's first byte; else 0 */
	__u8 saddr[16];
	__u8 daddr[16];
};

struct sw_media_notice {
	__u64 dialog_id;
	__u64 packets; /* counter at the time of the notice */
	__u32 ssrc;    /* RTP header fields if the payload looks like RTP v2 */
	__u16 seq;
	__u8 payload_type;
	__u8 is_rtp;
};

#ifdef __cplusplus
#include <cstddef>
static_assert(sizeof(sw_config) == 40, "sw_config ABI");
static_assert(sizeof(sw_lpm_v4) == 8 && sizeof(sw_lpm_v6) == 20, "lpm key ABI");
static_assert(sizeof(sw_block_entry) == 32, "sw_block_entry ABI");
static_assert(offsetof(sw_block_entry, reason) == 24, "sw_block_entry ABI");
static_assert(sizeof(sw_allow_entry) == 16, "sw_allow_entry ABI");
static_assert(sizeof(sw_src_state) == 8 * (2 + SW_CLASS_MAX + 2 * SW_BUCKET_MAX + 1), "sw_src_state ABI");
static_assert(sizeof(sw_media_key) == 20, "sw_media_key ABI");
static_assert(sizeof(sw_media_entry) == 56, "sw_media_entry ABI");
static_assert(sizeof(sw_record_hdr) == 72, "sw_record_hdr ABI");
static_assert(offsetof(sw_record_hdr, saddr) == 40, "sw_record_hdr ABI");
static_assert(sizeof(sw_media_notice) == 24, "sw_media_notice ABI");
static_assert(sizeof(sw_stats) % 8 == 0, "sw_stats ABI");
#endif

#endif /* SIPWARDEN_H */
