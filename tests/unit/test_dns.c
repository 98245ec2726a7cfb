// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ts_dns_parse_query() on crafted queries. Names are written in wire form
 * (length bytes and all) so that labels can hold '.', NUL and 0xff. The
 * last part checks random names against glibc's resolver as an oracle.
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <resolv.h>
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

/*
 * glibc's resolver as an oracle. For names of random labels of random bytes
 * (a fixed seed, so every run sees the same names) glibc says what the
 * question is: ns_name_ntop() on the wire name, dn_expand() on the packet,
 * ns_initparse() + ns_parserr() on the whole question.
 *
 * ns_name_ntop() and ours agree exactly, with no normalisation: glibc's
 * ns_name_ntop (resolv/ns_name_ntop.c) escapes the same eight specials
 * " . ; \ ( ) @ $ with a backslash, writes every byte outside 0x21..0x7e as
 * \DDD (three decimal digits) and gives "." for the root, as we do.
 * dn_expand() differs in one way only: it turns the root's "." into ""
 * (resolv/dn_expand.c), so its "" is compared as "." (glibc's own
 * ns_rr_name() macro does the same for ns_parserr()'s name). They also
 * agree on where a name ends: dn_expand() unpacks into NS_MAXCDNAME (255)
 * bytes, length bytes and root included, our RFC 1035 limit.
 *
 * Where glibc differs on purpose: it follows compression pointers, which
 * we refuse (a query's one question has nothing to point at); the names
 * here have none.
 */
#define ORACLE_SEED 0x7463707368697021ull	/* "tcpship!" */

static uint64_t rnd(uint64_t *s)	/* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) % n);
}

/* mostly the bytes that need care: specials, controls, NUL, >= 0x7f */
static uint8_t rnd_byte(uint64_t *s)
{
	static const char specials[] = ".\\\";()@$";

	switch (rnd_below(s, 5)) {
	case 0: return (uint8_t)specials[rnd_below(s, sizeof(specials) - 1)];
	case 1: return (uint8_t)rnd_below(s, 0x21);		/* NUL .. space */
	case 2: return (uint8_t)(0x7f + rnd_below(s, 0x81));	/* DEL .. 0xff */
	case 3: return (uint8_t)(0x21 + rnd_below(s, 0x5e));	/* printable */
	default: return (uint8_t)rnd(s);
	}
}

struct oracle_seen {
	bool byte[256];
	bool label_len[64];
};

/*
 * A wire name of exactly `total` bytes (1 for the root, else at least 3):
 * labels of 1..63 random bytes, then the root label.
 */
static size_t rnd_name(uint64_t *s, uint8_t *buf, size_t total, struct oracle_seen *seen)
{
	size_t off = 0, rem = total - 1;

	while (rem) {
		unsigned max = rem - 1 > 63 ? 63 : (unsigned)(rem - 1);
		unsigned n;

		/* half of them short, so that names have many labels */
		if (max > 8 && rnd_below(s, 2))
			max = 8;
		n = 1 + rnd_below(s, max);
		if (rem - 1 - n == 1)	/* one byte left could not be a label */
			n = n > 1 ? n - 1 : n + 1;
		buf[off++] = (uint8_t)n;
		seen->label_len[n] = true;
		for (unsigned i = 0; i < n; i++) {
			buf[off] = rnd_byte(s);
			seen->byte[buf[off++]] = true;
		}
		rem -= 1 + n;
	}
	buf[off++] = 0;
	return off;
}

/* 1/16 the root, 1/8 the longest name allowed, else 3..255 wire bytes */
static size_t rnd_total(uint64_t *s)
{
	unsigned r = rnd_below(s, 16);

	return r == 0 ? 1 : r < 3 ? 255 : 3 + rnd_below(s, 253);
}

/* glibc's question through ns_initparse() and ns_parserr(), or false */
static bool ns_question(const uint8_t *p, size_t len, ns_rr *rr)
{
	ns_msg h;

	return ns_initparse(p, (int)len, &h) == 0 && ns_parserr(&h, ns_s_qd, 0, rr) == 0;
}

#define ORACLE_NAMES 20000

TEST(dns_oracle_glibc_names)
{
	uint64_t s = ORACLE_SEED;
	struct oracle_seen seen = { 0 };
	size_t compared = 0, roots = 0, longest = 0, escaped = 0;

	for (size_t i = 0; i < ORACLE_NAMES; i++) {
		uint8_t name[NS_MAXCDNAME + 1], b[NS_MAXCDNAME + 64];
		char ntop[NS_MAXDNAME], exp[NS_MAXDNAME], what[80];
		size_t total = rnd_total(&s), nl = rnd_name(&s, name, total, &seen), n;
		uint16_t qtype = (uint16_t)rnd(&s);
		struct ts_dns_query q;
		ns_rr rr;
		int rc;

		CHECK_U64(nl, total);
		n = mkq(b, name, nl, qtype);
		rc = ts_dns_parse_query(b, n, &q);
		CHECKF(rc == 0, "name %zu (%zu wire bytes): ts_dns_parse_query returned %d",
		       i, nl, rc);
		CHECKF(ns_name_ntop(name, ntop, sizeof(ntop)) > 0,
		       "name %zu: ns_name_ntop failed: %s", i, strerror(errno));
		snprintf(what, sizeof(what), "name %zu: qname vs ns_name_ntop", i);
		if (!ts_check_str(__FILE__, __LINE__, what, q.qname, ntop))
			return;

		rc = dn_expand(b, b + n, b + 12, exp, sizeof(exp));
		CHECKF(rc == (int)nl, "name %zu: dn_expand returned %d, want %zu", i, rc, nl);
		snprintf(what, sizeof(what), "name %zu: qname vs dn_expand", i);
		if (!ts_check_str(__FILE__, __LINE__, what, q.qname, exp[0] ? exp : "."))
			return;

		CHECKF(ns_question(b, n, &rr), "name %zu: ns_initparse/ns_parserr failed", i);
		snprintf(what, sizeof(what), "name %zu: qname vs ns_parserr", i);
		if (!ts_check_str(__FILE__, __LINE__, what, q.qname, ns_rr_name(rr)))
			return;
		CHECK_U64(q.qtype, ns_rr_type(rr));
		CHECK_U64(q.qclass, ns_rr_class(rr));
		CHECK_U64(q.qtype, qtype);

		compared++;
		roots += nl == 1;
		longest += nl == NS_MAXCDNAME;
		escaped += strchr(q.qname, '\\') != NULL;
	}
	/* the oracle saw what it is for, and a broken generator shows */
	CHECK_U64(compared, ORACLE_NAMES);
	CHECKF(roots > 0 && longest > 0 && escaped > compared / 2,
	       "roots %zu, 255-byte names %zu, names with escapes %zu", roots, longest, escaped);
	for (unsigned c = 0; c < 256; c++)
		CHECKF(seen.byte[c], "byte 0x%02x never in a label", c);
	for (unsigned n = 1; n < 64; n++)
		CHECKF(seen.label_len[n], "no label of %u bytes", n);
}

/*
 * Every prefix of a query, ending right before an unmapped page. Ours must
 * parse exactly when dn_expand() reads the name from the same bytes and the
 * 4 bytes of qtype and qclass follow it; else fail with -EINVAL, reading
 * nothing past the end. glibc's ns_parserr() asks the same of a question
 * (ns_initparse() also wants nothing after it, as in these packets).
 */
#define ORACLE_TRUNC_NAMES 1000

TEST(dns_oracle_glibc_truncated)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t s = ORACLE_SEED ^ 1;
	struct oracle_seen seen = { 0 };
	size_t full = 0, name_cut = 0, tail_cut = 0;
	uint8_t *map;

	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	CHECK(!mprotect(map + pg, (size_t)pg, PROT_NONE));
	for (size_t i = 0; i < ORACLE_TRUNC_NAMES; i++) {
		uint8_t name[NS_MAXCDNAME + 1], b[NS_MAXCDNAME + 64];
		size_t nl = rnd_name(&s, name, rnd_total(&s), &seen);
		size_t n = mkq(b, name, nl, (uint16_t)rnd(&s));

		for (size_t len = 0; len <= n; len++) {
			uint8_t *p = map + pg - len;
			char exp[NS_MAXDNAME];
			struct ts_dns_query q;
			bool want;
			ns_rr rr;
			int dn, rc;

			memcpy(p, b, len);
			/* below 12 bytes the name's start is past the end:
			 * dn_expand() refuses that before reading it */
			dn = dn_expand(p, p + len, p + 12, exp, sizeof(exp));
			want = dn > 0 && len >= 12 + (size_t)dn + 4;
			rc = ts_dns_parse_query(p, len, &q);
			CHECKF(rc == (want ? 0 : -EINVAL),
			       "name %zu, prefix of %zu of %zu bytes: dn_expand %d, ours %d",
			       i, len, n, dn, rc);
			CHECKF(ns_question(p, len, &rr) == want,
			       "name %zu, prefix of %zu of %zu bytes: ns_parserr disagrees (want %d)",
			       i, len, n, want);
			if (want)
				full++;
			else if (dn > 0)
				tail_cut++;	/* name whole, qtype/qclass cut */
			else
				name_cut++;
		}
	}
	munmap(map, (size_t)pg * 2);
	CHECK_U64(full, ORACLE_TRUNC_NAMES);
	CHECK_U64(tail_cut, 4 * ORACLE_TRUNC_NAMES);
	CHECKF(name_cut > 12 * ORACLE_TRUNC_NAMES, "only %zu prefixes cut the name", name_cut);
}

/* 256..320 wire bytes: dn_expand() refuses them, and so must we */
#define ORACLE_LONG_NAMES 500

TEST(dns_oracle_glibc_too_long)
{
	uint64_t s = ORACLE_SEED ^ 2;
	struct oracle_seen seen = { 0 };
	size_t refused = 0, just_over = 0;

	for (size_t i = 0; i < ORACLE_LONG_NAMES; i++) {
		uint8_t name[400], b[512];
		char exp[NS_MAXDNAME];
		size_t nl = rnd_name(&s, name, NS_MAXCDNAME + 1 + rnd_below(&s, 65), &seen);
		size_t n = mkq(b, name, nl, 1);
		int dn = dn_expand(b, b + n, b + 12, exp, sizeof(exp));
		struct ts_dns_query q;

		CHECKF(nl > NS_MAXCDNAME, "name %zu has %zu wire bytes", i, nl);
		CHECKF(dn < 0, "name %zu (%zu wire bytes): dn_expand returned %d", i, nl, dn);
		CHECKF(ts_dns_parse_query(b, n, &q) == -EINVAL,
		       "name %zu (%zu wire bytes): accepted", i, nl);
		refused++;
		just_over += nl == NS_MAXCDNAME + 1;
	}
	CHECK_U64(refused, ORACLE_LONG_NAMES);
	CHECKF(just_over > 0, "no name of 256 wire bytes");
}
