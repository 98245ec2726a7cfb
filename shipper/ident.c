// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The identity caches (ident.h): two small intrusive hash tables keyed by a
 * u64 (a pid, a cgroup id), thirty lines rather than glib for one structure.
 */
#include "ident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "cmeta.h"
#include "json.h"
#include "put.h"
#include "shape.h"
#include "util.h"

#define PROC_BUCKETS 16384
#define PROC_MAX 131072		/* processes cached; a busy host has a few thousand */
#define CG_BUCKETS 4096
#define CG_MAX 32768
#define CTR_MAX 8192
#define PROC_LINGER_NS (120ULL * 1000000000ULL)	/* a dead process's exe stays this long */
#define SWEEP_NS (5ULL * 1000000000ULL)
#define META_RETRY_NS (10ULL * 1000000000ULL)
#define CID_SLOTS 1024		/* community ids remembered: a flow's events share one */
#define EXE_JSON_MAX 1536	/* room in a line for the identity keys (TS_LINE_MAX the rest) */
#define CG_JSON_MAX 3584

struct proc {
	struct proc *next;
	uint32_t pid;
	bool approx;		/* from /proc: start known to the clock tick only */
	bool dead;
	uint64_t start_ns;	/* CLOCK_BOOTTIME */
	uint64_t dead_at;	/* CLOCK_MONOTONIC */
	char *exe_json, *exe;	/* ,"exe":".." (NULL: unknown); the raw bytes, NUL-ended */
	size_t exe_json_len, exe_len;
	char *json;		/* ,"process_start":"..": and exe_json; made at first use */
	size_t json_len;
	bool has_start;		/* json starts with process_start */
	uint64_t start_wall_ns;	/* the wall time in json: every shape shows that one */
};

struct cg {
	struct cg *next;
	uint64_t id;
	struct ts_cginfo *ci;	/* NULL: no path (gone, or out of view) */
};

/* A container id's metadata, as far as known. */
struct ctr {
	struct ctr *next;
	uint64_t key;		/* the id's first 16 hex digits */
	char id[TS_CONTAINER_ID_LEN + 1];
	enum { M_PENDING, M_DONE, M_MISSING } state;
	uint64_t asked_at;
	struct ts_cmeta meta;
};

struct req {
	struct req *next;
	char id[TS_CONTAINER_ID_LEN + 1];
	enum ts_runtime hint;
	int rc;
	struct ts_cmeta meta;
};

struct cid_slot {
	uint8_t key[40];	/* family, proto, addresses, ports */
	char s[TS_COMMUNITY_ID_LEN];
};

struct ts_ident_ctx {
	struct ts_cgfs fs;
	char *host_root;
	struct proc *procs[PROC_BUCKETS];
	struct cg *cgs[CG_BUCKETS];
	struct ctr *ctrs[CG_BUCKETS];
	size_t n_procs, n_cgs, n_ctrs;
	uint64_t last_sweep;
	long clk_tck;
	struct ts_cid *cid;
	struct cid_slot *cid_cache;
	struct ts_ident_stats st;
	/* the metadata worker: requests in, answers out */
	pthread_t worker;
	bool worker_on, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *todo, *done;
	size_t n_todo;
};

static size_t hash64(uint64_t k, size_t buckets)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)(k & (buckets - 1));
}

/* ---- cginfo ---- */

void ts_cginfo_get(const struct ts_cginfo *c)
{
	if (c)
		atomic_fetch_add_explicit(&((struct ts_cginfo *)c)->refs, 1, memory_order_relaxed);
}

void ts_cginfo_put(const struct ts_cginfo *cc)
{
	struct ts_cginfo *c = (struct ts_cginfo *)cc;

	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(c->path);
	free(c->name);
	free(c->image);
	free(c->pod);
	free(c->pod_namespace);
	free(c->json);
	free(c);
}

/* What a replayed record needs of its cgroup (sink.h): the keys the sinks'
 * formatters read, without a path or a cache entry behind them. */
struct ts_cginfo *ts_cginfo_new_keys(const char *container_id, const char *pod,
				     const char *pod_namespace)
{
	struct ts_cginfo *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	if (container_id) {
		snprintf(c->cp.container_id, sizeof(c->cp.container_id), "%s", container_id);
		c->container_id = c->cp.container_id;
	}
	if ((pod && !(c->pod = strdup(pod))) ||
	    (pod_namespace && !(c->pod_namespace = strdup(pod_namespace)))) {
		ts_cginfo_put(c);
		return NULL;
	}
	return c;
}

static char *put_key(char *p, const char *key, const char *v)
{
	if (!v)
		return p;
	*p++ = ',';
	*p++ = '"';
	p = ts_put(p, key, strlen(key));
	p = TS_PUTS(p, "\":\"");
	p += ts_json_escape(p, v, strlen(v));
	*p++ = '"';
	return p;
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

int ts_cginfo_render(struct ts_cginfo *ci)
{
	size_t raw = slen(ci->path) + slen(ci->unit) + slen(ci->container_id) +
		     slen(ci->runtime) + slen(ci->name) + slen(ci->image) + slen(ci->pod) +
		     slen(ci->pod_namespace) + slen(ci->pod_uid);
	char *p;

	free(ci->json);
	ci->json = malloc(raw * 6 + 256);
	if (!ci->json)
		return -ENOMEM;
	p = ci->json;
	p = put_key(p, "cgroup", ci->path);
	p = put_key(p, "unit", ci->unit);
	p = put_key(p, "container_id", ci->container_id);
	p = put_key(p, "container_runtime", ci->runtime);
	p = put_key(p, "container_name", ci->name);
	p = put_key(p, "image", ci->image);
	p = put_key(p, "pod", ci->pod);
	p = put_key(p, "pod_namespace", ci->pod_namespace);
	p = put_key(p, "pod_uid", ci->pod_uid);
	ci->json_len = (size_t)(p - ci->json);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* A cginfo from a path and, when known, the container's metadata. */
static struct ts_cginfo *cginfo_make(uint64_t id, const char *path, const struct ts_cmeta *m,
				     struct ts_ident_stats *st)
{
	struct ts_cginfo *ci = calloc(1, sizeof(*ci));

	if (!ci)
		return NULL;
	atomic_init(&ci->refs, 1);
	ci->id = id;
	ci->path = strdup(path);
	ts_cgpath_parse(path, &ci->cp);
	if (ci->cp.container_id[0]) {
		ci->container_id = ci->cp.container_id;
		ci->runtime = ts_runtime_name(m && m->runtime ? m->runtime : ci->cp.runtime);
	} else if (ci->cp.unit[0]) {
		ci->unit = ci->cp.unit;
	}
	if (m) {
		ci->name = dup_or_null(m->name);
		ci->image = dup_or_null(m->image);
		ci->pod = dup_or_null(m->pod);
		ci->pod_namespace = dup_or_null(m->pod_namespace);
		if (m->pod_uid && *m->pod_uid && strlen(m->pod_uid) < sizeof(ci->cp.pod_uid))
			snprintf(ci->cp.pod_uid, sizeof(ci->cp.pod_uid), "%s", m->pod_uid);
	}
	if (ci->cp.pod_uid[0])
		ci->pod_uid = ci->cp.pod_uid;
	if (!ci->path || ts_cginfo_render(ci)) {
		ts_cginfo_put(ci);
		return NULL;
	}
	if (ci->json_len > CG_JSON_MAX) {
		/* a hostile path or label: leave it all out, rather than cut */
		st->too_long++;
		ci->json_len = 0;
	}
	return ci;
}

/* ---- container metadata ---- */

/* a container id's first 16 hex digits as a number */
static uint64_t id_key(const char *id)
{
	char head[17];

	memcpy(head, id, 16);
	head[16] = 0;
	return strtoull(head, NULL, 16);
}

static struct ctr *ctr_find(struct ts_ident_ctx *c, const char *id)
{
	uint64_t key = id_key(id);

	for (struct ctr *t = c->ctrs[hash64(key, CG_BUCKETS)]; t; t = t->next)
		if (t->key == key && !strcmp(t->id, id))
			return t;
	return NULL;
}

static void ask(struct ts_ident_ctx *c, struct ctr *t, enum ts_runtime hint, uint64_t now)
{
	struct req *q;

	t->state = M_PENDING;
	t->asked_at = now;
	if (!c->worker_on || c->n_todo >= 1024 || !(q = calloc(1, sizeof(*q)))) {
		c->st.meta_dropped++;
		t->state = M_MISSING;
		return;
	}
	memcpy(q->id, t->id, sizeof(q->id));
	q->hint = hint;
	pthread_mutex_lock(&c->mu);
	q->next = c->todo;
	c->todo = q;
	c->n_todo++;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* The container's entry, made and asked for on first sight. */
static struct ctr *ctr_get(struct ts_ident_ctx *c, const char *id, enum ts_runtime hint)
{
	struct ctr *t = ctr_find(c, id);
	uint64_t now = ts_now_ns(CLOCK_MONOTONIC);

	if (t) {
		if (t->state == M_MISSING && now - t->asked_at > META_RETRY_NS)
			ask(c, t, hint, now);
		return t;
	}
	if (c->n_ctrs >= CTR_MAX || !(t = calloc(1, sizeof(*t))))
		return NULL;
	memcpy(t->id, id, TS_CONTAINER_ID_LEN);
	t->key = id_key(id);
	t->next = c->ctrs[hash64(t->key, CG_BUCKETS)];
	c->ctrs[hash64(t->key, CG_BUCKETS)] = t;
	c->n_ctrs++;
	ask(c, t, hint, now);
	return t;
}

static void *worker_main(void *arg)
{
	struct ts_ident_ctx *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct req *q;
		char err[256];

		while (!c->todo && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stopping)
			break;
		q = c->todo;
		c->todo = q->next;
		c->n_todo--;
		pthread_mutex_unlock(&c->mu);
		q->rc = ts_cmeta_load(c->host_root, q->id, q->hint, &q->meta, err, sizeof(err));
		if (q->rc && q->rc != -ENOENT)
			fprintf(stderr, "tcpship: container %.12s: %s\n", q->id, err);
		pthread_mutex_lock(&c->mu);
		q->next = c->done;
		c->done = q;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Every cached cgroup of this container gets a new cginfo with the news. */
static void cg_refresh(struct ts_ident_ctx *c, const struct ctr *t)
{
	for (size_t b = 0; b < CG_BUCKETS; b++)
		for (struct cg *g = c->cgs[b]; g; g = g->next) {
			struct ts_cginfo *ci;

			if (!g->ci || !g->ci->container_id || strcmp(g->ci->container_id, t->id))
				continue;
			ci = cginfo_make(g->id, g->ci->path, &t->meta, &c->st);
			if (!ci)
				continue;
			ts_cginfo_put(g->ci);
			g->ci = ci;
		}
}

static void take_answers(struct ts_ident_ctx *c)
{
	struct req *q;

	pthread_mutex_lock(&c->mu);
	q = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->mu);
	while (q) {
		struct req *next = q->next;
		struct ctr *t = ctr_find(c, q->id);

		if (t && !q->rc) {
			ts_cmeta_free(&t->meta);
			t->meta = q->meta;
			t->state = M_DONE;
			c->st.meta_loaded++;
			cg_refresh(c, t);
		} else {
			if (t)
				t->state = M_MISSING;
			if (q->rc == -ENOENT)
				c->st.meta_missing++;
			else
				c->st.meta_errors++;
			ts_cmeta_free(&q->meta);
		}
		free(q);
		q = next;
	}
}

/* ---- cgroups ---- */

static const struct ts_cginfo *cg_lookup(struct ts_ident_ctx *c, uint64_t id)
{
	size_t b = hash64(id, CG_BUCKETS);
	char path[PATH_MAX];
	struct ts_cginfo *ci = NULL;
	struct cg *g;

	for (g = c->cgs[b]; g; g = g->next)
		if (g->id == id)
			return g->ci;
	if (c->n_cgs >= CG_MAX || c->fs.fd < 0)
		return NULL;
	if (!ts_cgfs_path(&c->fs, id, path, sizeof(path))) {
		ci = cginfo_make(id, path, NULL, &c->st);
		if (ci && ci->container_id) {
			struct ctr *t = ctr_get(c, ci->container_id, ci->cp.runtime);

			if (t && t->state == M_DONE) {
				struct ts_cginfo *full = cginfo_make(id, path, &t->meta, &c->st);

				if (full) {
					ts_cginfo_put(ci);
					ci = full;
				}
			}
		}
	}
	if (!ci)
		c->st.cgroup_unknown++;
	g = calloc(1, sizeof(*g));
	if (!g) {
		ts_cginfo_put(ci);
		return NULL;
	}
	g->id = id;
	g->ci = ci;
	g->next = c->cgs[b];
	c->cgs[b] = g;
	c->n_cgs++;
	c->st.cgroups++;
	return ci;
}

/* ---- processes ---- */

static struct proc *proc_find(struct ts_ident_ctx *c, uint32_t pid)
{
	for (struct proc *p = c->procs[hash64(pid, PROC_BUCKETS)]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static uint64_t tick_ns(const struct ts_ident_ctx *c)
{
	return 1000000000ULL / (uint64_t)c->clk_tck;
}

static bool same_start(const struct ts_ident_ctx *c, const struct proc *p, uint64_t start_ns)
{
	if (!p->approx)
		return p->start_ns == start_ns;
	return p->start_ns / tick_ns(c) == start_ns / tick_ns(c);
}

static void proc_set_exe(struct proc *p, const char *exe, size_t n, struct ts_ident_stats *st)
{
	char *j;

	free(p->json);		/* made again with the new exe */
	p->json = NULL;
	free(p->exe_json);
	p->exe_json = p->exe = NULL;
	p->exe_json_len = p->exe_len = 0;
	if (!exe || !n)
		return;
	j = malloc(n * 6 + 16 + n + 1);	/* the JSON, then the raw bytes */
	if (!j)
		return;
	memcpy(j, ",\"exe\":\"", 8);
	p->exe_json_len = 8 + ts_json_escape(j + 8, exe, n);
	j[p->exe_json_len++] = '"';
	if (p->exe_json_len > EXE_JSON_MAX) {
		st->too_long++;
		free(j);
		p->exe_json_len = 0;
		return;
	}
	p->exe_json = j;
	p->exe = j + p->exe_json_len;
	memcpy(p->exe, exe, n);
	p->exe[n] = 0;
	p->exe_len = n;
}

static void proc_free(struct proc *p)
{
	free(p->exe_json);
	free(p->json);
	free(p);
}

/* The process's keys for the native shape, once: the start time is a fact
 * of the process, so every event of it carries the same string. */
static void proc_render(struct proc *p, uint64_t start_wall_ns)
{
	struct ts_tcache tc = { -1, "" };
	char tbuf[32];
	size_t n = 0;

	p->has_start = false;
	p->json = malloc(49 + p->exe_json_len);
	if (!p->json)
		return;
	if (start_wall_ns) {
		ts_format_time_in(&tc, start_wall_ns, tbuf);
		memcpy(p->json, ",\"process_start\":\"", 18);
		memcpy(p->json + 18, tbuf, 30);
		p->json[48] = '"';
		n = 49;
		p->has_start = true;
		p->start_wall_ns = start_wall_ns;
	}
	if (p->exe_json) {
		memcpy(p->json + n, p->exe_json, p->exe_json_len);
		n += p->exe_json_len;
	}
	p->json_len = n;
}

/* The entry of pid, replaced when it is of an older process (pid reuse). */
static struct proc *proc_put(struct ts_ident_ctx *c, uint32_t pid, uint64_t start_ns,
			     bool approx)
{
	struct proc *p = proc_find(c, pid);
	size_t b = hash64(pid, PROC_BUCKETS);

	if (p) {
		/* another process now (pid reuse), or the same one seen again */
		if (!same_start(c, p, start_ns) || p->approx != approx) {
			proc_set_exe(p, NULL, 0, &c->st);
			p->start_ns = start_ns;
			p->approx = approx;
		}
		p->dead = false;
		return p;
	}
	if (c->n_procs >= PROC_MAX || !(p = calloc(1, sizeof(*p)))) {
		c->st.proc_full++;
		return NULL;
	}
	p->pid = pid;
	p->start_ns = start_ns;
	p->approx = approx;
	p->next = c->procs[b];
	c->procs[b] = p;
	c->n_procs++;
	c->st.procs++;
	return p;
}

void ts_ident_proc(struct ts_ident_ctx *c, const struct ts_proc *r, size_t size)
{
	const struct ts_hdr *h = &r->h;
	struct proc *p, *parent;
	char path[TS_PATH_MAX + 1];
	size_t n = 0;

	if (size < TS_PROC_SHORT)
		return;
	switch (r->kind) {
	case TS_PROC_EXEC:
		if (size < sizeof(*r) || !(p = proc_put(c, h->pid, h->start_ns, false)))
			return;
		if (h->flags & TS_F_PATH_TRUNC || r->path_len == 0 || r->path_len > TS_PATH_NAMES +
		    255) {
			proc_set_exe(p, NULL, 0, &c->st);
			return;
		}
		/* names leaf first, each NUL-terminated: put them root first */
		for (int end = r->path_len; end > 0;) {
			int start = end - 1;

			while (start > 0 && r->path[start - 1])
				start--;
			if (end - 1 - start > 0) {
				path[n++] = '/';
				memcpy(path + n, r->path + start, (size_t)(end - 1 - start));
				n += (size_t)(end - 1 - start);
			}
			end = start;
		}
		proc_set_exe(p, path, n, &c->st);
		return;
	case TS_PROC_FORK:
		parent = proc_find(c, r->parent_pid);
		if (!(p = proc_put(c, h->pid, h->start_ns, false)))
			return;
		if (parent && same_start(c, parent, r->parent_start) && parent->exe_json)
			proc_set_exe(p, parent->exe, parent->exe_len, &c->st);
		else
			proc_set_exe(p, NULL, 0, &c->st);
		return;
	case TS_PROC_EXIT:
		p = proc_find(c, h->pid);
		if (p && same_start(c, p, h->start_ns)) {
			p->dead = true;
			p->dead_at = ts_now_ns(CLOCK_MONOTONIC);
		}
		return;
	}
}

/* /proc/PID/stat's start time, in clock ticks since boot */
static int proc_start_ticks(uint32_t pid, uint64_t *ticks)
{
	char path[64], buf[1024], *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold anything, ')' too: the fields follow the last ')' */
	s = strrchr(buf, ')');
	if (!s)
		return -EIO;
	/* s is at the blank before field 3 (state); starttime is field 22 */
	s++;
	for (int field = 3; field < 22 && s; field++)
		s = strchr(s + 1, ' ');
	if (!s)
		return -EIO;
	*ticks = strtoull(s + 1, NULL, 10);
	return 0;
}

/* A process's exe from /proc, checked to be the process of that start time. */
static void proc_from_procfs(struct ts_ident_ctx *c, uint32_t pid, uint64_t start_ns)
{
	char path[64], exe[PATH_MAX];
	uint64_t ticks = 0;
	struct proc *p;
	ssize_t n;

	if (proc_start_ticks(pid, &ticks))
		return;
	if (start_ns && ticks != start_ns / tick_ns(c))
		return;	/* another process has the pid now */
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	p = proc_put(c, pid, ticks * tick_ns(c), true);
	if (!p)
		return;
	if (n > 0 && exe[0] == '/' && !(n > 10 && !strcmp(exe + n - 10, " (deleted)")))
		proc_set_exe(p, exe, (size_t)n, &c->st);
	else
		proc_set_exe(p, NULL, 0, &c->st);
}

void ts_ident_scan_procs(struct ts_ident_ctx *c)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t pid;

		if (ts_parse_u64(de->d_name, 1, 4194304, &pid))
			continue;
		if (!proc_find(c, (uint32_t)pid))	/* exec records came first */
			proc_from_procfs(c, (uint32_t)pid, 0);
	}
	closedir(d);
}

static struct proc *proc_lookup(struct ts_ident_ctx *c, uint32_t pid, uint64_t start_ns)
{
	struct proc *p = proc_find(c, pid);

	if (p && same_start(c, p, start_ns))
		return p;
	/* missed (a record lost to a full ring buffer): ask /proc once */
	proc_from_procfs(c, pid, start_ns);
	p = proc_find(c, pid);
	if (p && same_start(c, p, start_ns))
		return p;
	/* remember that it is not known, so the next event does not ask */
	p = proc_put(c, pid, start_ns, false);
	if (p)
		proc_set_exe(p, NULL, 0, &c->st);
	return p;
}

static void sweep(struct ts_ident_ctx *c, uint64_t now)
{
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		for (struct proc **pp = &c->procs[b]; *pp;) {
			struct proc *p = *pp;

			if (p->dead && now - p->dead_at > PROC_LINGER_NS) {
				*pp = p->next;
				proc_free(p);
				c->n_procs--;
				continue;
			}
			pp = &p->next;
		}
}

/* ---- community id ---- */

static void community_id(struct ts_ident_ctx *c, const struct ts_hdr *h, char *out)
{
	uint8_t key[40];
	struct cid_slot *s;
	uint8_t proto = h->type == TS_DNS ? 17 : 6;
	int fam = h->family == TS_IPV4 ? AF_INET : AF_INET6;
	size_t alen = fam == AF_INET ? 4 : 16;
	uint64_t h1;

	out[0] = 0;
	if (!(h->flags & TS_F_SADDR) || !c->cid)
		return;
	/* the flow's, whichever side: the connect and the accept of one
	 * loopback connection share the slot */
	memset(key, 0, sizeof(key));
	key[0] = (uint8_t)fam;
	key[1] = proto;
	{
		int cmp = memcmp(h->saddr, h->daddr, alen);
		bool swap = cmp > 0 || (cmp == 0 && h->sport > h->dport);

		memcpy(key + 2, swap ? &h->dport : &h->sport, 2);
		memcpy(key + 4, swap ? &h->sport : &h->dport, 2);
		memcpy(key + 6, swap ? h->daddr : h->saddr, alen);
		memcpy(key + 22, swap ? h->saddr : h->daddr, alen);
	}
	h1 = 0;
	for (size_t i = 0; i < sizeof(key); i += 8) {
		uint64_t w;

		memcpy(&w, key + i, 8);
		h1 = (h1 ^ w) * 0x9e3779b97f4a7c15ULL;
	}
	h1 ^= h1 >> 29;
	s = &c->cid_cache[h1 & (CID_SLOTS - 1)];
	if (s->s[0] && !memcmp(s->key, key, sizeof(key))) {
		memcpy(out, s->s, TS_COMMUNITY_ID_LEN);
		return;
	}
	if (ts_community_id(c->cid, fam, h->saddr, h->daddr, h->sport, h->dport, proto, 0, true,
			    out, TS_COMMUNITY_ID_LEN)) {
		out[0] = 0;
		return;
	}
	memcpy(s->key, key, sizeof(key));
	memcpy(s->s, out, TS_COMMUNITY_ID_LEN);
}

void ts_ident_lookup(struct ts_ident_ctx *c, const struct ts_hdr *h, int64_t boot_to_wall_ns,
		     struct ts_ident *out)
{
	memset(out, 0, offsetof(struct ts_ident, community_id));
	out->community_id[0] = 0;
	if (h->flags & TS_F_TASK) {
		struct proc *p = proc_lookup(c, h->pid, h->start_ns);

		if (h->start_ns)
			out->start_wall_ns = (uint64_t)((int64_t)h->start_ns + boot_to_wall_ns);
		if (p && !p->json)
			proc_render(p, out->start_wall_ns);
		if (p && p->json) {
			out->proc_json = p->json;
			out->proc_json_len = p->json_len;
			out->start_wall_ns = p->start_wall_ns;	/* as rendered */
			if (p->has_start)
				out->start_str = p->json + 18;
		}
		if (p && p->exe_json) {
			out->exe = p->exe;
			out->exe_len = p->exe_len;
			out->exe_esc = p->exe_json + 8;
			out->exe_esc_len = p->exe_json_len - 9;
		}
		if (!p || !p->exe_json)
			c->st.exe_unknown++;
		if (h->cgroup_id)
			out->cg = cg_lookup(c, h->cgroup_id);
	}
	if (h->type != TS_SEND && h->type != TS_RECV)
		community_id(c, h, out->community_id);
}

void ts_ident_tick(struct ts_ident_ctx *c)
{
	uint64_t now = ts_now_ns(CLOCK_MONOTONIC);

	if (c->worker_on)
		take_answers(c);
	if (now - c->last_sweep > SWEEP_NS) {
		c->last_sweep = now;
		sweep(c, now);
	}
}

/* ---- life ---- */

struct ts_ident_ctx *ts_ident_new(const char *host_root, char *err, size_t errlen)
{
	struct ts_ident_ctx *c = calloc(1, sizeof(*c));

	if (!c) {
		ts_err(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->clk_tck = sysconf(_SC_CLK_TCK);
	if (c->clk_tck <= 0)
		c->clk_tck = 100;
	c->last_sweep = ts_now_ns(CLOCK_MONOTONIC);
	c->host_root = host_root && *host_root ? strdup(host_root) : NULL;
	c->cid = ts_cid_new();
	c->cid_cache = calloc(CID_SLOTS, sizeof(*c->cid_cache));
	if ((host_root && *host_root && !c->host_root) || !c->cid || !c->cid_cache) {
		ts_err(err, errlen, -ENOMEM, "out of memory");
		ts_ident_free(c);
		return NULL;
	}
	/* no cgroup2 mount: events go out without the cgroup's keys; err
	 * says so, for the caller to warn */
	err[0] = 0;
	ts_cgfs_open(&c->fs, c->host_root, err, errlen);
	return c;
}

const struct ts_cgfs *ts_ident_cgfs(const struct ts_ident_ctx *c)
{
	return &c->fs;
}

int ts_ident_start(struct ts_ident_ctx *c)
{
	int rc = pthread_create(&c->worker, NULL, worker_main, c);

	if (rc)
		return -rc;
	c->worker_on = true;
	return 0;
}

void ts_ident_stats(const struct ts_ident_ctx *c, struct ts_ident_stats *out)
{
	*out = c->st;
}

static void free_reqs(struct req *q)
{
	while (q) {
		struct req *n = q->next;

		ts_cmeta_free(&q->meta);
		free(q);
		q = n;
	}
}

void ts_ident_free(struct ts_ident_ctx *c)
{
	if (!c)
		return;
	if (c->worker_on) {
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->worker, NULL);
	}
	free_reqs(c->todo);
	free_reqs(c->done);
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		for (struct proc *p = c->procs[b], *n; p; p = n) {
			n = p->next;
			proc_free(p);
		}
	for (size_t b = 0; b < CG_BUCKETS; b++) {
		for (struct cg *g = c->cgs[b], *n; g; g = n) {
			n = g->next;
			ts_cginfo_put(g->ci);
			free(g);
		}
		for (struct ctr *t = c->ctrs[b], *n; t; t = n) {
			n = t->next;
			ts_cmeta_free(&t->meta);
			free(t);
		}
	}
	ts_cgfs_close(&c->fs);
	ts_cid_free(c->cid);
	free(c->cid_cache);
	free(c->host_root);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
