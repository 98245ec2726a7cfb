// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * file: JSON lines appended to a file.
 *
 *   -o file:/var/log/tcpship/events.jsonl
 *   { "type": "file", "path": "...", "max_size": "100MiB", "max_files": 5 }
 *
 * New files are created with mode 0640 whatever the umask. SIGHUP reopens
 * the path (logrotate's postrotate) between two batches, so no line is lost
 * or split across the reopen. A write cut short (a full disk) is retried
 * from where it stopped, after the half line is cut off. With max_size, the file is rotated before a write would take it
 * past the limit: path -> path.1 -> path.2 ... up to max_files kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdwriter.h"
#include "sink.h"

struct file_conf {
	char *path;
	uint64_t max_size;	/* 0: never rotate */
	uint64_t max_files;	/* files kept beside the live one */
};

static const struct ts_opt file_opts[] = {
	{ .name = "path", .type = TS_OPT_STRING, .off = offsetof(struct file_conf, path) },
	{ .name = "max_size", .type = TS_OPT_SIZE, .off = offsetof(struct file_conf, max_size),
	  .min = 4096 },
	{ .name = "max_files", .type = TS_OPT_UINT, .off = offsetof(struct file_conf, max_files),
	  .min = 1, .max = 1000 },
	{ .name = NULL },
};

struct priv {
	const struct file_conf *conf;
	struct ts_fdw w;
	uint64_t size;		/* of the live file */
	/* the batch being written: records before `next` are in a file, and
	 * [next, chunk_end) is the chunk being written (fixed on first try so
	 * a retry writes exactly the same bytes) */
	const struct ts_batch *cur;
	uint32_t next, chunk_end;
	_Atomic uint64_t reopens, rotations;
	bool failed_open;	/* said once until it works again */
};

static bool file_match(const char *spec)
{
	return !strncmp(spec, "file:", 5);
}

static void file_conf_init(void *c)
{
	struct file_conf *fc = c;

	fc->max_files = 5;
}

static int file_conf_spec(void *c, const char *spec, char *err, size_t errlen)
{
	struct file_conf *fc = c;

	fc->path = strdup(spec + 5);
	return fc->path ? 0 : -ENOMEM;
}

/* Open (creating with exactly 0640) for appending; -errno. */
static int open_log(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

	if (fd >= 0) {
		fchmod(fd, 0640);	/* the umask must not decide who reads it */
	} else if (errno == EEXIST) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int file_check(const void *c, char *err, size_t errlen)
{
	const struct file_conf *fc = c;

	if (!fc->path || !*fc->path) {
		snprintf(err, errlen, "path: missing (the file to write)");
		return -EINVAL;
	}
	return 0;
}

static int file_open(struct ts_output *o, const void *c, char *err, size_t errlen)
{
	const struct file_conf *fc = c;
	struct priv *p;
	uint64_t size;
	int fd;

	if (!fc->path || !*fc->path) {
		snprintf(err, errlen, "path: missing (the file to write)");
		return -EINVAL;
	}
	if (strlen(fc->path) > PATH_MAX - 8) {
		snprintf(err, errlen, "path: too long");
		return -EINVAL;
	}
	fd = open_log(fc->path, &size);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", fc->path, strerror(-fd));
		return fd == -EISDIR ? -EINVAL : fd;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->conf = fc;
	ts_fdw_init(&p->w, fd);
	p->size = size;
	o->priv = p;
	snprintf(o->name, sizeof(o->name), "file:%.58s", fc->path);
	return 0;
}

/* Swap in a fresh fd for the path. The buffer must be empty. */
static int reopen_path(struct ts_output *o)
{
	struct priv *p = o->priv;
	uint64_t size;
	int fd = open_log(p->conf->path, &size);

	if (fd < 0) {
		if (!p->failed_open)
			ts_output_log(o, "cannot reopen %s: %s; still writing to the old file",
				      p->conf->path, strerror(-fd));
		p->failed_open = true;
		return fd;
	}
	p->failed_open = false;
	close(p->w.fd);
	p->w.fd = fd;
	p->size = size;
	return 0;
}

static void rotate(struct ts_output *o)
{
	struct priv *p = o->priv;
	const char *path = p->conf->path;
	char from[PATH_MAX], to[PATH_MAX];

	/* path.(N-1) -> path.N ... path -> path.1; the oldest is replaced */
	for (uint64_t i = p->conf->max_files; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%llu", path, (unsigned long long)i - 1);
		snprintf(to, sizeof(to), "%s.%llu", path, (unsigned long long)i);
		rename(from, to);	/* a gap in the series is fine */
	}
	snprintf(to, sizeof(to), "%s.1", path);
	if (rename(path, to)) {
		ts_output_log(o, "cannot rotate %s: %s", path, strerror(errno));
		return;
	}
	if (!reopen_path(o))
		atomic_fetch_add(&p->rotations, 1);
}

static void file_reopen(struct ts_output *o)
{
	struct priv *p = o->priv;

	/* between batches: nothing of a batch is left half in the old file */
	if (!reopen_path(o))
		atomic_fetch_add(&p->reopens, 1);
}

/* The end of the next chunk from `next`: as many records as fit under
 * max_size, at least one when the file is empty (a line longer than the
 * limit still goes out, alone). `next` itself when the file must rotate. */
static uint32_t chunk_end(const struct priv *p, const struct ts_batch *b, uint32_t next,
			  uint32_t end)
{
	uint64_t size = p->size;
	uint32_t k = next;

	if (!p->conf->max_size)
		return end;
	while (k < end && (size + b->recs[k].len <= p->conf->max_size ||
			   (k == next && p->size == 0)))
		size += b->recs[k++].len;
	return k;
}

static enum ts_out_result file_write(struct ts_output *o, const struct ts_batch *b,
				     uint32_t from, uint32_t n)
{
	struct priv *p = o->priv;
	enum ts_out_result r;
	size_t bytes;

	if (p->cur != b) {
		p->cur = b;
		p->next = from;
		p->chunk_end = 0;
	}
	while (p->next < from + n) {
		if (!p->chunk_end) {
			uint32_t k = chunk_end(p, b, p->next, from + n);

			if (k == p->next) {
				rotate(o);
				if (!p->size)
					continue;
				k = from + n;	/* could not rotate: go past the limit */
			}
			p->chunk_end = k;
		}
		r = ts_fdw_write(&p->w, b, p->next, p->chunk_end - p->next, &bytes);
		p->size += bytes;
		if (r != TS_OUT_OK)
			return r;	/* the retry resumes this chunk */
		p->next = p->chunk_end;
		p->chunk_end = 0;
	}
	p->cur = NULL;
	return TS_OUT_OK;
}

static void file_close(struct ts_output *o)
{
	struct priv *p = o->priv;

	close(p->w.fd);
	free(p);
	o->priv = NULL;
}

static int file_counters(struct ts_output *o, char *buf, size_t len)
{
	struct priv *p = o->priv;

	return snprintf(buf, len, "reopens=%llu rotations=%llu",
			(unsigned long long)atomic_load(&p->reopens),
			(unsigned long long)atomic_load(&p->rotations));
}

const struct ts_output_ops ts_output_file = {
	.type = "file",
	.match = file_match,
	.conf_size = sizeof(struct file_conf),
	.opts = file_opts,
	.conf_init = file_conf_init,
	.conf_spec = file_conf_spec,
	.check = file_check,
	.open = file_open,
	.write = file_write,
	.reopen = file_reopen,
	.close = file_close,
	.format = ts_fdw_format,
	.counters = file_counters,
	.default_drop_when_full = false,
};
