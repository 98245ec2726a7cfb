/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fan-out: every published batch goes to every sink. Each sink has its own
 * bounded queue (in events) and worker thread, so a stalled sink delays no
 * other and never the ring-buffer reader unless its policy says "block".
 */
#ifndef TS_FANOUT_H
#define TS_FANOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

#include "dqueue.h"
#include "sink.h"

#define TS_QUEUE_DIR "/var/lib/tcpship/queue"

enum ts_when_full {
	TS_FULL_DEFAULT = 0,	/* the sink's own default */
	TS_FULL_BLOCK,		/* back-pressure on the reader (ends as counted kernel drops) */
	TS_FULL_DROP,		/* drop the new events, counted */
};

enum ts_queue_type {
	TS_QUEUE_MEMORY = 0,		/* lost with the process */
	TS_QUEUE_DISK,			/* dqueue.h: kept until delivered */
};

struct ts_queue_opts {
	enum ts_queue_type type;
	uint64_t max_events;		/* memory: 0: default (65536) */
	/* disk: */
	char path[1024];		/* "": base_dir/<output name> */
	const char *base_dir;		/* NULL: TS_QUEUE_DIR */
	uint64_t max_size;		/* 0: default (256 MiB) */
	int sync;			/* enum ts_dq_sync */
	uint64_t sync_interval_ns;	/* 0: 1 s */
	char name[64];			/* the output's "name", or "" */
	enum ts_when_full when_full;
	uint64_t idle_flush_ns;		/* 0: default (200 ms) */
	uint64_t retry_base_ns;		/* 0: default (100 ms) */
	uint64_t retry_max_ns;		/* 0: default (30 s) */
	unsigned shape;			/* the lines it takes: an index of ts_shapes */
	unsigned schema;		/* the output's "schema": a TS_SHAPE_* + 1, 0: not given */
};

/* How long each write (one HTTP request, one Kafka unit, one file write)
 * took, for the metrics' histogram: upper bounds in ns. */
#define TS_WRITE_BUCKETS 12
extern const uint64_t ts_write_bucket_ns[TS_WRITE_BUCKETS];

struct ts_sink_stats {
	char name[64];
	uint64_t queued;		/* events waiting now */
	uint64_t events_out;		/* delivered */
	uint64_t dropped_full;		/* queue full, policy drop */
	uint64_t dropped_error;		/* rejected by the sink (permanent error) */
	uint64_t dropped_exit;		/* still undelivered at the exit deadline */
	uint64_t retries;		/* write attempts that were retried */
	uint64_t dropped_disk;		/* the disk queue could not take them */
	bool disk;			/* a disk queue: dq holds its counters */
	struct ts_dq_stats dq;
	char extra[512];		/* the sink's own counters */
	bool dead;
	uint64_t write_le[TS_WRITE_BUCKETS];	/* writes that took <= each bound */
	uint64_t writes, write_ns;		/* all writes, and their time */
};

struct ts_fanout;

/* run: the run's constants every sink gets at open (copied) */
struct ts_fanout *ts_fanout_new(const struct ts_run *run);
/* Open a sink with its parsed conf (which the fan-out now owns). On error
 * returns -errno with one line in err (-EINVAL: a configuration mistake). */
int ts_fanout_add(struct ts_fanout *f, const struct ts_output_ops *ops, void *conf,
		  const struct ts_queue_opts *q, char *err, size_t errlen);
/* Start every sink (its start hook, its disk queue's sync thread) and its
 * threads: 0, or -errno and one line in err. */
int ts_fanout_start(struct ts_fanout *f, char *err, size_t errlen);
/* The shapes some sink takes: bit i for ts_shapes[i]. */
uint32_t ts_fanout_shapes(const struct ts_fanout *f);
/* Hand a batch of lines of one shape to every sink that takes that shape;
 * consumes the caller's reference. */
void ts_fanout_publish(struct ts_fanout *f, unsigned shape, struct ts_batch *b);
/* False once every sink is gone (e.g. stdout's reader exited). */
bool ts_fanout_alive(const struct ts_fanout *f);
void ts_fanout_reopen(struct ts_fanout *f);
/* Async-signal-safe (SIGINT/SIGTERM): from deadline (CLOCK_MONOTONIC ns)
 * on, a full queue whose policy is "block" stops holding up the reader:
 * what it cannot take is counted in dropped_exit. */
void ts_fanout_quit(uint64_t deadline_ns);
/* Deliver what is queued, flush, close; give up at deadline (CLOCK_MONOTONIC
 * ns) and count what is left as dropped at exit. */
void ts_fanout_stop(struct ts_fanout *f, uint64_t deadline_ns);
int ts_fanout_count(const struct ts_fanout *f);
/* --user: every disk queue's folder to uid:gid (before the drop). 0, or
 * -errno and one line in err. */
int ts_fanout_chown(struct ts_fanout *f, uid_t uid, gid_t gid, char *err, size_t errlen);
void ts_fanout_stats(const struct ts_fanout *f, int i, struct ts_sink_stats *s);
void ts_fanout_free(struct ts_fanout *f);

#endif
