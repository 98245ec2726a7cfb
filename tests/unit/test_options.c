// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ts_options_parse() with argv arrays built here. Every bad command line
 * must give TS_PARSE_ERROR and one line of error naming what was wrong.
 * Each test runs in its own process (main.c), so getopt's global state
 * starts fresh in every test.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "test.h"

#define MAX_ARGS 80

static enum ts_parse_result parse_v(struct ts_options *o, char *err, size_t errlen,
				    const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	/* getopt_long permutes argv: give it a private, writable array */
	argv[argc++] = (char *)"tcpship";
	for (; *args && argc <= MAX_ARGS; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	ts_options_init(o);
	memset(err, 0, errlen);
	return ts_options_parse(o, argc, argv, err, errlen);
}

#define PARSE(o, err, ...) parse_v((o), (err), sizeof(err), (const char *const[]){ __VA_ARGS__, NULL })

#define CHECK_OK(...)								\
	do {									\
		enum ts_parse_result rc_ = PARSE(&o, err, __VA_ARGS__);		\
										\
		CHECKF(rc_ == TS_PARSE_OK, "parse returned %d: %s", rc_, err);	\
	} while (0)

#define BIT(t) (1u << (t))

TEST(options_defaults)
{
	struct ts_options o;
	char err[256];

	CHECK_INT(parse_v(&o, err, sizeof(err), (const char *const[]){ NULL }), TS_PARSE_OK);
	CHECK_U64(o.type_mask, BIT(TS_CONNECT) | BIT(TS_ACCEPT) | BIT(TS_CLOSE) |
			       BIT(TS_RETRANSMIT) | BIT(TS_DNS));
	CHECK_U64(o.ringbuf_size, 8 << 20);
	CHECK_U64(o.wakeup_bytes, 256 << 10);
	CHECK_U64(o.max_flows, 65536);
	CHECK_U64(o.n_pids + o.n_uids + o.n_ports, 0);
	CHECK_INT(o.n_outputs, 0);
	CHECK_INT(o.family, 0);
	CHECK_INT(o.format, TS_FMT_JSON);
	CHECK_INT(o.probes, TS_PROBES_AUTO);
	CHECK_U64(o.stats_interval_ns, 0);
	CHECK_U64(o.duration_ns, 0);
	CHECK_U64(o.min_latency_ns, 0);
	CHECK(!o.has_comm && !o.list_probes);
}

/* the default wake-up threshold follows a small ring; a given one must fit */
TEST(options_wakeup_clamped_to_ring)
{
	struct ts_options o;
	char err[256];

	CHECK_INT(parse_v(&o, err, sizeof(err), (const char *const[]){ "--ringbuf-size", "64KiB",
								     NULL }), TS_PARSE_OK);
	CHECK_U64(o.wakeup_bytes, 16 << 10);
	CHECK_INT(parse_v(&o, err, sizeof(err), (const char *const[]){ "--ringbuf-size", "64KiB",
			  "--wakeup-bytes", "64KiB", NULL }), TS_PARSE_ERROR);
	CHECK_INT(parse_v(&o, err, sizeof(err), (const char *const[]){ "--wakeup-bytes", "0",
								     NULL }), TS_PARSE_OK);
	CHECK_U64(o.wakeup_bytes, 0);
}

TEST(options_events_mask)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-e", "connect,close");
	CHECK_U64(o.type_mask, BIT(TS_CONNECT) | BIT(TS_CLOSE));
	CHECK_OK("--events=dns");
	CHECK_U64(o.type_mask, BIT(TS_DNS));
	/* a later -e replaces, it does not add */
	CHECK_OK("-e", "send", "--events", "recv");
	CHECK_U64(o.type_mask, BIT(TS_RECV));
	CHECK_OK("-e", "default,send");
	CHECK_U64(o.type_mask, TS_DEFAULT_TYPES | BIT(TS_SEND));
}

TEST(options_events_all)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-e", "all");
	CHECK_U64(o.type_mask, BIT(TS_CONNECT) | BIT(TS_ACCEPT) | BIT(TS_CLOSE) |
			       BIT(TS_RETRANSMIT) | BIT(TS_SEND) | BIT(TS_RECV) | BIT(TS_DNS));
}

TEST(options_pids)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-p", "1,2", "-p", "3");
	CHECK_U64(o.n_pids, 3);
	CHECK_U64(o.pids[0], 1);
	CHECK_U64(o.pids[1], 2);
	CHECK_U64(o.pids[2], 3);
	CHECK_OK("--pid=4194304", "-p", "1,2,3,4,5,6,7");
	CHECK_U64(o.n_pids, 8);
	CHECK_U64(o.pids[0], 4194304);
}

TEST(options_uids)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-u", "0,1000", "--uid", "4294967294");
	CHECK_U64(o.n_uids, 3);
	CHECK_U64(o.uids[0], 0);
	CHECK_U64(o.uids[1], 1000);
	CHECK_U64(o.uids[2], 4294967294u);
}

TEST(options_port)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-P", "443");
	CHECK_U64(o.n_ports, 1);
	CHECK_U64(o.ports[0], 443);
	CHECK_OK("--port", "1,65535");
	CHECK_U64(o.n_ports, 2);
	CHECK_U64(o.ports[0], 1);
	CHECK_U64(o.ports[1], 65535);
}

TEST(options_family)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-4");
	CHECK_INT(o.family, TS_IPV4);
	CHECK_OK("--ipv6");
	CHECK_INT(o.family, TS_IPV6);
	CHECK_OK("-4", "--ipv4");	/* saying it twice is fine */
	CHECK_INT(o.family, TS_IPV4);
}

TEST(options_min_latency)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("--min-latency", "10ms", "-e", "send");
	CHECK_U64(o.min_latency_ns, 10000000);
	CHECK_U64(o.type_mask, BIT(TS_SEND));
	/* the check happens after all options: order does not matter */
	CHECK_OK("--min-latency=1.5", "-e", "connect,recv");
	CHECK_U64(o.min_latency_ns, 1500000000);
}

TEST(options_duration)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("--duration", "1.5");
	CHECK_U64(o.duration_ns, 1500000000);
	CHECK_OK("--duration=500ms");
	CHECK_U64(o.duration_ns, 500000000);
	CHECK_OK("--duration", "2m");
	CHECK_U64(o.duration_ns, 120000000000ULL);
}

TEST(options_stats)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("--stats");
	CHECK_U64(o.stats_interval_ns, 10000000000ULL);
	CHECK_OK("--stats=2s");
	CHECK_U64(o.stats_interval_ns, 2000000000);
}

TEST(options_probes)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("--probes", "tracepoint");
	CHECK_INT(o.probes, TS_PROBES_TRACEPOINT);
	CHECK_OK("--probes=kprobe");
	CHECK_INT(o.probes, TS_PROBES_KPROBE);
	CHECK_OK("--probes", "auto", "--list-probes");
	CHECK_INT(o.probes, TS_PROBES_AUTO);
	CHECK(o.list_probes);
}

TEST(options_outputs)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-o", "stdout", "--output", "stdout", "-ostdout");
	CHECK_INT(o.n_outputs, 3);
	for (int i = 0; i < 3; i++)
		CHECK_STR(o.outputs[i].spec, "stdout");
}

TEST(options_outputs_max)
{
	const char *args[2 * TS_MAX_OUTPUTS + 3];
	struct ts_options o;
	char err[256];
	int n = 0;

	for (int i = 0; i < TS_MAX_OUTPUTS; i++) {
		args[n++] = "-o";
		args[n++] = "stdout";
	}
	args[n] = NULL;
	CHECK_INT(parse_v(&o, err, sizeof(err), args), TS_PARSE_OK);
	CHECK_INT(o.n_outputs, TS_MAX_OUTPUTS);
	args[n++] = "-o";
	args[n++] = "stdout";
	args[n] = NULL;
	CHECK_INT(parse_v(&o, err, sizeof(err), args), TS_PARSE_ERROR);
	CHECKF(strstr(err, "--output"), "error \"%s\" does not name --output", err);
}

TEST(options_ringbuf_size)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("--ringbuf-size", "1MiB");
	CHECK_U64(o.ringbuf_size, 1 << 20);
	CHECK_OK("--ringbuf-size=4KiB");
	CHECK_U64(o.ringbuf_size, 4096);
	CHECK_OK("--ringbuf-size", "1GiB");
	CHECK_U64(o.ringbuf_size, 1 << 30);
	CHECK_OK("--ringbuf-size", "65536");
	CHECK_U64(o.ringbuf_size, 65536);
}

TEST(options_queue_events)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-4");
	CHECK_U64(o.queue_events, 65536);
	CHECK_OK("--queue-events", "10");
	CHECK_U64(o.queue_events, 10);
	CHECK_OK("--queue-events=100000000");
	CHECK_U64(o.queue_events, 100000000);
}

TEST(options_misc)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-f", "text", "--comm", "abcdefghijklmno", "-vv", "--summary", "10",
		 "--max-flows", "1024", "--wakeup-bytes", "64KiB", "--btf", "/tmp/x");
	CHECK_INT(o.format, TS_FMT_TEXT);
	CHECK(o.has_comm);
	CHECK_STR(o.comm, "abcdefghijklmno");
	CHECK_INT(o.verbose, 2);
	CHECK_U64(o.summary_n, 10);
	CHECK_U64(o.max_flows, 1024);
	CHECK_U64(o.wakeup_bytes, 65536);
	CHECK_STR(o.btf_path, "/tmp/x");
}

/* --version and --help print on stdout: catch it in a file */
static bool capture(const char *file, int line, const char *arg, enum ts_parse_result *rc,
		    char *buf, size_t cap)
{
	struct ts_options o;
	char err[256];
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	if (!tmp)
		return ts_test_fail(file, line, "tmpfile failed");
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		fclose(tmp);
		return ts_test_fail(file, line, "cannot redirect stdout");
	}
	*rc = PARSE(&o, err, arg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, cap - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return true;
}

TEST(options_version)
{
	enum ts_parse_result rc;
	char out[4096];

	if (!capture(__FILE__, __LINE__, "--version", &rc, out, sizeof(out)))
		return;
	CHECK_INT(rc, TS_PARSE_EXIT);
	/* "tcpship VERSION\n". Not compared with this file's TCPSHIP_VERSION:
	 * options.o is not rebuilt when `git describe` changes, so the two
	 * can differ without anything being wrong with the parser. */
	CHECKF(!strncmp(out, "tcpship ", 8) && out[8] && out[8] != '\n' &&
	       strcspn(out + 8, " \n") == strlen(out) - 9 && out[strlen(out) - 1] == '\n',
	       "version output is \"%s\"", out);
	if (!capture(__FILE__, __LINE__, "-V", &rc, out, sizeof(out)))
		return;
	CHECK_INT(rc, TS_PARSE_EXIT);
}

TEST(options_help)
{
	enum ts_parse_result rc;
	char out[8192];

	if (!capture(__FILE__, __LINE__, "--help", &rc, out, sizeof(out)))
		return;
	CHECK_INT(rc, TS_PARSE_EXIT);
	CHECK(!strncmp(out, "Usage: tcpship", 14));
	/* every long option the parser knows is in the help */
	CHECK(strstr(out, "--min-latency") && strstr(out, "--ringbuf-size") &&
	      strstr(out, "--wakeup-bytes") && strstr(out, "--stats[=DUR]"));
}

/* ---- bad command lines ---- */

static bool expect_error(const char *file, int line, const char *want, const char *const *args)
{
	struct ts_options o;
	char err[256];
	enum ts_parse_result rc = parse_v(&o, err, sizeof(err), args);

	if (rc != TS_PARSE_ERROR)
		return ts_test_fail(file, line, "returned %d, want TS_PARSE_ERROR (%d)", rc,
				    TS_PARSE_ERROR);
	if (!err[0] || strchr(err, '\n'))
		return ts_test_fail(file, line, "error is not one line: \"%s\"", err);
	if (!strstr(err, want))
		return ts_test_fail(file, line, "error \"%s\" does not name \"%s\"", err, want);
	return true;
}

#define BAD(tname, want, ...)							\
	TEST(options_bad_##tname)						\
	{									\
		if (!expect_error(__FILE__, __LINE__, want,			\
				  (const char *const[]){ __VA_ARGS__, NULL }))	\
			return;							\
	}

BAD(pid_abc, "--pid", "--pid", "abc")
BAD(pid_zero, "--pid", "--pid", "0")
BAD(pid_empty, "--pid", "--pid=")
BAD(pid_too_big, "--pid", "-p", "4194305")
BAD(nine_pids, "--pid", "-p", "1,2,3,4,5,6,7,8,9")
BAD(nine_pids_two_options, "--pid", "-p", "1,2,3,4", "-p", "5,6,7,8,9")
BAD(port_70000, "--port", "--port", "70000")
BAD(port_zero, "--port", "--port", "0")
BAD(uid_minus, "--uid", "-u", "-1")
BAD(events_nosuch, "nosuch", "--events", "nosuch")
BAD(events_nosuch_names_option, "--events", "-e", "connect,nosuch")
BAD(events_empty, "--events", "--events", "")
BAD(events_commas, "--events", "-e", ",,")
BAD(unknown_long, "--bogus", "--bogus")
BAD(unknown_short, "-Z", "-Z")
BAD(missing_value_short, "-p", "-4", "-p")
BAD(missing_value_long, "--pid", "--pid")
BAD(format_yaml, "--format", "--format", "yaml")
BAD(duration_x, "--duration", "--duration", "x")
BAD(duration_zero, "--duration", "--duration", "0")
BAD(duration_negative, "--duration", "--duration", "-5s")
/* 18446744073.8 s does not fit in 64 bits of nanoseconds (see
 * util_parse_duration_overflow_fraction): it must not become 90 ms */
BAD(duration_overflow, "--duration", "--duration", "18446744073.8")
BAD(ringbuf_3000, "--ringbuf-size", "--ringbuf-size", "3000")
BAD(ringbuf_small, "--ringbuf-size", "--ringbuf-size", "2KiB")
BAD(ringbuf_big, "--ringbuf-size", "--ringbuf-size", "2GiB")
BAD(ipv4_ipv6, "-4 and -6", "-4", "-6")
BAD(ipv6_ipv4, "-4 and -6", "--ipv6", "--ipv4")
BAD(comm_16, "--comm", "--comm", "abcdefghijklmnop")
BAD(comm_empty, "--comm", "--comm", "")
BAD(min_latency_without_io, "--min-latency", "--min-latency", "10ms")
BAD(min_latency_bad, "--min-latency", "-e", "send", "--min-latency", "soon")
BAD(positional, "'foo'", "-4", "foo")
BAD(stats_value_not_attached, "'2s'", "--stats", "2s")
BAD(stats_zero, "--stats", "--stats=0")
BAD(probes_bad, "--probes", "--probes", "ebpf")
BAD(summary_zero, "--summary", "--summary", "0")
BAD(max_flows_small, "--max-flows", "--max-flows", "1000")
BAD(queue_events_zero, "--queue-events", "--queue-events", "0")
BAD(queue_events_big, "--queue-events", "--queue-events", "100000001")
BAD(wakeup_not_below_ringbuf, "--wakeup-bytes", "--wakeup-bytes", "16MiB")

/* a short buffer gets a cut, terminated message */
TEST(options_error_small_buffer)
{
	struct ts_options o;
	char err[8];

	memset(err, 0x5a, sizeof(err));
	CHECK_INT(PARSE(&o, err, "--pid", "abc"), TS_PARSE_ERROR);
	CHECK(memchr(err, 0, sizeof(err)));
	CHECK(!strncmp(err, "--pid", 5));
}

/*
 * ts_options_parse() resets getopt itself so that it can be called again;
 * but it sets optind = 1, which does not reset glibc's position inside a
 * group of short options (only optind = 0 does). After an error in the
 * middle of "-4Z6" the next call goes on with the "6" of the old argv.
 */
TEST(options_reparse_after_error)
{
	struct ts_options o;
	char err[256];

	CHECK_INT(PARSE(&o, err, "-4Z6"), TS_PARSE_ERROR);
	CHECKF(strstr(err, "-Z"), "error \"%s\" does not name -Z", err);
	CHECK_OK("-e", "connect");
	CHECK_INT(o.family, 0);
	CHECK_U64(o.type_mask, BIT(TS_CONNECT));
}

/* the same parse twice in a row gives the same result */
TEST(options_reparse_ok)
{
	struct ts_options o;
	char err[256];

	CHECK_OK("-p", "7", "-e", "all", "-4");
	CHECK_OK("-p", "7", "-e", "all", "-4");
	CHECK_U64(o.n_pids, 1);
	CHECK_U64(o.pids[0], 7);
	CHECK_INT(o.family, TS_IPV4);
}

/* ---- one table: the command line and the config file share each bound ---- */

#include <json-c/json.h>

static bool conf_rejects(const char *file, int line, const char *key, const char *json,
			 const char *want)
{
	struct ts_options o;
	struct json_object *v = json_tokener_parse(json);
	char err[256] = "";
	int rc;

	ts_options_init(&o);
	rc = ts_options_set_conf(&o, NULL, key, v, err, sizeof(err));
	json_object_put(v);
	if (rc >= 0)
		return ts_test_fail(file, line, "%s = %s accepted", key, json);
	if (!strstr(err, want))
		return ts_test_fail(file, line, "error \"%s\" does not name \"%s\"", err, want);
	return true;
}

TEST(options_same_bounds_on_command_line_and_in_file)
{
	struct ts_options o;
	char err[256];

	CHECK_INT(PARSE(&o, err, "--max-flows", "1000"), TS_PARSE_ERROR);
	CHECKF(strstr(err, "1024..16777216"), "%s", err);
	CHECK(conf_rejects(__FILE__, __LINE__, "max_flows", "1000", "1024..16777216"));
	CHECK_INT(PARSE(&o, err, "--summary", "10001"), TS_PARSE_ERROR);
	CHECK(conf_rejects(__FILE__, __LINE__, "summary", "10001", "1..10000"));
	CHECK_INT(PARSE(&o, err, "--ringbuf-size", "2GiB"), TS_PARSE_ERROR);
	CHECK(conf_rejects(__FILE__, __LINE__, "ringbuf_size", "\"2GiB\"", "out of range"));
	CHECK(conf_rejects(__FILE__, __LINE__, "ringbuf_size", "\"3MiB\"", "power of two"));
	CHECK(conf_rejects(__FILE__, __LINE__, "duration", "0", "more than 0"));
	/* and what is allowed is allowed both ways */
	CHECK_OK("--max-flows", "1024", "--ringbuf-size", "64KiB");
	CHECK_U64(o.max_flows, 1024);
	ts_options_init(&o);
	{
		struct json_object *v = json_tokener_parse("\"64KiB\"");

		CHECK_INT(ts_options_set_conf(&o, NULL, "ringbuf_size", v, err, sizeof(err)), 0);
		json_object_put(v);
	}
	CHECK_U64(o.ringbuf_size, 64 << 10);
}

/* every long option of --help is a row the parser takes, and the reverse */
TEST(options_help_lists_every_option)
{
	static const char *const longs[] = { "events", "pid", "uid", "port", "comm", "ipv4",
		"ipv6", "min-latency", "output", "config", "queue-events", "format", "duration",
		"summary", "probes", "list-probes", "check-config", "stats", "btf",
		"ringbuf-size", "max-flows", "wakeup-bytes", "verbose", "version", "help" };
	char out[8192] = "";
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");

	ts_usage(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
		char want[40];

		snprintf(want, sizeof(want), "--%s", longs[i]);
		CHECKF(strstr(out, want), "--help lacks %s", want);
	}
}
