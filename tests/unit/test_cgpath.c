// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup v2 paths to container ids, runtimes, pod uids and units. */
#include <stdio.h>
#include <string.h>

#include "cgpath.h"
#include "test.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "5f0c9e6a-1b2c-4d3e-8f40-0123456789ab"
#define UID_ "5f0c9e6a_1b2c_4d3e_8f40_0123456789ab"
#define STATIC_UID "8e5d2c1b0a99887766554433221100ff"	/* kubelet's md5 of a manifest */

struct want {
	const char *path, *id;
	enum ts_runtime rt;
	const char *pod, *unit;
};

static bool cg_case(const char *file, int line, const struct want *w)
{
	struct ts_cgpath g;
	char q[160];

	memset(&g, 0x5a, sizeof(g));	/* every field must be written */
	ts_cgpath_parse(w->path, &g);
	ts_test_quote(q, sizeof(q), w->path ? w->path : "(null)", w->path ? strlen(w->path) : 6);
	if (strcmp(g.container_id, w->id))
		return ts_test_fail(file, line, "%s: container_id \"%.65s\", want \"%s\"", q,
				    g.container_id, w->id);
	if (g.runtime != w->rt)
		return ts_test_fail(file, line, "%s: runtime %d, want %d", q, (int)g.runtime,
				    (int)w->rt);
	if (strcmp(g.pod_uid, w->pod))
		return ts_test_fail(file, line, "%s: pod_uid \"%.37s\", want \"%s\"", q, g.pod_uid,
				    w->pod);
	if (strcmp(g.unit, w->unit))
		return ts_test_fail(file, line, "%s: unit \"%.256s\", want \"%s\"", q, g.unit,
				    w->unit);
	return true;
}

static void run(const char *file, int line, const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!cg_case(file, line, &w[i]))
			return;
}

#define RUN(table) run(__FILE__, __LINE__, (table), ARRAY_LEN(table))

TEST(cgpath_runtime_names)
{
	CHECK_STR(ts_runtime_name(TS_RT_DOCKER), "docker");
	CHECK_STR(ts_runtime_name(TS_RT_CONTAINERD), "containerd");
	CHECK_STR(ts_runtime_name(TS_RT_CRIO), "cri-o");
	CHECK_STR(ts_runtime_name(TS_RT_PODMAN), "podman");
	CHECK(!ts_runtime_name(TS_RT_UNKNOWN));
	CHECK(!ts_runtime_name((enum ts_runtime)99));
}

TEST(cgpath_systemd_driver)
{
	static const struct want w[] = {
		{ "/system.slice/docker-" ID ".scope", ID, TS_RT_DOCKER, "", "" },
		{ "/system.slice/cri-containerd-" ID ".scope", ID, TS_RT_CONTAINERD, "", "" },
		{ "/system.slice/crio-" ID ".scope", ID, TS_RT_CRIO, "", "" },
		{ "/machine.slice/libpod-" ID ".scope", ID, TS_RT_PODMAN, "", "" },
		/* rootless podman, under the user's manager */
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope", ID,
		  TS_RT_PODMAN, "", "" },
		/* podman pods have a slice of their own */
		{ "/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID ".scope", ID,
		  TS_RT_PODMAN, "", "" },
	};

	RUN(w);
}

TEST(cgpath_cgroupfs_driver)
{
	static const struct want w[] = {
		{ "/docker/" ID, ID, TS_RT_DOCKER, "", "" },
		{ "/kubepods/besteffort/pod" UID "/" ID, ID, TS_RT_UNKNOWN, UID, "" },
		{ "/kubepods/burstable/pod" UID "/" ID, ID, TS_RT_UNKNOWN, UID, "" },
		/* guaranteed QoS: the pod directly under kubepods */
		{ "/kubepods/pod" UID "/" ID, ID, TS_RT_UNKNOWN, UID, "" },
		{ "/kubepods/burstable/pod" UID "/crio-" ID, ID, TS_RT_CRIO, UID, "" },
		{ "/kubepods/pod" UID "/crio-" ID, ID, TS_RT_CRIO, UID, "" },
		{ "/libpod_parent/libpod-" ID, ID, TS_RT_PODMAN, "", "" },
		{ "/kubepods/besteffort/pod" STATIC_UID "/" ID, ID, TS_RT_UNKNOWN, STATIC_UID, "" },
	};

	RUN(w);
}

TEST(cgpath_systemd_pods)
{
	static const struct want w[] = {
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/cri-containerd-" ID ".scope", ID, TS_RT_CONTAINERD, UID, "" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/cri-containerd-" ID ".scope", ID, TS_RT_CONTAINERD, UID, "" },
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope", ID,
		  TS_RT_CONTAINERD, UID, "" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/crio-" ID ".scope", ID, TS_RT_CRIO, UID, "" },
		/* cri-dockerd with the systemd driver */
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/docker-" ID ".scope", ID, TS_RT_DOCKER, UID, "" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID
		  ".slice/cri-containerd-" ID ".scope", ID, TS_RT_CONTAINERD, STATIC_UID, "" },
	};

	RUN(w);
}

TEST(cgpath_nested)
{
	static const struct want w[] = {
		/* a container running systemd: its own cgroups below its scope */
		{ "/system.slice/docker-" ID ".scope/init.scope", ID, TS_RT_DOCKER, "", "" },
		{ "/system.slice/docker-" ID ".scope/system.slice/nginx.service", ID, TS_RT_DOCKER,
		  "", "" },
		{ "/machine.slice/libpod-" ID ".scope/container", ID, TS_RT_PODMAN, "", "" },
		/* a container in a container (kind, docker in docker): the deepest */
		{ "/system.slice/docker-" ID ".scope/kubepods/besteffort/pod" UID "/" ID2, ID2,
		  TS_RT_UNKNOWN, UID, "" },
		{ "/docker/" ID "/docker/" ID2, ID2, TS_RT_DOCKER, "", "" },
		/* a pod below the deepest container is the inner cluster's, not its */
		{ "/system.slice/docker-" ID ".scope/kubepods/burstable/pod" UID, ID, TS_RT_DOCKER, "",
		  "" },
		/* a pod above: kept when a deeper container is found */
		{ "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope/sub.scope",
		  ID, TS_RT_CONTAINERD, UID, "" },
	};

	RUN(w);
}

TEST(cgpath_units)
{
	static const struct want w[] = {
		{ "/system.slice/nginx.service", "", TS_RT_UNKNOWN, "", "nginx.service" },
		{ "/system.slice/foo.service/payload", "", TS_RT_UNKNOWN, "", "foo.service" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service", "",
		  TS_RT_UNKNOWN, "", "x.service" },
		{ "/user.slice/user-0.slice/session-3.scope", "", TS_RT_UNKNOWN, "",
		  "session-3.scope" },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice", "", TS_RT_UNKNOWN, "",
		  "user@1000.service" },
		/* slices are never units */
		{ "/system.slice", "", TS_RT_UNKNOWN, "", "" },
		{ "/user.slice/user-1000.slice", "", TS_RT_UNKNOWN, "", "" },
		{ "/", "", TS_RT_UNKNOWN, "", "" },
		/* a suffix alone names nothing */
		{ "/system.slice/.service", "", TS_RT_UNKNOWN, "", "" },
		{ "/system.slice/.scope", "", TS_RT_UNKNOWN, "", "" },
		/* repeated and trailing slashes are only separators */
		{ "//system.slice//cron.service/", "", TS_RT_UNKNOWN, "", "cron.service" },
		{ "system.slice/cron.service", "", TS_RT_UNKNOWN, "", "cron.service" },
	};

	RUN(w);
}

TEST(cgpath_not_ids)
{
	static const struct want w[] = {
		/* 63 and 65 hex digits */
		{ "/system.slice/docker-" ID "0.scope", "", TS_RT_UNKNOWN, "",
		  "docker-" ID "0.scope" },
		{ "/system.slice/docker-123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		  "", TS_RT_UNKNOWN, "",
		  "docker-123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope" },
		{ "/docker/" ID "0", "", TS_RT_UNKNOWN, "", "" },
		{ "/docker/123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "",
		  TS_RT_UNKNOWN, "", "" },
		/* uppercase hex */
		{ "/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		  "", TS_RT_UNKNOWN, "",
		  "docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope" },
		/* conmon's scopes are not the container */
		{ "/system.slice/crio-conmon-" ID ".scope", "", TS_RT_UNKNOWN, "",
		  "crio-conmon-" ID ".scope" },
		{ "/machine.slice/libpod-conmon-" ID ".scope", "", TS_RT_UNKNOWN, "",
		  "libpod-conmon-" ID ".scope" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/crio-conmon-" ID ".scope", "", TS_RT_UNKNOWN, UID,
		  "crio-conmon-" ID ".scope" },
		/* a bare id says nothing outside docker/ and a pod */
		{ "/system.slice/" ID, "", TS_RT_UNKNOWN, "", "" },
		{ "/" ID, "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/besteffort/" ID, "", TS_RT_UNKNOWN, "", "" },
		/* the wrong prefix or suffix */
		{ "/system.slice/docker-" ID ".slice", "", TS_RT_UNKNOWN, "", "" },
		{ "/system.slice/docker-" ID, "", TS_RT_UNKNOWN, "", "" },
		{ "/system.slice/containerd-" ID ".scope", "", TS_RT_UNKNOWN, "",
		  "containerd-" ID ".scope" },
	};

	RUN(w);
}

TEST(cgpath_pods_without_containers)
{
	static const struct want w[] = {
		{ "/kubepods/burstable/pod" UID, "", TS_RT_UNKNOWN, UID, "" },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice",
		  "", TS_RT_UNKNOWN, UID, "" },
		/* a pod dir needs kubepods (and at most a QoS class) above it */
		{ "/system.slice/pod" UID "/" ID, "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/guaranteed/pod" UID "/" ID, "", TS_RT_UNKNOWN, "", "" },
		/* uids spelled wrong: dashes in a slice, underscores in cgroupfs,
		 * uppercase, short */
		{ "/kubepods.slice/kubepods-pod" UID ".slice", "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/pod" UID_, "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/pod5F0C9E6A-1b2c-4d3e-8f40-0123456789ab", "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/pod5f0c9e6a-1b2c-4d3e-8f40-0123456789a", "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/pod5f0c9e6a-1b2c-4d3e-8f40_0123456789ab", "", TS_RT_UNKNOWN, "", "" },
	};

	RUN(w);
}

TEST(cgpath_garbage)
{
	static const struct want w[] = {
		{ "", "", TS_RT_UNKNOWN, "", "" },
		{ NULL, "", TS_RT_UNKNOWN, "", "" },
		{ "////", "", TS_RT_UNKNOWN, "", "" },
		{ "/\xff\xfe\x01/.scope.service", "", TS_RT_UNKNOWN, "", ".scope.service" },
		{ "/docker-.scope", "", TS_RT_UNKNOWN, "", "docker-.scope" },
		{ "/docker/", "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods/pod", "", TS_RT_UNKNOWN, "", "" },
		{ "/kubepods-pod.slice", "", TS_RT_UNKNOWN, "", "" },
	};

	RUN(w);
}

/* A component longer than a cgroup name can be is no match, whatever it
 * looks like, and the parser reads past it without overflowing. */
TEST(cgpath_long_components)
{
	char path[2048], big[301];
	struct ts_cgpath g;

	memset(big, 'a', 300);
	big[300] = 0;
	snprintf(path, sizeof(path), "/system.slice/%s.service", big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.unit, "");
	snprintf(path, sizeof(path), "/system.slice/foo.service/%s.scope", big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.unit, "foo.service");
	/* an id inside a 300-byte scope name */
	snprintf(path, sizeof(path), "/system.slice/docker-%s%.*s.scope", ID, 300 - 64 - 13, big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.container_id, "");
	CHECK_STR(g.unit, "");
	/* a long name is no parent a rule looks for */
	snprintf(path, sizeof(path), "/%s/" ID, big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.container_id, "");
	/* and the deepest container after it still counts */
	snprintf(path, sizeof(path), "/%s/docker-" ID ".scope/%s", big, big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.container_id, ID);
	CHECK_INT(g.runtime, TS_RT_DOCKER);
	/* 255 bytes is still a name: the unit field holds it whole */
	snprintf(path, sizeof(path), "/system.slice/%.*s.service", 255 - 8, big);
	ts_cgpath_parse(path, &g);
	CHECK_INT(strlen(g.unit), 255);
	snprintf(path, sizeof(path), "/system.slice/%.*s.service", 256 - 8, big);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.unit, "");
}

TEST(cgpath_huge_path)
{
	static char path[1 << 20];
	struct ts_cgpath g;
	size_t n = 0;

	/* 1 MiB of nested slices ending in a container */
	while (n + 64 < sizeof(path) - 128) {
		memcpy(path + n, "/a.slice", 8);
		n += 8;
	}
	snprintf(path + n, sizeof(path) - n, "/docker-%s.scope", ID);
	ts_cgpath_parse(path, &g);
	CHECK_STR(g.container_id, ID);
}

TEST(cgpath_id_check)
{
	CHECK(ts_container_id_ok(ID, 64));
	CHECK(!ts_container_id_ok(ID, 63));
	CHECK(!ts_container_id_ok(ID "0", 65));
	CHECK(!ts_container_id_ok(NULL, 64));
	CHECK(!ts_container_id_ok("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
				  64));
	CHECK(!ts_container_id_ok("../../../../../../../../../../../../../../../../../etc/passwd.json",
				  64));
}
