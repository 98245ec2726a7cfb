/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup2 mount: where it is, cgroup id <-> path, and a walk of every
 * cgroup below it. A cgroup v2 id is the inode number of its directory
 * (the kernfs node id), which is also what bpf_get_current_cgroup_id()
 * returns and what open_by_handle_at() takes as a FILEID_KERNFS handle.
 */
#ifndef TS_CGROUPFS_H
#define TS_CGROUPFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_cgfs {
	int fd;			/* the mount point (not O_PATH: open_by_handle_at
			   refuses one); -1 when closed */
	char mnt[PATH_MAX];	/* "/sys/fs/cgroup/unified" */
	size_t mnt_len;
	char root[PATH_MAX];	/* the mount's root within the hierarchy: "" for "/" */
};

/* Mountinfo text -> the first cgroup2 mount's point and root; with prefix,
 * one under prefix wins (a DaemonSet's --host-root). Octal escapes
 * (\040) are decoded. 0, or -ENOENT with no cgroup2 line. */
int ts_mountinfo_cgroup2(const char *mountinfo, const char *prefix, char *mnt, size_t mntlen,
			 char *root, size_t rootlen);

/* Find and open the cgroup2 mount (under host_root first, if given). */
int ts_cgfs_open(struct ts_cgfs *fs, const char *host_root, char *err, size_t errlen);
void ts_cgfs_close(struct ts_cgfs *fs);
/* id -> "/kubepods/..." (from the hierarchy's root). -errno: gone, or out of
 * our view. */
int ts_cgfs_path(const struct ts_cgfs *fs, uint64_t id, char *out, size_t cap);
/* "/kubepods/..." -> id; -errno (-ENOENT: no such cgroup). */
int ts_cgfs_id(const struct ts_cgfs *fs, const char *path, uint64_t *id);

/* Every cgroup, parents before children: fn(ctx, id, parent id (0 for the
 * top), its directory name). Depth is bounded (64). */
typedef void (*ts_cgfs_fn)(void *ctx, uint64_t id, uint64_t parent, const char *name);
int ts_cgfs_walk(const struct ts_cgfs *fs, ts_cgfs_fn fn, void *ctx);

/* A cgroup directory name in a runtime's shape, "<id>", "docker-<id>.scope",
 * "cri-containerd-<id>.scope", "crio-<id>.scope", "libpod-<id>.scope"
 * (prefixed ones also without ".scope", as CRI-O's cgroupfs driver names
 * them): its 64-hex id, or NULL. The same rule the kernel's cgroup_mkdir hook
 * applies (bpf/tcpship/cgroup.bpf.h). */
const char *ts_cg_name_id(const char *name);

#endif
