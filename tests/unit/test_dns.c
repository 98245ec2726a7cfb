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
#include "tcpship.h"
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

/*
 * ts_dns_parse_response(). Responses are built byte by byte: a header, the
 * question www.example.com A IN at offset 12 (so the pointers c00c, c010
 * and c018 name www.example.com, example.com and com), then records.
 */
struct msg {
	uint8_t b[16384];
	size_t n;
};

#define Q_END 33	/* 12 + 17 bytes of name + qtype + qclass */
#define AN_MAX TS_DNS_ANSWERS_MAX

static size_t put(struct msg *m, const void *s, size_t n)
{
	size_t at = m->n;

	memcpy(m->b + m->n, s, n);
	m->n += n;
	return at;
}

static void put16(struct msg *m, unsigned v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, x, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* a compression pointer to `at` */
static void put_ptr(struct msg *m, size_t at)
{
	put16(m, 0xc000 | (unsigned)at);
}

static void set16(struct msg *m, size_t at, unsigned v)
{
	m->b[at] = (uint8_t)(v >> 8);
	m->b[at + 1] = (uint8_t)v;
}

/* id 0xbeef, QR and RD, RA and `rcode`; one question, `an` answers */
static void resp_start(struct msg *m, unsigned rcode, unsigned an)
{
	static const uint8_t hdr[12] = { 0xbe, 0xef, 0x81, 0x80, 0, 1 };

	m->n = 0;
	put(m, hdr, sizeof(hdr));
	m->b[3] |= (uint8_t)rcode;
	set16(m, 6, an);
	put(m, WIRE("\3www\7example\3com\0"));
	put16(m, 1);
	put16(m, 1);
}

/* a record's fixed part, after its owner name; returns where RDLENGTH is */
static size_t rr_fixed(struct msg *m, uint16_t type, uint16_t class, uint32_t ttl, size_t rdlen)
{
	put16(m, type);
	put16(m, class);
	put32(m, ttl);
	put16(m, (unsigned)rdlen);
	return m->n - 2;
}

/* a whole record; returns the offset of its RDATA */
static size_t rr(struct msg *m, const void *owner, size_t olen, uint16_t type, uint16_t class,
		 uint32_t ttl, const void *rd, size_t rdlen)
{
	put(m, owner, olen);
	rr_fixed(m, type, class, ttl, rdlen);
	return put(m, rd, rdlen);
}

static struct ts_dns_response R;	/* ~36 KB: not on the stack */

/* NUL-terminated inside its array, and printable ASCII only */
static bool printable(const char *file, int line, const char *what, const char *s)
{
	const char *z = memchr(s, 0, TS_QNAME_MAX);
	char q[200];

	if (!z)
		return ts_test_fail(file, line, "%s is not NUL-terminated", what);
	for (const char *c = s; c < z; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return ts_test_fail(file, line, "%s has byte 0x%02x: \"%s\"", what,
					    (unsigned char)*c,
					    ts_test_quote(q, sizeof(q), s, (size_t)(z - s)));
	return true;
}

/* what every parsed response must be, whatever the bytes */
static bool well_formed(const char *file, int line, const struct ts_dns_response *r)
{
	if (r->n_answers < 0 || r->n_answers > AN_MAX || r->n_answers > r->ancount)
		return ts_test_fail(file, line, "n_answers %d of ancount %u", r->n_answers,
				    r->ancount);
	if (r->rcode > 15)
		return ts_test_fail(file, line, "rcode %u", r->rcode);
	if (!printable(file, line, "qname", r->qname))
		return false;
	if (r->has_question != !!r->qname[0])
		return ts_test_fail(file, line, "has_question %d, qname \"%s\"", r->has_question,
				    r->qname);
	for (int i = 0; i < r->n_answers; i++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (a->type != 1 && a->type != 5 && a->type != 28)
			return ts_test_fail(file, line, "answers[%d] of type %u", i, a->type);
		if (!printable(file, line, "owner", a->owner) ||
		    !printable(file, line, "name", a->name))
			return false;
		if (!a->owner[0] || (a->name[0] == 0) != (a->type != 5))
			return ts_test_fail(file, line, "answers[%d]: owner \"%s\", name \"%s\"", i,
					    a->owner, a->name);
	}
	return true;
}

static bool parse_resp(const char *file, int line, const uint8_t *p, size_t len,
		       struct ts_dns_response *r)
{
	int rc;

	memset(r, 0x5a, sizeof(*r));
	rc = ts_dns_parse_response(p, len, r);
	if (rc)
		return ts_test_fail(file, line, "ts_dns_parse_response returned %d, want 0", rc);
	return well_formed(file, line, r);
}

#define PARSE_RESP(p, len)							\
	do {									\
		if (!parse_resp(__FILE__, __LINE__, (p), (len), &R))		\
			return;							\
	} while (0)

/* answers[i] is this record; rdata: the address, or the CNAME's target */
static bool answer_is(const char *file, int line, const struct ts_dns_response *r, int i,
		      uint16_t type, uint32_t ttl, const char *owner, const void *rdata)
{
	const struct ts_dns_answer *a = &r->answers[i];
	uint8_t addr[16] = { 0 };
	char what[64];

	if (i >= r->n_answers)
		return ts_test_fail(file, line, "answers[%d] wanted, n_answers is %d", i,
				    r->n_answers);
	snprintf(what, sizeof(what), "answers[%d].type", i);
	if (!ts_check_u64(file, line, what, a->type, type))
		return false;
	snprintf(what, sizeof(what), "answers[%d].ttl", i);
	if (!ts_check_u64(file, line, what, a->ttl, ttl))
		return false;
	snprintf(what, sizeof(what), "answers[%d].owner", i);
	if (!ts_check_str(file, line, what, a->owner, owner))
		return false;
	if (type != 5)
		memcpy(addr, rdata, type == 1 ? 4 : 16);
	snprintf(what, sizeof(what), "answers[%d].addr", i);
	if (!ts_check_mem(file, line, what, a->addr, 16, addr, 16))
		return false;
	snprintf(what, sizeof(what), "answers[%d].name", i);
	return ts_check_str(file, line, what, a->name, type == 5 ? rdata : "");
}

#define CHECK_ANSWER(i, type, ttl, owner, rdata)				\
	do {									\
		if (!answer_is(__FILE__, __LINE__, &R, (i), (type), (ttl), (owner),	\
			       (rdata)))					\
			return;							\
	} while (0)

/* how far it got: answers kept, and whether records were left unread */
#define CHECK_GOT(n, truncated)							\
	do {									\
		CHECK_INT(R.n_answers, (n));					\
		CHECK_INT(R.answers_truncated, (truncated));			\
	} while (0)

static const uint8_t ip4[4] = { 93, 184, 216, 34 };
static const uint8_t ip6[16] = { 0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
				 0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46 };

TEST(dns_resp_a_aaaa)
{
	struct msg m;

	resp_start(&m, 0, 2);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 300, ip4, 4);
	rr(&m, WIRE("\xc0\x0c"), 28, 1, 0x80000001u, ip6, 16);
	PARSE_RESP(m.b, m.n);
	CHECK_U64(R.id, 0xbeef);
	CHECK_U64(R.rcode, 0);
	CHECK(!R.aa && !R.tc && R.ra);
	CHECK(R.has_question);
	CHECK_STR(R.qname, "www.example.com");
	CHECK_U64(R.qtype, 1);
	CHECK_U64(R.qclass, 1);
	CHECK_U64(R.ancount, 2);
	CHECK_GOT(2, false);
	CHECK_ANSWER(0, 1, 300, "www.example.com", ip4);
	CHECK_ANSWER(1, 28, 0x80000001u, "www.example.com", ip6);	/* TTL as sent */
}

/* www.example.com -> cdn.example.net -> edge.example.net -> A */
TEST(dns_resp_cname_chain)
{
	struct msg m;
	size_t cdn, edge;

	resp_start(&m, 0, 3);
	cdn = rr(&m, WIRE("\xc0\x0c"), 5, 1, 60, WIRE("\3cdn\7example\3net\0"));
	put_ptr(&m, cdn);
	rr_fixed(&m, 5, 1, 61, 7);
	edge = put(&m, WIRE("\4edge"));
	put_ptr(&m, cdn + 4);		/* example.net, inside the first target */
	put_ptr(&m, edge);
	rr_fixed(&m, 1, 1, 62, 4);
	put(&m, "\x0a\0\0\x01", 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(3, false);
	CHECK_ANSWER(0, 5, 60, "www.example.com", "cdn.example.net");
	CHECK_ANSWER(1, 5, 61, "cdn.example.net", "edge.example.net");
	CHECK_ANSWER(2, 1, 62, "edge.example.net", "\x0a\0\0\x01");
}

/* no answers, the zone's SOA in the authority section */
TEST(dns_resp_nxdomain)
{
	static const uint8_t soa[] = "\2ns\xc0\x10" "\4root\xc0\x10"
				     "\0\0\0\1" "\0\0\x0e\x10" "\0\0\x02\x58" "\0\x09\x3a\x80"
				     "\0\0\x01\x2c";
	struct msg m;
	char buf[12];

	resp_start(&m, 3, 0);
	m.b[2] |= 0x04;		/* AA */
	set16(&m, 8, 1);	/* NSCOUNT */
	rr(&m, WIRE("\xc0\x10"), 6, 1, 300, soa, sizeof(soa) - 1);
	PARSE_RESP(m.b, m.n);
	CHECK_U64(R.rcode, 3);
	CHECK_STR(ts_dns_rcode_name(R.rcode, buf), "NXDOMAIN");
	CHECK(R.aa && R.has_question);
	CHECK_STR(R.qname, "www.example.com");
	CHECK_U64(R.ancount, 0);
	CHECK_GOT(0, false);
}

TEST(dns_resp_servfail)
{
	struct msg m;
	char buf[12];

	resp_start(&m, 2, 0);
	PARSE_RESP(m.b, m.n);
	CHECK_U64(R.rcode, 2);
	CHECK_STR(ts_dns_rcode_name(R.rcode, buf), "SERVFAIL");
	CHECK(!R.aa && !R.tc && R.has_question);
	CHECK_GOT(0, false);
	/* the upper bits of the 4th byte (RA, Z, AD, CD) are not the RCODE */
	m.b[3] = 0xf2;
	PARSE_RESP(m.b, m.n);
	CHECK_U64(R.rcode, 2);
	m.b[3] = 0x0f;
	PARSE_RESP(m.b, m.n);
	CHECK_U64(R.rcode, 15);
	CHECK(!R.ra);
}

/* TC: the server cut its own answer (RFC 2181 9); one bit at a time */
TEST(dns_resp_flags)
{
	static const struct {
		uint8_t b2, b3;
		bool aa, tc, ra;
	} cases[] = {
		{ 0x83, 0x00, false, true, false },	/* QR TC RD */
		{ 0x82, 0x80, false, true, true },
		{ 0x84, 0x00, true, false, false },
		{ 0x80, 0x80, false, false, true },
		{ 0xff, 0x7f, true, true, false },	/* opcode 15, all the rest */
	};
	struct msg m;

	resp_start(&m, 0, 1);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 5, ip4, 4);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		m.b[2] = cases[i].b2;
		m.b[3] = cases[i].b3;
		PARSE_RESP(m.b, m.n);
		CHECKF(R.aa == cases[i].aa && R.tc == cases[i].tc && R.ra == cases[i].ra,
		       "case %zu: aa %d tc %d ra %d", i, R.aa, R.tc, R.ra);
		CHECK_GOT(1, false);
	}
}

TEST(dns_resp_compression)
{
	struct msg m;
	size_t bar, mail;

	resp_start(&m, 0, 6);
	rr(&m, WIRE("\xc0\x10"), 1, 1, 1, ip4, 4);			/* example.com */
	mail = put(&m, WIRE("\4mail\xc0\x10"));				/* labels, then a pointer */
	rr_fixed(&m, 1, 1, 2, 4);
	put(&m, ip4, 4);
	put(&m, WIRE("\xc0\x18"));					/* com */
	rr_fixed(&m, 5, 1, 3, 6);
	bar = put(&m, WIRE("\3bar"));
	put_ptr(&m, mail);						/* bar.mail.example.com */
	put(&m, WIRE("\3foo"));						/* two hops: */
	put_ptr(&m, bar);						/* foo.bar.mail.example.com */
	rr_fixed(&m, 28, 1, 4, 16);
	put(&m, ip6, 16);
	put_ptr(&m, bar + 4);		/* a pointer to a pointer: mail.example.com */
	rr_fixed(&m, 5, 1, 5, 2);
	put(&m, WIRE("\xc0\x0c"));	/* the whole target one pointer */
	rr(&m, WIRE("\0"), 1, 1, 6, ip4, 4);				/* the root */
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(6, false);
	CHECK_ANSWER(0, 1, 1, "example.com", ip4);
	CHECK_ANSWER(1, 1, 2, "mail.example.com", ip4);
	CHECK_ANSWER(2, 5, 3, "com", "bar.mail.example.com");
	CHECK_ANSWER(3, 28, 4, "foo.bar.mail.example.com", ip6);
	CHECK_ANSWER(4, 5, 5, "mail.example.com", "www.example.com");
	CHECK_ANSWER(5, 1, 6, ".", ip4);
}

/* a record whose owner is `owner`, after a good one: 1 kept, the rest not */
static size_t after_good(struct msg *m, unsigned an)
{
	resp_start(m, 0, an);
	rr(m, WIRE("\xc0\x0c"), 1, 1, 7, ip4, 4);
	return m->n;
}

/* Loops: to itself, to its own start after a label, into its own labels
 * (the hop and length bounds would end each too), and a target's own */
TEST(dns_resp_pointer_loop)
{
	struct msg m;
	size_t at;

	at = after_good(&m, 3);
	put_ptr(&m, at);
	rr_fixed(&m, 1, 1, 8, 4);
	put(&m, ip4, 4);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 9, ip4, 4);	/* never reached */
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);
	CHECK_ANSWER(0, 1, 7, "www.example.com", ip4);

	at = after_good(&m, 2);
	put(&m, WIRE("\1a"));
	put_ptr(&m, at);
	rr_fixed(&m, 1, 1, 8, 4);
	put(&m, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);

	at = after_good(&m, 2);
	put(&m, WIRE("\1a\1b"));
	put_ptr(&m, at + 2);
	rr_fixed(&m, 1, 1, 8, 4);
	put(&m, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);

	/* a CNAME target pointing at itself */
	after_good(&m, 2);
	put(&m, WIRE("\xc0\x0c"));
	rr_fixed(&m, 5, 1, 8, 2);
	put_ptr(&m, m.n);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);
}

/* to a good name later in the message: refused, though it would read */
TEST(dns_resp_forward_pointer)
{
	struct msg m;
	size_t at;

	at = after_good(&m, 3);
	put_ptr(&m, at + 16);		/* the next record's owner */
	rr_fixed(&m, 1, 1, 8, 4);
	put(&m, ip4, 4);
	CHECK_U64(m.n, at + 16);
	rr(&m, WIRE("\3www\7example\3org\0"), 1, 1, 9, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);

	/* a CNAME's target pointing past itself, at the next owner */
	after_good(&m, 3);
	put(&m, WIRE("\xc0\x0c"));
	rr_fixed(&m, 5, 1, 8, 2);
	put_ptr(&m, m.n + 2);
	rr(&m, WIRE("\3www\7example\3org\0"), 1, 1, 9, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);

	/* the same bytes with the pointers turned round are good */
	resp_start(&m, 0, 2);
	at = rr(&m, WIRE("\3www\7example\3org\0"), 1, 1, 9, ip4, 4) - 10 - 17;
	put_ptr(&m, at);
	rr_fixed(&m, 5, 1, 8, 2);
	put_ptr(&m, at + 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(2, false);
	CHECK_ANSWER(1, 5, 8, "www.example.org", "example.org");
}

TEST(dns_resp_pointer_past_end)
{
	static const unsigned targets[] = { 0x3fff, 0 /* len */, 1 /* the header */, 11 };
	struct msg m;

	for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
		after_good(&m, 2);
		put_ptr(&m, targets[i] ? targets[i] : m.n + 16);
		rr_fixed(&m, 1, 1, 8, 4);
		put(&m, ip4, 4);
		CHECKF(ts_dns_parse_response(m.b, m.n, &R) == 0 && R.n_answers == 1 &&
		       R.answers_truncated, "pointer to %u: %d answers", targets[i],
		       R.n_answers);
	}
	/* the last byte of the message, the first half of a pointer */
	after_good(&m, 2);
	put(&m, "\xc0", 1);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);
	/* the name's labels run off the end, and then its pointer */
	after_good(&m, 2);
	put(&m, "\7exam", 5);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, true);
}

/* at most 64 hops: a chain of pointers, each to the one before it */
TEST(dns_resp_pointer_hops)
{
	for (unsigned hops = 60; hops <= 70; hops++) {
		struct msg m;
		size_t rd;

		resp_start(&m, 0, 2);
		put(&m, WIRE("\xc0\x0c"));
		rr_fixed(&m, 0xff00, 1, 0, 2 * 70);	/* a private type: skipped */
		rd = m.n;
		put_ptr(&m, 12);
		for (unsigned k = 1; k < 70; k++)
			put_ptr(&m, rd + 2 * (k - 1));
		/* the owner's pointer, then hops - 1 in the chain */
		put_ptr(&m, rd + 2 * (hops - 2));
		rr_fixed(&m, 1, 1, hops, 4);
		put(&m, ip4, 4);
		PARSE_RESP(m.b, m.n);
		CHECKF(R.n_answers == (hops <= 64) && R.answers_truncated == (hops > 64),
		       "%u hops: %d answers, truncated %d", hops, R.n_answers,
		       R.answers_truncated);
		if (hops == 64)
			CHECK_ANSWER(0, 1, 64, "www.example.com", ip4);
	}
}

/* 255 wire bytes with compression is the limit too: 17 for www.example.com
 * and 238 of labels before it are good, one more byte is not */
TEST(dns_resp_compressed_name_too_long)
{
	static const unsigned labels[] = { 63, 63, 63, 45 };	/* 4 + 234 bytes */
	uint8_t name[300];
	size_t nl = mkname(name, labels, ARRAY_LEN(labels), 'x') - 1;
	struct msg m;

	CHECK_U64(nl, 238);
	for (int extra = 0; extra <= 1; extra++) {
		resp_start(&m, 0, 2);
		put(&m, name, nl);
		m.b[m.n - 46] += (uint8_t)extra;	/* the last label's length */
		if (extra)
			put(&m, "x", 1);
		put(&m, WIRE("\xc0\x0c"));
		rr_fixed(&m, 1, 1, 1, 4);
		put(&m, ip4, 4);
		rr(&m, WIRE("\xc0\x0c"), 1, 1, 2, ip4, 4);
		PARSE_RESP(m.b, m.n);
		CHECKF(R.n_answers == (extra ? 0 : 2) && R.answers_truncated == extra,
		       "%zu wire bytes: %d answers", 17 + nl + extra, R.n_answers);
	}
	/* and as a CNAME target */
	resp_start(&m, 0, 1);
	put(&m, WIRE("\xc0\x0c"));
	rr_fixed(&m, 5, 1, 1, nl + 1 + 2);
	put(&m, name, nl);
	m.b[m.n - 46]++;
	put(&m, "x", 1);
	put(&m, WIRE("\xc0\x0c"));
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(0, true);
}

TEST(dns_resp_rdlength_past_end)
{
	static const uint8_t txt[] = "\5hello";
	struct msg m;
	size_t rdl;

	/* exactly to the end is good */
	after_good(&m, 2);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 8, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(2, false);
	PARSE_RESP(m.b, m.n - 1);
	CHECK_GOT(1, true);

	/* one past the end, or far past, of a record we would skip */
	for (unsigned extra = 1; extra < 0x10000 - 6; extra *= 7) {
		after_good(&m, 2);
		put(&m, WIRE("\xc0\x0c"));
		rdl = rr_fixed(&m, 16, 1, 8, 0);
		put(&m, txt, 6);
		set16(&m, rdl, 6 + extra);
		PARSE_RESP(m.b, m.n);
		CHECKF(R.n_answers == 1 && R.answers_truncated, "RDLENGTH %u: %d answers",
		       6 + extra, R.n_answers);
	}
	/* RDLENGTH itself cut */
	after_good(&m, 2);
	put(&m, WIRE("\xc0\x0c"));
	rr_fixed(&m, 1, 1, 8, 4);
	PARSE_RESP(m.b, m.n - 1);
	CHECK_GOT(1, true);
}

/* an A not of 4 bytes, an AAAA not of 16, a CNAME target shorter or longer
 * than its RDATA: damage, and nothing after it is read */
TEST(dns_resp_bad_rdata)
{
	static const struct {
		uint16_t type;
		const char *rd;
		size_t len;
	} cases[] = {
		{ 1, "\1\2\3", 3 },
		{ 1, "\1\2\3\4\5", 5 },
		{ 1, "", 0 },
		{ 28, "\1\2\3\4", 4 },
		{ 28, "0123456789abcdefg", 17 },
		{ 5, "\3www\7example\3com\0\0", 19 },	/* a byte after the name */
		{ 5, "\3www\7example\3com", 16 },	/* the root after the RDATA */
		{ 5, "\xc0\x0c\0", 3 },
		{ 5, "\xc0", 1 },
		{ 5, "", 0 },
		{ 5, "\3www\x40", 5 },			/* a reserved label type */
	};
	struct msg m;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		after_good(&m, 3);
		rr(&m, WIRE("\xc0\x0c"), cases[i].type, 1, 8, cases[i].rd, cases[i].len);
		if (cases[i].len == 16)
			put(&m, "", 1);	/* the name's root, as the next byte */
		rr(&m, WIRE("\xc0\x0c"), 1, 1, 9, ip4, 4);
		PARSE_RESP(m.b, m.n);
		CHECKF(R.n_answers == 1 && R.answers_truncated, "case %zu: %d answers", i,
		       R.n_answers);
	}
	/* the same of another class is not looked at */
	after_good(&m, 2);
	rr(&m, WIRE("\xc0\x0c"), 1, 3, 8, "\1\2\3", 3);
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, false);
}

/* a response with a bit of everything, 9 records (6 kept), for the cuts */
static size_t rich_response(struct msg *m)
{
	size_t cdn;

	resp_start(m, 0, 9);
	cdn = rr(m, WIRE("\xc0\x0c"), 5, 1, 60, WIRE("\3cdn\7example\3net\0"));
	rr(m, WIRE("\xc0\x0c"), 15, 1, 60, WIRE("\0\x0a\4mail\xc0\x10"));	/* MX */
	put_ptr(m, cdn);
	rr_fixed(m, 1, 1, 61, 4);
	put(m, ip4, 4);
	put_ptr(m, cdn);
	rr_fixed(m, 28, 1, 62, 16);
	put(m, ip6, 16);
	rr(m, WIRE("\xc0\x0c"), 16, 1, 60, WIRE("\5hello\5world"));		/* TXT */
	put(m, WIRE("\1a"));
	put_ptr(m, cdn);
	rr_fixed(m, 5, 1, 63, 2);
	put_ptr(m, 12);
	rr(m, WIRE("\xc0\x0c"), 1, 1, 64, "\x0a\0\0\x02", 4);
	rr(m, WIRE("\xc0\x0c"), 1, 3, 65, "\x0a\0\0\x03", 4);			/* class CH */
	rr(m, WIRE("\xc0\x0c"), 28, 1, 66, ip6, 16);
	set16(m, 10, 1);	/* and an OPT record in the additional section */
	put(m, WIRE("\0\0\x29\x04\xd0\0\0\0\0\0\0"));
	return m->n;
}

/*
 * Every prefix of a response, ending right before an unmapped page: a read
 * past len faults. Each one parses; never more answers than a longer
 * prefix, and the same ones; the question once it fits. glibc's
 * ns_initparse() refuses each of them (it wants every record whole): the
 * reason we parse responses ourselves.
 */
TEST(dns_resp_every_prefix)
{
	static struct ts_dns_response full;
	long pg = sysconf(_SC_PAGESIZE);
	struct msg m;
	size_t n = rich_response(&m);
	int prev = 0;
	uint8_t *map;

	CHECK(n <= TS_DNS_MAX);
	CHECK(!ts_dns_parse_response(m.b, n, &full));
	CHECK(full.n_answers == 6 && !full.answers_truncated);
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	CHECK(!mprotect(map + pg, (size_t)pg, PROT_NONE));
	for (size_t len = 0; len <= n; len++) {
		uint8_t *p = map + pg - len;
		ns_msg h;

		memcpy(p, m.b, len);
		if (len < 12) {
			CHECKF(ts_dns_parse_response(p, len, &R) == -EINVAL, "%zu bytes accepted",
			       len);
			continue;
		}
		if (!parse_resp(__FILE__, __LINE__, p, len, &R)) {
			FAIL("... for a prefix of %zu bytes", len);
			return;
		}
		CHECKF(R.has_question == (len >= Q_END), "prefix of %zu: has_question %d", len,
		       R.has_question);
		CHECKF(R.n_answers >= prev, "prefix of %zu: %d answers, %d in a shorter one", len,
		       R.n_answers, prev);
		CHECKF(R.answers_truncated == (len < n - 11),
		       "prefix of %zu: %d answers, truncated %d", len, R.n_answers,
		       R.answers_truncated);
		CHECK_U64(R.ancount, 9);
		for (int i = 0; i < R.n_answers; i++) {
			const struct ts_dns_answer *a = &R.answers[i], *b = &full.answers[i];

			CHECKF(a->type == b->type && a->ttl == b->ttl &&
			       !memcmp(a->addr, b->addr, 16) && !strcmp(a->owner, b->owner) &&
			       !strcmp(a->name, b->name), "prefix of %zu: answer %d differs", len, i);
		}
		prev = R.n_answers;
		CHECKF(ns_initparse(p, (int)len, &h) == (len == n ? 0 : -1),
		       "prefix of %zu: ns_initparse disagrees", len);
	}
	munmap(map, (size_t)pg * 2);
	CHECK_INT(prev, 6);
	CHECK_ANSWER(0, 5, 60, "www.example.com", "cdn.example.net");
	CHECK_ANSWER(1, 1, 61, "cdn.example.net", ip4);
	CHECK_ANSWER(2, 28, 62, "cdn.example.net", ip6);
	CHECK_ANSWER(3, 5, 63, "a.cdn.example.net", "www.example.com");
	CHECK_ANSWER(4, 1, 64, "www.example.com", "\x0a\0\0\x02");
	CHECK_ANSWER(5, 28, 66, "www.example.com", ip6);
}

/* 16 kept; the 17th A/AAAA/CNAME is left unread, other records are not */
TEST(dns_resp_more_than_max)
{
	for (unsigned an = AN_MAX - 1; an <= AN_MAX + 4; an++) {
		struct msg m;

		resp_start(&m, 0, an + 3);
		for (unsigned i = 0; i < an; i++)
			rr(&m, WIRE("\xc0\x0c"), 1, 1, i, (uint8_t[4]){ 10, 0, 0, (uint8_t)i }, 4);
		for (unsigned i = 0; i < 3; i++)
			rr(&m, WIRE("\xc0\x0c"), 16, 1, 0, WIRE("\2hi"));
		PARSE_RESP(m.b, m.n);
		CHECKF(R.n_answers == (an < AN_MAX ? (int)an : AN_MAX) &&
		       R.answers_truncated == (an > AN_MAX), "%u A records: %d kept, truncated %d",
		       an, R.n_answers, R.answers_truncated);
		for (int i = 0; i < R.n_answers; i++)
			CHECK_ANSWER(i, 1, (uint32_t)i, "www.example.com",
				     ((uint8_t[4]){ 10, 0, 0, (uint8_t)i }));
	}
}

/* MX, TXT, NS, SOA, OPT-like and unknown types, and A/AAAA/CNAME of other
 * classes, skipped by their RDLENGTH, whatever their RDATA holds */
TEST(dns_resp_other_types_skipped)
{
	static const struct {
		uint16_t type, class;
		const char *rd;
		size_t len;
	} skip[] = {
		{ 15, 1, WIRE("\0\x0a\4mail\xc0\x10") },
		{ 16, 1, WIRE("\x05hello\xc0\xff\x00") },
		{ 2, 1, WIRE("\xc0\xff") },
		{ 0xffff, 1, WIRE("\x3f\xc0") },
		{ 0, 1, WIRE("") },
		{ 1, 3, WIRE("\1\2\3\4") },		/* CH */
		{ 1, 255, WIRE("\1\2\3") },		/* ANY, and not 4 bytes */
		{ 28, 4, WIRE("\1") },			/* HS */
		{ 5, 254, WIRE("\xc0\xff") },		/* NONE, a bad target */
	};
	struct msg m;

	resp_start(&m, 0, ARRAY_LEN(skip) + 2);
	for (size_t i = 0; i < ARRAY_LEN(skip); i++)
		rr(&m, WIRE("\xc0\x0c"), skip[i].type, skip[i].class, 1, skip[i].rd, skip[i].len);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 2, ip4, 4);
	rr(&m, WIRE("\xc0\x10"), 5, 1, 3, WIRE("\xc0\x0c"));
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(2, false);
	CHECK_ANSWER(0, 1, 2, "www.example.com", ip4);
	CHECK_ANSWER(1, 5, 3, "example.com", "www.example.com");
}

/* labels full of what an attacker would send, in the question, the owners
 * and a CNAME target (through a pointer too): escaped, printable */
TEST(dns_resp_hostile_names)
{
	static const char want[] = "a\\.b\\\\c.\\000\\010\\013\\027\\255\\127.\\\"\\;\\(\\)\\@\\$\\032";
	struct msg m;
	size_t at;

	resp_start(&m, 0, 3);
	m.n = 12;
	at = put(&m, WIRE("\5a.b\\c" "\6\0\n\r\x1b\xff\x7f" "\7\";()@$ \0"));
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, WIRE("\5a.b\\c" "\6\0\n\r\x1b\xff\x7f" "\7\";()@$ \0"), 1, 1, 1, ip4, 4);
	put(&m, WIRE("\2\x01\x80"));
	put_ptr(&m, at);
	rr_fixed(&m, 5, 1, 2, 2);
	put_ptr(&m, at);
	rr(&m, WIRE("\xc0\x0c"), 5, 1, 3, WIRE("\3%s\n\xc0\x0c"));
	PARSE_RESP(m.b, m.n);
	CHECK_STR(R.qname, want);
	CHECK_GOT(3, false);
	CHECK_ANSWER(0, 1, 1, want, ip4);
	CHECK_STR(R.answers[1].owner, "\\001\\128.a\\.b\\\\c.\\000\\010\\013\\027\\255\\127."
				      "\\\"\\;\\(\\)\\@\\$\\032");
	CHECK_STR(R.answers[1].name, want);
	CHECK_STR(R.answers[2].name, "%s\\010.a\\.b\\\\c.\\000\\010\\013\\027\\255\\127."
				     "\\\"\\;\\(\\)\\@\\$\\032");
}

TEST(dns_resp_not_a_response)
{
	struct msg m;

	resp_start(&m, 0, 1);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 5, ip4, 4);
	for (size_t len = 0; len < 12; len++)
		CHECKF(ts_dns_parse_response(m.b, len, &R) == -EINVAL, "%zu bytes accepted", len);
	m.b[2] &= 0x7f;		/* QR clear: a query */
	CHECK_INT(ts_dns_parse_response(m.b, m.n, &R), -EINVAL);
	m.b[2] = 0x80;
	PARSE_RESP(m.b, m.n);
	CHECK_GOT(1, false);
	/* and the query parser wants none of it */
	CHECK_REJECTED(m.b, m.n);
	/* the header alone is a response, with nothing read */
	PARSE_RESP(m.b, 12);
	CHECK(!R.has_question);
	CHECK_STR(R.qname, "");
	CHECK_GOT(0, true);
}

/* no question; two, the second pointing at the first; one pointing into
 * the header, which is all there is before the first question */
TEST(dns_resp_questions)
{
	struct msg m;

	resp_start(&m, 0, 1);
	set16(&m, 4, 0);
	m.n = 12;
	rr(&m, WIRE("\3www\7example\3com\0"), 1, 1, 5, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK(!R.has_question);
	CHECK_GOT(1, false);
	CHECK_ANSWER(0, 1, 5, "www.example.com", ip4);

	resp_start(&m, 0, 1);
	set16(&m, 4, 2);
	put(&m, WIRE("\4mail\xc0\x10"));
	put16(&m, 15);
	put16(&m, 1);
	rr(&m, WIRE("\xc0\x0c"), 1, 1, 5, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK(R.has_question);
	CHECK_STR(R.qname, "www.example.com");	/* the first is kept */
	CHECK_GOT(1, false);

	resp_start(&m, 0, 1);
	m.n = 12;
	put(&m, WIRE("\3www\xc0\x04"));		/* QDCOUNT's 0 would read as the root */
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, WIRE("\3www\0"), 1, 1, 5, ip4, 4);
	PARSE_RESP(m.b, m.n);
	CHECK(!R.has_question);
	CHECK_GOT(0, true);
}

TEST(dns_rcode_names)
{
	static const char *const want[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
		"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13",
		"RCODE14", "RCODE15", "RCODE16",
	};
	char buf[12];

	for (unsigned i = 0; i < ARRAY_LEN(want); i++) {
		memset(buf, 0x5a, sizeof(buf));
		CHECK_STR(ts_dns_rcode_name((uint16_t)i, buf), want[i]);
	}
	CHECK_STR(ts_dns_rcode_name(4095, buf), "RCODE4095");
	CHECK_STR(ts_dns_rcode_name(65535, buf), "RCODE65535");
}

/*
 * Random responses for the oracle and the fuzz loop: a random question,
 * 0..24 records of A, AAAA, CNAME, MX, TXT, NS and unknown types, mostly of
 * class IN, names of random labels ending in the root or in a pointer to
 * any label of a name before them (within 255 wire bytes), sometimes an
 * OPT record after them. All of it valid: glibc must read it whole.
 */
struct gen {
	struct msg m;
	size_t at[1024];	/* where a label of some earlier name starts */
	size_t wire[1024];	/* the wire bytes of the name from there */
	size_t n_at;
	size_t ptrs, hops2;	/* pointers written; to a name that has one too */
};

/* the wire bytes of the name at off, through its pointers */
static size_t name_wire(const uint8_t *b, size_t off)
{
	size_t w = 0;

	while (b[off]) {
		if ((b[off] & 0xc0) == 0xc0) {
			off = (size_t)(b[off] & 0x3f) << 8 | b[off + 1];
			continue;
		}
		w += 1u + b[off];
		off += 1u + b[off];
	}
	return w + 1;
}

/* a name for pointers to come: each of its labels in place */
static void gen_note(struct gen *g, size_t off)
{
	const uint8_t *b = g->m.b;

	/* a pointer holds 14 bits of offset */
	while (b[off] && (b[off] & 0xc0) != 0xc0 && g->n_at < ARRAY_LEN(g->at) && off < 0x4000) {
		g->at[g->n_at] = off;
		g->wire[g->n_at++] = name_wire(b, off);
		off += 1u + b[off];
	}
}

static void gen_name(uint64_t *s, struct gen *g)
{
	unsigned k = rnd_below(s, 4);
	size_t start = g->m.n, w = 0, to = 0, tw = 1;

	/* the tail first: a pointer (most of the time) or the root */
	if (g->n_at && rnd_below(s, 4)) {
		size_t i = rnd_below(s, (unsigned)g->n_at);

		to = g->at[i];
		tw = g->wire[i];
	}
	for (unsigned i = 0; i < k; i++) {
		unsigned n = 1 + rnd_below(s, rnd_below(s, 3) ? 8 : 40);

		if (w + 1 + n + tw > NS_MAXCDNAME)
			break;
		g->m.b[g->m.n++] = (uint8_t)n;
		for (unsigned j = 0; j < n; j++)
			g->m.b[g->m.n++] = rnd_byte(s);
		w += 1 + n;
	}
	if (to) {
		for (size_t o = to; g->m.b[o]; o += 1u + g->m.b[o])
			if ((g->m.b[o] & 0xc0) == 0xc0) {
				g->hops2++;
				break;
			}
		put_ptr(&g->m, to);
		g->ptrs++;
	} else {
		put(&g->m, "", 1);
	}
	gen_note(g, start);
}

static void gen_response(uint64_t *s, struct gen *g)
{
	static const uint16_t types[] = { 1, 1, 1, 28, 28, 5, 5, 5, 15, 16, 2, 12, 0xff00 };
	struct oracle_seen seen;
	struct msg *m = &g->m;
	unsigned an = rnd_below(s, 25);
	size_t qn;

	g->n_at = 0;
	m->n = 0;
	put16(m, (unsigned)rnd(s));
	put16(m, 0x8000 | (unsigned)(rnd(s) & 0x0787) | rnd_below(s, 16));	/* QR, opcode 0 */
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	qn = rnd_name(s, m->b + m->n, 1 + rnd_below(s, 3) * (2 + rnd_below(s, 60)), &seen);
	gen_note(g, m->n);
	m->n += qn;
	put16(m, types[rnd_below(s, ARRAY_LEN(types))]);
	put16(m, 1);
	for (unsigned i = 0; i < an; i++) {
		uint16_t type = types[rnd_below(s, ARRAY_LEN(types))];
		size_t rdl, rd;

		gen_name(s, g);
		rdl = rr_fixed(m, type, rnd_below(s, 10) ? 1 : 3, (uint32_t)rnd(s), 0);
		rd = m->n;
		switch (type) {
		case 1:
		case 28:
			for (unsigned j = 0; j < (type == 1 ? 4u : 16u); j++)
				m->b[m->n++] = (uint8_t)rnd(s);
			break;
		case 15:
			put16(m, rnd_below(s, 100));
			/* fall through */
		case 5:
		case 2:
		case 12:
			gen_name(s, g);
			break;
		default:
			for (unsigned j = rnd_below(s, 40); j; j--)
				m->b[m->n++] = (uint8_t)rnd(s);
		}
		set16(m, rdl, (unsigned)(m->n - rd));
	}
	if (rnd_below(s, 2)) {
		set16(m, 10, 1);
		put(m, WIRE("\0\0\x29\x04\xd0\0\0\0\0\0\0"));
	}
}

/*
 * glibc as the oracle for whole responses: for each generated one,
 * ns_initparse() and ns_parserr() read the header, the question and every
 * answer record; the A, AAAA and CNAME records of class IN among them,
 * the first 16, must be ours, in order, with CNAME targets as
 * ns_name_uncompress() presents them. The names compare exactly, as the
 * query oracle above explains (ns_rr_name() gives "." for the root, and
 * ns_name_uncompress() does too). Every message is valid, with pointers
 * only backwards: where glibc differs from us on purpose (it follows
 * forward pointers and pointers into the header) does not arise.
 */
#define ORACLE_RESPONSES 20000

static bool same_answer(const char *file, int line, const ns_msg *h, const ns_rr *rr,
			const struct ts_dns_answer *a)
{
	char want[NS_MAXDNAME];
	int n;

	if (!ts_check_u64(file, line, "type", a->type, ns_rr_type(*rr)) ||
	    !ts_check_u64(file, line, "ttl", a->ttl, ns_rr_ttl(*rr)) ||
	    !ts_check_str(file, line, "owner", a->owner, ns_rr_name(*rr)))
		return false;
	if (a->type != ns_t_cname) {
		size_t len = a->type == ns_t_a ? 4 : 16;

		return ts_check_u64(file, line, "rdlength", ns_rr_rdlen(*rr), len) &&
		       ts_check_mem(file, line, "addr", a->addr, len, ns_rr_rdata(*rr), len);
	}
	n = ns_name_uncompress(ns_msg_base(*h), ns_msg_end(*h), ns_rr_rdata(*rr), want,
			       sizeof(want));
	return ts_check_i64(file, line, "ns_name_uncompress", n, ns_rr_rdlen(*rr)) &&
	       ts_check_str(file, line, "CNAME target", a->name, want);
}

TEST(dns_oracle_glibc_responses)
{
	static struct gen g;
	uint64_t s = ORACLE_SEED ^ 3;
	size_t kept = 0, cnames = 0, skipped = 0, over = 0, escaped = 0;

	for (size_t i = 0; i < ORACLE_RESPONSES; i++) {
		int want_kept = 0;
		ns_msg h;
		ns_rr rr;

		gen_response(&s, &g);
		CHECKF(ns_initparse(g.m.b, (int)g.m.n, &h) == 0,
		       "response %zu: ns_initparse failed", i);
		if (!parse_resp(__FILE__, __LINE__, g.m.b, g.m.n, &R)) {
			FAIL("... in response %zu", i);
			return;
		}
		CHECK_U64(R.id, ns_msg_id(h));
		CHECK_U64(R.rcode, (unsigned)ns_msg_getflag(h, ns_f_rcode));
		CHECK_U64(R.aa, !!ns_msg_getflag(h, ns_f_aa));
		CHECK_U64(R.tc, !!ns_msg_getflag(h, ns_f_tc));
		CHECK_U64(R.ra, !!ns_msg_getflag(h, ns_f_ra));
		CHECK_U64(R.ancount, ns_msg_count(h, ns_s_an));
		CHECK(ns_parserr(&h, ns_s_qd, 0, &rr) == 0);
		CHECK(R.has_question);
		CHECK_STR(R.qname, ns_rr_name(rr));
		CHECK_U64(R.qtype, ns_rr_type(rr));
		CHECK_U64(R.qclass, ns_rr_class(rr));
		for (int j = 0; j < ns_msg_count(h, ns_s_an); j++) {
			unsigned type;

			CHECKF(ns_parserr(&h, ns_s_an, j, &rr) == 0,
			       "response %zu, answer %d: ns_parserr failed", i, j);
			type = ns_rr_type(rr);
			if (ns_rr_class(rr) != ns_c_in ||
			    (type != ns_t_a && type != ns_t_aaaa && type != ns_t_cname)) {
				skipped++;
				continue;
			}
			if (want_kept++ >= AN_MAX)
				continue;
			if (!same_answer(__FILE__, __LINE__, &h, &rr,
					 &R.answers[want_kept - 1])) {
				FAIL("... in response %zu, answer %d (kept %d)", i, j,
				     want_kept - 1);
				return;
			}
			cnames += type == ns_t_cname;
			escaped += strchr(R.answers[want_kept - 1].owner, '\\') != NULL;
		}
		CHECKF(R.n_answers == (want_kept < AN_MAX ? want_kept : AN_MAX) &&
		       R.answers_truncated == (want_kept > AN_MAX),
		       "response %zu: %d kept, truncated %d; glibc read %d", i, R.n_answers,
		       R.answers_truncated, want_kept);
		kept += (size_t)R.n_answers;
		over += R.answers_truncated;
	}
	CHECKF(kept > ORACLE_RESPONSES * 4 && cnames > ORACLE_RESPONSES && skipped > ORACLE_RESPONSES &&
	       over > 50 && escaped > ORACLE_RESPONSES && g.ptrs > ORACLE_RESPONSES * 10 &&
	       g.hops2 > ORACLE_RESPONSES,
	       "kept %zu, CNAMEs %zu, skipped %zu, over 16 %zu, escaped owners %zu, "
	       "pointers %zu, to pointers %zu", kept, cnames, skipped, over, escaped, g.ptrs,
	       g.hops2);
}

/*
 * 200,000 responses, random, mutated (bytes flipped, set to pointer and
 * length bytes, cut) or plain noise, each against an unmapped page. None
 * may crash or read past its end; every result must be well formed. Run it
 * built with -fsanitize=address,undefined too.
 */
#define FUZZ_ROUNDS 200000

static uint8_t fuzz_byte(uint64_t *s)
{
	switch (rnd_below(s, 6)) {
	case 0: return (uint8_t)(0xc0 | rnd_below(s, 2));	/* a pointer, near the start */
	case 1: return (uint8_t)rnd_below(s, 64);		/* a label length */
	case 2: return 0;
	case 3: return 0xff;
	default: return (uint8_t)rnd(s);
	}
}

TEST(dns_resp_fuzz)
{
	static struct gen g;
	static uint8_t buf[sizeof(g.m.b)];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), area = (sizeof(buf) + pg - 1) / pg * pg;
	uint64_t s = ORACLE_SEED ^ 4;
	size_t parsed = 0, rejected = 0, kept = 0, truncated = 0, questions = 0;
	uint8_t *map;

	map = mmap(NULL, area + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	CHECK(!mprotect(map + area, pg, PROT_NONE));
	for (size_t i = 0; i < FUZZ_ROUNDS; i++) {
		size_t len;
		uint8_t *p;
		int rc;

		gen_response(&s, &g);
		len = g.m.n;
		memcpy(buf, g.m.b, len);
		switch (rnd_below(&s, 10)) {
		case 0:		/* noise, mostly with QR */
			len = rnd_below(&s, TS_DNS_MAX + 1);
			for (size_t k = 0; k < len; k++)
				buf[k] = fuzz_byte(&s);
			if (len > 2 && rnd_below(&s, 8))
				buf[2] |= 0x80;
			break;
		case 1:
			len = rnd_below(&s, (unsigned)len + 1);
			break;
		default:
			for (unsigned k = 1 + rnd_below(&s, 8); k; k--) {
				size_t at = rnd_below(&s, (unsigned)len);

				if (rnd_below(&s, 2))
					buf[at] ^= (uint8_t)(1u << rnd_below(&s, 8));
				else
					buf[at] = fuzz_byte(&s);
			}
		}
		if (len > TS_DNS_MAX && rnd_below(&s, 2))
			len = TS_DNS_MAX;	/* as the kernel side captures it */
		p = map + area - len;
		memcpy(p, buf, len);
		rc = ts_dns_parse_response(p, len, &R);
		CHECKF(rc == (len < 12 || !(p[2] & 0x80) ? -EINVAL : 0), "round %zu: returned %d",
		       i, rc);
		if (rc) {
			rejected++;
			continue;
		}
		if (!well_formed(__FILE__, __LINE__, &R)) {
			FAIL("... in round %zu", i);
			return;
		}
		parsed++;
		kept += (size_t)R.n_answers;
		truncated += R.answers_truncated;
		questions += R.has_question;
	}
	munmap(map, area + pg);
	CHECKF(parsed > FUZZ_ROUNDS * 3 / 4 && rejected > 1000 && kept > FUZZ_ROUNDS &&
	       truncated > FUZZ_ROUNDS / 4 && questions > FUZZ_ROUNDS / 2,
	       "parsed %zu, rejected %zu, kept %zu, truncated %zu, with a question %zu", parsed,
	       rejected, kept, truncated, questions);
}
