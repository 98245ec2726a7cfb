/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS messages from the payload the kernel side captured: at most
 * TS_DNS_MAX bytes (bpf/tcpship.h), so a longer datagram arrives cut. The
 * question of a query; the question and the answers of a response. Names
 * come out in RFC 1035 presentation form, printable ASCII only.
 */
#ifndef TS_DNS_H
#define TS_DNS_H

#include <stdbool.h>
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

#define TS_DNS_ANSWERS_MAX 16

struct ts_dns_answer {
	uint16_t type;			/* 1 A, 28 AAAA, 5 CNAME (the only ones kept) */
	uint32_t ttl;			/* as sent */
	uint8_t addr[16];		/* A: the first 4 bytes; AAAA: 16; else zeros */
	char name[TS_QNAME_MAX];	/* CNAME: the target; else "" */
	char owner[TS_QNAME_MAX];	/* the record's owner name */
};

/*
 * A plain value of about 36 KB: keep it in static or heap storage, not on
 * a thread's stack. answers[0 .. n_answers) hold the records kept; the
 * rest of the array is scratch and may hold anything.
 */
struct ts_dns_response {
	uint16_t id;
	uint8_t rcode;			/* header RCODE, 0..15 */
	bool aa, tc, ra;
	bool has_question;		/* qname/qtype/qclass were read */
	uint16_t qtype, qclass;
	char qname[TS_QNAME_MAX];	/* the first question's; "" without one */
	uint16_t ancount;		/* as the header says */
	int n_answers;			/* A/AAAA/CNAME records of class IN kept */
	bool answers_truncated;		/* answer records left unread: cut capture,
					 * more than TS_DNS_ANSWERS_MAX, or damage */
	struct ts_dns_answer answers[TS_DNS_ANSWERS_MAX];
};

/*
 * 0, or -EINVAL when p is not a DNS response at all (shorter than the
 * 12-byte header, or QR clear). A response whose question or answers are
 * cut short or damaged still returns 0 with what was read: has_question,
 * n_answers and answers_truncated say how far it got. Reading stops at the
 * first damage: a name that is cut, longer than 255 wire bytes, of a
 * reserved label type or with a compression pointer that does not point
 * strictly back (before the labels holding it, past the header) or takes
 * more than 64 hops; an RDLENGTH past the end; an A that is not 4 bytes,
 * an AAAA not 16, a CNAME target not filling its RDATA.
 */
int ts_dns_parse_response(const uint8_t *p, size_t len, struct ts_dns_response *r);

/* "A", "AAAA", ...; RFC 3597's "TYPE<n>" for the rest */
const char *ts_dns_type_name(uint16_t qtype, char buf[12]);

/* "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
 * "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", else "RCODE<n>"
 * (the header's 4 bits, or EDNS's 12 with the OPT record's upper 8) */
const char *ts_dns_rcode_name(uint16_t rcode, char buf[12]);

#endif
