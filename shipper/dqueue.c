// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The disk queue (dqueue.h). Written here rather than on SQLite or LMDB
 * (both in Debian): what an output queue needs is an append-only log read
 * once in order, which a transaction per batch and a B-tree only make
 * slower; the shippers that do this well (Vector's disk buffer, Fluent
 * Bit's chunks, Kafka's log) are framed, checksummed segment files too.
 */
#include "dqueue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ident.h"
#include "shape.h"
#include "util.h"

void ts_dq_say(const struct ts_dq *q, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tcpship: %s: queue %s: %s\n", q->name, q->dir, msg);
}

static const char *intern_agent(struct ts_dq *q, const char *id)
{
	struct agent *a;

	for (a = q->agents; a; a = a->next)
		if (!strcmp(a->id, id))
			return a->id;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->next = q->agents;
	q->agents = a;
	return a->id;
}

/* ---- position ---- */

static int pos_write(struct ts_dq *q)
{
	char slot[32] = {};

	q->pos_gen++;
	put32(slot, POS_MAGIC);
	put64(slot + 8, q->pos_gen);
	put64(slot + 16, q->commit_qid);
	put32(slot + 24, libdeflate_crc32(0, slot, 24));
	if (pwrite(q->posfd, slot, sizeof(slot), (off_t)(q->pos_gen & 1) * 32) != sizeof(slot))
		return -errno ?: -EIO;
	if (q->sync == TS_DQ_SYNC_BATCH)
		fdatasync(q->posfd);
	else
		q->dirty_pos = true;
	return 0;
}

/* The newer valid slot; false when there is none. */
static bool pos_read(int fd, uint64_t *gen, uint64_t *next)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	bool found = false;

	for (int i = 0; i < 2 && n >= (i + 1) * 32; i++) {
		const char *s = buf + i * 32;

		if (get32(s) != POS_MAGIC || get32(s + 24) != libdeflate_crc32(0, s, 24))
			continue;
		if (!found || get64(s + 8) > *gen) {
			*gen = get64(s + 8);
			*next = get64(s + 16);
			found = true;
		}
	}
	return found;
}

/* ---- frames ---- */

static size_t frame_size(const struct ts_rec *r, size_t *tl, size_t kl[3])
{
	const char *keys[3] = { NULL, NULL, NULL };

	if (r->cg) {
		keys[0] = r->cg->container_id;
		keys[1] = r->cg->pod;
		keys[2] = r->cg->pod_namespace;
	}
	*tl = r->type ? strnlen(r->type, 31) : 0;
	for (int i = 0; i < 3; i++) {
		kl[i] = keys[i] ? strnlen(keys[i], KEY_MAX + 1) : 0;
		if (kl[i] > KEY_MAX)
			kl[i] = 0;	/* not a key any runtime makes: left out */
	}
	return HDR_LEN + FIX_LEN + *tl + kl[0] + kl[1] + kl[2] + r->len;
}

static void frame_put(char *p, uint64_t qid, const struct ts_rec *r, const char *line,
		      size_t tl, const size_t kl[3])
{
	char *f = p + HDR_LEN, *v = f + FIX_LEN;
	uint32_t len = (uint32_t)(FIX_LEN + tl + kl[0] + kl[1] + kl[2] + r->len);

	memset(f, 0, FIX_LEN);
	f[0] = 1;
	f[1] = (char)tl;
	f[2] = (char)r->family;
	f[3] = (char)r->flags;
	put16(f + 4, r->sport);
	put16(f + 6, r->dport);
	put32(f + 8, r->pid);
	put64(f + 12, r->seq);
	put64(f + 20, r->time_ns);
	memcpy(f + 28, r->comm, 16);
	memcpy(f + 44, r->saddr, 16);
	memcpy(f + 60, r->daddr, 16);
	for (int i = 0; i < 3; i++)
		put16(f + 76 + 2 * i, (uint16_t)kl[i]);
	memcpy(v, r->type, tl);
	v += tl;
	if (kl[0])
		memcpy(v, r->cg->container_id, kl[0]);
	v += kl[0];
	if (kl[1])
		memcpy(v, r->cg->pod, kl[1]);
	v += kl[1];
	if (kl[2])
		memcpy(v, r->cg->pod_namespace, kl[2]);
	v += kl[2];
	memcpy(v, line, r->len);
	put32(p, FRAME_MAGIC);
	put32(p + 4, len);
	put64(p + 8, qid);
	put32(p + 16, crc(p + 4, 12, f, len));
}

/* ---- segments ---- */

static struct seg *seg_new(struct ts_dq *q, uint64_t first, const char *agent)
{
	size_t n = strlen(q->dir) + 64 + AGENT_LEN;
	struct seg *s = calloc(1, sizeof(*s) + n);

	if (!s)
		return NULL;
	s->first = first;
	s->agent = intern_agent(q, agent);
	snprintf(s->path, n, "%s/%016llx-%s.seg", q->dir, (unsigned long long)first, agent);
	return s;
}

static void seg_link(struct ts_dq *q, struct seg *s)
{
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->st.segments++;
}

/* A new segment for this run's appends (the writer, mu not held). */
static int seg_start(struct ts_dq *q)
{
	struct seg *s = seg_new(q, q->write_qid, q->agent_id);
	int fd;

	if (!s)
		return -ENOMEM;
	fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		free(s);
		return -e;
	}
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->sealed = true;
	seg_link(q, s);
	q->dirty_dir = true;
	/* the sync thread syncs and closes the old one: never this thread,
	 * which is the ring buffer's reader. One it did not get to yet is
	 * left to the kernel's writeback. */
	if (q->old_wfd >= 0)
		close(q->old_wfd);
	q->old_wfd = -1;
	if (q->wfd >= 0 && q->sync == TS_DQ_SYNC_INTERVAL && q->dirty_data)
		q->old_wfd = q->wfd;
	else if (q->wfd >= 0)
		close(q->wfd);
	q->wfd = fd;
	pthread_mutex_unlock(&q->mu);
	if (q->sync == TS_DQ_SYNC_BATCH)
		fsync(q->dirfd);
	return 0;
}

/* With mu held: remove what is delivered and no reader stands in. */
static bool seg_sweep(struct ts_dq *q)
{
	bool freed = false;

	while (q->head && q->head != q->tail && q->head != q->rs &&
	       q->head->next->first <= q->commit_qid) {
		struct seg *s = q->head;

		if (unlink(s->path) && errno != ENOENT)
			break;	/* kept: counted as on disk, tried again later */
		q->head = s->next;
		q->disk_bytes -= s->size;
		q->st.segments--;
		q->dirty_dir = true;
		free(s);
		freed = true;
	}
	return freed;
}

/* ---- start-up ---- */

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = *(struct seg *const *)a, *y = *(struct seg *const *)b;

	/* equal firsts only from a folder of an earlier build: any fixed order */
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Read the segments an earlier run left: their sizes, and from the last
 * one where the numbering goes on. */
static int load_segments(struct ts_dq *q, char *err, size_t errlen)
{
	struct seg **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = fdopendir(dup(q->dirfd));
	int rc = 0;

	if (!d)
		return ts_err(err, errlen, -errno, "%s: cannot read: %s", q->dir, strerror(errno));
	while ((de = readdir(d))) {
		unsigned long long first;
		char agent[AGENT_LEN];
		struct stat stt;
		struct seg *s;
		int used = 0;

		if (sscanf(de->d_name, "%16llx-%39[0-9a-f-].seg%n", &first, agent, &used) != 2 ||
		    de->d_name[used])
			continue;
		if (fstatat(q->dirfd, de->d_name, &stt, AT_SYMLINK_NOFOLLOW) || !S_ISREG(stt.st_mode))
			continue;
		if (n == cap) {
			struct seg **nv = realloc(v, sizeof(*v) * (cap = cap ? cap * 2 : 16));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		s = seg_new(q, first, agent);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		if (!stt.st_size) {
			/* a run that ended before its first append: nothing in
			 * it, and its first qid is the next run's too */
			unlinkat(q->dirfd, de->d_name, 0);
			free(s);
			continue;
		}
		s->size = (uint64_t)stt.st_size;
		s->sealed = s->old = true;
		v[n++] = s;
	}
	closedir(d);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return ts_err(err, errlen, -ENOMEM, "%s: out of memory", q->dir);
	}
	qsort(v, n, sizeof(*v), seg_cmp);
	for (size_t i = 0; i < n; i++) {
		seg_link(q, v[i]);
		q->disk_bytes += v[i]->size;
		q->write_qid = v[i]->first;
	}
	free(v);
	if (q->tail) {
		/* the numbering goes on after the last good record */
		int fd = open(q->tail->path, O_RDONLY | O_CLOEXEC);
		uint64_t off = 0, last = 0;
		bool any = false;

		if (fd >= 0) {
			while (off < q->tail->size) {
				ssize_t got = pread(fd, q->rbuf, RBUF_LEN, (off_t)off);
				size_t i = 0, fl;
				uint64_t qid;

				if (got <= 0)
					break;
				while (i < (size_t)got) {
					int r = ts_dq_frame_at(q->rbuf + i, (size_t)got - i, &fl, &qid);

					if (r == 0)
						break;
					if (r < 0) {
						i++;
						continue;
					}
					last = qid;
					any = true;
					i += fl;
				}
				if (i == 0)
					break;
				off += i;
			}
			close(fd);
		}
		if (any && last + 1 > q->write_qid)
			q->write_qid = last + 1;
		/* a segment with no whole record (a torn one only) still takes
		 * its first qid: every segment's first is its own */
		if (q->write_qid <= q->tail->first)
			q->write_qid = q->tail->first + 1;
	}
	if (!q->write_qid)
		q->write_qid = 1;
	return 0;
}

/* Make the folder, take its lock (flock: it goes with the process, however
 * it ends) and write our pid in it for the next one's message. */
static int lock_dir(struct ts_dq *q, char *err, size_t errlen)
{
	char pid[32];
	struct stat st;
	int rc;

	rc = ts_mkdir_p(q->dir, 0700);
	if (rc) {
		ts_errf(err, errlen, "queue directory %s: cannot create: %s", q->dir, strerror(-rc));
		return rc;
	}
	q->dirfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->dirfd < 0 || fstat(q->dirfd, &st)) {
		rc = -errno;
		ts_errf(err, errlen, "queue directory %s: %s", q->dir, strerror(errno));
		return rc;
	}
	q->lockfd = openat(q->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (q->lockfd < 0) {
		rc = -errno;
		ts_errf(err, errlen, "queue directory %s: cannot write in it: %s", q->dir,
			strerror(errno));
		return rc;
	}
	if (flock(q->lockfd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		ssize_t n = pread(q->lockfd, pid, sizeof(pid) - 1, 0);

		rc = e == EWOULDBLOCK ? -EBUSY : -e;
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		if (rc == -EBUSY)
			ts_errf(err, errlen, "queue directory %s is in use by another tcpship%s%s "
				"(or another output of this one: give each its own \"name\" or "
				"queue \"path\")", q->dir, *pid ? ", pid " : "", pid);
		else
			ts_errf(err, errlen, "queue directory %s: cannot lock: %s", q->dir,
				strerror(-rc));
		return rc;
	}
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(q->lockfd, 0) || pwrite(q->lockfd, pid, strlen(pid), 0) < 0) {
		rc = -errno;
		ts_errf(err, errlen, "queue directory %s: cannot write in it: %s", q->dir,
			strerror(errno));
		return rc;
	}
	return 0;
}

/* The delivered position; without a valid one everything on disk goes
 * again (at least once), said and counted. */
static int open_position(struct ts_dq *q, char *err, size_t errlen)
{
	const char *path = "position";
	uint64_t gen = 0, next = 0;
	int rc;

	q->posfd = openat(q->dirfd, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (q->posfd >= 0 && pos_read(q->posfd, &gen, &next)) {
		q->pos_gen = gen;
		q->commit_qid = next < q->write_qid ? next : q->write_qid;
	} else {
		if (q->posfd < 0 && errno != ENOENT) {
			rc = -errno;
			ts_errf(err, errlen, "queue directory %s: position: %s", q->dir,
				strerror(errno));
			return rc;
		}
		q->commit_qid = q->head ? q->head->first : q->write_qid;
		if (q->head) {
			q->st.position_lost = 1;
			ts_dq_say(q, "%s position: every record on disk is sent again",
			    q->posfd < 0 ? "no" : "no valid");
		}
		if (q->posfd < 0)
			q->posfd = openat(q->dirfd, path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
					  0600);
		if (q->posfd < 0) {
			rc = -errno;
			ts_errf(err, errlen, "queue directory %s: cannot write in it: %s", q->dir,
				strerror(errno));
			return rc;
		}
	}
	return 0;
}

static void *syncer(void *arg);

int ts_dq_open(struct ts_dq **out, const struct ts_dq_opts *o, char *err, size_t errlen)
{
	struct ts_dq *q = calloc(1, sizeof(*q));
	int rc;

	*out = NULL;
	if (!q || !(q->dir = strdup(o->dir)) || !(q->rbuf = malloc(RBUF_LEN))) {
		if (q)
			free(q->dir);
		free(q);
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	}
	snprintf(q->name, sizeof(q->name), "%s", o->name ? o->name : "output");
	snprintf(q->agent_id, sizeof(q->agent_id), "%s", o->agent_id);
	q->sync = o->sync;
	q->sync_ns = o->sync_interval_ns ? o->sync_interval_ns : 1000000000ULL;
	q->max_bytes = o->max_bytes;
	/* eight or more segments in max_bytes: a delivered one goes soon */
	q->seg_bytes = q->max_bytes / 8;
	if (q->seg_bytes < 32 * 1024)
		q->seg_bytes = 32 * 1024;
	if (q->seg_bytes > 64ULL << 20)
		q->seg_bytes = 64ULL << 20;
	q->dirfd = q->lockfd = q->posfd = q->wfd = q->rfd = q->old_wfd = -1;
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->rmu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&q->cv, &ca);
		pthread_condattr_destroy(&ca);
	}

	rc = lock_dir(q, err, errlen);
	if (rc)
		goto fail;
	rc = load_segments(q, err, errlen);
	if (rc)
		goto fail;
	rc = open_position(q, err, errlen);
	if (rc)
		goto fail;
	/* the reader starts in the last segment that begins at or before the
	 * position; what is before it was delivered */
	q->skip_below = q->r_next = q->commit_qid;
	q->rs = q->head;
	while (q->rs && q->rs->next && q->rs->next->first <= q->commit_qid)
		q->rs = q->rs->next;
	seg_sweep(q);
	q->w_total = 0;
	for (struct seg *s = q->rs; s; s = s->next)
		q->w_total += s->size;
	if (q->write_qid > q->commit_qid)
		ts_dq_say(q, "%llu records (%llu bytes) from an earlier run are sent first",
		    (unsigned long long)(q->write_qid - q->commit_qid),
		    (unsigned long long)q->w_total);
	rc = seg_start(q);
	if (rc) {
		ts_errf(err, errlen, "queue directory %s: cannot create a segment: %s", q->dir,
			strerror(-rc));
		goto fail;
	}
	if (!q->rs)
		q->rs = q->head;
	rc = pos_write(q);
	if (rc) {
		ts_errf(err, errlen, "queue directory %s: cannot write the position: %s", q->dir,
			strerror(-rc));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	ts_dq_close(q);
	return rc ? rc : -EIO;
}

int ts_dq_start(struct ts_dq *q, char *err, size_t errlen)
{
	int rc = q->sync == TS_DQ_SYNC_INTERVAL ? pthread_create(&q->syncer, NULL, syncer, q) : 0;

	if (rc)
		return ts_err(err, errlen, -rc, "cannot start the queue's sync thread: %s",
			      strerror(rc));
	q->syncer_on = q->sync == TS_DQ_SYNC_INTERVAL;
	return 0;
}

/* ---- the writer ---- */

bool ts_dq_fits(struct ts_dq *q, size_t bytes)
{
	bool fits;

	pthread_mutex_lock(&q->mu);
	fits = q->disk_bytes + bytes <= q->max_bytes;
	pthread_mutex_unlock(&q->mu);
	return fits;
}

/* Everything is delivered: the segment being written goes too, now (a new
 * one takes the appends, the reader is moved onto it). True if that freed
 * disk space. The writer's thread. */
static bool reclaim(struct ts_dq *q)
{
	bool all, freed;

	pthread_mutex_lock(&q->mu);
	all = q->commit_qid == q->write_qid && q->tail->size > 0;
	pthread_mutex_unlock(&q->mu);
	if (!all || seg_start(q))
		return false;
	pthread_mutex_lock(&q->rmu);
	pthread_mutex_lock(&q->mu);
	if (q->commit_qid == q->write_qid) {
		/* nothing is left to read before the new segment */
		q->rs = q->tail;
		q->roff = 0;
		q->expect = 0;
		q->garbage = false;
		if (q->rfd >= 0)
			close(q->rfd);
		q->rfd = -1;
		q->rfd_seg = NULL;
		q->rbuf_len = 0;
	}
	freed = seg_sweep(q);
	pthread_mutex_unlock(&q->mu);
	pthread_mutex_unlock(&q->rmu);
	return freed;
}

static int append(struct ts_dq *q, const struct ts_batch *b, uint32_t from, uint32_t *done);

int ts_dq_append(struct ts_dq *q, const struct ts_batch *b, uint32_t from, uint32_t *done)
{
	uint32_t more = 0;
	bool ripe;
	int rc;

	/* a delivered segment of some size goes now: its space is freed */
	pthread_mutex_lock(&q->mu);
	ripe = q->tail->size >= q->seg_bytes / 4;
	pthread_mutex_unlock(&q->mu);
	if (ripe)
		reclaim(q);
	rc = append(q, b, from, done);
	/* full (max_size or the disk) with everything delivered: the last
	 * segment, however small, is all that holds the space */
	if ((rc == -EDQUOT || rc == -ENOSPC) && reclaim(q)) {
		rc = append(q, b, from + *done, &more);
		*done += more;
	}
	return rc;
}

static int append(struct ts_dq *q, const struct ts_batch *b, uint32_t from, uint32_t *done)
{
	uint64_t room, cur, qid;
	uint32_t k = from;
	int rc = 0;

	*done = 0;
	pthread_mutex_lock(&q->mu);
	room = q->disk_bytes < q->max_bytes ? q->max_bytes - q->disk_bytes : 0;
	cur = q->tail->size;
	qid = q->write_qid;
	pthread_mutex_unlock(&q->mu);

	while (k < b->n) {
		uint32_t first = k;
		size_t bytes = 0;

		q->wbuf.len = 0;
		while (k < b->n) {
			const struct ts_rec *r = &b->recs[k];
			size_t tl, kl[3], fl = frame_size(r, &tl, kl);

			if (bytes + fl > room)
				break;
			if (cur + bytes + fl > q->seg_bytes && cur + bytes > 0)
				break;
			if (ts_buf_reserve(&q->wbuf, fl)) {
				rc = -ENOMEM;
				break;
			}
			frame_put(q->wbuf.p + q->wbuf.len, qid + (k - from), r, b->data + r->off,
				  tl, kl);
			q->wbuf.len += fl;
			bytes += fl;
			k++;
		}
		if (k > first) {
			ssize_t n = write(q->wfd, q->wbuf.p, q->wbuf.len);

			if (n != (ssize_t)q->wbuf.len) {
				rc = n < 0 ? -errno : -ENOSPC;
				/* never leave a torn record in this run's own segment;
				 * if it cannot be cut off, the reader skips it */
				if (n > 0 && (ftruncate(q->wfd, (off_t)cur) ||
					      lseek(q->wfd, (off_t)cur, SEEK_SET) < 0)) {
					pthread_mutex_lock(&q->mu);
					q->tail->size += (uint64_t)n;
					q->disk_bytes += (uint64_t)n;
					q->w_total += (uint64_t)n;
					pthread_mutex_unlock(&q->mu);
				}
				goto failed;
			}
			if (q->sync == TS_DQ_SYNC_BATCH)
				fdatasync(q->wfd);
			pthread_mutex_lock(&q->mu);
			q->tail->size += bytes;
			q->disk_bytes += bytes;
			q->w_total += bytes;
			q->write_qid += k - first;
			q->dirty_data = true;
			pthread_mutex_unlock(&q->mu);
			*done += k - first;
			room -= bytes;
			cur += bytes;
		}
		if (rc)
			goto failed;
		if (k == b->n)
			break;
		{
			size_t tl, kl[3], fl = frame_size(&b->recs[k], &tl, kl);

			if (fl > room)
				return -EDQUOT;	/* max_size: a policy, not a disk error */
		}
		/* the segment is full */
		rc = seg_start(q);
		if (rc)
			goto failed;
		cur = 0;
	}
	return rc;
failed:
	pthread_mutex_lock(&q->mu);
	q->st.write_errors++;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

static bool settle(struct ts_dq *q, const struct ts_dq_span *sp, int state)
{
	bool moved = false, freed;

	pthread_mutex_lock(&q->mu);
	q->spans[sp->slot].state = state;
	while (q->span_n && q->spans[q->span_head].state == 2) {
		struct span_slot *s = &q->spans[q->span_head];

		if (s->to > q->commit_qid)
			q->commit_qid = s->to;
		s->state = 0;
		q->span_head = (q->span_head + 1) % SPANS;
		q->span_n--;
		moved = true;
	}
	if (moved)
		pos_write(q);
	freed = seg_sweep(q);
	pthread_mutex_unlock(&q->mu);
	return freed;
}

bool ts_dq_commit(struct ts_dq *q, const struct ts_dq_span *sp)
{
	return settle(q, sp, 2);
}

void ts_dq_abandon(struct ts_dq *q, const struct ts_dq_span *sp)
{
	settle(q, sp, 3);
}

void ts_dq_stats(struct ts_dq *q, struct ts_dq_stats *st)
{
	pthread_mutex_lock(&q->mu);
	*st = q->st;
	st->bytes = q->disk_bytes;
	st->records = q->write_qid - q->commit_qid;
	pthread_mutex_unlock(&q->mu);
}

/* ---- sync ---- */

static void sync_now(struct ts_dq *q)
{
	bool data, pos, dir;
	int wfd;

	int old;

	pthread_mutex_lock(&q->mu);
	/* a copy: the writer may close its fd for a new segment meanwhile */
	wfd = q->wfd >= 0 ? dup(q->wfd) : -1;
	old = q->old_wfd;
	q->old_wfd = -1;
	data = q->dirty_data;
	pos = q->dirty_pos;
	dir = q->dirty_dir;
	q->dirty_data = q->dirty_pos = q->dirty_dir = false;
	pthread_mutex_unlock(&q->mu);
	if (old >= 0) {
		fdatasync(old);
		close(old);
	}
	if (data && wfd >= 0)
		fdatasync(wfd);
	if (wfd >= 0)
		close(wfd);
	if (pos && q->posfd >= 0)
		fdatasync(q->posfd);
	if (dir && q->dirfd >= 0)
		fsync(q->dirfd);
}

static void *syncer(void *arg)
{
	struct ts_dq *q = arg;
	struct timespec ts;

	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		uint64_t t = ts_now_ns(CLOCK_MONOTONIC) + q->sync_ns;

		ts.tv_sec = (time_t)(t / 1000000000ULL);
		ts.tv_nsec = (long)(t % 1000000000ULL);
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		if (q->stopping)
			break;
		pthread_mutex_unlock(&q->mu);
		sync_now(q);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

void ts_dq_close(struct ts_dq *q)
{
	if (!q)
		return;
	if (q->syncer_on) {
		pthread_mutex_lock(&q->mu);
		q->stopping = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->syncer, NULL);
	}
	if (q->sync != TS_DQ_SYNC_NONE)
		sync_now(q);
	/* an empty segment of this run is no use to the next */
	if (q->tail && !q->tail->old && q->tail->size == 0 && q->wfd >= 0)
		unlink(q->tail->path);
	for (int i = 0; i < CG_CACHE; i++)
		ts_cginfo_put(q->cgc[i].cg);
	while (q->head) {
		struct seg *s = q->head;

		q->head = s->next;
		free(s);
	}
	while (q->agents) {
		struct agent *a = q->agents;

		q->agents = a->next;
		free(a);
	}
	if (q->wfd >= 0)
		close(q->wfd);
	if (q->old_wfd >= 0)
		close(q->old_wfd);
	if (q->rfd >= 0)
		close(q->rfd);
	if (q->posfd >= 0)
		close(q->posfd);
	if (q->lockfd >= 0)
		close(q->lockfd);	/* the lock goes with it */
	if (q->dirfd >= 0)
		close(q->dirfd);
	ts_buf_free(&q->wbuf);
	free(q->rbuf);
	free(q->dir);
	free(q);
}

/* ---- what is left of outputs no longer configured ---- */

int ts_dq_report_orphans(const char *base, FILE *f)
{
	DIR *d = opendir(base);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[4096];
		uint64_t bytes = 0, segs = 0;
		struct dirent *e;
		DIR *sd;
		int lfd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
		sd = opendir(path);
		if (!sd)
			continue;
		lfd = openat(dirfd(sd), "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB)) {
			close(lfd);	/* in use: by this run or another */
			closedir(sd);
			continue;
		}
		while ((e = readdir(sd))) {
			size_t l = strlen(e->d_name);
			struct stat st;

			if (l > 4 && !strcmp(e->d_name + l - 4, ".seg") &&
			    !fstatat(dirfd(sd), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
				bytes += (uint64_t)st.st_size;
				segs++;
			}
		}
		if (lfd >= 0)
			close(lfd);
		closedir(sd);
		if (bytes) {
			fprintf(f, "tcpship: queue %s: %llu bytes in %llu segments of an output "
				   "not configured now; left in place\n", path,
				(unsigned long long)bytes, (unsigned long long)segs);
			n++;
		}
	}
	closedir(d);
	return n;
}
