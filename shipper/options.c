// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shape.h"
#include "util.h"

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
}

void ts_usage(FILE *f)
{
	fputs(
"Usage: tcpship [OPTIONS]\n"
"Watch every TCP connection of this host with eBPF; one JSON line per event.\n"
"\n"
"Events and filters (applied in the kernel):\n"
"  -e, --events LIST       connect,accept,close,retransmit,dns,send,recv, or all\n"
"                          (default: connect,accept,close,retransmit,dns)\n"
"  -p, --pid PID[,PID..]   only these processes (up to 8; repeatable)\n"
"  -u, --uid UID[,UID..]   only these users (up to 8; repeatable)\n"
"  -P, --port PORT[,..]    only connections with this local or remote port (up to 8)\n"
"      --comm NAME         only tasks with this name (as in /proc/PID/comm)\n"
"  -4, --ipv4              IPv4 only\n"
"  -6, --ipv6              IPv6 only\n"
"      --min-latency DUR   send/recv only when the call took at least DUR (10ms, 1.5s)\n"
"\n"
"Output:\n"
"  -o, --output SPEC       where events go, repeatable (default: stdout):\n"
"                          stdout, file:PATH, syslog (the local socket),\n"
"                          syslog://HOST:PORT (UDP), syslog+tcp://HOST:PORT,\n"
"                          syslog+tls://HOST:PORT, syslog+unix://PATH\n"
"  -c, --config FILE       a JSON config file (see packaging/tcpship.json);\n"
"                          options given here override it\n"
"      --queue-events N    events each output may hold queued (default 65536);\n"
"                          when full, file and stdout wait, network outputs drop\n"
"  -f, --format FMT        json (default) or text (a table for people)\n"
"\n"
"Running:\n"
"      --duration DUR      stop after DUR (seconds, or 500ms, 2m), flushing everything\n"
"      --summary N         on exit, the top N processes by connections, on stderr\n"
"      --probes MODE       auto (default: kprobe where it attaches, else tracepoint),\n"
"                          kprobe or tracepoint (fail if that set cannot attach)\n"
"      --list-probes       show which hooks load and attach on this kernel, then exit\n"
"      --check-config      check the options and -c FILE (no root needed), then exit\n"
"      --stats[=DUR]       counters on stderr every DUR (default 10s)\n"
"      --btf FILE          kernel BTF to use (default: /sys/kernel/btf/vmlinux)\n"
"      --ringbuf-size SIZE ring buffer size, a power of two (default 8MiB)\n"
"      --max-flows N       live connections tracked for close summaries (default 65536)\n"
"      --wakeup-bytes SIZE wake the reader once SIZE bytes wait (default 256KiB;\n"
"                          it also looks every 10ms); 0: wake it for every event\n"
"  -v, --verbose           more detail on stderr (libbpf's messages with -vv)\n"
"  -V, --version           print the version and exit\n"
"  -h, --help              print this help and exit\n"
"\n"
"Exit status: 0 done, 1 runtime failure (privileges, kernel), 2 bad usage.\n", f);
}

int ts_parse_events(const char *list, uint32_t *mask, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;
	uint32_t m = 0;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--events: list too long");
		return -EINVAL;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned t;

		if (!strcmp(tok, "all")) {
			m |= ((1u << TS_TYPE_MAX) - 1) & ~1u;
			continue;
		}
		if (!strcmp(tok, "default")) {
			m |= TS_DEFAULT_TYPES;
			continue;
		}
		t = ts_type_from_name(tok);
		if (!t) {
			snprintf(err, errlen,
				 "--events: unknown event '%s' (known: connect, accept, close, "
				 "retransmit, dns, send, recv, all)", tok);
			return -EINVAL;
		}
		m |= 1u << t;
	}
	if (!m) {
		snprintf(err, errlen, "--events: empty list");
		return -EINVAL;
	}
	*mask = m;
	return 0;
}

/* "1,2,3" appended to out[*n]; each value in [min, max] */
static int parse_list(const char *opt, const char *what, const char *arg, uint64_t min,
		      uint64_t max, uint32_t *out32, uint16_t *out16, uint32_t *n,
		      unsigned cap, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf) || !*arg) {
		snprintf(err, errlen, "%s: '%s' is not a %s", opt, arg, what);
		return -EINVAL;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		int rc = ts_parse_u64(tok, min, max, &v);

		if (rc == -ERANGE) {
			snprintf(err, errlen, "%s: %s is out of range (%llu..%llu)", opt, tok,
				 (unsigned long long)min, (unsigned long long)max);
			return rc;
		}
		if (rc) {
			snprintf(err, errlen, "%s: '%s' is not a %s", opt, tok, what);
			return rc;
		}
		if (*n == cap) {
			snprintf(err, errlen, "%s: at most %u values", opt, cap);
			return -E2BIG;
		}
		if (out32)
			out32[(*n)++] = (uint32_t)v;
		else
			out16[(*n)++] = (uint16_t)v;
	}
	return 0;
}

enum {
	OPT_COMM = 256, OPT_MIN_LATENCY, OPT_DURATION, OPT_SUMMARY, OPT_PROBES,
	OPT_LIST_PROBES, OPT_STATS, OPT_BTF, OPT_RINGBUF, OPT_MAX_FLOWS, OPT_WAKEUP,
	OPT_QUEUE, OPT_CHECK_CONFIG,
};

static const struct option long_opts[] = {
	{ "events", required_argument, NULL, 'e' },
	{ "pid", required_argument, NULL, 'p' },
	{ "uid", required_argument, NULL, 'u' },
	{ "port", required_argument, NULL, 'P' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "min-latency", required_argument, NULL, OPT_MIN_LATENCY },
	{ "output", required_argument, NULL, 'o' },
	{ "config", required_argument, NULL, 'c' },
	{ "format", required_argument, NULL, 'f' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "summary", required_argument, NULL, OPT_SUMMARY },
	{ "probes", required_argument, NULL, OPT_PROBES },
	{ "list-probes", no_argument, NULL, OPT_LIST_PROBES },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "stats", optional_argument, NULL, OPT_STATS },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "wakeup-bytes", required_argument, NULL, OPT_WAKEUP },
	{ "queue-events", required_argument, NULL, OPT_QUEUE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* the messages are the same kind as the config file's; the result code is
 * the parser's own */
#define bad(...) (ts_errf(__VA_ARGS__), TS_PARSE_ERROR)

static int parse_duration_opt(const char *opt, const char *arg, uint64_t *out, char *err,
			      size_t errlen)
{
	int rc = ts_parse_duration_ns(arg, 1000000000ULL, out);

	if (rc == -ERANGE)
		return bad(err, errlen, "%s: '%s' is too long", opt, arg);
	if (rc)
		return bad(err, errlen, "%s: '%s' is not a duration (like 10, 1.5s, 250ms, 2m)",
			   opt, arg);
	return 0;
}

enum ts_parse_result ts_options_parse(struct ts_options *o, int argc, char **argv,
				      char *err, size_t errlen)
{
	bool seen_o = false, seen_p = false, seen_u = false, seen_P = false;
	uint64_t v;
	int c, rc;

	optind = 0;	/* glibc: 0 also resets the position inside -abc groups */
	opterr = 0;	/* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":e:p:u:P:46o:f:c:vVh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (ts_parse_events(optarg, &o->type_mask, err, errlen))
				return TS_PARSE_ERROR;
			break;
		case 'p':
			if (!seen_p) {	/* the command line replaces the config's list */
				o->n_pids = 0;
				seen_p = true;
			}
			if (parse_list("--pid", "process id", optarg, 1, 4194304, o->pids, NULL,
				       &o->n_pids, TS_MAX_PIDS, err, errlen))
				return TS_PARSE_ERROR;
			break;
		case 'u':
			if (!seen_u) {
				o->n_uids = 0;
				seen_u = true;
			}
			if (parse_list("--uid", "user id", optarg, 0, 4294967294ULL, o->uids, NULL,
				       &o->n_uids, TS_MAX_UIDS, err, errlen))
				return TS_PARSE_ERROR;
			break;
		case 'P':
			if (!seen_P) {
				o->n_ports = 0;
				seen_P = true;
			}
			if (parse_list("--port", "port number", optarg, 1, 65535, NULL, o->ports,
				       &o->n_ports, TS_MAX_PORTS, err, errlen))
				return TS_PARSE_ERROR;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) >= TS_COMM_LEN)
				return bad(err, errlen,
					   "--comm: '%s' cannot be a task name (1 to 15 bytes)",
					   optarg);
			strcpy(o->comm, optarg);
			o->has_comm = true;
			break;
		case '4':
		case '6':
			if (o->family && o->family != (c == '4' ? TS_IPV4 : TS_IPV6))
				return bad(err, errlen, "-4 and -6 exclude each other");
			o->family = c == '4' ? TS_IPV4 : TS_IPV6;
			break;
		case OPT_MIN_LATENCY:
			if (parse_duration_opt("--min-latency", optarg, &o->min_latency_ns, err,
					       errlen))
				return TS_PARSE_ERROR;
			break;
		case 'o':
			if (!seen_o) {	/* -o replaces the config's outputs */
				for (int i = 0; i < o->n_outputs; i++)
					o->outputs[i].obj = NULL;	/* the config holds them */
				o->n_outputs = 0;
				seen_o = true;
			}
			if (o->n_outputs == TS_MAX_OUTPUTS)
				return bad(err, errlen, "--output: at most %d outputs",
					   TS_MAX_OUTPUTS);
			o->outputs[o->n_outputs].spec = optarg;
			o->outputs[o->n_outputs].obj = NULL;
			{
				char shown[sizeof(o->outputs[0].where) - 4];

				/* messages quote the spec: never with its secrets */
				ts_redact(optarg, shown, sizeof(shown));
				snprintf(o->outputs[o->n_outputs].where,
					 sizeof(o->outputs[o->n_outputs].where), "-o %s", shown);
			}
			o->n_outputs++;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				o->format = TS_FMT_JSON;
			else if (!strcmp(optarg, "text"))
				o->format = TS_FMT_TEXT;
			else
				return bad(err, errlen, "--format: '%s' is not json or text",
					   optarg);
			break;
		case OPT_DURATION:
			if (parse_duration_opt("--duration", optarg, &o->duration_ns, err, errlen))
				return TS_PARSE_ERROR;
			if (!o->duration_ns)
				return bad(err, errlen, "--duration: must be more than 0");
			break;
		case OPT_SUMMARY:
			rc = ts_parse_u64(optarg, 1, 10000, &v);
			if (rc)
				return bad(err, errlen, "--summary: '%s' is not a count (1..10000)",
					   optarg);
			o->summary_n = (unsigned)v;
			break;
		case OPT_PROBES:
			if (!strcmp(optarg, "auto"))
				o->probes = TS_PROBES_AUTO;
			else if (!strcmp(optarg, "kprobe"))
				o->probes = TS_PROBES_KPROBE;
			else if (!strcmp(optarg, "tracepoint"))
				o->probes = TS_PROBES_TRACEPOINT;
			else
				return bad(err, errlen,
					   "--probes: '%s' is not auto, kprobe or tracepoint", optarg);
			break;
		case OPT_LIST_PROBES:
			o->list_probes = true;
			break;
		case OPT_CHECK_CONFIG:
			o->check_config = true;
			break;
		case OPT_STATS:
			o->stats_interval_ns = 10000000000ULL;
			if (optarg && parse_duration_opt("--stats", optarg, &o->stats_interval_ns,
							 err, errlen))
				return TS_PARSE_ERROR;
			if (!o->stats_interval_ns)
				return bad(err, errlen, "--stats: must be more than 0");
			break;
		case OPT_BTF:
			o->btf_path = optarg;
			break;
		case OPT_RINGBUF:
			if (ts_parse_size(optarg, &v) || v < 4096 || v > (1ULL << 30) ||
			    (v & (v - 1)))
				return bad(err, errlen,
					   "--ringbuf-size: '%s' is not a power of two from 4KiB to 1GiB",
					   optarg);
			o->ringbuf_size = v;
			break;
		case OPT_MAX_FLOWS:
			rc = ts_parse_u64(optarg, 1024, 16777216, &v);
			if (rc)
				return bad(err, errlen, "--max-flows: '%s' is not a count (1024..16777216)",
					   optarg);
			o->max_flows = (uint32_t)v;
			break;
		case OPT_WAKEUP:
			if (ts_parse_size(optarg, &v) || v > (1ULL << 30))
				return bad(err, errlen, "--wakeup-bytes: '%s' is not a size", optarg);
			o->wakeup_bytes = v;
			o->wakeup_set = true;
			break;
		case OPT_QUEUE:
			rc = ts_parse_u64(optarg, 1, 100000000, &v);
			if (rc)
				return bad(err, errlen,
					   "--queue-events: '%s' is not a count (1..100000000)", optarg);
			o->queue_events = v;
			o->queue_events_set = v;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			printf("tcpship %s\n", TCPSHIP_VERSION);
			return TS_PARSE_EXIT;
		case 'h':
			ts_usage(stdout);
			return TS_PARSE_EXIT;
		case ':':
			return bad(err, errlen, "%s: needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return bad(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return bad(err, errlen, "unknown option '%s' (see --help)",
				   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	if (o->wakeup_set && o->wakeup_bytes >= o->ringbuf_size)
		return bad(err, errlen, "--wakeup-bytes must be smaller than --ringbuf-size");
	if (!o->wakeup_set && o->wakeup_bytes > o->ringbuf_size / 4)
		o->wakeup_bytes = o->ringbuf_size / 4;
	if (o->min_latency_ns && !(o->type_mask & ((1u << TS_SEND) | (1u << TS_RECV))))
		return bad(err, errlen, "--min-latency applies to send/recv: add them with -e");
	return TS_PARSE_OK;
}
