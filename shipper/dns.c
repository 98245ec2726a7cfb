// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "dns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define HDR_LEN 12
#define NAME_WIRE_MAX 255	/* RFC 1035 3.1: length bytes and the root count */
#define PTR_HOPS_MAX 64
#define CLASS_IN 1
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One label in RFC 1035 presentation format: escape what would be
 * ambiguous, \DDD for what is not printable. Returns the chars written. */
static size_t put_label(char *out, const uint8_t *s, uint8_t n)
{
	size_t o = 0;

	for (uint8_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
		    c == '@' || c == '$') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c <= 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\%03u", c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/*
 * The name at p[off], in presentation form into out (TS_QNAME_MAX bytes;
 * NULL to skip it), "." for the root. *end is where the name's bytes in
 * place end: after the root label, or after the first pointer.
 *
 * With ptrs, compression pointers (RFC 1035 4.1.4) are followed, each to
 * strictly before the start of the labels that hold it: every hop goes
 * back, so no loop can form, and the hops and the 255 wire bytes of the
 * whole name are bounded besides. The header holds no names: a pointer
 * into it is damage. Without ptrs a pointer is refused.
 *
 * 0, or -EINVAL: cut short, a pointer refused, a reserved label type (01,
 * 10), more than 255 wire bytes; out is then scratch. Nothing at or past
 * p[len] is read.
 */
static int name_read(const uint8_t *p, size_t len, size_t off, bool ptrs, char *out,
		     size_t *end)
{
	size_t o = 0, wire = 0, start = off;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t n;

		if (off >= len)
			return -EINVAL;
		n = p[off];
		if ((n & 0xc0) == 0xc0) {
			size_t to;

			if (!ptrs || off + 1 >= len || ++hops > PTR_HOPS_MAX)
				return -EINVAL;
			to = (size_t)(n & 0x3f) << 8 | p[off + 1];
			if (to < HDR_LEN || to >= start)
				return -EINVAL;
			if (!jumped)
				*end = off + 2;
			jumped = true;
			start = off = to;
			continue;
		}
		if (n & 0xc0)
			return -EINVAL;
		off++;
		if (++wire > NAME_WIRE_MAX)
			return -EINVAL;
		if (n == 0)
			break;
		wire += n;
		if (wire > NAME_WIRE_MAX || off + n > len)
			return -EINVAL;
		if (out) {
			if (o)
				out[o++] = '.';
			o += put_label(out + o, p + off, n);
		}
		off += n;
	}
	if (!jumped)
		*end = off;
	if (out) {
		if (!o)
			out[o++] = '.';
		out[o] = 0;
	}
	return 0;
}

int ts_dns_parse_query(const uint8_t *p, size_t len, struct ts_dns_query *q)
{
	size_t off;

	if (len < HDR_LEN)
		return -EINVAL;
	/* QR bit set: a response, not a query; QDCOUNT must be 1 */
	if ((p[2] & 0x80) || get16(p + 4) != 1)
		return -EINVAL;
	q->id = get16(p);
	/* a query's one question has nothing before it to point at */
	if (name_read(p, len, HDR_LEN, false, q->qname, &off) || off + 4 > len)
		return -EINVAL;
	q->qtype = get16(p + off);
	q->qclass = get16(p + off + 2);
	return 0;
}

/* The answer section from p[off]: how many of its records were read. */
static unsigned read_answers(const uint8_t *p, size_t len, size_t off,
			     struct ts_dns_response *r)
{
	unsigned i;

	for (i = 0; i < r->ancount; i++) {
		struct ts_dns_answer *a = &r->answers[r->n_answers];
		bool room = r->n_answers < TS_DNS_ANSWERS_MAX;
		uint16_t type, rdlen;
		size_t rd, end;

		/* the owner comes before the type: read it in place while
		 * there is room, skip it when not */
		if (name_read(p, len, off, true, room ? a->owner : NULL, &off) || len - off < 10)
			break;
		type = get16(p + off);
		rdlen = get16(p + off + 8);
		rd = off + 10;
		if (len - rd < rdlen)
			break;
		off = rd + rdlen;
		if (get16(p + rd - 8) != CLASS_IN ||
		    (type != TYPE_A && type != TYPE_AAAA && type != TYPE_CNAME))
			continue;
		if (!room)
			break;
		a->type = type;
		a->ttl = get32(p + rd - 6);
		memset(a->addr, 0, sizeof(a->addr));
		a->name[0] = 0;
		if (type == TYPE_A && rdlen == 4)
			memcpy(a->addr, p + rd, 4);
		else if (type == TYPE_AAAA && rdlen == 16)
			memcpy(a->addr, p + rd, 16);
		else if (type != TYPE_CNAME ||
			 name_read(p, len, rd, true, a->name, &end) || end != rd + rdlen)
			break;
		r->n_answers++;
	}
	return i;
}

int ts_dns_parse_response(const uint8_t *p, size_t len, struct ts_dns_response *r)
{
	size_t off = HDR_LEN;
	unsigned qdcount, read = 0;

	if (len < HDR_LEN || !(p[2] & 0x80))
		return -EINVAL;
	r->id = get16(p);
	r->aa = p[2] & 0x04;
	r->tc = p[2] & 0x02;
	r->ra = p[3] & 0x80;
	r->rcode = p[3] & 0x0f;
	qdcount = get16(p + 4);
	r->ancount = get16(p + 6);
	r->has_question = false;
	r->qtype = r->qclass = 0;
	r->qname[0] = 0;
	r->n_answers = 0;
	/* the first question is kept. Unlike the query parser's, its name may
	 * hold pointers, which in the first question can only be damage (the
	 * header is all there is before it), not in a later one */
	for (unsigned i = 0; i < qdcount; i++) {
		if (name_read(p, len, off, true, i ? NULL : r->qname, &off) || len - off < 4)
			goto out;
		if (!i) {
			r->qtype = get16(p + off);
			r->qclass = get16(p + off + 2);
			r->has_question = true;
		}
		off += 4;
	}
	read = read_answers(p, len, off, r);
out:
	if (!r->has_question)
		r->qname[0] = 0;
	r->answers_truncated = read < r->ancount;
	return 0;
}

const char *ts_dns_type_name(uint16_t qtype, char buf[12])
{
	static const struct { uint16_t t; const char *name; } names[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 13, "HINFO" }, { 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 29, "LOC" },
		{ 33, "SRV" }, { 35, "NAPTR" }, { 39, "DNAME" }, { 43, "DS" }, { 46, "RRSIG" },
		{ 48, "DNSKEY" }, { 52, "TLSA" }, { 64, "SVCB" }, { 65, "HTTPS" },
		{ 252, "AXFR" }, { 255, "ANY" }, { 257, "CAA" },
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(names); i++)
		if (names[i].t == qtype)
			return names[i].name;
	snprintf(buf, 12, "TYPE%u", qtype);
	return buf;
}

const char *ts_dns_rcode_name(uint16_t rcode, char buf[12])
{
	/* RFC 1035 4.1.1 (0..5), RFC 2136 2.2 (6..10) */
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	if (rcode < TS_ARRAY_SIZE(names))
		return names[rcode];
	snprintf(buf, 12, "RCODE%u", rcode);
	return buf;
}
