/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The disk queue of one output: what was published to it survives a crash
 * or a restart until the output has delivered it (at least once).
 *
 * One directory per output, locked (flock) while a tcpship uses it:
 *   lock                       the lock, with the holder's pid
 *   position                   two checksummed slots: the first record not
 *                              yet delivered (the newer valid slot wins)
 *   <first qid>-<agent_id>.seg append-only segment files of records
 *
 * A record is a frame: magic, length, a queue-wide sequence number (qid),
 * CRC-32 over length, qid and payload; the payload holds what the sinks'
 * formatters read (struct ts_rec) and the line, byte for byte. Each run
 * writes segments of its own, named with its agent_id, so a replayed line
 * keeps the dedup key (agent_id + seq) of the run that made it.
 *
 * Threads: one writer (the reader thread, through the fan-out) appends;
 * the output's workers read units and commit them in order. A corrupt
 * stretch (flipped bytes, a torn tail) is skipped up to the next valid
 * frame and counted; nothing is silently passed over.
 */
#ifndef TS_DQUEUE_H
#define TS_DQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

#include "sink.h"

enum ts_dq_sync {
	TS_DQ_SYNC_INTERVAL = 0,	/* fdatasync every sync_interval (default) */
	TS_DQ_SYNC_BATCH,		/* fdatasync after every append and commit */
	TS_DQ_SYNC_NONE,		/* never: the kernel writes back when it likes */
};

struct ts_dq_opts {
	const char *dir;
	uint64_t max_bytes;		/* all segments together */
	enum ts_dq_sync sync;
	uint64_t sync_interval_ns;	/* 0: 1 s */
	const char *agent_id;		/* this run's */
	const char *name;		/* the output's, for messages */
};

struct ts_dq_stats {
	uint64_t bytes, records;	/* on disk, not yet delivered */
	uint64_t replayed;		/* read back from an earlier run's segments */
	uint64_t corrupt, corrupt_bytes;	/* records skipped (at least), and bytes */
	uint64_t write_errors;		/* appends the disk refused (ENOSPC, EIO) */
	uint64_t position_lost;		/* 1: no valid position: replayed from the oldest */
	uint64_t segments;
};

/* What one read took: commit it once delivered (or dropped for good). */
struct ts_dq_span {
	uint64_t from, to;		/* qids [from, to) */
	int slot;
};

struct ts_dq;

/* Open (create) the directory, take its lock, find what an earlier run left
 * undelivered. -errno and one line in err: -EBUSY when another process
 * holds it. Messages about what was found go to stderr as "tcpship: NAME:". */
int ts_dq_open(struct ts_dq **q, const struct ts_dq_opts *o, char *err, size_t errlen);
/* Start its sync thread (sync "interval"), once privileges are gone: 0, or
 * -errno and one line in err. */
int ts_dq_start(struct ts_dq *q, char *err, size_t errlen);
/* Does a record of len line bytes fit within max_bytes now? */
bool ts_dq_fits(struct ts_dq *q, size_t bytes);
/* Append recs [from, b->n) of b; *done of them are on the queue after the
 * call. 0, -EDQUOT when max_bytes is reached, or -errno of a failed write
 * (-ENOSPC: the disk is full); nothing of the rest was written. */
int ts_dq_append(struct ts_dq *q, const struct ts_batch *b, uint32_t from, uint32_t *done);
/* Records appended (or left by an earlier run) that no worker took yet. */
bool ts_dq_readable(struct ts_dq *q);
/* Frame bytes and records appended and not read yet (about: the frames'
 * bytes, gaps): for gathering a full unit before a read. */
uint64_t ts_dq_backlog(struct ts_dq *q, uint64_t *records);
/* Read up to max_n records / max_bytes of lines into unit (fresh from
 * ts_batch_new with that room). 0 and span, or -ENODATA when nothing is
 * readable, -ENOSPC when no slot for another read is free. */
int ts_dq_read(struct ts_dq *q, struct ts_batch *unit, uint32_t max_n, size_t max_bytes,
	       struct ts_dq_span *span);
/* The span's records went for good: once every earlier read is committed
 * too, the position moves past them and finished segments go. Returns true
 * when disk space was freed. */
bool ts_dq_commit(struct ts_dq *q, const struct ts_dq_span *span);
/* A read that will not be committed in this run (exit deadline): its
 * records stay on disk for the next one. */
void ts_dq_abandon(struct ts_dq *q, const struct ts_dq_span *span);
void ts_dq_stats(struct ts_dq *q, struct ts_dq_stats *st);
/* --user: the folder and everything in it to uid:gid, so the queue goes on
 * after the privilege drop. 0 or -errno. */
int ts_dq_chown(struct ts_dq *q, uid_t uid, gid_t gid);
/* Sync what the policy asks and release the lock. NULL-safe. */
void ts_dq_close(struct ts_dq *q);

/* Directories under base that hold segments but are not in use (no output
 * of this run has them): one line each on f, left in place. Returns how
 * many. */
int ts_dq_report_orphans(const char *base, FILE *f);

#endif
