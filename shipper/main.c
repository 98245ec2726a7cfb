// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpship: options -> outputs -> probes (open, configure, load, attach) ->
 * ring buffer -> poll loop -> detach, drain, flush -> report.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "conf.h"
#include "shape.h"
#include "dnsnames.h"
#include "fanout.h"
#include "metrics.h"
#include "options.h"
#include "privs.h"
#include "probes.h"
#include "cgroupfs.h"
#include "ident.h"
#include "reader.h"
#include "util.h"

#define EXIT_USAGE 2
#define FLUSH_DEADLINE_NS (5 * 1000000000ULL)

static volatile sig_atomic_t stop_requested, reopen_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
	/* a reader held up by a full "block" queue gives up at the deadline */
	ts_fanout_quit(ts_now_ns(CLOCK_MONOTONIC) + FLUSH_DEADLINE_NS);
}

static void on_hup(int sig)
{
	reopen_requested = 1;
}

static void make_agent_id(char out[40])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		uint64_t t = ts_now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);

		for (int i = 0; i < 16; i++)
			b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* UUID version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, 40,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

/* --metrics-address: the server, or NULL */
static struct ts_metrics *metrics;

static void report_sinks(FILE *f, const struct ts_fanout *fan)
{
	for (int i = 0; i < ts_fanout_count(fan); i++) {
		struct ts_sink_stats s;

		ts_fanout_stats(fan, i, &s);
		fprintf(f, " | %s: out=%llu queued=%llu dropped_full=%llu dropped_error=%llu "
			   "dropped_exit=%llu retries=%llu",
			s.name, (unsigned long long)s.events_out, (unsigned long long)s.queued,
			(unsigned long long)s.dropped_full, (unsigned long long)s.dropped_error,
			(unsigned long long)s.dropped_exit, (unsigned long long)s.retries);
		if (s.disk)
			fprintf(f, " dropped_disk=%llu disk_bytes=%llu disk_records=%llu "
				   "disk_segments=%llu replayed=%llu corrupt=%llu corrupt_bytes=%llu "
				   "disk_write_errors=%llu position_lost=%llu",
				(unsigned long long)s.dropped_disk, (unsigned long long)s.dq.bytes,
				(unsigned long long)s.dq.records, (unsigned long long)s.dq.segments,
				(unsigned long long)s.dq.replayed, (unsigned long long)s.dq.corrupt,
				(unsigned long long)s.dq.corrupt_bytes,
				(unsigned long long)s.dq.write_errors,
				(unsigned long long)s.dq.position_lost);
		fprintf(f, "%s%s%s", *s.extra ? " " : "", s.extra, s.dead ? " (closed)" : "");
	}
}

/* The identity caches: what they hold, and every key they could not give. */
static void report_ident(FILE *f, const struct ts_reader *r, const uint64_t *cnt)
{
	struct ts_ident_stats st = {};

	if (r->ident)
		ts_ident_stats(r->ident, &st);
	fprintf(f, " procs=%llu proc_records_lost=%llu proc_table_full=%llu exe_unknown=%llu "
		   "cgroups=%llu cgroup_unknown=%llu cgroup_filter_full=%llu metadata_loaded=%llu "
		   "metadata_missing=%llu metadata_errors=%llu metadata_dropped=%llu "
		   "keys_too_long=%llu",
		(unsigned long long)st.procs, (unsigned long long)cnt[TS_CNT_PROC_DROP],
		(unsigned long long)st.proc_full, (unsigned long long)st.exe_unknown,
		(unsigned long long)st.cgroups, (unsigned long long)st.cgroup_unknown,
		(unsigned long long)cnt[TS_CNT_CGROUP_FULL], (unsigned long long)st.meta_loaded,
		(unsigned long long)st.meta_missing, (unsigned long long)st.meta_errors,
		(unsigned long long)st.meta_dropped, (unsigned long long)st.too_long);
}

static void report(FILE *f, const char *what, const struct ts_reader *r,
		   const struct ts_probes *p, const struct ts_fanout *fan)
{
	uint64_t cnt[TS_CNT_MAX] = {}, total = 0, lost = 0;

	ts_probes_counters(p, cnt);
	for (unsigned t = 1; t < TS_TYPE_MAX; t++) {
		total += r->events[t];
		lost += cnt[TS_CNT_DROP_BASE + t];
	}
	fprintf(f, "tcpship: %s: events=%llu", what, (unsigned long long)total);
	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (r->events[t] || cnt[TS_CNT_DROP_BASE + t])
			fprintf(f, " %s=%llu", ts_type_name(t), (unsigned long long)r->events[t]);
	fprintf(f, " lost_kernel=%llu", (unsigned long long)lost);
	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (cnt[TS_CNT_DROP_BASE + t])
			fprintf(f, " lost_kernel_%s=%llu", ts_type_name(t),
				(unsigned long long)cnt[TS_CNT_DROP_BASE + t]);
	fprintf(f, " missed_runs=%llu nested_runs=%llu slow_reads=%llu malformed=%llu nomem=%llu "
		   "flow_table_full=%llu closes_unseen=%llu",
		(unsigned long long)ts_probes_missed(p), (unsigned long long)cnt[TS_CNT_NESTED],
		(unsigned long long)cnt[TS_CNT_SLOW_READ],
		(unsigned long long)r->malformed, (unsigned long long)r->nomem,
		(unsigned long long)cnt[TS_CNT_FLOW_FULL], (unsigned long long)cnt[TS_CNT_CLOSE_UNSEEN]);
	if (r->flow_walks)
		fprintf(f, " flow_walks=%llu flow_walks_failed=%llu",
			(unsigned long long)r->flow_walks, (unsigned long long)r->flow_walk_failed);
	report_ident(f, r, cnt);
	report_sinks(f, fan);
	fputc('\n', f);
	fflush(f);
}

/* one line naming where an output came from: the -o spec or the config */
static void output_error(const struct ts_options *o, const struct ts_output_req *r,
			 const char *err)
{
	bool in_file = !r->spec && o->config_path;
	bool named = !strncmp(err, r->where, strlen(r->where));
	char msg[700], line[32] = "";

	snprintf(msg, sizeof(msg), "%s%s%s", named ? "" : r->where, named ? "" : ": ", err);
	/* a YAML file's line of the key the message names */
	if (in_file && ts_config_line(msg))
		snprintf(line, sizeof(line), "line %d: ", ts_config_line(msg));
	fprintf(stderr, "tcpship: %s%s%s%s\n", in_file ? o->config_path : "", in_file ? ": " : "",
		line, msg);
}

static void default_output(struct ts_options *o)
{
	if (o->n_outputs)
		return;
	o->outputs[0].spec = "stdout";
	snprintf(o->outputs[0].where, sizeof(o->outputs[0].where), "stdout");
	o->n_outputs = 1;
}

/* The shape an output's lines take: its own "schema", else --schema, else
 * --format; the sink may have its own default and refuse what it cannot
 * carry. Sets q->shape; -EINVAL with a line in err. */
static int output_shape(const struct ts_options *o, const struct ts_output_ops *ops,
			const void *conf, struct ts_queue_opts *q, char *err, size_t errlen)
{
	int req = -1, shape;

	if (o->format == TS_FMT_TEXT && o->schema >= 0)
		return ts_errf(err, errlen, "--format text and --schema %s: the text table is a "
			   "shape of its own, give one of them", ts_schema_names[o->schema]);
	if (q->schema)
		req = (int)q->schema - 1;
	else if (o->schema >= 0)
		req = ts_shape_by_name(ts_schema_names[o->schema]);
	else if (o->format == TS_FMT_TEXT)
		req = TS_SHAPE_TEXT;
	shape = ops->shape ? ops->shape(conf, req, err, errlen) : req < 0 ? TS_SHAPE_NATIVE : req;
	if (shape < 0)
		return shape;
	q->shape = (unsigned)shape;
	return 0;
}

/* --check-config: every output parsed against its table and checked, none
 * opened */
/* --hostname, --metrics-address and --user: usage errors before anything starts */
static int metrics_check(const struct ts_options *o)
{
	char err[256];
	uid_t uid;
	gid_t gid;

	if (o->hostname && (!*o->hostname || strlen(o->hostname) > 255)) {
		fprintf(stderr, "tcpship: host: %s\n", *o->hostname ? "longer than 255 bytes" :
			"empty");
		return EXIT_USAGE;
	}
	if ((o->metrics_address && ts_metrics_parse(o->metrics_address, err, sizeof(err))) ||
	    (o->user && ts_privs_lookup(o->user, &uid, &gid, err, sizeof(err)))) {
		fprintf(stderr, "tcpship: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* --user: everything is attached and open; from here on, no privilege */
static int become_user(const struct ts_options *o, struct ts_fanout *fan)
{
	char err[256];
	uid_t uid;
	gid_t gid;

	if (!o->user)
		return 0;
	if (ts_privs_lookup(o->user, &uid, &gid, err, sizeof(err)) ||
	    ts_fanout_chown(fan, uid, gid, err, sizeof(err)) ||
	    ts_privs_drop(o->user, uid, gid, err, sizeof(err))) {
		fprintf(stderr, "tcpship: %s\n", err);
		return 1;
	}
	if (o->verbose)
		fprintf(stderr, "tcpship: running as %s (%u:%u), no capabilities\n", o->user, uid,
			gid);
	return 0;
}

static void say_ready(const struct ts_options *o, const char *agent_id)
{
	if (o->format == TS_FMT_TEXT) {
		fputs(ts_text_header(), stdout);
		fflush(stdout);
	}
	fprintf(stderr, "tcpship: ready: pid %d, agent_id %s, %d output%s\n", getpid(), agent_id,
		o->n_outputs, o->n_outputs == 1 ? "" : "s");
	/* systemd's Type=notify: started means attached and shipping */
	sd_notify(0, "READY=1");
}

/* The socket before any hook: a port in use is one line, nothing started. */
static int metrics_open(const struct ts_options *o)
{
	char err[256];
	int rc;

	if (!o->metrics_address)
		return 0;
	metrics = ts_metrics_start(o->metrics_address, &rc, err, sizeof(err));
	if (metrics)
		return 0;
	fprintf(stderr, "tcpship: %s\n", err);
	return rc == -EINVAL ? EXIT_USAGE : 1;
}

static int check_config(struct ts_options *o)
{
	char err[512];

	default_output(o);
	if (metrics_check(o))
		return EXIT_USAGE;
	for (int i = 0; i < o->n_outputs; i++) {
		const struct ts_output_ops *ops;
		struct ts_queue_opts q = {};
		void *conf;
		int rc = ts_output_conf(&o->outputs[i], &ops, &conf, &q, err, sizeof(err));

		if (!rc) {
			rc = output_shape(o, ops, conf, &q, err, sizeof(err));
			if (!rc && ops->check)
				rc = ops->check(conf, err, sizeof(err));
			ts_conf_free(ops->opts, conf);
			free(conf);
		}
		if (rc) {
			output_error(o, &o->outputs[i], err);
			return EXIT_USAGE;
		}
	}
	printf("tcpship: configuration OK: %d output%s\n", o->n_outputs, o->n_outputs == 1 ? "" : "s");
	return 0;
}

/* The command line first on its own, to find -c and catch typos; then the
 * config file; then the command line again, over the file. Returns -1 to
 * go on, else the exit status. */
static int load_options(struct ts_options *o, int argc, char **argv)
{
	char err[512];
	const char *path;

	ts_options_init(o);
	switch (ts_options_parse(o, argc, argv, err, sizeof(err))) {
	case TS_PARSE_EXIT:
		return 0;
	case TS_PARSE_ERROR:
		fprintf(stderr, "tcpship: %s\n", err);
		return EXIT_USAGE;
	case TS_PARSE_OK:
		break;
	}
	if (!o->config_path)
		return -1;
	path = o->config_path;
	ts_options_init(o);
	if (ts_config_load(path, o, err, sizeof(err))) {
		fprintf(stderr, "tcpship: %s\n", err);
		return EXIT_USAGE;
	}
	if (ts_options_parse(o, argc, argv, err, sizeof(err)) != TS_PARSE_OK) {
		fprintf(stderr, "tcpship: %s\n", err);
		ts_config_release(o);
		return EXIT_USAGE;
	}
	return -1;
}

/* Every output parsed and opened before anything is loaded: a bad -o or
 * config entry is a usage error, and nothing has started. */
static int open_outputs(struct ts_options *o, struct ts_fanout *fan)
{
	char err[512];

	default_output(o);
	for (int i = 0; i < o->n_outputs; i++) {
		const struct ts_output_ops *ops;
		struct ts_queue_opts q = { .max_events = o->queue_events,
					   .base_dir = o->queue_dir };
		void *conf;
		int rc = ts_output_conf(&o->outputs[i], &ops, &conf, &q, err, sizeof(err));

		if (!rc && (rc = output_shape(o, ops, conf, &q, err, sizeof(err)))) {
			ts_conf_free(ops->opts, conf);
			free(conf);
		}
		if (!rc && o->queue_events_set)
			q.max_events = o->queue_events_set;	/* the command line wins */
		if (!rc)
			rc = ts_fanout_add(fan, ops, conf, &q, err, sizeof(err));
		if (rc) {
			output_error(o, &o->outputs[i], err);
			return rc == -EINVAL ? EXIT_USAGE : 1;
		}
	}
	/* the queues of outputs that are gone from the config: kept, and said */
	ts_dq_report_orphans(o->queue_dir ? o->queue_dir : TS_QUEUE_DIR, stderr);
	return 0;
}

/* --cgroup PATH -> its id; a cgroup that is not there is a usage error */
static int resolve_cgroups(const struct ts_options *o, struct ts_ident_ctx *ident,
			   uint64_t *ids)
{
	const struct ts_cgfs *fs = ts_ident_cgfs(ident);

	for (uint32_t i = 0; i < o->n_cgroups; i++) {
		int rc = fs->fd < 0 ? -ENOENT : ts_cgfs_id(fs, o->cgroups[i], &ids[i]);

		if (rc) {
			fprintf(stderr, "tcpship: --cgroup %s: %s under %s\n", o->cgroups[i],
				rc == -ENOENT ? "no such cgroup" : strerror(-rc),
				fs->fd < 0 ? "(no cgroup2 mount)" : fs->mnt);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static void on_signals(void)
{
	struct sigaction sa = {};

	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed stdout is an EPIPE we handle */
}

/* --flow-interval: the reports go after what the ring buffer holds now, so
 * a flow's report never comes before its connect. A failed walk is said
 * once and counted (tcpship_flow_walks_total{result="failed"}). */
static void walk_flows(struct ts_reader *reader, int prog, uint64_t ringbuf_size)
{
	/* a slice's reports fill at most a quarter of the ring */
	uint64_t slice = ringbuf_size / 4 / sizeof(struct ts_flow);
	int n;

	ts_reader_drain(reader);
	n = ts_reader_walk(reader, prog, (uint32_t)(slice > 1 << 20 ? 1 << 20 : slice ? slice : 1));
	if (n < 0 && reader->flow_walk_failed == 1)
		fprintf(stderr, "tcpship: walking the flow table failed: %s (flow reports "
			"are missing; counted from now on)\n", strerror(-n));
}

/* Poll until a signal, --duration, or every output is gone; 0 or 1. */
static int run(const struct ts_options *o, struct ts_reader *reader, struct ts_probes *probes,
	       struct ts_fanout *fan)
{
	uint64_t end_ns = 0, next_stats = 0, next_metrics = 0, next_flows = 0;
	/* without per-record wake-ups the reader must look on its own: this
	 * bounds how late a lone event can be */
	int poll_ms = o->wakeup_bytes ? 10 : 100;
	int flow_walk = ts_probes_flow_walk_fd(probes);

	if (o->duration_ns)
		end_ns = ts_now_ns(CLOCK_MONOTONIC) + o->duration_ns;
	if (o->stats_interval_ns)
		next_stats = ts_now_ns(CLOCK_MONOTONIC) + o->stats_interval_ns;
	if (flow_walk >= 0)
		next_flows = ts_now_ns(CLOCK_MONOTONIC) + o->flow_interval_ns;
	while (!stop_requested) {
		int n = ts_reader_poll(reader, poll_ms);
		uint64_t now;

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "tcpship: reading the ring buffer failed: %s\n",
				strerror(-n));
			return 1;
		}
		if (reopen_requested) {
			reopen_requested = 0;
			ts_fanout_reopen(fan);
		}
		if (!ts_fanout_alive(fan)) {
			if (o->verbose)
				fprintf(stderr, "tcpship: every output is closed; stopping\n");
			return 0;
		}
		now = ts_now_ns(CLOCK_MONOTONIC);
		if (metrics && now >= next_metrics) {
			ts_metrics_update(metrics, reader, probes, fan, true);
			next_metrics = now + 1000000000ULL;
		}
		if (next_flows && now >= next_flows) {
			walk_flows(reader, flow_walk, o->ringbuf_size);
			/* a late walk does not bunch the next ones up */
			next_flows += o->flow_interval_ns;
			if (next_flows <= now)
				next_flows = now + o->flow_interval_ns;
		}
		if (next_stats && now >= next_stats) {
			report(stderr, "stats", reader, probes, fan);
			next_stats = now + o->stats_interval_ns;
		}
		if (end_ns && now >= end_ns)
			return 0;
	}
	return 0;
}

/* Privileges end before any thread starts (become_user), so no thread,
 * ours or a library's, ever holds one; then the metadata thread, the
 * metrics server and the outputs' threads. */
static int start_threads(const struct ts_options *o, struct ts_ident_ctx *ident,
			 struct ts_fanout *fan)
{
	char err[512];
	int rc = become_user(o, fan);

	if (rc)
		return rc;
	rc = ts_ident_start(ident);
	if (rc) {
		fprintf(stderr, "tcpship: cannot start the metadata thread: %s\n", strerror(-rc));
		return 1;
	}
	rc = metrics ? ts_metrics_serve(metrics, err, sizeof(err)) : 0;
	if (!rc) {
		on_signals();
		rc = ts_fanout_start(fan, err, sizeof(err));
	}
	if (rc) {
		fprintf(stderr, "tcpship: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ts_options o;
	struct ts_probes probes = {};
	struct ts_reader reader = {};
	struct ts_fanout *fan = NULL;
	struct ts_ident_ctx *ident = NULL;
	uint64_t cg_ids[TS_MAX_CGROUPS] = {};
	struct ts_run run_consts;
	char err[512], host[256] = "", agent_id[40];
	int rc = load_options(&o, argc, argv);

	if (rc >= 0)
		return rc;
	if (o.check_config || (rc = metrics_check(&o))) {
		rc = o.check_config ? check_config(&o) : rc;
		ts_config_release(&o);
		return rc;
	}
	/* --user: no thread may ever gain privileges by exec: set before any starts */
	if (o.user && ts_privs_no_new_privs()) {
		fprintf(stderr, "tcpship: cannot set no_new_privs: %s\n", strerror(errno));
		return 1;
	}
	if (ts_probes_preflight(&o, err, sizeof(err))) {
		fprintf(stderr, "tcpship: %s\n", err);
		return 1;
	}
	if (o.list_probes) {
		rc = ts_probes_list(&o, stdout) ? 1 : 0;
		ts_config_release(&o);
		return rc;
	}

	if (o.hostname)
		snprintf(host, sizeof(host), "%s", o.hostname);
	else
		gethostname(host, sizeof(host) - 1);
	make_agent_id(agent_id);
	ts_run_init(&run_consts, host, agent_id, (unsigned)getpid());
	fan = ts_fanout_new(&run_consts);
	rc = fan ? open_outputs(&o, fan) : 1;
	if (rc)
		goto cleanup_fan;

	ident = ts_ident_new(o.host_root, err, sizeof(err));
	if (!ident || (err[0] && (o.n_cgroups || o.n_containers))) {
		fprintf(stderr, "tcpship: %s\n", err);
		rc = 1;
		goto cleanup_fan;
	}
	if (err[0])
		fprintf(stderr, "tcpship: warning: %s\n", err);
	rc = resolve_cgroups(&o, ident, cg_ids);
	if (rc)
		goto cleanup_fan;
	if ((rc = metrics_open(&o)))
		goto cleanup_fan;
	rc = ts_probes_start(&probes, &o, cg_ids, err, sizeof(err));
	if (!rc)
		rc = ts_probes_fill_cgroups(&probes, &o, cg_ids, ts_ident_cgfs(ident), err,
					    sizeof(err));
	if (rc) {
		fprintf(stderr, "tcpship: %s\n", err);
		rc = 1;
		goto cleanup;
	}
	ts_probes_describe(&probes, stderr);
	rc = ts_reader_init(&reader, ts_probes_ringbuf_fd(&probes), fan, &run_consts, o.summary_n);
	if (rc) {
		fprintf(stderr, "tcpship: cannot set up the ring buffer reader: %s\n",
			strerror(-rc));
		rc = 1;
		goto cleanup;
	}
	/* exec records are flowing already: /proc fills in the older ones */
	ts_ident_scan_procs(ident);
	reader.ident = ident;
	if (o.dns_names && !(reader.dnsnames = ts_dnsnames_new(16384))) {
		fprintf(stderr, "tcpship: out of memory\n");
		rc = 1;
		goto cleanup;
	}
	if (start_threads(&o, ident, fan)) {
		rc = 1;
		goto cleanup;
	}
	ts_metrics_update(metrics, &reader, &probes, fan, true);	/* /healthz: 503 until now */
	say_ready(&o, agent_id);
	rc = run(&o, &reader, &probes, fan);

	sd_notify(0, "STOPPING=1");
	/* /healthz says it from now on */
	ts_metrics_update(metrics, &reader, &probes, fan, false);
	/* no new records, then everything the ring buffer still holds */
	ts_probes_detach(&probes);
	ts_reader_drain(&reader);
	ts_fanout_stop(fan, ts_now_ns(CLOCK_MONOTONIC) + FLUSH_DEADLINE_NS);
	if (reader.summary)
		ts_summary_print(reader.summary, o.summary_n, stderr);
	report(stderr, "exit", &reader, &probes, fan);
cleanup:
	ts_reader_free(&reader);
	ts_probes_destroy(&probes);
cleanup_fan:
	ts_metrics_stop(metrics);
	ts_ident_free(ident);
	if (!fan)
		fprintf(stderr, "tcpship: out of memory\n");
	ts_fanout_free(fan);
	ts_config_release(&o);
	return rc;
}
