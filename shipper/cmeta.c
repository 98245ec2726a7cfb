// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cmeta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define FILE_MAX (4 << 20)	/* a config.json is a few KiB; a bigger one is not one */
#define VALUE_MAX 1024		/* longest value kept (an image reference with a digest fits) */

struct src {
	const char *file;	/* the file that answered, for messages */
	struct json_object *root;
};

/* The whole file, parsed; -ENOENT when it is not there. */
static int load_json(const char *path, struct src *s, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	s->file = path;
	s->root = NULL;
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT
			: ts_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		close(fd);
		return ts_err(err, errlen, -EFBIG, "%s: not a regular file of at most %d bytes",
			      path, FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return ts_err(err, errlen, -EIO, "%s: short read", path);
	}
	tok = json_tokener_new();
	s->root = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL;
	if (!s->root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(s->root, json_type_object)) {
		json_object_put(s->root);
		s->root = NULL;
		free(buf);
		if (tok)
			json_tokener_free(tok);
		return ts_err(err, errlen, -EINVAL, "%s: not a JSON object", path);
	}
	json_tokener_free(tok);
	free(buf);
	return 0;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* A string value worth keeping: not empty, no NUL, at most VALUE_MAX. */
static void take(char **dst, struct json_object *v)
{
	const char *s;
	int n;

	if (*dst || !v || !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (n <= 0 || n > VALUE_MAX || memchr(s, 0, (size_t)n))
		return;
	*dst = strndup(s, (size_t)n);
}

static void from_containerd(struct ts_cmeta *m, struct json_object *root)
{
	struct json_object *a = get(root, "annotations");

	m->runtime = TS_RT_CONTAINERD;
	take(&m->name, get(a, "io.kubernetes.cri.container-name"));
	take(&m->pod, get(a, "io.kubernetes.cri.sandbox-name"));
	take(&m->pod_namespace, get(a, "io.kubernetes.cri.sandbox-namespace"));
	take(&m->pod_uid, get(a, "io.kubernetes.cri.sandbox-uid"));
	take(&m->image, get(a, "io.kubernetes.cri.image-name"));
}

static void from_crio(struct ts_cmeta *m, struct json_object *root)
{
	struct json_object *a = get(root, "annotations");
	bool crio = false;

	json_object_object_foreach(a ? a : root, k, v) {
		(void)v;
		if (a && !strncmp(k, "io.kubernetes.cri-o.", 20))
			crio = true;
	}
	m->runtime = crio ? TS_RT_CRIO : TS_RT_PODMAN;
	take(&m->name, get(a, "io.kubernetes.container.name"));
	take(&m->pod, get(a, "io.kubernetes.pod.name"));
	take(&m->pod_namespace, get(a, "io.kubernetes.pod.namespace"));
	take(&m->pod_uid, get(a, "io.kubernetes.pod.uid"));
	take(&m->image, get(a, "io.kubernetes.cri-o.ImageName"));
	/* podman's own (a podman pod has no Kubernetes namespace) */
	take(&m->name, get(a, "io.podman.annotations.name"));
	take(&m->image, get(a, "io.podman.annotations.image"));
	take(&m->image, get(a, "org.opencontainers.image.ref.name"));
}

static void from_docker(struct ts_cmeta *m, struct json_object *root)
{
	struct json_object *cfg = get(root, "Config"), *labels = get(cfg, "Labels");
	struct json_object *name = get(root, "Name");

	m->runtime = TS_RT_DOCKER;
	/* a dockershim pod's container: Kubernetes' names first */
	take(&m->name, get(labels, "io.kubernetes.container.name"));
	take(&m->pod, get(labels, "io.kubernetes.pod.name"));
	take(&m->pod_namespace, get(labels, "io.kubernetes.pod.namespace"));
	take(&m->pod_uid, get(labels, "io.kubernetes.pod.uid"));
	if (name && json_object_is_type(name, json_type_string) &&
	    json_object_get_string(name)[0] == '/') {
		struct json_object *bare = json_object_new_string(json_object_get_string(name) + 1);

		take(&m->name, bare);
		json_object_put(bare);
	} else {
		take(&m->name, name);
	}
	take(&m->image, get(cfg, "Image"));
}

/* containerd keeps one folder per namespace (k8s.io, moby, default, ...) */
static int try_containerd(const char *root, const char *id, struct src *s, char *path,
			  size_t cap, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = -ENOENT;

	snprintf(dir, sizeof(dir), "%s/run/containerd/io.containerd.runtime.v2.task", root);
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while (rc == -ENOENT && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, cap, "%s/%s/%s/config.json", dir, de->d_name, id) >= cap)
			continue;
		rc = load_json(path, s, err, errlen);
		/* docker's own tasks: its config.v2.json has the names */
		if (!rc && !strcmp(de->d_name, "moby")) {
			json_object_put(s->root);
			s->root = NULL;
			rc = -ENOENT;
		}
	}
	closedir(d);
	return rc;
}

static int try_one(const char *root, enum ts_runtime rt, const char *id, struct ts_cmeta *m,
		   char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct src s = { 0 };
	int rc = -ENOENT;

	switch (rt) {
	case TS_RT_CONTAINERD:
		rc = try_containerd(root, id, &s, path, sizeof(path), err, errlen);
		if (!rc)
			from_containerd(m, s.root);
		break;
	case TS_RT_CRIO:
	case TS_RT_PODMAN:
		snprintf(path, sizeof(path), "%s/run/containers/storage/overlay-containers/%s/"
			 "userdata/config.json", root, id);
		rc = load_json(path, &s, err, errlen);
		if (rc == -ENOENT) {
			snprintf(path, sizeof(path), "%s/var/lib/containers/storage/"
				 "overlay-containers/%s/userdata/config.json", root, id);
			rc = load_json(path, &s, err, errlen);
		}
		if (!rc)
			from_crio(m, s.root);
		break;
	case TS_RT_DOCKER:
		snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json", root,
			 id);
		rc = load_json(path, &s, err, errlen);
		if (!rc)
			from_docker(m, s.root);
		break;
	default:
		break;
	}
	json_object_put(s.root);
	return rc;
}

int ts_cmeta_load(const char *host_root, const char *id, enum ts_runtime hint,
		  struct ts_cmeta *out, char *err, size_t errlen)
{
	static const enum ts_runtime order[] = { TS_RT_CONTAINERD, TS_RT_CRIO, TS_RT_DOCKER };
	const char *root = host_root && *host_root ? host_root : "";
	int rc = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!id || !ts_container_id_ok(id, strlen(id)))
		return ts_errf(err, errlen, "not a container id");
	/* docker first for a docker-shaped path: its moby task is skipped */
	if (hint == TS_RT_DOCKER || hint == TS_RT_CRIO || hint == TS_RT_PODMAN)
		rc = try_one(root, hint, id, out, err, errlen);
	for (size_t i = 0; i < TS_ARRAY_SIZE(order) && rc == -ENOENT; i++)
		if (order[i] != hint || hint == TS_RT_CONTAINERD)
			rc = try_one(root, order[i], id, out, err, errlen);
	if (rc)
		ts_cmeta_free(out);
	if (rc == -ENOENT)
		ts_err(err, errlen, -ENOENT, "no runtime has files for %.12s", id);
	return rc;
}

void ts_cmeta_free(struct ts_cmeta *m)
{
	free(m->name);
	free(m->pod);
	free(m->pod_namespace);
	free(m->pod_uid);
	free(m->image);
	memset(m, 0, sizeof(*m));
}
