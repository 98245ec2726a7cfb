// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "dns.h"

#include <errno.h>
#include <stdio.h>

#include "util.h"

int ts_dns_parse_query(const uint8_t *p, size_t len, struct ts_dns_query *q)
{
	size_t off = 12, out = 0, wire = 0;

	if (len < 12)
		return -EINVAL;
	/* QR bit set: a response, not a query; QDCOUNT must be 1 */
	if ((p[2] & 0x80) || p[4] != 0 || p[5] != 1)
		return -EINVAL;
	q->id = (uint16_t)(p[0] << 8 | p[1]);
	for (;;) {
		uint8_t n;

		if (off >= len)
			return -EINVAL;
		n = p[off++];
		if (++wire > 255)	/* RFC 1035 3.1: length bytes and the root count */
			return -EINVAL;
		if (n == 0)
			break;
		if (n & 0xc0)	/* compression pointer or reserved label type */
			return -EINVAL;
		wire += n;
		if (wire > 255 || off + n > len)
			return -EINVAL;
		if (out)
			q->qname[out++] = '.';
		for (uint8_t i = 0; i < n; i++) {
			uint8_t c = p[off + i];

			/* RFC 1035 presentation format: escape what would be
			 * ambiguous, \DDD for what is not printable */
			if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' ||
			    c == ')' || c == '@' || c == '$') {
				q->qname[out++] = '\\';
				q->qname[out++] = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				out += (size_t)snprintf(q->qname + out, 5, "\\%03u", c);
			} else {
				q->qname[out++] = (char)c;
			}
		}
		off += n;
	}
	if (!out)
		q->qname[out++] = '.';
	q->qname[out] = 0;
	if (off + 4 > len)
		return -EINVAL;
	q->qtype = (uint16_t)(p[off] << 8 | p[off + 1]);
	q->qclass = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
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
