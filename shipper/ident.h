/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who did it: the reader's caches behind the identity keys of each event.
 *
 *   process   pid + start time -> exe. Fed by the kernel's exec/fork/exit
 *             records (struct ts_proc), which reach the ring buffer before
 *             any event of the process they describe; processes older than
 *             tcpship come from /proc at start.
 *   cgroup    cgroup v2 id -> path (open_by_handle_at on the cgroup2
 *             mount), and what the path says (cgpath.h): container id and
 *             runtime, pod uid, systemd unit; then the runtime's own files
 *             (cmeta.h), read by a worker thread off the reader's path.
 *
 * The reader owns the caches and is their only user, except for the
 * ts_cginfo objects: immutable once made, refcounted, so a batch's records
 * can point at them until the last sink is done (syslog and Loki read the
 * pod and container id from there). A new fact (the metadata arrives)
 * makes a new object; the old one lives on until its last record goes.
 */
#ifndef TS_IDENT_H
#define TS_IDENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgpath.h"
#include "community_id.h"
#include "tcpship.h"

/* What one cgroup says about its tasks. Strings are NULL when unknown,
 * never "". json is the native shape's keys for it, pre-rendered:
 * ,"cgroup":"..","unit":".." or ,"cgroup":"..","container_id":".." ... */
struct ts_cginfo {
	atomic_int refs;
	uint64_t id;
	char *path;
	const char *container_id;	/* 64 hex, into cp */
	const char *runtime;		/* "docker", ...: a static string */
	const char *unit;		/* into cp */
	const char *pod_uid;		/* the runtime's, else the path's */
	char *name, *image, *pod, *pod_namespace;
	struct ts_cgpath cp;
	char *json;
	size_t json_len;
};

void ts_cginfo_get(const struct ts_cginfo *c);
void ts_cginfo_put(const struct ts_cginfo *c);
/* a cginfo holding only the keys sinks read (a replayed record's); any may
 * be NULL; one reference */
struct ts_cginfo *ts_cginfo_new_keys(const char *container_id, const char *pod,
				     const char *pod_namespace);

/* One record's identity, as the encoders see it. Any part may be absent. */
struct ts_ident {
	/* ,"process_start":"..","exe":"..", pre-rendered once per process
	 * (either part absent when unknown), or NULL */
	const char *proc_json;
	size_t proc_json_len;
	/* the parts of it, for the other shapes: the start as RFC 3339 (30
	 * bytes, not NUL-terminated) or NULL; the exe raw (NUL-terminated)
	 * and JSON-escaped (no quotes), or NULL */
	const char *start_str;
	const char *exe, *exe_esc;
	size_t exe_len, exe_esc_len;
	const struct ts_cginfo *cg;	/* NULL: unknown (no reference taken) */
	uint64_t start_wall_ns;		/* process start, wall clock; 0: unknown */
	/* --dns-names: the name this process resolved to the remote address
	 * (dnsnames.h), set by the reader; NULL: unknown */
	const char *dest_name;
	char community_id[TS_COMMUNITY_ID_LEN];	/* "" when not computed */
};

/* Counters for --stats and the exit summary. */
struct ts_ident_stats {
	uint64_t procs, proc_full;	/* cached processes; not cached: table full */
	uint64_t exe_unknown;		/* events of a task whose exe stayed unknown */
	uint64_t cgroups, cgroup_unknown;	/* cached; ids with no path */
	uint64_t meta_loaded, meta_missing, meta_errors, meta_dropped;
	uint64_t too_long;		/* keys left out: the line would not hold them */
};

struct ts_ident_ctx;

/* host_root: NULL or the folder where the host's / is mounted. Finds the
 * cgroup2 mount (under host_root first). NULL with one line in err when out
 * of memory; without a cgroup2 mount, a context (no cgroup keys) and the
 * warning in err. */
struct ts_ident_ctx *ts_ident_new(const char *host_root, char *err, size_t errlen);
void ts_ident_free(struct ts_ident_ctx *c);
/* The cgroup2 mount in use. */
struct ts_cgfs;
const struct ts_cgfs *ts_ident_cgfs(const struct ts_ident_ctx *c);
/* Processes alive now, from /proc (once, after the exec hook is attached). */
void ts_ident_scan_procs(struct ts_ident_ctx *c);
/* The metadata worker: started once the caches are ready. */
int ts_ident_start(struct ts_ident_ctx *c);
/* A TS_PROC record. */
void ts_ident_proc(struct ts_ident_ctx *c, const struct ts_proc *p, size_t size);
/* The identity of an event record; boot_to_wall_ns converts start times
 * (realtime - boottime). */
void ts_ident_lookup(struct ts_ident_ctx *c, const struct ts_hdr *h, int64_t boot_to_wall_ns,
		     struct ts_ident *out);
/* Take what the worker found; expire dead processes. Each poll round. */
void ts_ident_tick(struct ts_ident_ctx *c);
void ts_ident_stats(const struct ts_ident_ctx *c, struct ts_ident_stats *out);

/* ---- pure parts, for the tests ---- */

/* The native shape's keys of a cginfo (sets json, json_len); -ENOMEM. */
int ts_cginfo_render(struct ts_cginfo *ci);

#endif
