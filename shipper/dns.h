/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The question of a DNS query, from the payload the kernel side captured. */
#ifndef TS_DNS_H
#define TS_DNS_H

#include <stddef.h>
#include <stdint.h>

/* 255 wire bytes, each at worst "\DDD" (4 chars), plus the dots */
#define TS_QNAME_MAX 1100

struct ts_dns_query {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	char qname[TS_QNAME_MAX];	/* presentation format, "." for the root */
};

/* 0, or -EINVAL if the payload is not a query with one question we can
 * read in full (truncated, a response, a compression pointer, too long). */
int ts_dns_parse_query(const uint8_t *p, size_t len, struct ts_dns_query *q);

/* "A", "AAAA", ...; RFC 3597's "TYPE<n>" for the rest */
const char *ts_dns_type_name(uint16_t qtype, char buf[12]);

#endif
