// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The disk queue's reader side: records back from the segments into units,
 * damage skipped to the next valid frame and counted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dqueue_int.h"
#include "ident.h"
#include "shape.h"

/* One frame at p (avail bytes): 1 and its length, 0 when it does not fit in
 * avail (a longer read may tell), -1 when it is not a valid frame. */
int ts_dq_frame_at(const char *p, size_t avail, size_t *flen, uint64_t *qid)
{
	uint32_t len;

	if (avail < HDR_LEN)
		return avail >= 4 && get32(p) != FRAME_MAGIC ? -1 : 0;
	len = get32(p + 4);
	if (get32(p) != FRAME_MAGIC || len < FIX_LEN || len > PAYLOAD_MAX)
		return -1;
	if (avail < HDR_LEN + (size_t)len)
		return 0;
	if (crc(p + 4, 12, p + HDR_LEN, len) != get32(p + 16))
		return -1;
	*flen = HDR_LEN + len;
	*qid = get64(p + 8);
	return 1;
}

/* ---- the readers ---- */

bool ts_dq_readable(struct ts_dq *q)
{
	bool r;

	pthread_mutex_lock(&q->mu);
	r = q->rs && (q->rs != q->tail || q->roff < q->tail->size);
	pthread_mutex_unlock(&q->mu);
	return r;
}

/* Frame bytes appended and not read yet: for gathering a full unit. */
uint64_t ts_dq_backlog(struct ts_dq *q, uint64_t *records)
{
	uint64_t n;

	pthread_mutex_lock(&q->mu);
	n = q->w_total - q->r_total;
	*records = q->write_qid > q->r_next ? q->write_qid - q->r_next : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static const struct ts_cginfo *cg_for(struct ts_dq *q, const char *k, const size_t kl[3])
{
	char keys[3][KEY_MAX + 1];
	uint32_t h = libdeflate_crc32(0, k, kl[0] + kl[1] + kl[2]) ^ (uint32_t)(kl[0] << 20 | kl[1] << 10 | kl[2]);
	unsigned i = h % CG_CACHE;
	const char *p = k;

	if (!kl[0] && !kl[1] && !kl[2])
		return NULL;
	for (int j = 0; j < 3; j++) {
		memcpy(keys[j], p, kl[j]);
		keys[j][kl[j]] = 0;
		p += kl[j];
	}
	if (q->cgc[i].cg && q->cgc[i].hash == h) {
		const struct ts_cginfo *c = q->cgc[i].cg;

		if (!strcmp(c->container_id ? c->container_id : "", keys[0]) &&
		    !strcmp(c->pod ? c->pod : "", keys[1]) &&
		    !strcmp(c->pod_namespace ? c->pod_namespace : "", keys[2]))
			return c;
	}
	ts_cginfo_put(q->cgc[i].cg);
	q->cgc[i].cg = ts_cginfo_new_keys(kl[0] ? keys[0] : NULL, kl[1] ? keys[1] : NULL,
					  kl[2] ? keys[2] : NULL);
	q->cgc[i].hash = h;
	return q->cgc[i].cg;
}

/* A valid frame into the unit's next record. */
static void unpack(struct ts_dq *q, const char *p, struct ts_batch *u, const char *agent)
/* agent: the run that wrote it, NULL for this one */
{
	const char *f = p + HDR_LEN, *v = f + FIX_LEN;
	uint32_t len = get32(p + 4);
	size_t tl = (unsigned char)f[1], kl[3];
	struct ts_rec *r = &u->recs[u->n++];
	size_t line;

	for (int i = 0; i < 3; i++)
		kl[i] = get16(f + 76 + 2 * i);
	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)f[2];
	r->flags = (uint8_t)f[3];
	r->sport = get16(f + 4);
	r->dport = get16(f + 6);
	r->pid = get32(f + 8);
	r->seq = get64(f + 12);
	r->time_ns = get64(f + 20);
	memcpy(r->comm, f + 28, 16);
	r->comm[15] = 0;
	memcpy(r->saddr, f + 44, 16);
	memcpy(r->daddr, f + 60, 16);
	r->type = ts_type_intern(v, tl);
	v += tl;
	r->cg = cg_for(q, v, kl);
	if (r->cg)
		ts_batch_hold(u, r->cg);
	v += kl[0] + kl[1] + kl[2];
	line = len - (size_t)(v - f);
	r->off = (uint32_t)u->len;
	r->len = (uint32_t)line;
	r->agent_id = agent;
	memcpy(u->data + u->len, v, line);
	u->len += line;
}

/* A frame whose variable lengths fit its length: the rest is trusted. */
static bool frame_sane(const char *p)
{
	const char *f = p + HDR_LEN;
	size_t kl = (size_t)get16(f + 76) + get16(f + 78) + get16(f + 80);

	return f[0] == 1 && (unsigned char)f[1] < 32 && get16(f + 76) <= 64 &&
	       get16(f + 78) <= KEY_MAX && get16(f + 80) <= KEY_MAX &&
	       FIX_LEN + (unsigned char)f[1] + kl < get32(p + 4) &&
	       get32(p + 4) - FIX_LEN - (unsigned char)f[1] - kl <= TS_LINE_MAX;
}

/* One read's unit, its limits and what it found on the way. */
struct rd {
	struct ts_batch *u;
	uint32_t max_n;
	size_t max_bytes;
	uint64_t from, to, corrupt, cbytes, replayed, consumed;
};

/* Frames from the buffer into the unit until it is full (true), the end,
 * or a frame that needs the buffer refilled. */
static bool take_frames(struct ts_dq *q, struct seg *s, uint64_t *offp, uint64_t end,
			struct rd *r)
{
	uint64_t off = *offp;
	bool full = false;

	while (off < end) {
		const char *p = q->rbuf + (off - q->rbuf_off);
		size_t avail = (size_t)(q->rbuf_off + q->rbuf_len - off), fl = 0;
		uint64_t qid = 0;
		int v = ts_dq_frame_at(p, avail, &fl, &qid);

		if (v == 1 && !frame_sane(p))
			v = -1;
		if (v == 0 && q->rbuf_off + q->rbuf_len < end)
			break;	/* read on */
		if (v <= 0) {
			/* not a record: skip to the next one that is */
			q->garbage = true;
			r->cbytes++;
			r->consumed++;
			off++;
			continue;
		}
		if (qid < q->skip_below) {
			off += fl;	/* delivered by an earlier run */
			r->consumed += fl;
			q->expect = qid + 1;
			continue;
		}
		/* fl bounds the line's bytes */
		if (r->u->n && (r->u->n >= r->max_n || r->u->len + fl > r->max_bytes)) {
			full = true;
			break;
		}
		if (q->expect && qid > q->expect)
			r->corrupt += qid - q->expect;
		else if (q->expect && qid < q->expect)
			r->corrupt++;	/* out of order: counted, sent */
		else if (!q->expect && q->garbage)
			r->corrupt++;
		q->garbage = false;
		q->expect = qid + 1;
		if (!r->u->n)
			r->from = qid;
		r->to = qid + 1;
		if (s->old)
			r->replayed++;
		unpack(q, p, r->u, s->old ? s->agent : NULL);
		off += fl;
		r->consumed += fl;
	}
	*offp = off;
	return full;
}

/* Open s and have the bytes at off in the buffer: 0, or 1 when s has
 * nothing more to give (unreadable: skipped and counted). */
static int fill(struct ts_dq *q, struct seg *s, uint64_t off, uint64_t end, struct rd *r)
{
	size_t want;
	ssize_t got;

	if (q->rfd_seg != s) {
		if (q->rfd >= 0)
			close(q->rfd);
		q->rfd = open(s->path, O_RDONLY | O_CLOEXEC);
		q->rfd_seg = q->rfd >= 0 ? s : NULL;
		q->rbuf_len = 0;
		if (q->rfd < 0) {
			ts_dq_say(q, "%s: cannot read: %s; skipped", s->path, strerror(errno));
			goto skip;
		}
	}
	if (off >= q->rbuf_off && off < q->rbuf_off + q->rbuf_len &&
	    q->rbuf_off + q->rbuf_len - off >= HDR_LEN + PAYLOAD_MAX)
		return 0;
	want = end - off < RBUF_LEN ? (size_t)(end - off) : RBUF_LEN;
	got = pread(q->rfd, q->rbuf, want, (off_t)off);
	if (got > 0) {
		q->rbuf_off = off;
		q->rbuf_len = (size_t)got;
		return 0;
	}
	ts_dq_say(q, "%s: cannot read at %llu: %s; skipped", s->path, (unsigned long long)off,
		  got < 0 ? strerror(errno) : "shorter than it was");
skip:
	/* what it held is lost, counted */
	r->cbytes += end - off;
	r->corrupt++;
	pthread_mutex_lock(&q->mu);
	q->r_total += end - off;
	q->roff = end;
	pthread_mutex_unlock(&q->mu);
	return 1;
}

/* Past the end of a finished segment into the next. */
static void next_segment(struct ts_dq *q, struct seg *next, struct rd *r)
{
	/* a tail that was not a record is one record lost (a torn write) */
	if (q->expect && next->first > q->expect)
		r->corrupt += next->first - q->expect;
	else if (q->garbage)
		r->corrupt++;
	q->garbage = false;
	q->expect = 0;
	pthread_mutex_lock(&q->mu);
	q->rs = next;
	q->roff = 0;
	pthread_mutex_unlock(&q->mu);
}

int ts_dq_read(struct ts_dq *q, struct ts_batch *u, uint32_t max_n, size_t max_bytes,
	       struct ts_dq_span *span)
{
	struct rd r = { .u = u, .max_n = max_n, .max_bytes = max_bytes };
	int slot;

	pthread_mutex_lock(&q->rmu);
	pthread_mutex_lock(&q->mu);
	if (q->span_n == SPANS) {
		pthread_mutex_unlock(&q->mu);
		pthread_mutex_unlock(&q->rmu);
		return -ENOSPC;
	}
	slot = (int)((q->span_head + q->span_n) % SPANS);
	q->spans[slot].state = 1;
	q->span_n++;
	pthread_mutex_unlock(&q->mu);

	u->n = 0;
	u->len = 0;
	for (;;) {
		struct seg *s, *next;
		uint64_t end, off;
		bool sealed, full;

		pthread_mutex_lock(&q->mu);
		s = q->rs;
		off = q->roff;
		end = s ? s->size : 0;
		sealed = s ? s->sealed : false;
		next = s ? s->next : NULL;
		pthread_mutex_unlock(&q->mu);
		if (!s)
			break;
		if (off >= end) {
			if (!sealed || !next)
				break;	/* caught up with the writer */
			next_segment(q, next, &r);
			continue;
		}
		if (fill(q, s, off, end, &r)) {
			if (!sealed)
				break;
			continue;
		}
		full = take_frames(q, s, &off, end, &r);
		pthread_mutex_lock(&q->mu);
		q->roff = off;
		q->r_total += r.consumed;
		r.consumed = 0;
		pthread_mutex_unlock(&q->mu);
		if (full)
			break;
	}
	pthread_mutex_lock(&q->mu);
	q->st.corrupt += r.corrupt;
	q->st.corrupt_bytes += r.cbytes;
	q->st.replayed += r.replayed;
	if (!u->n) {
		/* nothing: give the slot back (it is the last one taken) */
		q->spans[slot].state = 0;
		q->span_n--;
	} else {
		q->spans[slot].from = r.from;
		q->spans[slot].to = r.to;
		q->r_next = r.to;
	}
	pthread_mutex_unlock(&q->mu);
	pthread_mutex_unlock(&q->rmu);
	if (r.corrupt || r.cbytes)
		ts_dq_say(q, "%llu corrupt records skipped (%llu bytes)",
			  (unsigned long long)r.corrupt, (unsigned long long)r.cbytes);
	if (!u->n)
		return -ENODATA;
	span->from = r.from;
	span->to = r.to;
	span->slot = slot;
	return 0;
}

int ts_dq_chown(struct ts_dq *q, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (fchown(q->dirfd, uid, gid))
		return -errno;
	d = fdopendir(dup(q->dirfd));
	if (!d)
		return -errno;
	rewinddir(d);	/* the dup shares the offset an earlier scan left at the end */
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    fchownat(q->dirfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) && !rc)
			rc = -errno;
	closedir(d);
	return rc;
}
