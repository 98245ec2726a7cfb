/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The disk queue's insides, shared by its writer side (dqueue.c) and its
 * reader side (dqueue_read.c). Nothing else includes this.
 *
 * A frame, host byte order (the folder is this machine's):
 *   u32 magic "TSSQ" | u32 payload length | u64 qid | u32 CRC-32 of the
 *   length, qid and payload
 * and its payload: u8 version (1), u8 type length, u8 family, u8 flags,
 *   u16 sport, u16 dport, u32 pid, u64 seq, u64 time_ns, comm[16],
 *   saddr[16], daddr[16], u16 lengths of container id, pod, pod namespace,
 *   u16 zero, then the type, the three keys and the line.
 */
#ifndef TS_DQUEUE_INT_H
#define TS_DQUEUE_INT_H

#include <libdeflate.h>
#include <pthread.h>
#include <string.h>

#include "dqueue.h"

#define FRAME_MAGIC 0x51535354u		/* "TSSQ" little-endian */
#define POS_MAGIC 0x50515354u		/* "TSQP" */
#define HDR_LEN 20			/* magic, len, qid, crc */
#define FIX_LEN 84			/* the payload's fixed part */
#define KEY_MAX 1024			/* container id, pod, namespace: each */
#define PAYLOAD_MAX (FIX_LEN + 32 + 3 * KEY_MAX + TS_LINE_MAX)
#define RBUF_LEN (256 * 1024)
#define SPANS 32
#define CG_CACHE 16
#define AGENT_LEN 40

struct seg {
	struct seg *next;
	uint64_t first;			/* qid of its first record */
	uint64_t size;			/* bytes of whole records */
	bool sealed;			/* no more appends */
	bool old;			/* written by an earlier run */
	const char *agent;		/* interned: records point at it */
	char path[];
};

struct span_slot {
	uint64_t from, to;
	int state;			/* 0 free, 1 reading/in flight, 2 done, 3 abandoned */
};

struct agent {
	struct agent *next;
	char id[AGENT_LEN];
};

struct ts_dq {
	char *dir, name[64];
	enum ts_dq_sync sync;
	uint64_t max_bytes, seg_bytes, sync_ns;
	int dirfd, lockfd, posfd;
	char agent_id[AGENT_LEN];

	pthread_mutex_t mu;		/* everything below that both sides see */
	struct seg *head, *tail;	/* oldest .. the one written */
	uint64_t disk_bytes;		/* all segments */
	uint64_t write_qid;		/* the next record's */
	uint64_t commit_qid;		/* the first not delivered */
	uint64_t pos_gen;
	struct span_slot spans[SPANS];
	unsigned span_head, span_n;
	struct seg *rs;			/* the segment the reader is in */
	uint64_t roff;			/* and its offset there */
	uint64_t w_total, r_total;	/* frame bytes appended / consumed */
	uint64_t r_next;		/* after the last record read */
	struct ts_dq_stats st;
	struct agent *agents;

	/* the writer's own (one thread) */
	int wfd;
	int old_wfd;			/* a finished segment the sync thread syncs */
	struct ts_buf wbuf;
	bool dirty_data, dirty_pos, dirty_dir;	/* for the sync thread, under mu */

	/* the readers' (under rmu) */
	pthread_mutex_t rmu;
	int rfd;
	struct seg *rfd_seg;
	char *rbuf;
	uint64_t rbuf_off;		/* file offset of rbuf[0] */
	size_t rbuf_len;
	uint64_t expect;		/* the qid the next record should have; 0: any */
	uint64_t skip_below;		/* delivered by an earlier run */
	bool garbage;			/* skipped bytes since the last good record */
	struct { uint32_t hash; struct ts_cginfo *cg; } cgc[CG_CACHE];

	pthread_t syncer;
	pthread_cond_t cv;
	bool syncer_on, stopping;
};

static inline uint32_t crc(const void *a, size_t alen, const void *b, size_t blen)
{
	return libdeflate_crc32(libdeflate_crc32(0, a, alen), b, blen);
}

static inline void put16(char *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(char *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* "tcpship: NAME: queue DIR: ..." on stderr */
void ts_dq_say(const struct ts_dq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 and the frame's length, 0 when it does not fit in avail (a longer read
 * may tell), -1 when p is not a valid frame */
int ts_dq_frame_at(const char *p, size_t avail, size_t *flen, uint64_t *qid);

#endif
