// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ECS, OCSF and CEF shapes: records built by hand, every line checked
 * for syntax (json-c strict, UTF-8, no raw control byte, one '\n'), the
 * facts each shape must say checked by path, one golden line per shape,
 * and the longest lines the ABI and the identity caps allow against
 * TS_LINE_MAX. The full ECS / OCSF definitions are checked by the
 * integration tests (tests/lib/ecs_check.py, ocsf_check.py) on real
 * traffic; CEF lines by the strict parser there too.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "line_check.h"
#include "shape.h"
#include "tcpship.h"
#include "test.h"

#define AGENT "0f8e2a3c1d2b4c5d8e9f0a1b2c3d4e5f"
#define T_NS 1795686129123456789ULL	/* 2026-11-26T09:42:09.123456789Z */
#define T_MS "1795686129123"

static const uint8_t v4_src[4] = { 10, 0, 0, 2 };
static const uint8_t v4_dst[4] = { 93, 184, 216, 34 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t v6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x99 };

static void mk_event(struct ts_event *ev, unsigned type, unsigned family, unsigned flags)
{
	struct ts_hdr *h = &ev->h;

	memset(ev, 0, sizeof(*ev));
	h->size = sizeof(*ev);
	h->type = (__u8)type;
	h->probe = TS_TRACEPOINT;
	h->family = (__u8)family;
	h->flags = (__u16)flags;
	h->pid = 4242;
	h->tid = 4243;
	h->uid = 1000;
	h->ppid = 4200;
	memcpy(h->comm, "curl", 5);
	h->sport = 51234;
	h->dport = 443;
	memcpy(h->saddr, family == TS_IPV4 ? v4_src : v6_src, family == TS_IPV4 ? 4 : 16);
	memcpy(h->daddr, family == TS_IPV4 ? v4_dst : v6_dst, family == TS_IPV4 ? 4 : 16);
}

struct sline {
	char buf[TS_LINE_MAX + 64];
	int len;
};

/* Encode in a shape with cap TS_LINE_MAX; nothing written past it. */
static bool shape_raw(const char *file, int line, unsigned shape, struct ts_enc *e,
		      const void *rec, size_t size, uint64_t seq, struct sline *l)
{
	memset(l->buf, 0xa5, sizeof(l->buf));
	l->len = ts_shapes[shape].encode(e, rec, size, seq, T_NS, l->buf, TS_LINE_MAX);
	if (l->len <= 0)
		return ts_test_fail(file, line, "%s: encode returned %d", ts_shapes[shape].name,
				    l->len);
	if (l->len >= TS_LINE_MAX)
		return ts_test_fail(file, line, "%s: a line of %d bytes", ts_shapes[shape].name,
				    l->len);
	for (size_t i = TS_LINE_MAX; i < sizeof(l->buf); i++)
		if ((unsigned char)l->buf[i] != 0xa5)
			return ts_test_fail(file, line, "%s: wrote past cap", ts_shapes[shape].name);
	if (memchr(l->buf, 0, (size_t)l->len))
		return ts_test_fail(file, line, "%s: a NUL byte in the line", ts_shapes[shape].name);
	if (memchr(l->buf, '\n', (size_t)l->len - 1) || l->buf[l->len - 1] != '\n')
		return ts_test_fail(file, line, "%s: not one line", ts_shapes[shape].name);
	return true;
}

/* a JSON shape's line, parsed */
static struct json_object *jshape(const char *file, int line, unsigned shape, struct ts_enc *e,
				  const void *rec, size_t size, struct sline *l)
{
	if (!shape_raw(file, line, shape, e, rec, size, 7, l))
		return NULL;
	return line_check(file, line, l->buf, (size_t)l->len, LC_NO_SCHEMA);
}

/* the member at a dotted path, or NULL */
static struct json_object *at(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static bool has_str(const char *file, int line, struct json_object *o, const char *path,
		    const char *want)
{
	struct json_object *v = at(o, path);

	if (!v || !json_object_is_type(v, json_type_string))
		return ts_test_fail(file, line, "%s: not a string (%s)", path,
				    json_object_to_json_string(o));
	return ts_check_str(file, line, path, json_object_get_string(v), want);
}

static bool has_int(const char *file, int line, struct json_object *o, const char *path,
		    int64_t want)
{
	struct json_object *v = at(o, path);

	if (!v || !json_object_is_type(v, json_type_int))
		return ts_test_fail(file, line, "%s: not an integer (%s)", path,
				    json_object_to_json_string(o));
	return ts_check_i64(file, line, path, json_object_get_int64(v), want);
}

static bool absent(const char *file, int line, struct json_object *o, const char *path)
{
	if (at(o, path))
		return ts_test_fail(file, line, "%s: present (%s)", path,
				    json_object_to_json_string(o));
	return true;
}

#define JSHAPE(shape, rec, l)							\
	({									\
		struct json_object *o_ = jshape(__FILE__, __LINE__, (shape), &e, (rec), \
						sizeof(*(rec)), (l));		\
		if (!o_)							\
			return;							\
		o_;								\
	})
#define STR(o, path, want) do { if (!has_str(__FILE__, __LINE__, o, path, want)) goto out; } while (0)
#define INT(o, path, want) do { if (!has_int(__FILE__, __LINE__, o, path, want)) goto out; } while (0)
#define ABSENT(o, path) do { if (!absent(__FILE__, __LINE__, o, path)) goto out; } while (0)

/* want with its "@V@" replaced by the library's version */
static int with_version(char *out, size_t cap, const char *want, const char *version)
{
	const char *at_v = strstr(want, "@V@");

	if (!at_v)
		return snprintf(out, cap, "%s", want);
	return snprintf(out, cap, "%.*s%s%s", (int)(at_v - want), want, version, at_v + 3);
}

/* ---- ECS ---- */

TEST(ecs_connect_golden)
{
	static const char want[] =
		"{\"@timestamp\":\"2026-11-26T09:42:09.123456789Z\",\"ecs\":{\"version\":\"9.4.0\"},"
		"\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"connection\","
		"\"start\"],\"action\":\"connect\",\"sequence\":7,\"severity\":1,\"module\":\"tcpship\","
		"\"dataset\":\"tcpship.network\"},\"agent\":{\"type\":\"tcpship\",\"version\":\""
		"@V@\",\"ephemeral_id\":\"" AGENT "\"},\"host\":{\"name\":\"h1\","
		"\"hostname\":\"h1\"},\"source\":{\"ip\":\"10.0.0.2\",\"port\":51234},"
		"\"destination\":{\"ip\":\"93.184.216.34\",\"port\":443},\"network\":{\"transport\":"
		"\"tcp\",\"iana_number\":\"6\",\"type\":\"ipv4\",\"direction\":\"egress\"},"
		"\"process\":{\"pid\":4242,\"name\":\"curl\",\"thread\":{\"id\":4243},\"parent\":"
		"{\"pid\":4200}},\"user\":{\"id\":\"1000\"},\"tcpship\":{\"probe\":\"tracepoint\"}}\n";
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	char exp[1024];
	int n;

	CHECK(shape_raw(__FILE__, __LINE__, TS_SHAPE_ECS, &e, &ev, sizeof(ev), 7, &l));
	n = with_version(exp, sizeof(exp), want, e.version);
	CHECK_MEM(l.buf, (size_t)l.len, exp, (size_t)n);
}

/* accept: the remote end initiated, so it is the source; its bytes are
 * the ones the local end received */
TEST(ecs_inbound_close_swaps_ends_and_bytes)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CLOSE, TS_IPV6, TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ESTABLISHED);
	ev.close.duration_ns = 2500000;
	ev.close.bytes_sent = 100;
	ev.close.bytes_received = 7;
	ev.close.retransmits = 3;
	o = JSHAPE(TS_SHAPE_ECS, &ev, &l);
	STR(o, "source.ip", "2001:db8::99");
	INT(o, "source.port", 443);
	INT(o, "source.bytes", 7);
	STR(o, "destination.ip", "2001:db8::2");
	INT(o, "destination.bytes", 100);
	INT(o, "network.bytes", 107);
	STR(o, "network.direction", "ingress");
	STR(o, "network.type", "ipv6");
	STR(o, "event.outcome", "success");
	INT(o, "event.duration", 2500000);
	INT(o, "tcpship.retransmits", 3);
	ABSENT(o, "error");
out:
	json_object_put(o);
}

TEST(ecs_refused_is_failure_with_errno)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CLOSE, TS_IPV4,
		 TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ACTIVE | TS_F_ERROR);
	ev.close.error = ECONNREFUSED;
	o = JSHAPE(TS_SHAPE_ECS, &ev, &l);
	STR(o, "event.outcome", "failure");
	STR(o, "error.code", "ECONNREFUSED");
	STR(o, "source.ip", "10.0.0.2");
	STR(o, "network.direction", "egress");
	INT(o, "event.severity", 3);
out:
	json_object_put(o);
}

/* no task, no local address: those keys are absent, never empty */
TEST(ecs_unknowns_absent)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV4, 0);
	ev.h.state = 1;
	o = JSHAPE(TS_SHAPE_ECS, &ev, &l);
	ABSENT(o, "process");
	ABSENT(o, "user");
	ABSENT(o, "source");
	ABSENT(o, "event.outcome");
	ABSENT(o, "network.direction");
	STR(o, "destination.ip", "93.184.216.34");
	STR(o, "tcpship.state", "ESTABLISHED");
	if (strstr(l.buf, "\"\"")) {
		FAIL("an empty string: %s", l.buf);
		goto out;
	}
out:
	json_object_put(o);
}

/* ---- OCSF ---- */

TEST(ocsf_activities)
{
	static const struct { unsigned type, flags; int err; int act; } cases[] = {
		{ TS_CONNECT, 0, 0, 1 },
		{ TS_ACCEPT, 0, 0, 1 },
		{ TS_CLOSE, TS_F_ESTABLISHED, 0, 2 },
		{ TS_CLOSE, TS_F_START | TS_F_ACTIVE, ECONNREFUSED, 5 },
		{ TS_CLOSE, TS_F_START | TS_F_ACTIVE, ETIMEDOUT, 4 },
		{ TS_CLOSE, TS_F_ESTABLISHED, ECONNRESET, 4 },
		{ TS_SEND, 0, 0, 6 },
		{ TS_RECV, 0, 0, 6 },
		{ TS_RETRANSMIT, 0, 0, 99 },
	};
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;

	ts_enc_init(&e, "h1", AGENT);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct json_object *o;

		mk_event(&ev, cases[i].type, TS_IPV4, TS_F_TASK | TS_F_SADDR | cases[i].flags);
		ev.close.error = (__u16)cases[i].err;
		o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
		INT(o, "class_uid", 4001);
		INT(o, "category_uid", 4);
		INT(o, "activity_id", cases[i].act);
		INT(o, "type_uid", 400100 + cases[i].act);
		INT(o, "time", 1795686129123);
		STR(o, "metadata.version", "1.8.0");
		INT(o, "metadata.sequence", 7);
		INT(o, "actor.process.pid", 4242);
		STR(o, "device.hostname", "h1");
		json_object_put(o);
		continue;
out:
		json_object_put(o);
		return;
	}
}

/* accept's close: the remote end is src_endpoint, so bytes_out (OCSF: from
 * the source to the destination) is what the local end received */
TEST(ocsf_inbound_close_bytes_are_the_sources)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CLOSE, TS_IPV4, TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ESTABLISHED);
	ev.close.bytes_sent = 100;
	ev.close.bytes_received = 7;
	o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
	STR(o, "src_endpoint.ip", "93.184.216.34");
	INT(o, "src_endpoint.port", 443);
	INT(o, "traffic.bytes_out", 7);
	INT(o, "traffic.bytes_in", 100);
	INT(o, "traffic.bytes", 107);
	json_object_put(o);
	/* outbound: the local end is the source */
	mk_event(&ev, TS_CLOSE, TS_IPV4,
		 TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ACTIVE | TS_F_ESTABLISHED);
	ev.close.bytes_sent = 100;
	ev.close.bytes_received = 7;
	o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
	INT(o, "src_endpoint.port", 51234);
	INT(o, "traffic.bytes_out", 100);
	INT(o, "traffic.bytes_in", 7);
	json_object_put(o);
	/* recv, direction unknown: the local end is the source, it got the bytes */
	mk_event(&ev, TS_RECV, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	ev.io.bytes = 9;
	o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
	INT(o, "traffic.bytes_in", 9);
	ABSENT(o, "traffic.bytes_out");
out:
	json_object_put(o);
}

/* 99 Other: activity_name says what it is, type_name is type_uid's caption */
TEST(ocsf_retransmit_type_name_is_the_captions)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_RETRANSMIT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
	INT(o, "type_uid", 400199);
	STR(o, "activity_name", "Retransmit");
	STR(o, "type_name", "Network Activity: Other");
	json_object_put(o);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	o = JSHAPE(TS_SHAPE_OCSF, &ev, &l);
	STR(o, "type_name", "Network Activity: Open");
out:
	json_object_put(o);
}

TEST(ocsf_dns_query)
{
	static const uint8_t q[] = {
		0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0x00, 0x1c, 0x00, 0x01,
	};
	struct ts_enc e;
	struct ts_dns d;
	struct sline l;
	struct json_object *o;

	ts_enc_init(&e, "h1", AGENT);
	memset(&d, 0, sizeof(d));
	mk_event((struct ts_event *)&d, TS_DNS, TS_IPV4, TS_F_TASK);
	d.h.size = sizeof(d);
	d.h.dport = 53;
	memcpy(d.payload, q, sizeof(q));
	d.len = sizeof(q);
	d.total = sizeof(q);
	o = JSHAPE(TS_SHAPE_OCSF, &d, &l);
	INT(o, "class_uid", 4003);
	INT(o, "type_uid", 400301);
	STR(o, "query.hostname", "www.example.com");
	STR(o, "query.type", "AAAA");
	INT(o, "query.packet_uid", 0xbeef);
	INT(o, "connection_info.protocol_num", 17);
	INT(o, "traffic.bytes_out", sizeof(q));
	ABSENT(o, "src_endpoint");	/* the socket was not bound */
	INT(o, "dst_endpoint.port", 53);
	ABSENT(o, "is_src_dst_assignment_known");	/* not in DNS Activity */
	json_object_put(o);
	/* ECS of the same */
	o = JSHAPE(TS_SHAPE_ECS, &d, &l);
	STR(o, "dns.question.name", "www.example.com");
	STR(o, "dns.question.type", "AAAA");
	STR(o, "dns.type", "query");
	STR(o, "network.protocol", "dns");
	STR(o, "network.transport", "udp");
out:
	json_object_put(o);
}

/* ---- CEF ---- */

TEST(cef_close_golden)
{
	static const char want[] =
		"CEF:0|tcpship|tcpship|@V@|connect-failed|TCP connect failed|7|"
		"rt=" T_MS " act=close deviceDirection=1 proto=TCP src=10.0.0.2 spt=51234 "
		"dst=93.184.216.34 dpt=443 spid=4242 sproc=curl suid=1000 in=0 out=0 "
		"outcome=failure reason=ECONNREFUSED start=" T_MS " end=" T_MS
		" cn1Label=durationNs cn1=0 cn2Label=retransmits cn2=0"
		" flexString1Label=endReason flexString1=refused cn3Label=sequence cn3=7 "
		"dvchost=h1 deviceExternalId=" AGENT "\n";
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CLOSE, TS_IPV4,
		 TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ACTIVE | TS_F_ERROR);
	ev.close.error = ECONNREFUSED;
	char exp[1024];
	int n;

	CHECK(shape_raw(__FILE__, __LINE__, TS_SHAPE_CEF, &e, &ev, sizeof(ev), 7, &l));
	n = with_version(exp, sizeof(exp), want, e.version);
	CHECK_MEM(l.buf, (size_t)l.len, exp, (size_t)n);
}

/* an accepting server is the destination: its process keys are d* */
TEST(cef_inbound_process_on_destination)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_ACCEPT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	CHECK(shape_raw(__FILE__, __LINE__, TS_SHAPE_CEF, &e, &ev, sizeof(ev), 7, &l));
	CHECK(strstr(l.buf, " src=93.184.216.34 spt=443 dst=10.0.0.2 dpt=51234 dpid=4242 "
			    "dproc=curl duid=1000 "));
	CHECK(strstr(l.buf, "|accept|TCP accept|3|"));
	CHECK(!strstr(l.buf, "spid="));
}

TEST(cef_escape)
{
	char out[64];
	size_t n = ts_cef_escape(out, "a=b\\c\nd\re|f\x01g\xff", 14);

	CHECK_MEM(out, n, "a\\=b\\\\c\\nd\\re|f\xef\xbf\xbdg\xef\xbf\xbd", 22);
}

/* a hostile process name adds no key and no line */
TEST(cef_hostile_comm)
{
	struct ts_enc e;
	struct ts_event ev;
	struct sline l;

	ts_enc_init(&e, "h=1", AGENT);
	mk_event(&ev, TS_CONNECT, TS_IPV4, TS_F_TASK | TS_F_SADDR);
	memcpy(ev.h.comm, "x suid=0\nCEF:\\", 15);
	CHECK(shape_raw(__FILE__, __LINE__, TS_SHAPE_CEF, &e, &ev, sizeof(ev), 7, &l));
	CHECK(strstr(l.buf, " sproc=x suid\\=0\\nCEF:\\\\ suid=1000 "));
	CHECK(strstr(l.buf, " dvchost=h\\=1 "));
}

/* ---- the longest lines ---- */

/* hostile host, comm, qname, an exe and container keys at ident.c's caps:
 * every shape's line still fits */
TEST(shapes_worst_case_fit)
{
	static char exe[1500], path[590], name[1200], pod[600];
	uint8_t q[12 + 255 + 4] = { [5] = 1 };
	size_t off = 12;
	static const unsigned labels[] = { 63, 63, 63, 61 };
	struct ts_cginfo cg = {};
	struct ts_ident id = {};
	char exe_esc[1500 * 6];
	char host[65];
	struct ts_enc e;
	struct ts_dns d;
	struct sline l;

	memset(host, '=', 64);
	host[64] = 0;
	ts_enc_init(&e, host, AGENT);
	for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
		q[off++] = (uint8_t)labels[i];
		memset(q + off, '=', labels[i]);
		off += labels[i];
	}
	q[off++] = 0;
	q[off++] = 0xff;
	q[off++] = 0xff;
	q[off++] = 0;
	q[off++] = 1;
	memset(&d, 0, sizeof(d));
	mk_event((struct ts_event *)&d, TS_DNS, TS_IPV6, TS_F_TASK | TS_F_SADDR | TS_F_NETNS);
	d.h.size = sizeof(d);
	memcpy(d.payload, q, off);
	d.len = (__u16)off;
	d.total = UINT32_MAX;
	memset(d.h.comm, 0x01, 15);
	d.h.pid = d.h.tid = d.h.uid = d.h.ppid = d.h.netns = UINT32_MAX;
	memset(d.h.saddr, 0xff, 16);
	memset(d.h.daddr, 0xff, 16);
	/* exe: 1500 '=' (ident.c keeps an exe whose JSON is at most 1536
	 * bytes); the cgroup's strings: at most 3584 bytes of JSON together */
	memset(exe, '=', sizeof(exe) - 1);
	memset(path, 0x01, sizeof(path) - 1);	/* 6 bytes each in JSON */
	memset(name, '=', sizeof(name) - 1);
	memset(pod, '=', sizeof(pod) - 1);
	memcpy(exe_esc, exe, sizeof(exe) - 1);
	id.exe = exe;
	id.exe_len = sizeof(exe) - 1;
	id.exe_esc = exe_esc;
	id.exe_esc_len = sizeof(exe) - 1;
	id.start_str = "2026-11-26T09:42:09.123456789Z";
	id.start_wall_ns = T_NS;
	cg.path = path;
	cg.container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	cg.runtime = "containerd";
	cg.name = name;
	cg.pod = pod;
	cg.json_len = 1;	/* rendered, and within the cap */
	memset(id.community_id, 'A', TS_COMMUNITY_ID_LEN - 1);
	id.cg = &cg;
	e.id = &id;
	for (unsigned s = TS_SHAPE_ECS; s <= TS_SHAPE_CEF; s++) {
		CHECK(shape_raw(__FILE__, __LINE__, s, &e, &d, sizeof(d), UINT64_MAX, &l));
		CHECKF(l.len > 4000, "%s: worst case only %d bytes", ts_shapes[s].name, l.len);
		if (s != TS_SHAPE_CEF) {
			struct json_object *o = line_check(__FILE__, __LINE__, l.buf,
							   (size_t)l.len, LC_NO_SCHEMA);

			CHECK(o);
			json_object_put(o);
		}
	}
}

/* malformed records: -EINVAL in every shape; a short buffer: -ENOSPC */
TEST(shapes_refuse_bad_records)
{
	struct ts_enc e;
	struct ts_event ev;
	static char out[TS_LINE_MAX];

	ts_enc_init(&e, "h1", AGENT);
	mk_event(&ev, TS_CONNECT, TS_IPV4, 0);
	for (unsigned s = TS_SHAPE_ECS; s <= TS_SHAPE_CEF; s++) {
		CHECK_INT(ts_shapes[s].encode(&e, &ev, sizeof(ev), 1, T_NS, out, TS_LINE_MAX - 1),
			  -ENOSPC);
		CHECK_INT(ts_shapes[s].encode(&e, &ev, sizeof(ev.h) - 1, 1, T_NS, out,
					      TS_LINE_MAX), -EINVAL);
		ev.h.type = 99;
		CHECK_INT(ts_shapes[s].encode(&e, &ev, sizeof(ev), 1, T_NS, out, TS_LINE_MAX),
			  -EINVAL);
		ev.h.type = TS_CONNECT;
	}
}

/* A flow report, inbound: totals where a close has them, the deltas
 * beside, in every shape; a record cut to an event's size is no report. */
TEST(flow_report_in_every_shape)
{
	struct ts_enc e;
	struct ts_flow f;
	struct sline l;
	struct json_object *o = NULL;

	ts_enc_init(&e, "h1", AGENT);
	memset(&f, 0, sizeof(f));
	mk_event(&f.e, TS_FLOW, TS_IPV4,
		 TS_F_TASK | TS_F_SADDR | TS_F_START | TS_F_ESTABLISHED | TS_F_HANDSHAKE);
	f.e.h.size = sizeof(f);
	f.e.h.state = 8;	/* CLOSE_WAIT */
	f.e.close.duration_ns = 30000000000ULL;
	f.e.close.connect_latency_ns = 22000;
	f.e.close.bytes_sent = 100;
	f.e.close.bytes_received = 7;
	f.e.close.retransmits = 3;
	f.bytes_sent_delta = 40;
	f.bytes_received_delta = 5;
	f.retransmits_delta = 1;
	o = JSHAPE(TS_SHAPE_NATIVE, &f, &l);
	STR(o, "type", "flow");
	STR(o, "direction", "inbound");
	STR(o, "state", "CLOSE_WAIT");
	INT(o, "duration_ns", 30000000000LL);
	INT(o, "connect_latency_ns", 22000);
	INT(o, "bytes_sent", 100);
	INT(o, "bytes_sent_delta", 40);
	INT(o, "bytes_received_delta", 5);
	INT(o, "retransmits", 3);
	INT(o, "retransmits_delta", 1);
	ABSENT(o, "end_reason");
	json_object_put(o);
	o = JSHAPE(TS_SHAPE_ECS, &f, &l);
	STR(o, "event.action", "flow");
	CHECKF(strstr(l.buf, "\"type\":[\"connection\",\"info\"]"), "%s", l.buf);
	STR(o, "source.ip", "93.184.216.34");
	INT(o, "source.bytes", 7);
	INT(o, "destination.bytes", 100);
	INT(o, "tcpship.bytes_sent_delta", 40);
	INT(o, "tcpship.retransmits_delta", 1);
	STR(o, "tcpship.state", "CLOSE_WAIT");
	json_object_put(o);
	o = JSHAPE(TS_SHAPE_OCSF, &f, &l);
	INT(o, "activity_id", 6);
	INT(o, "type_uid", 400106);
	INT(o, "traffic.bytes_out", 5);		/* the source (remote) sent, since the last */
	INT(o, "traffic.bytes_in", 40);
	INT(o, "cumulative_traffic.bytes_out", 7);
	INT(o, "cumulative_traffic.bytes_in", 100);
	INT(o, "cumulative_traffic.bytes", 107);
	INT(o, "unmapped.bytes_received_delta", 5);
	json_object_put(o);
	o = NULL;
	if (!shape_raw(__FILE__, __LINE__, TS_SHAPE_CEF, &e, &f, sizeof(f), 7, &l))
		return;
	CHECKF(strstr(l.buf, "|flow|TCP flow report|3|"), "%s", l.buf);
	CHECKF(strstr(l.buf, " in=7 out=100 "), "%s", l.buf);
	CHECKF(strstr(l.buf, " flexNumber1Label=inDelta flexNumber1=5 flexNumber2Label=outDelta "
			      "flexNumber2=40 flexString2Label=retransmitsDelta flexString2=1"),
	       "%s", l.buf);
	for (unsigned s = 0; s < TS_SHAPE_MAX; s++)
		CHECK_INT(ts_shapes[s].encode(&e, &f, sizeof(f.e), 1, T_NS, l.buf, TS_LINE_MAX),
			  -EINVAL);
out:
	json_object_put(o);
}
