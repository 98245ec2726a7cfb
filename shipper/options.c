// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The options of tcpship, declared once: the table below drives the command
 * line (getopt_long), the config file's keys (conf.c walks the file and
 * calls ts_options_set_conf) and --help. A value's bounds live in its row
 * only, so the command line, the file and the help cannot disagree.
 */
#include "options.h"

#include "fanout.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "shape.h"
#include "util.h"

enum kind {
	K_EVENTS,	/* event names -> type_mask */
	K_LIST,		/* numbers into a u32 (or u16: ports) array, with a count */
	K_COMM,		/* a task name */
	K_FAMILY,	/* -4/-6 (value in min); "ipv4"/"ipv6"/"any" in the file */
	K_DURATION,	/* uint64_t ns */
	K_SIZE,		/* uint64_t bytes */
	K_COUNT,	/* uint64_t, uint32_t or unsigned (width) */
	K_CHOICE,	/* an int: index into choices */
	K_PATH,		/* const char *, pointing into argv or the loaded file */
	K_STRS,		/* const char *[8] with a count; each checked by the row's check */
	K_FLAG,		/* bool */
	K_OUTPUT,	/* -o SPEC / the file's "outputs" (conf.c) */
	K_CONFIG, K_VERBOSE, K_VERSION, K_HELP,
};

/* row flags */
enum {
	F_NONZERO = 1 << 0,	/* 0 is not allowed */
	F_POW2    = 1 << 1,	/* a power of two */
	F_OPTARG  = 1 << 2,	/* --stats[=DUR]: the value is optional */
	F_U16     = 1 << 3,	/* K_LIST of uint16_t */
	F_OVERRIDE = 1 << 4,	/* off_set is a uint64_t copy of the value, not a bool */
};

struct optdef {
	const char *name;	/* long option, or NULL for a file-only key */
	int short_name;		/* or 0 */
	const char *conf;	/* the file's key ("filters.pid"), or NULL: command line only */
	const char *arg;	/* the value's name in --help */
	enum kind kind;
	unsigned flags;
	size_t off;		/* in struct ts_options */
	size_t off_n;		/* K_LIST: the count; K_COUNT: width in bytes */
	size_t off_set;		/* if not 0: a bool set when the command line gives it */
	uint64_t min, max;
	const char *const *choices;
	const char *noun;	/* K_LIST/K_COUNT: "process id", "count" */
	const char *section;	/* --help heading printed before this row */
	const char *help;	/* --help text; '\n' continues on the next line */
	/* K_STRS: 0 or -EINVAL with one line naming who */
	int (*check)(const char *s, const char *who, char *err, size_t errlen);
};

static int check_container(const char *s, const char *who, char *err, size_t errlen);
static int check_cgroup(const char *s, const char *who, char *err, size_t errlen);

#define OFF(f) offsetof(struct ts_options, f)

static const char *const probes_names[] = { "auto", "kprobe", "tracepoint", NULL };
static const char *const format_names[] = { "json", "text", NULL };
/* the shapes an output may be given (shape.h); the order is TS_SCHEMA_* */
const char *const ts_schema_names[] = { "native", "ecs", "ocsf", "cef", NULL };

/* Rows name the leading fields by position (name, short, key, arg, kind,
 * flags, off, off_n, off_set, min, max) and the rest by name; what a row
 * leaves out is zero on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct optdef defs[] = {
	{ "events", 'e', "events", "LIST", K_EVENTS, 0, OFF(type_mask),
	  .section = "Events and filters (applied in the kernel):",
	  .help = "connect,accept,close,retransmit,dns,send,recv,flow,\n"
		  "or all (default: connect,accept,close,retransmit,dns;\n"
		  "flow comes with --flow-interval)" },
	{ "pid", 'p', "filters.pid", "PID[,PID..]", K_LIST, 0, OFF(pids), OFF(n_pids), 0, 1,
	  4194304, .noun = "process id", .help = "only these processes (up to 8; repeatable)" },
	{ "uid", 'u', "filters.uid", "UID[,UID..]", K_LIST, 0, OFF(uids), OFF(n_uids), 0, 0,
	  4294967294ULL, .noun = "user id", .help = "only these users (up to 8; repeatable)" },
	{ "port", 'P', "filters.port", "PORT[,..]", K_LIST, F_U16, OFF(ports), OFF(n_ports), 0, 1,
	  65535, .noun = "port number",
	  .help = "only connections with this local or remote port (up to 8)" },
	{ "comm", 0, "filters.comm", "NAME", K_COMM, 0, OFF(comm), OFF(has_comm),
	  .help = "only tasks with this name (as in /proc/PID/comm)" },
	{ "container", 0, "filters.container", "ID", K_STRS, 0, OFF(containers), OFF(n_containers),
	  .max = TS_MAX_CONTAINERS, .check = check_container,
	  .help = "only this container's tasks: its id, or a prefix of at\n"
		  "least 12 hex digits (up to 8; repeatable)" },
	{ "cgroup", 0, "filters.cgroup", "PATH", K_STRS, 0, OFF(cgroups), OFF(n_cgroups),
	  .max = TS_MAX_CGROUPS, .check = check_cgroup,
	  .help = "only tasks in this cgroup v2 or below it, e.g.\n"
		  "/kubepods/besteffort (up to 8; repeatable)" },
	{ "ipv4", '4', NULL, NULL, K_FAMILY, 0, OFF(family), .min = TS_IPV4, .help = "IPv4 only" },
	{ "ipv6", '6', NULL, NULL, K_FAMILY, 0, OFF(family), .min = TS_IPV6, .help = "IPv6 only" },
	{ NULL, 0, "filters.family", NULL, K_FAMILY, 0, OFF(family) },
	{ "min-latency", 0, "min_latency", "DUR", K_DURATION, 0, OFF(min_latency_ns),
	  .help = "send/recv only when the call took at least DUR (10ms, 1.5s)" },
	{ "flow-interval", 0, "flow_interval", "DUR", K_DURATION, F_NONZERO, OFF(flow_interval_ns),
	  .help = "every DUR (at least 1s, e.g. 30s), a flow event for\n"
		  "each flow established that long: bytes, retransmits\n"
		  "since its last report and in total (default: none)" },
	{ "dns-names", 0, "dns_names", NULL, K_FLAG, 0, OFF(dns_names),
	  .help = "connect/close/flow carry dest_name: the name the\n"
		  "process last resolved to that address, from the DNS\n"
		  "answers it read" },

	{ "output", 'o', "outputs", "SPEC", K_OUTPUT, .section = "Output:",
	  .help = "where events go, repeatable (default: stdout):\n"
		  "stdout, file:PATH, syslog (the local socket),\n"
		  "syslog://HOST:PORT (UDP), syslog+tcp://HOST:PORT,\n"
		  "syslog+tls://HOST:PORT, syslog+unix://PATH,\n"
		  "http://HOST:PORT/PATH, https://HOST:PORT/PATH,\n"
		  "kafka://HOST:PORT[,HOST:PORT..]/TOPIC" },
	{ "config", 'c', NULL, "FILE", K_CONFIG,
	  .help = "a YAML or JSON config file (see packaging/tcpship.yaml);\n"
		  "options given here override it" },
	{ "queue-events", 0, "queue.max_events", "N", K_COUNT, F_OVERRIDE, OFF(queue_events), 8,
	  OFF(queue_events_set), 1, 100000000, .noun = "count",
	  .help = "events each output may hold queued (default 65536);\n"
		  "when full, file and stdout wait, network outputs drop" },
	{ "queue-dir", 0, "queue.dir", "DIR", K_PATH, 0, OFF(queue_dir),
	  .help = "where disk queues live, a folder per output\n"
		  "(default " TS_QUEUE_DIR ")" },
	{ "metrics-address", 0, "metrics.address", "ADDR:PORT", K_PATH, 0, OFF(metrics_address),
	  .help = "serve Prometheus metrics on /metrics and a health\n"
		  "check on /healthz (127.0.0.1:9464, [::1]:9464, :9464)" },
	{ "hostname", 0, "host", "NAME", K_PATH, 0, OFF(hostname),
	  .help = "the host of every event (default: the host name;\n"
		  "in a DaemonSet, the node's name)" },
	{ "user", 0, "user", "USER", K_PATH, 0, OFF(user),
	  .help = "once attached and open, run as USER: its uid and\n"
		  "group, no other groups, no capabilities" },
	{ "format", 'f', "format", "FMT", K_CHOICE, 0, OFF(format), .choices = format_names,
	  .help = "json (default) or text (a table for people)" },
	{ "schema", 0, "schema", "NAME", K_CHOICE, 0, OFF(schema), .choices = ts_schema_names,
	  .help = "the shape of the lines of every output that does not\n"
		  "name its own: native (default; elasticsearch: ecs),\n"
		  "ecs, ocsf or cef" },

	{ "host-root", 0, "host_root", "DIR", K_PATH, 0, OFF(host_root),
	  .help = "the host's / is mounted here (a container): read\n"
		  "runtime metadata and the cgroup2 mount under DIR" },

	{ "duration", 0, "duration", "DUR", K_DURATION, F_NONZERO, OFF(duration_ns),
	  .section = "Running:",
	  .help = "stop after DUR (seconds, or 500ms, 2m), flushing everything" },
	{ "summary", 0, "summary", "N", K_COUNT, 0, OFF(summary_n), sizeof(unsigned), 0, 1, 10000,
	  .noun = "count", .help = "on exit, the top N processes by connections, on stderr" },
	{ "probes", 0, "probes", "MODE", K_CHOICE, 0, OFF(probes), .choices = probes_names,
	  .help = "auto (default: kprobe where it attaches, else tracepoint),\n"
		  "kprobe or tracepoint (fail if that set cannot attach)" },
	{ "list-probes", 0, NULL, NULL, K_FLAG, 0, OFF(list_probes),
	  .help = "show which hooks load and attach on this kernel, then exit" },
	{ "check-config", 0, NULL, NULL, K_FLAG, 0, OFF(check_config),
	  .help = "check the options and -c FILE (no root needed), then exit" },
	{ "stats", 0, "stats", "DUR", K_DURATION, F_NONZERO | F_OPTARG, OFF(stats_interval_ns),
	  .help = "counters on stderr every DUR (default 10s)" },
	{ "btf", 0, "btf", "FILE", K_PATH, 0, OFF(btf_path),
	  .help = "kernel BTF to use (default: /sys/kernel/btf/vmlinux)" },
	{ "ringbuf-size", 0, "ringbuf_size", "SIZE", K_SIZE, F_POW2, OFF(ringbuf_size), 0, 0, 4096,
	  1ULL << 30, .help = "ring buffer size, a power of two (default 8MiB)" },
	{ "max-flows", 0, "max_flows", "N", K_COUNT, 0, OFF(max_flows), sizeof(uint32_t), 0, 1024,
	  16777216, .noun = "count",
	  .help = "live connections tracked for close summaries (default 65536)" },
	{ "wakeup-bytes", 0, "wakeup_bytes", "SIZE", K_SIZE, 0, OFF(wakeup_bytes), 0,
	  OFF(wakeup_set), 0, 1ULL << 30,
	  .help = "wake the reader once SIZE bytes wait (default 256KiB;\n"
		  "it also looks every 10ms); 0: wake it for every event" },
	{ "verbose", 'v', NULL, NULL, K_VERBOSE,
	  .help = "more detail on stderr (libbpf's messages with -vv)" },
	{ "version", 'V', NULL, NULL, K_VERSION, .help = "print the version and exit" },
	{ "help", 'h', NULL, NULL, K_HELP, .help = "print this help and exit" },
};
#pragma GCC diagnostic pop

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

void ts_options_init(struct ts_options *o)
{
	memset(o, 0, sizeof(*o));
	o->type_mask = TS_DEFAULT_TYPES;
	/* user space maps the ring twice and every page counts in RSS: 8 MiB
	 * holds ~70k records, a quarter second at 300k events/s */
	o->ringbuf_size = 8ULL << 20;
	o->wakeup_bytes = 256 << 10;
	o->max_flows = 65536;
	o->queue_events = 65536;
	o->schema = -1;
}

/* ---- --help, from the table ---- */

static void usage_row(FILE *f, const struct optdef *d)
{
	char left[64];
	const char *h = d->help;
	int n;

	if (d->short_name)
		n = snprintf(left, sizeof(left), "  -%c, --%s", d->short_name, d->name);
	else
		n = snprintf(left, sizeof(left), "      --%s", d->name);
	if (d->arg)
		snprintf(left + n, sizeof(left) - (size_t)n, d->flags & F_OPTARG ? "[=%s]" : " %s",
			 d->arg);
	/* the text starts in column 27, or after one space past a long left part */
	fprintf(f, "%-26s", left);
	if (strlen(left) >= 26)
		fputc(' ', f);
	for (;;) {
		size_t k = strcspn(h, "\n");

		fprintf(f, "%.*s\n", (int)k, h);
		if (!h[k])
			break;
		h += k + 1;
		fprintf(f, "%26s", "");
	}
}

void ts_usage(FILE *f)
{
	fputs("Usage: tcpship [OPTIONS]\n"
	      "Watch every TCP connection of this host with eBPF; one JSON line per event.\n", f);
	for (size_t i = 0; i < N_DEFS; i++) {
		if (!defs[i].name)
			continue;
		if (defs[i].section)
			fprintf(f, "\n%s\n", defs[i].section);
		usage_row(f, &defs[i]);
	}
	fputs("\nExit status: 0 done, 1 runtime failure (privileges, kernel), 2 bad usage.\n", f);
}

/* ---- values ---- */

int ts_parse_events(const char *list, uint32_t *mask, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;
	uint32_t m = 0;

	if (strlen(list) >= sizeof(buf))
		return ts_errf(err, errlen, "--events: list too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned t;

		if (!strcmp(tok, "all")) {
			/* flow, too, once --flow-interval says how often */
			m |= ((1u << TS_TYPE_MAX) - 1) & ~1u & ~(1u << TS_FLOW);
			continue;
		}
		if (!strcmp(tok, "default")) {
			m |= TS_DEFAULT_TYPES;
			continue;
		}
		t = ts_type_from_name(tok);
		if (!t)
			return ts_errf(err, errlen,
				       "--events: unknown event '%s' (known: connect, accept, close, "
				       "retransmit, dns, send, recv, flow, all)", tok);
		m |= 1u << t;
	}
	if (!m)
		return ts_errf(err, errlen, "--events: empty list");
	*mask = m;
	return 0;
}

static void *field(struct ts_options *o, size_t off)
{
	return (char *)o + off;
}

/* one number into a K_LIST row's array */
static int list_add(const struct optdef *d, struct ts_options *o, uint64_t v, const char *who,
		    char *err, size_t errlen)
{
	uint32_t *n = field(o, d->off_n);

	if (*n == TS_MAX_PIDS)	/* pids, uids and ports: the same bound */
		return ts_errf(err, errlen, "%s: at most %u values", who, TS_MAX_PIDS);
	if (d->flags & F_U16)
		((uint16_t *)field(o, d->off))[(*n)++] = (uint16_t)v;
	else
		((uint32_t *)field(o, d->off))[(*n)++] = (uint32_t)v;
	return 0;
}

static int store_count(const struct optdef *d, struct ts_options *o, uint64_t v)
{
	void *p = field(o, d->off);

	if (d->off_n == sizeof(uint32_t))
		*(uint32_t *)p = (uint32_t)v;
	else if (d->off_n == sizeof(unsigned))
		*(unsigned *)p = (unsigned)v;
	else
		*(uint64_t *)p = v;
	return 0;
}

/* A number, size or duration already parsed: bounds, then store. */
static int store_scaled(const struct optdef *d, struct ts_options *o, uint64_t v,
			const char *who, char *err, size_t errlen)
{
	if ((d->flags & F_NONZERO) && !v)
		return ts_errf(err, errlen, "%s: must be more than 0", who);
	if (d->max && (v < d->min || v > d->max))
		return ts_errf(err, errlen, "%s: %llu is out of range (%llu..%llu)", who,
			       (unsigned long long)v, (unsigned long long)d->min,
			       (unsigned long long)d->max);
	if ((d->flags & F_POW2) && (v & (v - 1)))
		return ts_errf(err, errlen, "%s: must be a power of two", who);
	if (d->kind == K_COUNT)
		return store_count(d, o, v);
	*(uint64_t *)field(o, d->off) = v;
	return 0;
}

static int set_choice(const struct optdef *d, struct ts_options *o, const char *s,
		      const char *who, char *err, size_t errlen)
{
	char names[128] = "";
	size_t n = 0;

	for (int i = 0; d->choices[i]; i++) {
		if (!strcmp(s, d->choices[i])) {
			*(int *)field(o, d->off) = i;
			return 0;
		}
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				      d->choices[i]);
	}
	return ts_errf(err, errlen, "%s: '%s' is not one of %s", who, s, names);
}

static int set_comm(const struct optdef *d, struct ts_options *o, const char *s,
		    const char *who, char *err, size_t errlen)
{
	if (!*s || strlen(s) >= TS_COMM_LEN)
		return ts_errf(err, errlen, "%s: '%s' cannot be a task name (1 to 15 bytes)", who, s);
	strcpy(field(o, d->off), s);
	*(bool *)field(o, d->off_n) = true;
	return 0;
}

static int check_container(const char *s, const char *who, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n < 12 || n > TS_CONTAINER_ID_LEN || strspn(s, "0123456789abcdef") != n)
		return ts_errf(err, errlen, "%s: '%.80s' is not a container id (12 to 64 "
			       "lowercase hex digits)", who, s);
	return 0;
}

static int check_cgroup(const char *s, const char *who, char *err, size_t errlen)
{
	if (s[0] != '/' || strlen(s) > 4000 || strstr(s, "/../") || strstr(s, "/./") ||
	    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
		return ts_errf(err, errlen, "%s: '%.80s' is not a cgroup path (absolute, from the "
			       "cgroup2 root, like /system.slice)", who, s);
	return 0;
}

/* one string into a K_STRS row */
static int strs_add(const struct optdef *d, struct ts_options *o, const char *s,
		    const char *who, char *err, size_t errlen)
{
	uint32_t *n = field(o, d->off_n);
	int rc = d->check(s, who, err, errlen);

	if (rc)
		return rc;
	if (*n == d->max)
		return ts_errf(err, errlen, "%s: at most %llu values", who,
			       (unsigned long long)d->max);
	((const char **)field(o, d->off))[(*n)++] = s;
	return 0;
}

/* A scalar row's value from text (the command line, or a string in the
 * file): the same words and bounds either way. */
static int set_text(const struct optdef *d, struct ts_options *o, const char *s,
		    const char *who, char *err, size_t errlen)
{
	uint64_t v;
	int rc;

	switch (d->kind) {
	case K_DURATION:
		rc = ts_parse_duration_ns(s, 1000000000ULL, &v);
		if (rc == -ERANGE)
			return ts_errf(err, errlen, "%s: '%s' is too long", who, s);
		if (rc)
			return ts_errf(err, errlen, "%s: '%s' is not a duration (like 10, 1.5s, "
				       "250ms, 2m)", who, s);
		return store_scaled(d, o, v, who, err, errlen);
	case K_SIZE:
		if (ts_parse_size(s, &v))
			return ts_errf(err, errlen, "%s: '%s' is not a size (like 4096, 64KiB, "
				       "100MiB)", who, s);
		return store_scaled(d, o, v, who, err, errlen);
	case K_COUNT:
		rc = ts_parse_u64(s, 0, UINT64_MAX, &v);
		if (rc)
			return ts_errf(err, errlen, "%s: '%s' is not a %s (%llu..%llu)", who, s,
				       d->noun, (unsigned long long)d->min,
				       (unsigned long long)d->max);
		return store_scaled(d, o, v, who, err, errlen);
	case K_CHOICE:
		return set_choice(d, o, s, who, err, errlen);
	case K_COMM:
		return set_comm(d, o, s, who, err, errlen);
	case K_PATH:
		*(const char **)field(o, d->off) = s;
		return 0;
	default:
		return ts_errf(err, errlen, "%s: not a value option", who);
	}
}

/* "1,2,3" appended to a K_LIST row's array */
static int set_list_text(const struct optdef *d, struct ts_options *o, const char *arg,
			 const char *who, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf) || !*arg)
		return ts_errf(err, errlen, "%s: '%s' is not a %s", who, arg, d->noun);
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		int rc = ts_parse_u64(tok, d->min, d->max, &v);

		if (rc == -ERANGE)
			return ts_errf(err, errlen, "%s: %s is out of range (%llu..%llu)", who, tok,
				       (unsigned long long)d->min, (unsigned long long)d->max);
		if (rc)
			return ts_errf(err, errlen, "%s: '%s' is not a %s", who, tok, d->noun);
		if ((rc = list_add(d, o, v, who, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- the command line ---- */

/* the getopt table, from the rows: val is the row index + 256 */
static void long_options(struct option *lo, char *shorts)
{
	size_t n = 0, s = 0;

	shorts[s++] = ':';	/* missing values come back as ':' */
	for (size_t i = 0; i < N_DEFS; i++) {
		const struct optdef *d = &defs[i];
		bool has_arg = d->arg && d->kind != K_FAMILY;

		if (!d->name)
			continue;
		lo[n++] = (struct option){ d->name,
					   d->flags & F_OPTARG ? optional_argument :
					   has_arg ? required_argument : no_argument,
					   NULL, (int)(256 + i) };
		if (d->short_name) {
			shorts[s++] = (char)d->short_name;
			if (has_arg)
				shorts[s++] = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	shorts[s] = 0;
}

static const struct optdef *by_short(int c)
{
	for (size_t i = 0; i < N_DEFS; i++)
		if (defs[i].name && defs[i].short_name == c)
			return &defs[i];
	return NULL;
}

/* the command line replaces, not extends, the file's lists and outputs */
struct seen {
	bool list[N_DEFS];
	bool outputs;
};

static int cli_output(struct ts_options *o, const char *spec, struct seen *seen, char *err,
		      size_t errlen)
{
	struct ts_output_req *r;
	char shown[sizeof(r->where) - 4];

	if (!seen->outputs) {
		for (int i = 0; i < o->n_outputs; i++)
			o->outputs[i].obj = NULL;	/* the config holds them */
		o->n_outputs = 0;
		seen->outputs = true;
	}
	if (o->n_outputs == TS_MAX_OUTPUTS)
		return ts_errf(err, errlen, "--output: at most %d outputs", TS_MAX_OUTPUTS);
	r = &o->outputs[o->n_outputs++];
	r->spec = spec;
	r->obj = NULL;
	/* messages quote the spec: never with its secrets */
	ts_redact(spec, shown, sizeof(shown));
	snprintf(r->where, sizeof(r->where), "-o %s", shown);
	return 0;
}

/* One option of the command line; TS_PARSE_EXIT for --help/--version. */
static int cli_one(const struct optdef *d, struct ts_options *o, const char *arg,
		   struct seen *seen, char *err, size_t errlen)
{
	char who[40];

	int rc;

	if (d->kind == K_FAMILY)
		snprintf(who, sizeof(who), "-%c", d->short_name);
	else
		snprintf(who, sizeof(who), "--%s", d->name);
	switch (d->kind) {
	case K_EVENTS:
		return ts_parse_events(arg, &o->type_mask, err, errlen);
	case K_LIST:
	case K_STRS:
		if (!seen->list[d - defs]) {
			*(uint32_t *)field(o, d->off_n) = 0;
			seen->list[d - defs] = true;
		}
		if (d->kind == K_STRS)
			return strs_add(d, o, arg, who, err, errlen);
		return set_list_text(d, o, arg, who, err, errlen);
	case K_FAMILY:
		if (o->family && o->family != d->min)
			return ts_errf(err, errlen, "-4 and -6 exclude each other");
		o->family = (uint8_t)d->min;
		return 0;
	case K_OUTPUT:
		return cli_output(o, arg, seen, err, errlen);
	case K_CONFIG:
		o->config_path = arg;
		return 0;
	case K_FLAG:
		*(bool *)field(o, d->off) = true;
		return 0;
	case K_VERBOSE:
		o->verbose++;
		return 0;
	case K_VERSION:
		printf("tcpship %s\n", TCPSHIP_VERSION);
		return TS_PARSE_EXIT;
	case K_HELP:
		ts_usage(stdout);
		return TS_PARSE_EXIT;
	case K_DURATION:
		if (!arg && (d->flags & F_OPTARG))
			arg = "10s";	/* --stats alone */
		/* fall through */
	default:
		rc = set_text(d, o, arg, who, err, errlen);
		if (rc || !d->off_set)
			return rc;
		/* given here: it wins over the file (and, for the queue bound,
		 * over every output's own) */
		if (d->flags & F_OVERRIDE)
			*(uint64_t *)field(o, d->off_set) = *(uint64_t *)field(o, d->off);
		else
			*(bool *)field(o, d->off_set) = true;
		return 0;
	}
}

/* What no single option can check: how options go together. */
static int cli_final(struct ts_options *o, char *err, size_t errlen)
{
	if (o->wakeup_set && o->wakeup_bytes >= o->ringbuf_size)
		return ts_errf(err, errlen, "--wakeup-bytes must be smaller than --ringbuf-size");
	if (!o->wakeup_set && o->wakeup_bytes > o->ringbuf_size / 4)
		o->wakeup_bytes = o->ringbuf_size / 4;
	if (o->min_latency_ns && !(o->type_mask & ((1u << TS_SEND) | (1u << TS_RECV))))
		return ts_errf(err, errlen, "--min-latency applies to send/recv: add them with -e");
	/* flow events are on exactly when they have an interval */
	if ((o->type_mask & (1u << TS_FLOW)) && !o->flow_interval_ns)
		return ts_errf(err, errlen, "--events flow: needs --flow-interval DUR (how often)");
	if (o->flow_interval_ns && o->flow_interval_ns < 1000000000ULL)
		return ts_errf(err, errlen, "--flow-interval: at least 1s");
	if (o->flow_interval_ns)
		o->type_mask |= 1u << TS_FLOW;
	return 0;
}

enum ts_parse_result ts_options_parse(struct ts_options *o, int argc, char **argv,
				      char *err, size_t errlen)
{
	struct option lo[N_DEFS + 1];
	char shorts[2 * N_DEFS + 2];
	struct seen seen = { 0 };
	int c, rc;

	long_options(lo, shorts);
	optind = 0;	/* glibc: 0 also resets the position inside -abc groups */
	opterr = 0;	/* our own one-line messages */
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct optdef *d = c >= 256 ? &defs[c - 256] : by_short(c);

		if (c == ':') {
			ts_errf(err, errlen, "%s: needs a value", argv[optind - 1]);
			return TS_PARSE_ERROR;
		}
		if (!d) {
			if (optopt)
				ts_errf(err, errlen, "unknown option '-%c' (see --help)", optopt);
			else
				ts_errf(err, errlen, "unknown option '%s' (see --help)",
					argv[optind - 1]);
			return TS_PARSE_ERROR;
		}
		rc = cli_one(d, o, optarg, &seen, err, errlen);
		if (rc == TS_PARSE_EXIT)
			return TS_PARSE_EXIT;
		if (rc)
			return TS_PARSE_ERROR;
	}
	if (optind < argc) {
		ts_errf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return TS_PARSE_ERROR;
	}
	return cli_final(o, err, errlen) ? TS_PARSE_ERROR : TS_PARSE_OK;
}

/* ---- the config file's keys (conf.c reads the file) ---- */

static int conf_events(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	char list[512] = "", msg[300];
	size_t n = 0;

	if (json_object_get_type(v) == json_type_string) {
		snprintf(list, sizeof(list), "%s", json_object_get_string(v));
	} else if (json_object_get_type(v) != json_type_array) {
		return ts_errf(err, errlen, "%s: must be an array of event names, not %s", path,
			       ts_json_type_word(v));
	}
	for (size_t i = 0; json_object_is_type(v, json_type_array) &&
			   i < json_object_array_length(v); i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (json_object_get_type(e) != json_type_string)
			return ts_errf(err, errlen, "%s[%zu]: must be an event name, not %s", path,
				       i, ts_json_type_word(e));
		if (strchr(json_object_get_string(e), ','))
			return ts_errf(err, errlen, "%s[%zu]: one event name per entry", path, i);
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "",
				      json_object_get_string(e));
		if (n >= sizeof(list))
			return ts_errf(err, errlen, "%s: too long", path);
	}
	if (!ts_parse_events(list, &o->type_mask, msg, sizeof(msg)))
		return 0;
	/* the command line's message, reworded for the file */
	return ts_errf(err, errlen, "%s: %s", path, strchr(msg, ':') ? strchr(msg, ':') + 2 : msg);
}

static int conf_list(const struct optdef *d, struct ts_options *o, struct json_object *v,
		     const char *path, char *err, size_t errlen)
{
	bool one = json_object_get_type(v) == json_type_int;	/* a list of one */
	size_t len;

	if (!one && json_object_get_type(v) != json_type_array)
		return ts_errf(err, errlen, "%s: must be an array of numbers, not %s", path,
			       ts_json_type_word(v));
	len = one ? 1 : json_object_array_length(v);
	if (len > TS_MAX_PIDS)
		return ts_errf(err, errlen, "%s: at most %u values", path, TS_MAX_PIDS);
	*(uint32_t *)field(o, d->off_n) = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = one ? v : json_object_array_get_idx(v, i);
		uint64_t u;

		if (ts_json_u64(e, &u) || u < d->min || u > d->max)
			return ts_errf(err, errlen, "%s[%zu]: must be a number from %llu to %llu",
				       path, i, (unsigned long long)d->min,
				       (unsigned long long)d->max);
		list_add(d, o, u, path, err, errlen);
	}
	return 0;
}

/* a string or an array of strings */
static int conf_strs(const struct optdef *d, struct ts_options *o, struct json_object *v,
		     const char *path, char *err, size_t errlen)
{
	bool one = json_object_get_type(v) == json_type_string;
	size_t len;

	if (!one && json_object_get_type(v) != json_type_array)
		return ts_errf(err, errlen, "%s: must be an array of strings, not %s", path,
			       ts_json_type_word(v));
	len = one ? 1 : json_object_array_length(v);
	*(uint32_t *)field(o, d->off_n) = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = one ? v : json_object_array_get_idx(v, i);
		char who[160];
		int rc;

		snprintf(who, sizeof(who), one ? "%s" : "%s[%zu]", path, i);
		if (json_object_get_type(e) != json_type_string)
			return ts_errf(err, errlen, "%s: must be a string, not %s", who,
				       ts_json_type_word(e));
		if ((rc = strs_add(d, o, json_object_get_string(e), who, err, errlen)))
			return rc;
	}
	return 0;
}

/* A number in the file: sizes and counts as integers, durations in seconds. */
static int conf_number(const struct optdef *d, struct ts_options *o, struct json_object *v,
		       const char *path, char *err, size_t errlen)
{
	uint64_t u;
	int rc;

	if (d->kind == K_DURATION) {
		double s = json_object_get_double(v);

		if (s < 0 || s > 1e9)
			return ts_errf(err, errlen, "%s: %g is not a duration", path, s);
		return store_scaled(d, o, (uint64_t)(s * 1e9), path, err, errlen);
	}
	rc = ts_json_count(v, path, &u, err, errlen);
	return rc ?: store_scaled(d, o, u, path, err, errlen);
}

static int conf_family(struct ts_options *o, struct json_object *v, const char *path,
		       char *err, size_t errlen)
{
	const char *f = json_object_get_string(v);

	if (json_object_get_type(v) != json_type_string ||
	    (strcmp(f, "ipv4") && strcmp(f, "ipv6") && strcmp(f, "any")))
		return ts_errf(err, errlen, "%s: must be \"ipv4\", \"ipv6\" or \"any\"", path);
	o->family = !strcmp(f, "ipv4") ? TS_IPV4 : !strcmp(f, "ipv6") ? TS_IPV6 : 0;
	return 0;
}

static int conf_value(const struct optdef *d, struct ts_options *o, struct json_object *v,
		      const char *path, char *err, size_t errlen)
{
	enum json_type t = json_object_get_type(v);

	switch (d->kind) {
	case K_EVENTS:
		return conf_events(o, v, path, err, errlen);
	case K_LIST:
		return conf_list(d, o, v, path, err, errlen);
	case K_STRS:
		return conf_strs(d, o, v, path, err, errlen);
	case K_FAMILY:
		return conf_family(o, v, path, err, errlen);
	case K_DURATION:
		if (t == json_type_boolean && (d->flags & F_OPTARG)) {	/* "stats": true */
			*(uint64_t *)field(o, d->off) =
				json_object_get_boolean(v) ? 10000000000ULL : 0;
			return 0;
		}
		/* fall through */
	case K_SIZE:
	case K_COUNT:
		if (t == json_type_int || (t == json_type_double && d->kind == K_DURATION))
			return conf_number(d, o, v, path, err, errlen);
		if (t != json_type_string || d->kind == K_COUNT)
			return ts_errf(err, errlen, "%s: must be %s, not %s", path,
				       d->kind == K_COUNT ? "a whole number" :
				       d->kind == K_SIZE ? "a size (4096 or \"64KiB\")" :
				       "a duration (\"500ms\" or seconds)", ts_json_type_word(v));
		break;
	case K_FLAG:
		if (t != json_type_boolean)
			return ts_errf(err, errlen, "%s: must be true or false, not %s", path,
				       ts_json_type_word(v));
		*(bool *)field(o, d->off) = json_object_get_boolean(v);
		return 0;
	default:
		if (t != json_type_string)
			return ts_errf(err, errlen, "%s: must be a string, not %s", path,
				       ts_json_type_word(v));
	}
	return set_text(d, o, json_object_get_string(v), path, err, errlen);
}

/* The file's keys, for "unknown key" messages: the top level, or inside
 * one section ("filters."). */
static void conf_keys(const char *section, char *buf, size_t len)
{
	size_t n = 0, sl = section ? strlen(section) : 0;

	buf[0] = 0;
	for (size_t i = 0; i < N_DEFS && n < len; i++) {
		const char *k = defs[i].conf, *dot;
		size_t kl;

		if (!k || (section && strncmp(k, section, sl)))
			continue;
		k += sl;
		dot = strchr(k, '.');
		kl = dot ? (size_t)(dot - k) : strlen(k);
		/* a section shows once, by its name */
		if (dot) {
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)kl, k);
			if (strstr(buf, name))
				continue;
		}
		n += (size_t)snprintf(buf + n, len - n, "%s%.*s", n ? ", " : "", (int)kl, k);
	}
}

int ts_options_set_conf(struct ts_options *o, const char *section, const char *key,
			struct json_object *v, char *err, size_t errlen)
{
	char path[128], keys[256];
	size_t sl = section ? strlen(section) : 0;

	snprintf(path, sizeof(path), "%s%s", section ? section : "", key);
	for (size_t i = 0; i < N_DEFS; i++) {
		const char *k = defs[i].conf;

		if (!k)
			continue;
		if (!strcmp(k, path)) {
			if (defs[i].kind == K_OUTPUT)
				return 1;	/* conf.c's own */
			return conf_value(&defs[i], o, v, path, err, errlen);
		}
		/* a section: "filters" holds filters.pid, ... */
		if (!section && !strncmp(k, key, strlen(key)) && k[strlen(key)] == '.') {
			if (json_object_get_type(v) != json_type_object)
				return ts_errf(err, errlen, "%s: must be an object, not %s", key,
					       ts_json_type_word(v));
			return 2;
		}
	}
	if (section)
		snprintf(path, sizeof(path), "%.*s", (int)sl - 1, section);
	conf_keys(section, keys, sizeof(keys));
	return ts_errf(err, errlen, "%s%s%s: unknown key (known%s: %s)", section ? path : "",
		       section ? "." : "", key, section ? " here" : "", keys);
}
