/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A cgroup v2 path (relative to the cgroup2 root, "/system.slice/...") to
 * what it says about its owner: a container id and the runtime that named
 * it, a Kubernetes pod uid, or a systemd unit.
 *
 * Anyone with a delegated cgroup can name one "docker-<id>.scope", so what
 * this returns is a claim of the path, not a proof: the caller pairs it
 * with the runtime's own files (cmeta.h). The parser only promises never
 * to overflow and never to guess: an id is exactly 64 lowercase hex digits.
 */
#ifndef TS_CGPATH_H
#define TS_CGPATH_H

#include <stdbool.h>
#include <stddef.h>

enum ts_runtime { TS_RT_UNKNOWN = 0, TS_RT_DOCKER, TS_RT_CONTAINERD, TS_RT_CRIO, TS_RT_PODMAN };

/* "docker", "containerd", "cri-o", "podman"; NULL for UNKNOWN */
const char *ts_runtime_name(enum ts_runtime rt);

#define TS_CONTAINER_ID_LEN 64

struct ts_cgpath {
	char container_id[65];   /* 64 lowercase hex, "" if none */
	enum ts_runtime runtime; /* what the path itself says; UNKNOWN when it does not */
	char pod_uid[37];        /* "" if none; the 8-4-4-4-12 form with dashes */
	char unit[256];          /* "" if none, and "" whenever a container matched */
};

/*
 * The deepest component that is a container wins (a container running
 * systemd has cgroups of its own below its scope); the pod is the deepest
 * pod component above it. Without a container, unit is the deepest
 * component ending in ".service" or ".scope". NULL or "" gives nothing.
 * A static pod's uid (kubelet makes it an md5: 32 hex, no dashes) is kept
 * as it is.
 */
void ts_cgpath_parse(const char *path, struct ts_cgpath *out);

/* s[0..n) is exactly 64 lowercase hex digits: a container id */
bool ts_container_id_ok(const char *s, size_t n);

#endif
