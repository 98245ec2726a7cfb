// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Container metadata from the runtimes' files, in fake host roots laid out
 * as containerd, CRI-O, podman and docker lay theirs out. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmeta.h"
#include "test.h"

#define ID "4b825dc642cb6eb9a060e54bf8d69288fbee4904aaaaaaaaaaaaaaaaaaaaaaaa"

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* root/rel (its folders made) holding text */
static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = 0;
	mkdirs(dir);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char *new_root(void)
{
	char tmpl[] = "/tmp/tcpship-cmeta-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

static void drop_root(char *root)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd)) {
		/* a leftover folder in /tmp, nothing more */
	}
	free(root);
}

#define TASK "run/containerd/io.containerd.runtime.v2.task/"

TEST(cmeta_containerd_cri)
{
	char *root = new_root(), err[256];
	struct ts_cmeta m;

	CHECK(root);
	put(root, TASK "k8s.io/" ID "/config.json",
	    "{\"ociVersion\":\"1.0.2\",\"annotations\":{"
	    "\"io.kubernetes.cri.container-type\":\"container\","
	    "\"io.kubernetes.cri.container-name\":\"web\","
	    "\"io.kubernetes.cri.sandbox-name\":\"web-7d4b9\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
	    "\"io.kubernetes.cri.sandbox-uid\":\"0b3f5a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\","
	    "\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.25\"}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), 0);
	CHECK_INT(m.runtime, TS_RT_CONTAINERD);
	CHECK_STR(m.name, "web");
	CHECK_STR(m.pod, "web-7d4b9");
	CHECK_STR(m.pod_namespace, "shop");
	CHECK_STR(m.pod_uid, "0b3f5a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
	CHECK_STR(m.image, "docker.io/library/nginx:1.25");
	ts_cmeta_free(&m);
	drop_root(root);
}

TEST(cmeta_crio_and_podman)
{
	char *root = new_root(), err[256];
	struct ts_cmeta m;

	CHECK(root);
	put(root, "run/containers/storage/overlay-containers/" ID "/userdata/config.json",
	    "{\"annotations\":{\"io.kubernetes.pod.name\":\"db-0\","
	    "\"io.kubernetes.pod.namespace\":\"data\",\"io.kubernetes.pod.uid\":\"u-1\","
	    "\"io.kubernetes.container.name\":\"postgres\","
	    "\"io.kubernetes.cri-o.ContainerType\":\"container\","
	    "\"io.kubernetes.cri-o.ImageName\":\"quay.io/x/postgres:16\"}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_CRIO, &m, err, sizeof(err)), 0);
	CHECK_INT(m.runtime, TS_RT_CRIO);
	CHECK_STR(m.name, "postgres");
	CHECK_STR(m.pod, "db-0");
	CHECK_STR(m.pod_namespace, "data");
	CHECK_STR(m.image, "quay.io/x/postgres:16");
	ts_cmeta_free(&m);
	/* podman: its own annotations, no CRI-O ones, under var/lib */
	drop_root(root);
	root = new_root();
	CHECK(root);
	put(root, "var/lib/containers/storage/overlay-containers/" ID "/userdata/config.json",
	    "{\"annotations\":{\"io.podman.annotations.name\":\"cache\","
	    "\"org.opencontainers.image.ref.name\":\"docker.io/library/redis:7\"}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_PODMAN, &m, err, sizeof(err)), 0);
	CHECK_INT(m.runtime, TS_RT_PODMAN);
	CHECK_STR(m.name, "cache");
	CHECK_STR(m.image, "docker.io/library/redis:7");
	CHECK(!m.pod && !m.pod_namespace);
	ts_cmeta_free(&m);
	drop_root(root);
}

/* docker's config.v2.json wins over its moby task bundle */
TEST(cmeta_docker_over_moby_task)
{
	char *root = new_root(), err[256];
	struct ts_cmeta m;

	CHECK(root);
	put(root, TASK "moby/" ID "/config.json", "{\"annotations\":{}}");
	put(root, "var/lib/docker/containers/" ID "/config.v2.json",
	    "{\"ID\":\"" ID "\",\"Name\":\"/api\",\"Config\":{\"Image\":\"acme/api:2\","
	    "\"Labels\":{\"team\":\"x\"}}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), 0);
	CHECK_INT(m.runtime, TS_RT_DOCKER);
	CHECK_STR(m.name, "api");
	CHECK_STR(m.image, "acme/api:2");
	CHECK(!m.pod);
	ts_cmeta_free(&m);
	/* a dockershim pod: Kubernetes' names */
	put(root, "var/lib/docker/containers/" ID "/config.v2.json",
	    "{\"Name\":\"/k8s_app_p_ns_u_0\",\"Config\":{\"Image\":\"i\",\"Labels\":{"
	    "\"io.kubernetes.container.name\":\"app\",\"io.kubernetes.pod.name\":\"p\","
	    "\"io.kubernetes.pod.namespace\":\"ns\"}}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_DOCKER, &m, err, sizeof(err)), 0);
	CHECK_STR(m.name, "app");
	CHECK_STR(m.pod, "p");
	CHECK_STR(m.pod_namespace, "ns");
	ts_cmeta_free(&m);
	drop_root(root);
}

TEST(cmeta_missing_malformed_and_hostile)
{
	char *root = new_root(), err[256], *big;
	struct ts_cmeta m;

	CHECK(root);
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), -ENOENT);
	CHECK(!m.name);
	CHECK_INT(ts_cmeta_load(root, "../../etc", TS_RT_UNKNOWN, &m, err, sizeof(err)), -EINVAL);
	put(root, TASK "k8s.io/" ID "/config.json", "{\"annotations\":");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), -EINVAL);
	CHECKF(strstr(err, "config.json") && strstr(err, "not a JSON object"), "err: %s", err);
	/* empty strings are no value; a value with a newline is kept as bytes */
	put(root, TASK "k8s.io/" ID "/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri.container-name\":\"\","
	    "\"io.kubernetes.cri.sandbox-name\":\"a\\nb\\u0000c\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"x\\\"}\\n\"}}");
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), 0);
	CHECK(!m.name);
	CHECK(!m.pod);	/* an embedded NUL: refused */
	CHECK_STR(m.pod_namespace, "x\"}\n");
	ts_cmeta_free(&m);
	/* too big to be a config */
	big = malloc(5 << 20);
	CHECK(big);
	memset(big, ' ', 5 << 20);
	big[(5 << 20) - 1] = 0;
	big[0] = '{';
	big[(5 << 20) - 2] = '}';
	put(root, TASK "k8s.io/" ID "/config.json", big);
	free(big);
	CHECK_INT(ts_cmeta_load(root, ID, TS_RT_UNKNOWN, &m, err, sizeof(err)), -EFBIG);
	drop_root(root);
}
