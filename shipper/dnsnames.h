/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --dns-names: the name a process last resolved to an address, learned
 * from the DNS answers it read, for its later connections' dest_name.
 * A bounded table (no allocation after creation); the reader's thread
 * only.
 */
#ifndef TS_DNSNAMES_H
#define TS_DNSNAMES_H

#include <stddef.h>
#include <stdint.h>

/* names longer than this (presentation form, escaped) are not kept */
#define TS_DNSNAME_MAX 255

struct ts_dnsnames;
struct ts_dns_response;

struct ts_dnsnames_stats {
	uint64_t learned;	/* (process, address) -> name stored */
	uint64_t evicted;	/* an older one pushed out by a newer */
	uint64_t too_long;	/* names not kept: longer than TS_DNSNAME_MAX */
	uint64_t hits;		/* connections given a dest_name */
};

/* slots: a power of two, rounded up; NULL on ENOMEM */
struct ts_dnsnames *ts_dnsnames_new(size_t slots);
void ts_dnsnames_free(struct ts_dnsnames *t);
/* Every A/AAAA answer of a NOERROR response read by pid: its address ->
 * the question's name (what the process asked for, through any CNAME). */
void ts_dnsnames_learn(struct ts_dnsnames *t, uint32_t pid, const struct ts_dns_response *r);
/* The name pid last resolved to addr (family TS_IPV4/TS_IPV6, 16 bytes,
 * IPv4 in the first 4), or NULL. Valid until the next learn. */
const char *ts_dnsnames_lookup(struct ts_dnsnames *t, uint32_t pid, unsigned family,
			       const uint8_t *addr);
void ts_dnsnames_stats(const struct ts_dnsnames *t, struct ts_dnsnames_stats *st);

#endif
