// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syslog sink's pure half (outputs/syslog/message.h, conf.h): golden
 * RFC 5424 and RFC 3164 messages from hand-built records, PRI and the
 * severity raise, SD escaping of hostile task names, truncation at a UTF-8
 * boundary, framing, names and URLs. Then the sink itself through its ops, without a network:
 * the format hook shows the exact bytes write() would send.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "reader.h"
#include "sink.h"
#include "sink_open.h"
#include "syslog/conf.h"
#include "syslog/message.h"
#include "tcpship.h"
#include "ident.h"
#include "test.h"

/* 2026-11-26T09:42:09.123456789Z (see test_encode.c for the arithmetic) */
#define T_NS 1795686129123456789ULL
/* twenty days earlier: 2026-11-06, a one-digit day */
#define T6_NS (T_NS - 20ULL * 86400 * 1000000000ULL)

#define LINE "{\"type\":\"connect\",\"seq\":1}\n"

static const uint8_t v4_src[4] = { 10, 0, 0, 2 };
static const uint8_t v4_dst[4] = { 93, 184, 216, 34 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t v6_dst[16] = { 0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
				    0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46 };

/* a record as the reader makes it from the kernel's header */
static void mk_rec(struct ts_rec *r, unsigned type, unsigned family, unsigned flags)
{
	struct ts_hdr hdr, *h = &hdr;

	memset(h, 0, sizeof(*h));
	h->ts_ns = 42;	/* never used for the timestamp */
	h->type = (__u8)type;
	h->probe = TS_TRACEPOINT;
	h->family = (__u8)family;
	h->flags = (__u16)flags;
	h->pid = 4242;
	h->tid = 4243;
	memcpy(h->comm, "curl", 5);
	h->sport = 51234;
	h->dport = 443;
	memcpy(h->saddr, family == TS_IPV4 ? v4_src : v6_src, family == TS_IPV4 ? 4 : 16);
	memcpy(h->daddr, family == TS_IPV4 ? v4_dst : v6_dst, family == TS_IPV4 ? 4 : 16);
	memset(r, 0, sizeof(*r));
	ts_rec_fields(r, h);
	r->time_ns = T_NS;
	r->seq = 1;
}

static void mk_fmt(struct ts_sl_fmt *f, enum ts_sl_format format)
{
	memset(f, 0, sizeof(*f));
	f->format = format;
	f->facility = 3;	/* daemon */
	f->severity = 6;	/* info */
	strcpy(f->hostname, "h1");
	strcpy(f->app_name, "tcpship");
	strcpy(f->sd_id, "tcpship@32473");
	f->pid = 777;
	f->max_message = 8192;
}

/* Format into a buffer with a canary past max_message. */
struct msg {
	char buf[9000];
	int len;
	bool trunc;
};

static bool fmt_msg(const char *file, int line, const struct ts_sl_fmt *f, const struct ts_rec *r,
		    const char *text, size_t len, struct msg *m)
{
	memset(m->buf, 0xa5, sizeof(m->buf));
	m->len = ts_sl_format(f, r, text, len, m->buf, f->max_message, &m->trunc);
	if (m->len < 0)
		return ts_test_fail(file, line, "ts_sl_format returned %d", m->len);
	if ((size_t)m->len > f->max_message)
		return ts_test_fail(file, line, "%d bytes, max_message is %zu", m->len,
				    f->max_message);
	for (size_t i = f->max_message; i < sizeof(m->buf) && i < f->max_message + 64; i++)
		if ((unsigned char)m->buf[i] != 0xa5)
			return ts_test_fail(file, line, "wrote past max_message at %zu", i);
	for (int i = 0; i < m->len; i++)
		if ((unsigned char)m->buf[i] < 0x20 || m->buf[i] == 0x7f)
			return ts_test_fail(file, line, "raw control byte 0x%02x at %d",
					    (unsigned char)m->buf[i], i);
	m->buf[m->len] = 0;
	return true;
}

#define FMT(f, r, text, len, m)							\
	do {									\
		if (!fmt_msg(__FILE__, __LINE__, (f), (r), (text), (len), (m)))	\
			return;							\
	} while (0)

#define SD4 "[tcpship@32473 pid=\"4242\" comm=\"curl\" saddr=\"10.0.0.2\" sport=\"51234\" " \
	    "daddr=\"93.184.216.34\" dport=\"443\"]"

TEST(syslog_5424_golden_ipv4)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 connect " SD4
		  " {\"type\":\"connect\",\"seq\":1}");
	CHECK(!m.trunc);
}

TEST(syslog_5424_golden_ipv6_and_types)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_ACCEPT, TS_IPV6, TS_F_TASK | TS_F_SADDR);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 accept "
		  "[tcpship@32473 pid=\"4242\" comm=\"curl\" saddr=\"2001:db8::2\" sport=\"51234\" "
		  "daddr=\"2606:2800:220:1:248:1893:25c8:1946\" dport=\"443\"] "
		  "{\"type\":\"connect\",\"seq\":1}");
	/* MSGID is the event type, for each of them */
	static const char *const names[] = { NULL, "connect", "accept", "close", "retransmit",
					     "send", "recv", "dns", "flow" };
	for (unsigned t = TS_CONNECT; t < TS_TYPE_MAX; t++) {
		char want[64];

		mk_rec(&r, t, TS_IPV4, TS_F_ESTABLISHED);
		FMT(&f, &r, LINE, strlen(LINE), &m);
		snprintf(want, sizeof(want), " h1 tcpship 777 %s [", names[t]);
		CHECKF(strstr(m.buf, want), "type %u: %s", t, m.buf);
	}
}

TEST(syslog_5424_microseconds_never_rounded_up)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, 0);
	r.time_ns = 1795686129999999999ULL;	/* .999999999: still second :09 */
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<30>1 2026-11-26T09:42:09.999999Z ", 34), "%s", m.buf);
	r.time_ns = 1795686129000000000ULL;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<30>1 2026-11-26T09:42:09.000000Z ", 34), "%s", m.buf);
}

TEST(syslog_unknown_task_and_source_leave_params_out)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CLOSE, TS_IPV4, TS_F_ESTABLISHED);	/* no TASK, no SADDR */
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 close "
		  "[tcpship@32473 daddr=\"93.184.216.34\" dport=\"443\"] "
		  "{\"type\":\"connect\",\"seq\":1}");
	mk_rec(&r, TS_CLOSE, TS_IPV4, TS_F_ESTABLISHED | TS_F_SADDR);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(strstr(m.buf, "[tcpship@32473 saddr=\"10.0.0.2\" sport=\"51234\" daddr="), "%s",
	       m.buf);
	CHECK(!strstr(m.buf, "pid=") && !strstr(m.buf, "comm="));
}

TEST(syslog_3164_golden_local_time)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	/* local time, not UTC: two hours east of it */
	setenv("TZ", "XXX-2", 1);
	tzset();
	mk_fmt(&f, TS_SL_RFC3164);
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>Nov 26 11:42:09 h1 tcpship[777]: {\"type\":\"connect\",\"seq\":1}");
	/* the day is padded with a space, not a zero */
	r.time_ns = T6_NS;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>Nov  6 11:42:09 h1 tcpship[777]: {\"type\":\"connect\",\"seq\":1}");
	/* the local socket form: what syslog(3) sends, no HOSTNAME */
	f.format = TS_SL_RFC3164_LOCAL;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>Nov  6 11:42:09 tcpship[777]: {\"type\":\"connect\",\"seq\":1}");
}

TEST(syslog_pri)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, 0);
	f.facility = 23;	/* local7 */
	f.severity = 7;		/* debug */
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<191>1 ", 7), "%s", m.buf);
	f.facility = 0;		/* kern */
	f.severity = 0;		/* emerg */
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<0>1 ", 5), "%s", m.buf);
	f.facility = 10;	/* authpriv */
	f.severity = 4;		/* warning */
	f.format = TS_SL_RFC3164;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<84>", 4), "%s", m.buf);
}

TEST(syslog_severity_raised_for_retransmits_and_failed_closes)
{
	/* a task named `","error":"` in a close's line */
	static const char fake_close[] =
		"{\"type\":\"close\",\"comm\":\"\\\",\\\"error\\\":\\\"\",\"established\":true}\n";
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_RETRANSMIT, TS_IPV4, TS_F_TASK);
	CHECK_INT(ts_sl_severity(&f, &r), 5);
	mk_rec(&r, TS_CLOSE, TS_IPV4, TS_F_ESTABLISHED);
	CHECK_INT(ts_sl_severity(&f, &r), 6);
	/* the record says it, not the line: a task name cannot fake it */
	FMT(&f, &r, fake_close, strlen(fake_close), &m);
	CHECKF(!strncmp(m.buf, "<30>1 ", 6), "%s", m.buf);
	mk_rec(&r, TS_CLOSE, TS_IPV4, TS_F_ESTABLISHED | TS_F_ERROR);
	CHECK_INT(ts_sl_severity(&f, &r), 5);
	mk_rec(&r, TS_CLOSE, TS_IPV4, 0);	/* never established: a failed connect */
	CHECK_INT(ts_sl_severity(&f, &r), 5);
	mk_rec(&r, TS_CONNECT, TS_IPV4, 0);
	CHECK_INT(ts_sl_severity(&f, &r), 6);
	/* a more severe configured level is kept, a less severe one raised */
	f.severity = 3;
	mk_rec(&r, TS_RETRANSMIT, TS_IPV4, 0);
	CHECK_INT(ts_sl_severity(&f, &r), 3);
	f.severity = 7;
	CHECK_INT(ts_sl_severity(&f, &r), 5);
	mk_rec(&r, TS_ACCEPT, TS_IPV4, 0);
	CHECK_INT(ts_sl_severity(&f, &r), 7);
	/* and it reaches PRI: daemon.notice */
	f.severity = 6;
	mk_rec(&r, TS_RETRANSMIT, TS_IPV4, 0);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECKF(!strncmp(m.buf, "<29>1 ", 6), "%s", m.buf);
}

TEST(syslog_sd_escaping_of_hostile_comm)
{
	/* '"' '\' ']' newline 0x01 0xff "é" then 6 more, 15 in all; the 16th
	 * byte is not a NUL and must never be read */
	static const char comm[16] = "\"\\]\n\x01\xff\xc3\xa9" "abcdefg" "Z";
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK);
	memcpy(r.comm, comm, 16);
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 connect "
		  "[tcpship@32473 pid=\"4242\" comm=\"\\\"\\\\\\]\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xc3\xa9" "abcdefg\" daddr=\"93.184.216.34\" dport=\"443\"] "
		  "{\"type\":\"connect\",\"seq\":1}");
}

/* A container's task: its id, pod and namespace in the SD element, the
 * owner's words escaped; left out where max_message has no room. */
TEST(syslog_sd_container_pod_namespace)
{
	struct ts_cginfo cg = { 0 };
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;
	char id[65], longpod[251];

	memset(id, 'c', 64);
	id[64] = 0;
	cg.container_id = id;
	cg.pod = (char *)"web]\"x\n";
	cg.pod_namespace = (char *)"shop";
	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	r.cg = &cg;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK_STR(m.buf, "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 connect "
		  "[tcpship@32473 pid=\"4242\" comm=\"curl\" saddr=\"10.0.0.2\" sport=\"51234\" "
		  "daddr=\"93.184.216.34\" dport=\"443\" container_id=\"" "cccccccccccccccc"
		  "cccccccccccccccccccccccccccccccccccccccccccccccc\" pod=\"web\\]\\\"x\xef\xbf\xbd\" "
		  "pod_namespace=\"shop\"] {\"type\":\"connect\",\"seq\":1}");
	/* a host task (no container): nothing more than before */
	cg.container_id = NULL;
	cg.pod = cg.pod_namespace = NULL;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK(!strstr(m.buf, "container_id=") && !strstr(m.buf, "pod="));
	/* the smallest max_message RFC 5424 allows: the keys go, MSG stays */
	memset(longpod, 'p', 250);
	longpod[250] = 0;
	cg.container_id = id;
	cg.pod = longpod;
	f.max_message = 480;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK(!strstr(m.buf, "container_id="));
	CHECK(strstr(m.buf, "{\"type\":\"connect\""));
	/* room enough: they are there */
	f.max_message = 2048;
	FMT(&f, &r, LINE, strlen(LINE), &m);
	CHECK(strstr(m.buf, " pod=\"pppp") && strstr(m.buf, "container_id="));
}

TEST(syslog_sd_escape_function)
{
	char out[64];
	size_t n;

	n = ts_sl_sd_escape(out, "a\"b\\c]d", 7);
	CHECK_MEM(out, n, "a\\\"b\\\\c\\]d", 10);
	/* DEL, a lone continuation byte, a truncated sequence, an overlong
	 * form and a surrogate: each bad byte one U+FFFD */
	n = ts_sl_sd_escape(out, "\x7f\x80\xe2\x82", 4);
	CHECK_MEM(out, n, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12);
	n = ts_sl_sd_escape(out, "\xc0\xaf", 2);
	CHECK_MEM(out, n, "\xef\xbf\xbd\xef\xbf\xbd", 6);
	n = ts_sl_sd_escape(out, "\xed\xa0\x80", 3);
	CHECK_MEM(out, n, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9);
	/* valid 2, 3 and 4 byte sequences pass */
	n = ts_sl_sd_escape(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	CHECK_MEM(out, n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	/* a NUL inside the given length is a control byte too */
	n = ts_sl_sd_escape(out, "a\0b", 3);
	CHECK_MEM(out, n, "a\xef\xbf\xbd" "b", 5);
}

/* The header of mk_rec(TS_CONNECT, v4, TASK|SADDR) in 5424, up to where
 * truncated="N" goes: */
#define HEAD5424 "<30>1 2026-11-26T09:42:09.123456Z h1 tcpship 777 connect [tcpship@32473 " \
		 "pid=\"4242\" comm=\"curl\" saddr=\"10.0.0.2\" sport=\"51234\" " \
		 "daddr=\"93.184.216.34\" dport=\"443\""

TEST(syslog_truncation_5424_at_a_utf8_boundary)
{
	char line[1200], want[1200];
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;
	size_t head = strlen(HEAD5424), marker, room, mlen;

	mk_fmt(&f, TS_SL_RFC5424);
	f.max_message = 480;
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	/* MSG: 'a's, then 3-byte euro signs, 1000 bytes in all */
	mlen = 1000;
	marker = strlen(" truncated=\"1000\"");
	room = f.max_message - head - marker - 2;	/* "] " */
	memset(line, 'a', room - 1);
	for (size_t i = room - 1; i + 3 <= mlen; i += 3)
		memcpy(line + i, "\xe2\x82\xac", 3);
	mlen = room - 1 + (mlen - (room - 1)) / 3 * 3;
	line[mlen] = '\n';
	/* the euro sign starting at room - 1 does not fit: cut before it */
	snprintf(want, sizeof(want), HEAD5424 " truncated=\"%zu\"] %.*s", mlen, (int)room - 1,
		 line);
	FMT(&f, &r, line, mlen + 1, &m);
	CHECK(m.trunc);
	CHECK_STR(m.buf, want);
	CHECK_INT(m.len, 479);
	/* exactly at the limit: not cut, not marked */
	f.max_message = head + 2 + 100;
	FMT(&f, &r, line, 100 + 1, &m);	/* line[100] is not '\n': MSG is 101 bytes */
	CHECK(m.trunc);
	memcpy(want, line, 100);
	want[100] = '\n';
	FMT(&f, &r, want, 101, &m);	/* 100 bytes + its newline */
	CHECK(!m.trunc);
	CHECK_INT(m.len, (int64_t)f.max_message);
}

TEST(syslog_truncation_3164_marker)
{
	char line[600];
	struct ts_sl_fmt f;
	struct ts_rec r;
	struct msg m;
	const char *head = "<30>Nov 26 11:42:09 h1 tcpship[777]: ";

	setenv("TZ", "XXX-2", 1);
	tzset();
	mk_fmt(&f, TS_SL_RFC3164);
	f.max_message = 480;
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK);
	/* 'é' (2 bytes) everywhere: the cut must land on an even offset */
	for (size_t i = 0; i < 598; i += 2)
		memcpy(line + i, "\xc3\xa9", 2);
	line[598] = '\n';
	FMT(&f, &r, line, 599, &m);
	CHECK(m.trunc);
	CHECK(!strncmp(m.buf, head, strlen(head)));
	CHECKF(m.len >= 478 && m.len <= 480, "%d", m.len);
	const char *marker = " [truncated 598]";
	size_t kept = (size_t)m.len - strlen(head) - strlen(marker);

	CHECKF(!strcmp(m.buf + m.len - strlen(marker), marker), "%s", m.buf);
	CHECK_INT(kept % 2, 0);
	CHECK(!memcmp(m.buf + strlen(head), line, kept));
}

TEST(syslog_header_that_cannot_fit)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	char out[600];
	bool trunc;

	mk_fmt(&f, TS_SL_RFC5424);
	memset(f.hostname, 'h', TS_SL_HOST_MAX);
	f.hostname[TS_SL_HOST_MAX] = 0;
	f.max_message = 300;	/* less than the header */
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	CHECK_INT(ts_sl_format(&f, &r, LINE, strlen(LINE), out, sizeof(out), &trunc), -EMSGSIZE);
}

TEST(syslog_octet_counting_prefix)
{
	char p[12];

	CHECK_INT(ts_sl_octet_prefix(p, 123), 4);
	CHECK_STR(p, "123 ");
	CHECK_INT(ts_sl_octet_prefix(p, 0), 2);
	CHECK_STR(p, "0 ");
	CHECK_INT(ts_sl_octet_prefix(p, 65536), 6);
	CHECK_STR(p, "65536 ");
}

TEST(syslog_framings)
{
	struct ts_sl_fmt f;
	struct ts_rec r;
	char out[8192 + TS_SL_FRAMING_MAX], msg[600], want[700];
	bool trunc;
	int n, mlen;

	mk_fmt(&f, TS_SL_RFC5424);
	mk_rec(&r, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	mlen = ts_sl_format(&f, &r, LINE, strlen(LINE), msg, sizeof(msg), &trunc);
	CHECK(mlen > 0);
	/* a datagram: the message alone */
	n = ts_sl_frame(&f, TS_SL_BARE, &r, LINE, strlen(LINE), out, sizeof(out), &trunc);
	CHECK_MEM(out, (size_t)n, msg, (size_t)mlen);
	/* TCP/TLS: RFC 6587 octet counting */
	snprintf(want, sizeof(want), "%d %.*s", mlen, mlen, msg);
	n = ts_sl_frame(&f, TS_SL_OCTETS, &r, LINE, strlen(LINE), out, sizeof(out), &trunc);
	CHECK_MEM(out, (size_t)n, want, strlen(want));
	/* a local stream socket: newline-terminated */
	snprintf(want, sizeof(want), "%.*s\n", mlen, msg);
	n = ts_sl_frame(&f, TS_SL_NEWLINE, &r, LINE, strlen(LINE), out, sizeof(out), &trunc);
	CHECK_MEM(out, (size_t)n, want, strlen(want));
	/* a message of exactly max_message still fits with its framing */
	f.max_message = (size_t)mlen;
	snprintf(want, sizeof(want), "%d %.*s", mlen, mlen, msg);
	n = ts_sl_frame(&f, TS_SL_OCTETS, &r, LINE, strlen(LINE), out,
			f.max_message + TS_SL_FRAMING_MAX, &trunc);
	CHECK_MEM(out, (size_t)n, want, strlen(want));
	CHECK(!trunc);
}

TEST(syslog_worst_record_must_fit)
{
	struct ts_sl_fmt f;
	char err[300] = "";

	mk_fmt(&f, TS_SL_RFC5424);
	f.max_message = TS_SL_MIN_MESSAGE;
	CHECKF(!ts_sl_check_fits(&f, err, sizeof(err)), "%s", err);
	/* the longest HOSTNAME leaves no room in 480 bytes */
	memset(f.hostname, 'h', TS_SL_HOST_MAX);
	f.hostname[TS_SL_HOST_MAX] = 0;
	CHECK_INT(ts_sl_check_fits(&f, err, sizeof(err)), -EINVAL);
	CHECKF(strstr(err, "max_message: 480 is too small") && strstr(err, "at least"), "%s", err);
	f.max_message = 8192;
	CHECKF(!ts_sl_check_fits(&f, err, sizeof(err)), "%s", err);
	/* the local form has no HOSTNAME */
	f.format = TS_SL_RFC3164_LOCAL;
	f.max_message = TS_SL_MIN_MESSAGE;
	CHECKF(!ts_sl_check_fits(&f, err, sizeof(err)), "%s", err);
}

TEST(syslog_hostname_sanitising)
{
	char out[TS_SL_HOST_MAX + 1], in[400], err[200];

	ts_sl_sanitize_hostname("web-1.example.com", out);
	CHECK_STR(out, "web-1.example.com");
	ts_sl_sanitize_hostname("web 1\x01\xc3\xa9\x7f", out);
	CHECK_STR(out, "web_1____");
	ts_sl_sanitize_hostname("", out);
	CHECK_STR(out, "-");
	memset(in, 'x', 300);
	in[300] = 0;
	ts_sl_sanitize_hostname(in, out);
	CHECK_INT(strlen(out), TS_SL_HOST_MAX);
	/* a configured hostname is checked, not silently changed */
	CHECK_INT(ts_sl_check_hostname("web1", err, sizeof(err)), 0);
	CHECK_INT(ts_sl_check_hostname("web 1", err, sizeof(err)), -EINVAL);
	CHECKF(strstr(err, "hostname"), "%s", err);
	CHECK_INT(ts_sl_check_hostname("", err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_sl_check_hostname(in, err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_sl_check_hostname("caf\xc3\xa9", err, sizeof(err)), -EINVAL);
}

TEST(syslog_sd_id_validation)
{
	static const char *const good[] = { "tcpship@32473", "x@1", "my.app-1@123456789",
					    "abcdefghijklmnopqrstuvwxyz@12345" };
	static const char *const bad[] = {
		"", "tcpship", "origin", "a=b@1", "a b@1", "a]b@1", "a\"b@1", "@123", "x@",
		"x@12a", "x@0123", "x@1@2", "caf\xc3\xa9@1", "x@1\x01",
		"abcdefghijklmnopqrstuvwxyz@123456",	/* 33 */
	};
	char err[200];

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		CHECKF(!ts_sl_check_sd_id(good[i], err, sizeof(err)), "%s: %s", good[i], err);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = 0;
		CHECKF(ts_sl_check_sd_id(bad[i], err, sizeof(err)) == -EINVAL, "accepted '%s'",
		       bad[i]);
		CHECKF(!strncmp(err, "sd_id: ", 7), "'%s': %s", bad[i], err);
	}
}

TEST(syslog_app_name_validation)
{
	char err[200], n48[49], n49[50];

	memset(n48, 'a', 48);
	n48[48] = 0;
	memset(n49, 'a', 49);
	n49[49] = 0;
	CHECK_INT(ts_sl_check_app_name("tcpship", TS_SL_RFC5424, err, sizeof(err)), 0);
	CHECK_INT(ts_sl_check_app_name("tcp-ship_2", TS_SL_RFC5424, err, sizeof(err)), 0);
	CHECK_INT(ts_sl_check_app_name(n48, TS_SL_RFC5424, err, sizeof(err)), 0);
	CHECK_INT(ts_sl_check_app_name(n49, TS_SL_RFC5424, err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_sl_check_app_name("a b", TS_SL_RFC5424, err, sizeof(err)), -EINVAL);
	CHECK_INT(ts_sl_check_app_name("", TS_SL_RFC5424, err, sizeof(err)), -EINVAL);
	/* RFC 3164's TAG: letters and digits, at most 32 */
	CHECK_INT(ts_sl_check_app_name("tcpship2", TS_SL_RFC3164, err, sizeof(err)), 0);
	CHECK_INT(ts_sl_check_app_name("tcp-ship", TS_SL_RFC3164_LOCAL, err, sizeof(err)), -EINVAL);
	n48[33] = 0;
	CHECK_INT(ts_sl_check_app_name(n48, TS_SL_RFC3164, err, sizeof(err)), -EINVAL);
	n48[32] = 0;
	CHECK_INT(ts_sl_check_app_name(n48, TS_SL_RFC3164, err, sizeof(err)), 0);
}

TEST(syslog_url_good)
{
	static const struct {
		const char *spec;
		enum ts_sl_transport t;
		const char *host;
		unsigned port;
		const char *path;
	} cases[] = {
		{ "syslog", TS_SL_LOCAL, "", 0, "/dev/log" },
		{ "syslog://logs.example.com", TS_SL_UDP, "logs.example.com", 514, "" },
		{ "syslog+udp://10.1.2.3:5514", TS_SL_UDP, "10.1.2.3", 5514, "" },
		{ "syslog+tcp://10.1.2.3", TS_SL_TCP, "10.1.2.3", 514, "" },
		{ "syslog+tcp://log_host-1:1", TS_SL_TCP, "log_host-1", 1, "" },
		{ "syslog+tls://logs.example.com", TS_SL_TLS, "logs.example.com", 6514, "" },
		{ "syslog+tls://logs.example.com:65535", TS_SL_TLS, "logs.example.com", 65535, "" },
		{ "syslog+tcp://[::1]:6000", TS_SL_TCP, "::1", 6000, "" },
		{ "syslog+tls://[2001:db8::1]", TS_SL_TLS, "2001:db8::1", 6514, "" },
		{ "syslog://[::ffff:127.0.0.1]:514", TS_SL_UDP, "::ffff:127.0.0.1", 514, "" },
		{ "syslog+unix:///run/systemd/journal/syslog", TS_SL_UNIX, "", 0,
		  "/run/systemd/journal/syslog" },
	};
	char err[300];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct ts_sl_url u;

		err[0] = 0;
		CHECKF(!ts_sl_parse_url(cases[i].spec, &u, err, sizeof(err)), "%s: %s",
		       cases[i].spec, err);
		CHECKF(u.transport == cases[i].t, "%s: transport %d", cases[i].spec, u.transport);
		CHECKF(!strcmp(u.host, cases[i].host), "%s: host '%s'", cases[i].spec, u.host);
		CHECKF(u.port == cases[i].port, "%s: port %u", cases[i].spec, u.port);
		CHECKF(!strcmp(u.path, cases[i].path), "%s: path '%s'", cases[i].spec, u.path);
	}
}

TEST(syslog_url_bad)
{
	static const char *const bad[] = {
		"syslog+http://h", "syslog+udp:/h", "syslog://", "syslog://:514", "syslog://h:0",
		"syslog://h:65536", "syslog://h:abc", "syslog://h:", "syslog://h:514x",
		"syslog://h:-1", "syslog://h: 514", "syslog://::1:514", "syslog://::1",
		"syslog://[::1", "syslog://[::1]x", "syslog://[nothex]:1", "syslog://[]:1",
		"syslog://[10.0.0.1]:1", "syslog://h/path", "syslog://user@h", "syslog://h h",
		"syslog+tcp://h:99999999999999999999", "syslog+unix://", "syslog://h/",
		"syslog://h?x=1", "syslog://h#f", "syslog://b\xc3\xbc" "cher.example",
		"syslog://[fe80::1%25eth0]:514", "syslog://h%41", "SYSLOG://h",
		"syslog+unix://////////////////////////////////////////////////////////////////"
		"///////////////////////////////////////////////////toolong",
	};
	char err[300];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct ts_sl_url u;

		err[0] = 0;
		CHECKF(ts_sl_parse_url(bad[i], &u, err, sizeof(err)) == -EINVAL, "accepted '%s'",
		       bad[i]);
		/* one line that names the URL */
		CHECKF(strstr(err, bad[i]) || strlen(bad[i]) > 100, "'%s': %s", bad[i], err);
		CHECKF(!strchr(err, '\n'), "'%s': %s", bad[i], err);
	}
}

/* ---- the sink through its ops ---- */

static struct ts_batch *batch_of(const struct ts_rec *recs, const char *const *lines, int n)
{
	struct ts_batch *b = ts_batch_new(16384, 16);

	for (int i = 0; i < n && b; i++) {
		size_t len = strlen(lines[i]);

		b->recs[i] = recs[i];
		b->recs[i].off = (uint32_t)b->len;
		b->recs[i].len = (uint32_t)len;
		b->recs[i].seq = (uint64_t)i + 1;
		memcpy(b->data + b->len, lines[i], len);
		b->len += len;
		b->n++;
	}
	return b;
}

TEST(syslog_sink_format_hook_frames)
{
	static const char *const lines[] = { "{\"n\":1}\n", "{\"n\":22}\n" };
	struct ts_rec recs[2];
	struct ts_output o;
	struct ts_buf out = { 0 };
	struct ts_batch *b;
	char err[300], want[600];
	void *conf;
	int rc;

	mk_rec(&recs[0], TS_CONNECT, TS_IPV4, 0);
	mk_rec(&recs[1], TS_ACCEPT, TS_IPV4, 0);
	b = batch_of(recs, lines, 2);
	CHECK(b);
	/* nothing listens on port 1: open warns and the sink starts anyway */
	rc = test_sink_open(NULL, "{\"type\":\"syslog\",\"url\":\"syslog+tcp://127.0.0.1:1\","
		       "\"hostname\":\"h1\",\"facility\":\"local3\",\"severity\":\"warning\"}",
		       &o, &conf, err, sizeof(err));
	CHECKF(!rc, "open: %d %s", rc, err);
	CHECK_STR(o.name, "syslog+tcp://127.0.0.1:1");
	CHECK_INT(o.ops->format(&o, b, 0, 2, &out), 0);
	/* two octet-counted RFC 5424 frames back to back, PRI local3.warning */
#define M1 "<156>1 2026-11-26T09:42:09.123456Z h1 tcpship %d connect " \
	   "[tcpship@32473 daddr=\"93.184.216.34\" dport=\"443\"] {\"n\":1}"
#define M2 "<156>1 2026-11-26T09:42:09.123456Z h1 tcpship %d accept " \
	   "[tcpship@32473 daddr=\"93.184.216.34\" dport=\"443\"] {\"n\":22}"
	char a[200], c[200];
	int la = snprintf(a, sizeof(a), M1, (int)getpid());
	int lc = snprintf(c, sizeof(c), M2, (int)getpid());

	snprintf(want, sizeof(want), "%d %s%d %s", la, a, lc, c);
	CHECK_MEM(out.p, out.len, want, strlen(want));
	char counters[200];

	o.ops->counters(&o, counters, sizeof(counters));
	CHECK_STR(counters, "sent=0 truncated=0 reconnects=0 maybe_lost=0");
	test_sink_close(&o, conf);
	ts_buf_free(&out);
	ts_batch_put(b);
}

TEST(syslog_sink_default_formats_by_transport)
{
	static const char *const lines[] = { "{\"n\":1}\n" };
	struct ts_rec rec;
	struct ts_output o;
	struct ts_buf out = { 0 };
	struct ts_batch *b;
	char err[300], want[600], host[256] = "", clean[256];
	void *conf;
	int rc;

	setenv("TZ", "XXX-2", 1);
	tzset();
	mk_rec(&rec, TS_CONNECT, TS_IPV4, 0);
	b = batch_of(&rec, lines, 1);
	CHECK(b);
	/* -o syslog: the local BSD form syslog(3) sends, whatever /dev/log is */
	rc = test_sink_open("syslog+unix:///nonexistent/tcpship-test.sock", NULL, &o, &conf, err,
		       sizeof(err));
	CHECKF(!rc, "open: %s", err);
	CHECK_INT(o.ops->format(&o, b, 0, 1, &out), 0);
	gethostname(host, sizeof(host) - 1);
	ts_sl_sanitize_hostname(host, clean);
	/* syslog+unix:// defaults to RFC 5424 (one message, then the '\n'
	 * the format hook puts after each datagram) */
	snprintf(want, sizeof(want), "<30>1 2026-11-26T09:42:09.123456Z %s tcpship %d connect "
		 "[tcpship@32473 daddr=\"93.184.216.34\" dport=\"443\"] {\"n\":1}\n", clean,
		 (int)getpid());
	CHECK_MEM(out.p, out.len, want, strlen(want));
	test_sink_close(&o, conf);
	out.len = 0;

	rc = test_sink_open(NULL, "{\"type\":\"syslog\",\"url\":\"syslog\"}", &o, &conf, err,
		       sizeof(err));
	CHECKF(!rc, "open: %s", err);
	CHECK_INT(o.ops->format(&o, b, 0, 1, &out), 0);
	snprintf(want, sizeof(want), "<30>Nov 26 11:42:09 tcpship[%d]: {\"n\":1}\n", (int)getpid());
	CHECK_MEM(out.p, out.len, want, strlen(want));
	test_sink_close(&o, conf);
	out.len = 0;

	/* rfc3164 over the network carries HOSTNAME; a config entry with no
	 * url is the local socket */
	rc = test_sink_open(NULL, "{\"type\":\"syslog\",\"url\":\"syslog://127.0.0.1:9\","
		       "\"format\":\"rfc3164\",\"hostname\":\"h1\",\"app_name\":\"ship2\"}", &o,
		       &conf, err, sizeof(err));
	CHECKF(!rc, "open: %s", err);
	CHECK_INT(o.ops->format(&o, b, 0, 1, &out), 0);
	snprintf(want, sizeof(want), "<30>Nov 26 11:42:09 h1 ship2[%d]: {\"n\":1}\n", (int)getpid());
	CHECK_MEM(out.p, out.len, want, strlen(want));
	test_sink_close(&o, conf);
	ts_buf_free(&out);
	ts_batch_put(b);
}

TEST(syslog_sink_config_mistakes)
{
	static const struct {
		const char *spec, *json, *words;
	} cases[] = {
		{ "syslog+http://h", NULL, "unknown syslog URL" },
		{ "syslog://h:0", NULL, "port" },
		{ "syslog+tcp://[::1", NULL, "IPv6" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog://h:99999\"}", "port" },
		{ NULL, "{\"type\":\"syslog\",\"format\":\"rfc9999\"}", "rfc5424, rfc3164" },
		{ NULL, "{\"type\":\"syslog\",\"facility\":\"local8\"}", "local7" },
		{ NULL, "{\"type\":\"syslog\",\"severity\":\"info \"}", "severity" },
		{ NULL, "{\"type\":\"syslog\",\"sd_id\":\"tcpship\"}", "sd_id" },
		{ NULL, "{\"type\":\"syslog\",\"app_name\":\"a b\"}", "app_name" },
		{ NULL, "{\"type\":\"syslog\",\"format\":\"rfc3164\",\"app_name\":\"tcp-ship\"}",
		  "app_name" },
		{ NULL, "{\"type\":\"syslog\",\"hostname\":\"a b\"}", "hostname" },
		{ NULL, "{\"type\":\"syslog\",\"max_message\":100}", "max_message" },
		{ NULL, "{\"type\":\"syslog\",\"max_message\":\"1MiB\"}", "max_message" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog://127.0.0.1\",\"max_message\":"
			"\"64KiB\"}", "UDP" },
		{ NULL, "{\"type\":\"syslog\",\"timeout\":\"1us\"}", "timeout" },
		{ NULL, "{\"type\":\"syslog\",\"bogus\":1}", "unknown key" },
		{ NULL, "{\"type\":\"syslog\",\"tls\":{\"bogus\":1}}", "tls.bogus" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog+tcp://127.0.0.1:1\","
			"\"tls\":{\"verify\":false}}", "only for syslog+tls" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog+tls://127.0.0.1:1\","
			"\"tls\":{\"ca_file\":\"/nonexistent/ca.pem\"}}", "/nonexistent/ca.pem" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog+tls://127.0.0.1:1\","
			"\"tls\":{\"cert\":\"/etc/hostname\"}}", "both cert and key" },
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog+tls://127.0.0.1:1\","
			"\"tls\":{\"ca_file\":\"/etc/hostname\"}}", "tls.ca_file" },
		/* a long hostname leaves no room in the smallest message (the
		 * local form has no HOSTNAME: UDP here) */
		{ NULL, "{\"type\":\"syslog\",\"url\":\"syslog://127.0.0.1:9\","
			"\"max_message\":480,\"hostname\":\""
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"\"}", "max_message" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct ts_output o;
		void *conf = NULL;
		char err[400] = "";
		int rc = test_sink_open(cases[i].spec, cases[i].json, &o, &conf, err, sizeof(err));

		if (!rc)
			test_sink_close(&o, conf);
		CHECKF(rc == -EINVAL, "case %zu (%s): rc %d, err '%s'", i,
		       cases[i].spec ? cases[i].spec : cases[i].json, rc, err);
		CHECKF(strstr(err, cases[i].words), "case %zu: '%s' lacks '%s'", i, err,
		       cases[i].words);
		CHECKF(!strchr(err, '\n'), "case %zu: %s", i, err);
	}
}
