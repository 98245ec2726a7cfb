// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cgroupfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgpath.h"
#include "util.h"

#define FILEID_KERNFS 0xfe
#define WALK_DEPTH 64

/* mountinfo's octal escapes (\040 for a space) decoded into out */
static void unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (s[i] == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
					  (s[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
}

/* field i (0-based, space separated) of a line: start and length */
static bool field_of(const char *line, size_t len, int i, const char **f, size_t *flen)
{
	size_t a = 0;

	for (int k = 0; k < i; k++) {
		while (a < len && line[a] != ' ')
			a++;
		if (a >= len)
			return false;
		a++;
	}
	*f = line + a;
	*flen = strcspn(*f, " \n");
	if (*f + *flen > line + len)
		*flen = (size_t)(line + len - *f);
	return true;
}

static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	return !strncmp(path, prefix, n) && (path[n] == '/' || path[n] == 0);
}

int ts_mountinfo_cgroup2(const char *mi, const char *prefix, char *mnt, size_t mntlen,
			 char *root, size_t rootlen)
{
	bool found = false;

	for (const char *line = mi; *line;) {
		size_t len = strcspn(line, "\n");
		const char *sep = memmem(line, len, " - ", 3);
		const char *f, *r;
		size_t fl, rl;
		char point[PATH_MAX];

		if (sep && sep + 3 + 8 <= line + len && !strncmp(sep + 3, "cgroup2 ", 8) &&
		    field_of(line, len, 4, &f, &fl) && field_of(line, len, 3, &r, &rl)) {
			unescape(f, fl, point, sizeof(point));
			if (!found || (prefix && under(point, prefix))) {
				snprintf(mnt, mntlen, "%s", point);
				unescape(r, rl, root, rootlen);
				if (!strcmp(root, "/"))
					root[0] = 0;
				found = true;
				if (!prefix || under(point, prefix))
					return 0;
			}
		}
		line += len;
		if (*line)
			line++;
	}
	return found ? 0 : -ENOENT;
}

static char *slurp_mountinfo(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		char *nb;

		if (cap - len < 4096) {
			nb = realloc(buf, cap + 65536);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = 0;
	return buf;
}

int ts_cgfs_open(struct ts_cgfs *fs, const char *host_root, char *err, size_t errlen)
{
	char *mi = slurp_mountinfo();
	int rc;

	memset(fs, 0, sizeof(*fs));
	fs->fd = -1;
	if (!mi)
		return ts_err(err, errlen, -errno, "cannot read /proc/self/mountinfo: %s",
			      strerror(errno));
	rc = ts_mountinfo_cgroup2(mi, host_root && *host_root ? host_root : NULL, fs->mnt,
				  sizeof(fs->mnt), fs->root, sizeof(fs->root));
	free(mi);
	if (rc)
		return ts_err(err, errlen, rc, "no cgroup2 (unified) hierarchy is mounted: the "
			      "cgroup and container keys need one");
	fs->mnt_len = strlen(fs->mnt);
	fs->fd = open(fs->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->fd < 0)
		return ts_err(err, errlen, -errno, "%s: %s", fs->mnt, strerror(errno));
	return 0;
}

void ts_cgfs_close(struct ts_cgfs *fs)
{
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
}

int ts_cgfs_path(const struct ts_cgfs *fs, uint64_t id, char *out, size_t cap)
{
	struct {
		unsigned int bytes;
		int type;
		uint64_t id;
	} h = { sizeof(uint64_t), FILEID_KERNFS, id };
	char link[64], buf[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open_by_handle_at(fs->fd, (struct file_handle *)&h, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	/* "/sys/fs/cgroup/unified/kubepods/x" -> "/kubepods/x" */
	if (strncmp(buf, fs->mnt, fs->mnt_len) || (buf[fs->mnt_len] && buf[fs->mnt_len] != '/'))
		return -ENOENT;		/* outside our view */
	if ((size_t)snprintf(out, cap, "%s%s", fs->root,
			     buf[fs->mnt_len] ? buf + fs->mnt_len : fs->root[0] ? "" : "/") >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int ts_cgfs_id(const struct ts_cgfs *fs, const char *path, uint64_t *id)
{
	size_t rl = strlen(fs->root);
	const char *rel;
	struct stat st;

	/* a path from the hierarchy's root, seen through a mount of part of it */
	if (rl && strncmp(path, fs->root, rl))
		return -ENOENT;
	rel = path + rl;
	while (*rel == '/')
		rel++;
	if (fstatat(fs->fd, *rel ? rel : ".", &st, *rel ? 0 : AT_EMPTY_PATH) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (uint64_t)st.st_ino;
	return 0;
}

static void walk_dir(int dfd, uint64_t id, int depth, ts_cgfs_fn fn, void *ctx)
{
	DIR *d;
	struct dirent *de;

	if (depth >= WALK_DEPTH || !(d = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int cfd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (cfd < 0)
			continue;	/* gone meanwhile */
		if (fstat(cfd, &st) < 0) {
			close(cfd);
			continue;
		}
		fn(ctx, (uint64_t)st.st_ino, id, de->d_name);
		walk_dir(cfd, (uint64_t)st.st_ino, depth + 1, fn, ctx);
	}
	closedir(d);
}

int ts_cgfs_walk(const struct ts_cgfs *fs, ts_cgfs_fn fn, void *ctx)
{
	struct stat st;
	int fd = openat(fs->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	fn(ctx, (uint64_t)st.st_ino, 0, "");
	walk_dir(fd, (uint64_t)st.st_ino, 0, fn, ctx);
	return 0;
}

const char *ts_cg_name_id(const char *name)
{
	static const char *const pre[] = { "docker-", "cri-containerd-", "crio-", "libpod-" };
	size_t n = strlen(name);

	if (n == TS_CONTAINER_ID_LEN)
		return ts_container_id_ok(name, n) ? name : NULL;
	for (size_t i = 0; i < TS_ARRAY_SIZE(pre); i++) {
		size_t pl = strlen(pre[i]);

		if ((n == pl + TS_CONTAINER_ID_LEN + 6 || n == pl + TS_CONTAINER_ID_LEN) &&
		    !strncmp(name, pre[i], pl) &&
		    (n == pl + TS_CONTAINER_ID_LEN ||
		     !strcmp(name + pl + TS_CONTAINER_ID_LEN, ".scope")) &&
		    ts_container_id_ok(name + pl, TS_CONTAINER_ID_LEN))
			return name + pl;
	}
	return NULL;
}
