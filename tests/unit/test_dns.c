// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ts_dns_parse_query() on crafted queries. Names are written in wire form
 * (length bytes and all) so that labels can hold '.', NUL and 0xff.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dns.h"
#include "test.h"

#define WIRE(s) s, sizeof(s) - 1	/* a wire-form name literal and its length */

/* id 0x1234, RD, one question, then name, qtype and class IN */
static size_t mkq(uint8_t *buf, const void *name, size_t name_len, uint16_t qtype)
{
	static const uint8_t hdr[12] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01 };
	size_t off = sizeof(hdr);

	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + off, name, name_len);
	off += name_len;
	buf[off++] = (uint8_t)(qtype >> 8);
	buf[off++] = (uint8_t)qtype;
	buf[off++] = 0;
	buf[off++] = 1;
	return off;
}

/* a name of labels of the given lengths, every byte `fill` */
static size_t mkname(uint8_t *buf, const unsigned *labels, size_t n, uint8_t fill)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		buf[off++] = (uint8_t)labels[i];
		memset(buf + off, fill, labels[i]);
		off += labels[i];
	}
	buf[off++] = 0;
	return off;
}

static bool parses_to(const char *file, int line, const uint8_t *p, size_t len,
		      const char *qname, uint16_t qtype)
{
	struct ts_dns_query q;
	int rc;

	memset(&q, 0x5a, sizeof(q));
	rc = ts_dns_parse_query(p, len, &q);
	if (rc)
		return ts_test_fail(file, line, "ts_dns_parse_query returned %d, want 0", rc);
	if (!memchr(q.qname, 0, sizeof(q.qname)))
		return ts_test_fail(file, line, "qname is not NUL-terminated");
	return ts_check_str(file, line, "qname", q.qname, qname) &&
	       ts_check_u64(file, line, "qtype", q.qtype, qtype) &&
	       ts_check_u64(file, line, "qclass", q.qclass, 1) &&
	       ts_check_u64(file, line, "id", q.id, 0x1234);
}

#define CHECK_QUERY(p, len, qname, qtype)					\
	do {									\
		if (!parses_to(__FILE__, __LINE__, (p), (len), (qname), (qtype)))	\
			return;							\
	} while (0)

#define CHECK_REJECTED(p, len)							\
	do {									\
		struct ts_dns_query q_;						\
		int rc_ = ts_dns_parse_query((p), (len), &q_);			\
										\
		CHECKF(rc_ == -EINVAL, "%s (%zu bytes): returned %d, want -EINVAL",	\
		       #p, (size_t)(len), rc_);					\
	} while (0)

TEST(dns_parse_www_a)
{
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\3www\7example\3com\0"), 1);

	CHECK_U64(n, 33);
	CHECK_QUERY(b, n, "www.example.com", 1);
}

TEST(dns_parse_aaaa)
{
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\4ipv6\6google\3com\0"), 28);

	CHECK_QUERY(b, n, "ipv6.google.com", 28);
}

TEST(dns_parse_root)
{
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\0"), 2);

	CHECK_QUERY(b, n, ".", 2);
}

/* RFC 1035 5.1: \X for the specials, \DDD (decimal) for the rest */
TEST(dns_parse_escapes)
{
	uint8_t b[128];
	size_t n = mkq(b, WIRE("\3a.b" "\3c\\d" "\3e\"f" "\3g h" "\3\x00\xff\x7f" "\5;()@$"
			       "\2!~" "\0"), 16);

	CHECK_QUERY(b, n, "a\\.b.c\\\\d.e\\\"f.g\\032h.\\000\\255\\127.\\;\\(\\)\\@\\$.!~", 16);
}

/* every byte value as a one-byte label, against the rule written here */
TEST(dns_parse_every_byte)
{
	for (unsigned c = 0; c < 256; c++) {
		uint8_t name[3] = { 1, (uint8_t)c, 0 }, b[32];
		char want[8];
		size_t n = mkq(b, name, sizeof(name), 1);

		if (c && strchr(".\\\";()@$", (int)c))
			snprintf(want, sizeof(want), "\\%c", c);
		else if (c <= 0x20 || c >= 0x7f)
			snprintf(want, sizeof(want), "\\%03u", c);
		else
			snprintf(want, sizeof(want), "%c", c);
		if (!parses_to(__FILE__, __LINE__, b, n, want, 1)) {
			FAIL("... for byte 0x%02x", c);
			return;
		}
	}
}

/* 1 + 63, three times, 1 + 61, and the root: 255 bytes, the RFC 1035 limit */
TEST(dns_parse_max_name)
{
	static const unsigned labels[] = { 63, 63, 63, 61 };
	uint8_t name[300], b[400];
	char want[300];
	size_t nl = mkname(name, labels, ARRAY_LEN(labels), 'x'), n;

	CHECK_U64(nl, 255);
	n = mkq(b, name, nl, 28);
	memset(want, 'x', sizeof(want));
	want[63] = want[127] = want[191] = '.';
	want[253] = 0;
	CHECK_QUERY(b, n, want, 28);
}

/* the same name, every byte unprintable: 250 "\DDD" and 3 dots must fit */
TEST(dns_parse_max_name_escaped)
{
	static const unsigned labels[] = { 63, 63, 63, 61 };
	uint8_t name[300], b[400];
	char want[TS_QNAME_MAX], *p = want;
	size_t nl = mkname(name, labels, ARRAY_LEN(labels), 0xff), n;

	for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
		if (i)
			*p++ = '.';
		for (unsigned k = 0; k < labels[i]; k++)
			p += snprintf(p, sizeof(want) - (size_t)(p - want), "\\255");
	}
	CHECK_U64((size_t)(p - want), 1003);
	n = mkq(b, name, nl, 1);
	CHECK_QUERY(b, n, want, 1);
}

/*
 * 256 wire bytes: labels of 63, 63, 63 and 62 (255 bytes) plus the root
 * label. RFC 1035 3.1: "the total length of a domain name (i.e., label
 * octets and label length octets) is restricted to 255 octets or less".
 */
TEST(dns_parse_name_256_rejected)
{
	static const unsigned labels[] = { 63, 63, 63, 62 };
	uint8_t name[300], b[400];
	size_t nl = mkname(name, labels, ARRAY_LEN(labels), 'x'), n;

	CHECK_U64(nl, 256);
	n = mkq(b, name, nl, 1);
	CHECK_REJECTED(b, n);
}

/* too long already inside a label */
TEST(dns_parse_name_too_long)
{
	static const unsigned labels[] = { 63, 63, 63, 63 };
	uint8_t name[300], b[400];
	size_t nl = mkname(name, labels, ARRAY_LEN(labels), 'x'), n;

	CHECK_U64(nl, 257);
	n = mkq(b, name, nl, 1);
	CHECK_REJECTED(b, n);
}

/*
 * A compression pointer (11) or a reserved label type (01, 10). Zeros
 * follow, so that read as plain lengths these bytes would give a label of
 * zeros and a root: only the label-type check can refuse them.
 */
TEST(dns_parse_compression_rejected)
{
	static const struct {
		const char *name;
		size_t len;
	} cases[] = {
		{ WIRE("\xc0\x0c") }, { WIRE("\3www\xc0\x0c") }, { WIRE("\x41") },
		{ WIRE("\x81") }, { WIRE("\3www\xff") },
	};
	uint8_t name[400], b[512];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;

		memset(name, 0, sizeof(name));
		memcpy(name, cases[i].name, cases[i].len);
		n = mkq(b, name, 300, 1);
		CHECKF(ts_dns_parse_query(b, n, &(struct ts_dns_query){ 0 }) == -EINVAL,
		       "case %zu accepted", i);
	}
	/* the same zeros after a plain label: accepted, so the above is no accident */
	memset(name, 0, sizeof(name));
	memcpy(name, "\3www", 4);
	CHECK_QUERY(b, mkq(b, name, 5, 0), "www", 0);
}

TEST(dns_parse_response_rejected)
{
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\3www\7example\3com\0"), 1);

	b[2] = 0x81;	/* QR, RD */
	b[3] = 0x80;	/* RA */
	CHECK_REJECTED(b, n);
}

TEST(dns_parse_qdcount)
{
	static const uint16_t counts[] = { 0, 2, 0x0101, 0xffff };
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\3www\7example\3com\0"), 1);

	for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
		b[4] = (uint8_t)(counts[i] >> 8);
		b[5] = (uint8_t)counts[i];
		CHECKF(ts_dns_parse_query(b, n, &(struct ts_dns_query){ 0 }) == -EINVAL,
		       "qdcount %u accepted", counts[i]);
	}
	b[4] = 0;
	b[5] = 1;
	CHECK_QUERY(b, n, "www.example.com", 1);
}

TEST(dns_parse_truncated)
{
	uint8_t b[64];
	size_t n = mkq(b, WIRE("\3www\7example\3com\0"), 1);

	CHECK_REJECTED(b, 0);
	CHECK_REJECTED(b, 11);		/* short header */
	CHECK_REJECTED(b, 12);		/* header only */
	CHECK_REJECTED(b, 12 + 6);	/* inside "example" */
	CHECK_REJECTED(b, 12 + 4);	/* right after "www", before the next length */
	CHECK_REJECTED(b, 12 + 17);	/* name complete, no qtype */
	CHECK_REJECTED(b, 12 + 17 + 1);	/* half a qtype */
	CHECK_REJECTED(b, n - 1);	/* half a qclass */
	CHECK_QUERY(b, n, "www.example.com", 1);
}

/*
 * Every prefix of a query, placed so that it ends right before an
 * unmapped page: a read past len is a SIGSEGV (and a FAIL of this test).
 */
TEST(dns_parse_no_overread)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t q[64], *map;
	size_t n = mkq(q, WIRE("\3www\7example\3com\0"), 1);

	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	CHECK(!mprotect(map + pg, (size_t)pg, PROT_NONE));
	for (size_t len = 0; len <= n; len++) {
		uint8_t *p = map + pg - len;
		struct ts_dns_query qq;
		int rc;

		memcpy(p, q, len);
		rc = ts_dns_parse_query(p, len, &qq);
		CHECKF(len == n ? rc == 0 : rc == -EINVAL, "prefix of %zu bytes: %d", len, rc);
	}
	munmap(map, (size_t)pg * 2);
}

/* dig and friends add an OPT record after the question: still a query */
TEST(dns_parse_trailing_records)
{
	static const uint8_t opt[] = { 0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
	uint8_t b[128];
	size_t n = mkq(b, WIRE("\3www\7example\3com\0"), 65);

	b[11] = 1;	/* ARCOUNT */
	memcpy(b + n, opt, sizeof(opt));
	CHECK_QUERY(b, n + sizeof(opt), "www.example.com", 65);
}

TEST(dns_type_names)
{
	static const struct {
		uint16_t t;
		const char *name;
	} cases[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 12, "PTR" }, { 15, "MX" }, { 16, "TXT" },
		{ 28, "AAAA" }, { 33, "SRV" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" },
		{ 257, "CAA" }, { 99, "TYPE99" }, { 0, "TYPE0" }, { 65535, "TYPE65535" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char buf[12];

		memset(buf, 0x5a, sizeof(buf));
		CHECK_STR(ts_dns_type_name(cases[i].t, buf), cases[i].name);
	}
}

/* ---- glibc's resolver as the oracle ---- */

#include <arpa/nameser.h>
#include <resolv.h>

static uint64_t oracle_rng = 0x9e3779b97f4a7c15ULL;	/* fixed seed: the same names each run */

static uint32_t next_rand(void)
{
	/* xorshift64* */
	oracle_rng ^= oracle_rng >> 12;
	oracle_rng ^= oracle_rng << 25;
	oracle_rng ^= oracle_rng >> 27;
	return (uint32_t)((oracle_rng * 2685821657736338717ULL) >> 32);
}

/* A random wire name of at most 255 bytes into w; its length. Label bytes
 * lean towards what needs escaping: dots, backslashes, quotes, controls,
 * bytes past 0x7f. */
static size_t random_name(uint8_t *w)
{
	static const uint8_t tricky[] = { '.', '\\', '"', ';', '(', ')', '@', '$', ' ', 0, 0x7f,
					  0x80, 0xff, '\n', 'a', 'Z', '-', '_' };
	size_t n = 0;
	unsigned labels = next_rand() % 8;

	for (unsigned l = 0; l < labels; l++) {
		unsigned len = 1 + next_rand() % 63;

		if (n + 1 + len + 1 > 255)
			break;
		w[n++] = (uint8_t)len;
		for (unsigned i = 0; i < len; i++)
			w[n++] = next_rand() % 3 ? tricky[next_rand() % sizeof(tricky)]
						 : (uint8_t)next_rand();
	}
	w[n++] = 0;
	return n;
}

TEST(dns_parse_agrees_with_glibc)
{
	unsigned compared = 0, prefixes = 0;

	for (int k = 0; k < 3000; k++) {
		uint8_t pkt[12 + 256 + 4] = { 0x12, 0x34, 0x01, 0x00, 0, 1 };
		char ours_ntop[NS_MAXDNAME], theirs[NS_MAXDNAME];
		struct ts_dns_query q;
		size_t nl = random_name(pkt + 12), len = 12 + nl + 4;
		int x;

		pkt[12 + nl + 1] = 28;	/* AAAA, IN */
		pkt[12 + nl + 3] = 1;
		if (ts_dns_parse_query(pkt, len, &q)) {
			FAIL("query %d: our parser refused a valid query", k);
			return;
		}
		/* RFC 1035 presentation form, as glibc writes it */
		x = ns_name_ntop(pkt + 12, ours_ntop, sizeof(ours_ntop));
		CHECKF(x > 0, "ns_name_ntop refused query %d", k);
		CHECK_STR(q.qname, ours_ntop);
		/* and as dn_expand reads it out of the whole message */
		x = dn_expand(pkt, pkt + len, pkt + 12, theirs, sizeof(theirs));
		CHECKF(x == (int)nl, "dn_expand took %d bytes of a %zu-byte name", x, nl);
		/* dn_expand writes the root as "" where ns_name_ntop writes "." */
		CHECK_STR(q.qname, theirs[0] ? theirs : ".");
		CHECK_INT(q.qtype, 28);
		if (ts_test_failed())
			return;
		compared++;
		/* every truncated capture fails cleanly; where glibc cannot read
		 * the name out of it either, we agree on why */
		for (size_t cut = 0; cut < len; cut++) {
			bool glibc_name = cut > 12 && dn_expand(pkt, pkt + cut, pkt + 12, theirs,
								sizeof(theirs)) == (int)nl;

			CHECKF(ts_dns_parse_query(pkt, cut, &q) != 0,
			       "query %d cut at %zu of %zu bytes was accepted", k, cut, len);
			/* only the 4 bytes of type and class are past a whole name */
			CHECKF(glibc_name == (cut >= 12 + nl), "query %d cut at %zu: glibc %s the "
			       "name", k, cut, glibc_name ? "reads" : "cannot read");
			if (ts_test_failed())
				return;
			prefixes++;
		}
	}
	CHECKF(compared == 3000 && prefixes > 3000, "compared %u names, %u prefixes", compared,
	       prefixes);
}
