/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line. Parsing is pure: errors come back as one line of text. */
#ifndef TS_OPTIONS_H
#define TS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tcpship.h"

#define TS_MAX_OUTPUTS 32

enum ts_probes_mode {
	TS_PROBES_AUTO = 0,
	TS_PROBES_KPROBE,
	TS_PROBES_TRACEPOINT,
};

/* --schema and an output's "schema": native, ecs, ocsf, cef */
extern const char *const ts_schema_names[];

enum ts_format {
	TS_FMT_JSON = 0,
	TS_FMT_TEXT,
};

struct json_object;

/* An output to open: a -o SPEC, or an entry of the config's "outputs". */
struct ts_output_req {
	const char *spec;		/* -o SPEC, or NULL */
	struct json_object *obj;	/* config entry (a reference), or NULL */
	char where[128];		/* for messages: "-o file:/x" or "outputs[2]" */
};

struct ts_options {
	uint32_t type_mask;		/* 1 << enum ts_type */
	uint32_t pids[TS_MAX_PIDS], n_pids;
	uint32_t uids[TS_MAX_UIDS], n_uids;
	uint16_t ports[TS_MAX_PORTS];
	uint32_t n_ports;
	uint8_t family;			/* enum ts_family, 0: both */
	bool has_comm;
	char comm[TS_COMM_LEN];
	/* --container: lowercase hex, 12 to 64 digits; --cgroup: absolute
	 * cgroup v2 paths (resolved to ids at start). Point into argv or the
	 * loaded file. */
	const char *containers[TS_MAX_CONTAINERS];
	uint32_t n_containers;
	const char *cgroups[TS_MAX_CGROUPS];
	uint32_t n_cgroups;
	const char *host_root;		/* --host-root: the host's / (runtime files, cgroup2) */
	uint64_t min_latency_ns;
	uint64_t duration_ns;		/* 0: run until signalled */
	unsigned summary_n;
	enum ts_probes_mode probes;
	bool list_probes;
	uint64_t flow_interval_ns;	/* --flow-interval: 0 none */
	bool dns_names;			/* --dns-names: dest_name from DNS answers */
	bool check_config;		/* validate, print, exit */
	uint64_t stats_interval_ns;	/* 0: off */
	int verbose;
	enum ts_format format;
	int schema;			/* --schema: an index of ts_schema_names, -1: not given */
	const char *btf_path;		/* NULL: the running kernel's */
	uint64_t ringbuf_size;
	uint32_t max_flows;
	uint64_t wakeup_bytes;		/* 0: wake the reader per record */
	bool wakeup_set;		/* given on the command line */
	uint64_t queue_events;		/* per-output queue bound */
	const char *queue_dir;		/* --queue-dir: disk queues' base */
	const char *metrics_address;	/* --metrics-address ADDR:PORT, or NULL */
	const char *user;		/* --user: run as this user after start */
	const char *hostname;		/* --hostname: "host" of every event, or NULL */
	struct ts_output_req outputs[TS_MAX_OUTPUTS];
	int n_outputs;
	uint64_t queue_events_set;	/* --queue-events given: overrides every output */
	const char *config_path;	/* -c FILE */
};

#define TS_DEFAULT_TYPES ((1u << TS_CONNECT) | (1u << TS_ACCEPT) | (1u << TS_CLOSE) | \
			  (1u << TS_RETRANSMIT) | (1u << TS_DNS))

enum ts_parse_result {
	TS_PARSE_OK = 0,	/* run */
	TS_PARSE_EXIT = 1,	/* --help/--version printed: exit 0 */
	TS_PARSE_ERROR = 2,	/* err holds one line: exit 2 */
};

void ts_options_init(struct ts_options *o);
enum ts_parse_result ts_options_parse(struct ts_options *o, int argc, char **argv,
				      char *err, size_t errlen);
/* "connect,close" -> mask; 0 and a message on error */
int ts_parse_events(const char *list, uint32_t *mask, char *err, size_t errlen);
/* --help, made from the option table */
void ts_usage(FILE *f);

/* One key of the config file (conf.c walks the file): section is NULL at
 * the top level, or "filters." inside that object. Returns 0 when set; 1
 * for "outputs", which the caller reads itself; 2 when key is a section
 * whose keys the caller walks next; -EINVAL with one line in err (the key's
 * path and the problem). Strings of v are kept as pointers: v must outlive o. */
int ts_options_set_conf(struct ts_options *o, const char *section, const char *key,
			struct json_object *v, char *err, size_t errlen);

#endif
