// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cgpath.h"

#include <stdbool.h>
#include <string.h>

#include "util.h"

/* the kernel's limit for one cgroup name (NAME_MAX); longer is no match */
#define CG_NAME_MAX 255
_Static_assert(CG_NAME_MAX < sizeof(((struct ts_cgpath *)0)->unit), "a unit fits");

/* one component of the path: not NUL-terminated */
struct comp {
	const char *s;
	size_t n;
};

const char *ts_runtime_name(enum ts_runtime rt)
{
	switch (rt) {
	case TS_RT_DOCKER: return "docker";
	case TS_RT_CONTAINERD: return "containerd";
	case TS_RT_CRIO: return "cri-o";
	case TS_RT_PODMAN: return "podman";
	case TS_RT_UNKNOWN: break;
	}
	return NULL;
}

static bool lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool ts_container_id_ok(const char *s, size_t n)
{
	if (!s || n != TS_CONTAINER_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lhex(s[i]))
			return false;
	return true;
}

static bool is(struct comp c, const char *lit)
{
	return c.n == strlen(lit) && !memcmp(c.s, lit, c.n);
}

/* c is pre + mid + suf: *mid is what lies between */
static bool affix(struct comp c, const char *pre, const char *suf, struct comp *mid)
{
	size_t p = strlen(pre), s = strlen(suf);

	if (c.n < p + s || memcmp(c.s, pre, p) || memcmp(c.s + c.n - s, suf, s))
		return false;
	mid->s = c.s + p;
	mid->n = c.n - p - s;
	return true;
}

/*
 * A pod uid as kubelet spells it in a cgroup name: the 8-4-4-4-12 UUID with
 * sep between the groups ('_' in systemd slice names, where '-' means
 * nesting), or a static pod's 32 hex digits. out gets the dashed form.
 */
static bool uid_ok(struct comp u, char sep, char out[37])
{
	if (u.n == 32) {
		for (size_t i = 0; i < u.n; i++)
			if (!lhex(u.s[i]))
				return false;
	} else if (u.n == 36) {
		for (size_t i = 0; i < u.n; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? u.s[i] != sep : !lhex(u.s[i]))
				return false;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < u.n; i++)
		out[i] = u.s[i] == sep ? '-' : u.s[i];
	out[u.n] = 0;
	return true;
}

/* kubepods-pod<uid>.slice (guaranteed), kubepods-<qos>-pod<uid>.slice, or
 * the cgroupfs driver's pod<uid> under kubepods/ or kubepods/<qos>/ */
static bool pod_match(struct comp c, struct comp parent, struct comp gp, char uid[37])
{
	static const char *const slices[] = { "kubepods-pod", "kubepods-besteffort-pod",
					      "kubepods-burstable-pod" };
	struct comp u;

	for (size_t i = 0; i < TS_ARRAY_SIZE(slices); i++)
		if (affix(c, slices[i], ".slice", &u))
			return uid_ok(u, '_', uid);
	if (!affix(c, "pod", "", &u))
		return false;
	if (!is(parent, "kubepods") &&
	    !((is(parent, "besteffort") || is(parent, "burstable")) && is(gp, "kubepods")))
		return false;
	return uid_ok(u, '-', uid);
}

static bool container_match(struct comp c, struct comp parent, bool parent_pod, struct comp *id,
			    enum ts_runtime *rt)
{
	static const struct {
		const char *pre, *suf;
		enum ts_runtime rt;
	} named[] = {
		/* the systemd cgroup driver: one scope per container */
		{ "docker-", ".scope", TS_RT_DOCKER },
		{ "cri-containerd-", ".scope", TS_RT_CONTAINERD },
		{ "crio-", ".scope", TS_RT_CRIO },
		{ "libpod-", ".scope", TS_RT_PODMAN },
		/* cgroupfs: cri-o under the pod, podman under libpod_parent */
		{ "crio-", "", TS_RT_CRIO },
		{ "libpod-", "", TS_RT_PODMAN },
	};

	/* "crio-conmon-<id>.scope" and "libpod-conmon-<id>.scope" are conmon's:
	 * their middle is not an id, so they fall through to being units */
	for (size_t i = 0; i < TS_ARRAY_SIZE(named); i++) {
		if (affix(c, named[i].pre, named[i].suf, id) && ts_container_id_ok(id->s, id->n)) {
			*rt = named[i].rt;
			return true;
		}
	}
	if (!ts_container_id_ok(c.s, c.n))
		return false;
	*id = c;
	if (is(parent, "docker")) {
		*rt = TS_RT_DOCKER;
		return true;
	}
	/* containerd and cri-dockerd both put a bare id in the pod's cgroup:
	 * the path does not say which */
	*rt = TS_RT_UNKNOWN;
	return parent_pod;
}

static bool unit_like(struct comp c)
{
	struct comp name;

	return (affix(c, "", ".service", &name) || affix(c, "", ".scope", &name)) && name.n;
}

void ts_cgpath_parse(const char *path, struct ts_cgpath *out)
{
	struct comp c, parent = { "", 0 }, gp = { "", 0 }, unit = { NULL, 0 };
	bool parent_pod = false, matched = false;
	char pod[37] = "";

	memset(out, 0, sizeof(*out));
	if (!path)
		return;
	for (const char *p = path; *p;) {
		bool is_pod = false;
		enum ts_runtime rt;
		struct comp id;
		char uid[37];

		if (*p == '/') {
			p++;
			continue;
		}
		c.s = p;
		c.n = strcspn(p, "/");
		p += c.n;
		if (c.n > CG_NAME_MAX) {
			/* no match, and no name a rule looks for in a parent */
		} else if (container_match(c, parent, parent_pod, &id, &rt)) {
			memcpy(out->container_id, id.s, TS_CONTAINER_ID_LEN);
			out->container_id[TS_CONTAINER_ID_LEN] = 0;
			out->runtime = rt;
			/* the pods above it; one below is inside the container */
			memcpy(out->pod_uid, pod, sizeof(pod));
			matched = true;
		} else if (pod_match(c, parent, gp, uid)) {
			memcpy(pod, uid, sizeof(pod));
			is_pod = true;
		} else if (unit_like(c)) {
			unit = c;
		}
		gp = parent;
		parent = c;
		parent_pod = is_pod;
	}
	if (matched)
		return;
	memcpy(out->pod_uid, pod, sizeof(pod));
	if (unit.s) {
		memcpy(out->unit, unit.s, unit.n);
		out->unit[unit.n] = 0;
	}
}
