/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Shared between agent_gen.bpf.c (the frame generator) and agent_bench.cc:
 * the templates and schedule the generator makes its frames from.
 */
#ifndef SWB_AGENT_GEN_H
#define SWB_AGENT_GEN_H

#include <linux/types.h>

#define SWB_TMPL_MAX 16   /* templates (messages) */
#define SWB_SLOTS_MAX 32  /* schedule slots per cycle */
#define SWB_PATCH_MAX 24  /* marked places per template */
#define SWB_FRAME_MAX 2048 /* bytes per frame (power of two: offsets are masked) */
#define SWB_PATCH_WIDTH 11 /* the widest patch: "PPx.yyy.zzz" */

/* Address pools: 10.<pool + 0..9>.<100..255>.<100..255>. */
#define SWB_POOL_SIZE (10 * 156 * 156)
#define SWB_POOL_CALLER 200 /* phones: 10.200-209.x.y */
#define SWB_POOL_CALLEE 100 /* trunks, registrar: 10.100-109.x.y */

enum swb_patch_kind {
	SWB_PATCH_HEX = 1,    /* 8 hex digits: the dialog number */
	SWB_PATCH_USER = 2,   /* 5 decimal digits: dialog % 100000 */
	SWB_PATCH_CALLER = 3, /* 11 characters: octets 2-4 of the caller's address */
	SWB_PATCH_CALLEE = 4, /* the same of the callee's */
};

struct swb_patch {
	__u16 off;  /* byte offset in the frame */
	__u16 kind; /* enum swb_patch_kind */
};

struct swb_tmpl {
	__u32 len;      /* frame length */
	__u32 src_pool; /* SWB_POOL_CALLER or SWB_POOL_CALLEE: the IP source */
	__u32 n_patch;
	__u32 pad;
	struct swb_patch patch[SWB_PATCH_MAX];
	__u8 data[SWB_FRAME_MAX];
};

struct swb_slot {
	__u32 tmpl;  /* template index */
	__u32 every; /* only for dialogs whose number is a multiple (0, 1: all) */
	__u64 lag;   /* the frame belongs to the dialog that began lag cycles ago */
};

#endif
