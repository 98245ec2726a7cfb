// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Checked number parsing and the names of kernel numbers. */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#include "test.h"
#include "util.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL	/* *out must stay untouched on error */

struct pcase {
	const char *in;
	int rc;
	uint64_t want;
};

static bool u64_case(const char *file, int line, const char *in, uint64_t min, uint64_t max,
		     int rc, uint64_t want)
{
	uint64_t v = SENTINEL;
	int got = ts_parse_u64(in, min, max, &v);

	if (got != rc)
		return ts_test_fail(file, line, "ts_parse_u64(\"%s\") returned %d, want %d",
				    in ? in : "(null)", got, rc);
	return ts_check_u64(file, line, in ? in : "(null)", v, rc ? SENTINEL : want);
}

#define U64(in, min, max, rc, want)						\
	do {									\
		if (!u64_case(__FILE__, __LINE__, (in), (min), (max), (rc), (want)))	\
			return;							\
	} while (0)

TEST(util_parse_u64)
{
	U64("0", 0, UINT64_MAX, 0, 0);
	U64("42", 0, UINT64_MAX, 0, 42);
	U64("007", 0, UINT64_MAX, 0, 7);
	U64("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
	U64("18446744073709551616", 0, UINT64_MAX, -ERANGE, 0);
	U64("99999999999999999999999", 0, UINT64_MAX, -ERANGE, 0);
	U64(" 1", 0, UINT64_MAX, -EINVAL, 0);	/* strtoull would skip the space */
	U64("-1", 0, UINT64_MAX, -EINVAL, 0);	/* and wrap a minus to 2^64-1 */
	U64("+1", 0, UINT64_MAX, -EINVAL, 0);
	U64("12abc", 0, UINT64_MAX, -EINVAL, 0);
	U64("1 ", 0, UINT64_MAX, -EINVAL, 0);
	U64("0x10", 0, UINT64_MAX, -EINVAL, 0);
	U64("", 0, UINT64_MAX, -EINVAL, 0);
	U64(NULL, 0, UINT64_MAX, -EINVAL, 0);
	/* bounds are inclusive */
	U64("1", 1, 10, 0, 1);
	U64("10", 1, 10, 0, 10);
	U64("0", 1, 10, -ERANGE, 0);
	U64("11", 1, 10, -ERANGE, 0);
}

static bool scaled_case(const char *file, int line, bool size, const char *in, uint64_t bare,
			int rc, uint64_t want)
{
	uint64_t v = SENTINEL;
	int got = size ? ts_parse_size(in, &v) : ts_parse_duration_ns(in, bare, &v);

	if (got != rc)
		return ts_test_fail(file, line, "%s(\"%s\") returned %d, want %d",
				    size ? "ts_parse_size" : "ts_parse_duration_ns", in, got, rc);
	return ts_check_u64(file, line, in, v, rc ? SENTINEL : want);
}

#define DUR(in, bare, rc, want)							\
	do {									\
		if (!scaled_case(__FILE__, __LINE__, false, (in), (bare), (rc), (want)))	\
			return;							\
	} while (0)

#define SIZE(in, rc, want)							\
	do {									\
		if (!scaled_case(__FILE__, __LINE__, true, (in), 0, (rc), (want)))	\
			return;							\
	} while (0)

#define SEC 1000000000ULL

TEST(util_parse_duration)
{
	DUR("250ms", SEC, 0, 250000000);
	DUR("1.5s", SEC, 0, 1500000000);
	DUR("2m", SEC, 0, 120 * SEC);
	DUR("10", SEC, 0, 10 * SEC);	/* a bare number is in the caller's unit */
	DUR("10", 1000000, 0, 10000000);
	DUR("1.5", SEC, 0, 1500000000);
	DUR("100us", SEC, 0, 100000);
	DUR("10ns", SEC, 0, 10);
	DUR("1h", SEC, 0, 3600 * SEC);
	DUR("0.5m", SEC, 0, 30 * SEC);
	DUR("0", SEC, 0, 0);
	DUR("0.001s", SEC, 0, 1000000);
	DUR("0.000000001s", SEC, 0, 1);
	DUR("5x", SEC, -EINVAL, 0);
	DUR("", SEC, -EINVAL, 0);
	DUR("1.", SEC, -EINVAL, 0);
	DUR(".5s", SEC, -EINVAL, 0);
	DUR("-1", SEC, -EINVAL, 0);
	DUR(" 1s", SEC, -EINVAL, 0);
	DUR("1 s", SEC, -EINVAL, 0);
	DUR("1S", SEC, -EINVAL, 0);
	DUR("1.5.2s", SEC, -EINVAL, 0);
	DUR("1sec", SEC, -EINVAL, 0);
	DUR("18446744073709551609ns", SEC, 0, UINT64_MAX - 6);
	DUR("18446744074s", SEC, -ERANGE, 0);
	DUR("99999999999999999999999ns", SEC, -ERANGE, 0);
}

/*
 * 18446744073.8 s is 1.8446744073800e19 ns, above 2^64 - 1: the integer
 * part alone fits (18446744073000000000), the fraction pushes it over.
 * util.h promises -ERANGE for what does not fit; a wrapped value would make
 * `--duration 18446744073.8` a 90 ms run.
 */
TEST(util_parse_duration_overflow_fraction)
{
	DUR("18446744073.7s", SEC, 0, 18446744073700000000ULL);
	DUR("18446744073.8s", SEC, -ERANGE, 0);
	DUR("18446744073.8", SEC, -ERANGE, 0);
}

TEST(util_parse_size)
{
	SIZE("64KiB", 0, 65536);
	SIZE("1MiB", 0, 1048576);
	SIZE("1GiB", 0, 1073741824);
	SIZE("4096", 0, 4096);
	SIZE("4096B", 0, 4096);
	SIZE("1.5KiB", 0, 1536);
	SIZE("10MB", 0, 10000000);
	SIZE("2KB", 0, 2000);
	SIZE("3GB", 0, 3000000000ULL);
	SIZE("16M", 0, 16 << 20);
	SIZE("1TiB", -EINVAL, 0);	/* no unit above GiB */
	SIZE("1kib", -EINVAL, 0);
	SIZE("1 KiB", -EINVAL, 0);
	SIZE("KiB", -EINVAL, 0);
	SIZE("-1", -EINVAL, 0);
	SIZE("", -EINVAL, 0);
	SIZE("17179869184GiB", -ERANGE, 0);	/* 2^34 GiB = 2^64 */
}

TEST(util_errno_name)
{
	char buf[16];

	memset(buf, 0x5a, sizeof(buf));
	CHECK_STR(ts_errno_name(ECONNREFUSED, buf), "ECONNREFUSED");
	CHECK_STR(ts_errno_name(ECONNRESET, buf), "ECONNRESET");
	CHECK_STR(ts_errno_name(ETIMEDOUT, buf), "ETIMEDOUT");
	CHECK_STR(ts_errno_name(EHOSTUNREACH, buf), "EHOSTUNREACH");
	CHECK_STR(ts_errno_name(EPIPE, buf), "EPIPE");
	/* no name: "E" and the number, in the caller's buffer */
	CHECK_STR(ts_errno_name(4095, buf), "E4095");
	CHECK(ts_errno_name(4095, buf) == buf);
	CHECK_STR(ts_errno_name(0, buf), "E0");
	CHECK_STR(ts_errno_name(-1, buf), "E-1");
	CHECK_STR(ts_errno_name(-2147483647 - 1, buf), "E-2147483648");
}

/* the kernel's numbering (include/net/tcp_states.h), checked against
 * glibc's copy of it where there is one */
TEST(util_tcp_state_name)
{
	static const struct {
		unsigned state;
		const char *name;
	} cases[] = {
		{ TCP_ESTABLISHED, "ESTABLISHED" }, { TCP_SYN_SENT, "SYN_SENT" },
		{ TCP_SYN_RECV, "SYN_RECV" }, { TCP_FIN_WAIT1, "FIN_WAIT1" },
		{ TCP_FIN_WAIT2, "FIN_WAIT2" }, { TCP_TIME_WAIT, "TIME_WAIT" },
		{ TCP_CLOSE, "CLOSE" }, { TCP_CLOSE_WAIT, "CLOSE_WAIT" },
		{ TCP_LAST_ACK, "LAST_ACK" }, { TCP_LISTEN, "LISTEN" },
		{ TCP_CLOSING, "CLOSING" }, { 12, "NEW_SYN_RECV" }, { 13, "BOUND_INACTIVE" },
	};
	static const unsigned unknown[] = { 0, 14, 255, 4096, 0xffffffffu };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		CHECK_STR(ts_tcp_state_name(cases[i].state), cases[i].name);
	for (size_t i = 0; i < ARRAY_LEN(unknown); i++)
		CHECKF(!ts_tcp_state_name(unknown[i]), "state %u has a name", unknown[i]);
}

/* output specs are quoted in messages: never with their secrets */
TEST(util_redact)
{
	char out[128];

	ts_redact("http://user:pw@host:9200/_bulk?token=abc&x=1&api_key=zz", out, sizeof(out));
	CHECK_STR(out, "http://***@host:9200/_bulk?token=***&x=1&api_key=***");
	ts_redact("file:/var/log/x.jsonl", out, sizeof(out));
	CHECK_STR(out, "file:/var/log/x.jsonl");
	ts_redact("https://h/p?Password=s3cr3t#frag", out, sizeof(out));
	CHECK_STR(out, "https://h/p?Password=***#frag");
	/* an @ in the path is not userinfo */
	ts_redact("http://h/a@b", out, sizeof(out));
	CHECK_STR(out, "http://h/a@b");
	ts_redact("http://u:p@h/", out, 8);
	CHECK_STR(out, "http://");
}
