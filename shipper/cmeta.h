/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A container's name, pod and image from its runtime's own files on disk,
 * without an API client (no socket to the runtime, no Kubernetes API):
 *
 *   containerd  run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json
 *               (the OCI bundle; the CRI plugin's io.kubernetes.cri.* annotations)
 *   CRI-O       run/containers/storage/overlay-containers/<id>/userdata/config.json
 *   podman      the same folder (also under var/lib/containers/storage/)
 *               (io.kubernetes.* and io.kubernetes.cri-o.* annotations;
 *               podman's own io.podman.annotations.*)
 *   docker      var/lib/docker/containers/<id>/config.v2.json
 *               (Name, Config.Image, Config.Labels io.kubernetes.*)
 *
 * all under host_root (a DaemonSet mounts the host's / there). The files
 * are the runtime's, but a container's labels and annotations are its
 * owner's words: sizes are capped, strings kept as bytes (every encoder
 * escapes), and an empty string is no value.
 */
#ifndef TS_CMETA_H
#define TS_CMETA_H

#include <stddef.h>

#include "cgpath.h"

struct ts_cmeta {
	enum ts_runtime runtime;	/* who wrote the file that answered */
	char *name, *pod, *pod_namespace, *pod_uid, *image;	/* NULL: not known */
};

/* id: 64 lowercase hex. The hinted runtime's files are tried first. 0,
 * -ENOENT when no runtime has the id, or -errno with one line in err (a
 * file that is there but unreadable, too big, or not the JSON it should
 * be). out is zeroed on entry; free it with ts_cmeta_free either way. */
int ts_cmeta_load(const char *host_root, const char *id, enum ts_runtime hint,
		  struct ts_cmeta *out, char *err, size_t errlen);
void ts_cmeta_free(struct ts_cmeta *m);

#endif
