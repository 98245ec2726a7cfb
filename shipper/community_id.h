/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Community ID v1 (https://github.com/corelight/community-id-spec): a flow's
 * 5-tuple hashed so that Zeek, Suricata, Elastic and tcpship name the same
 * flow the same way, whichever side saw it:
 *
 *   "1:" base64(sha1(seed16 . addr_a . addr_b . proto8 . 0 . port_a . port_b))
 *
 * with the smaller (address, port) endpoint first, all in network byte
 * order. Only port-carrying protocols (TCP, UDP, SCTP) are done here: the
 * spec's ICMP mapping of types to ports is not needed by a TCP tracer.
 */
#ifndef TS_COMMUNITY_ID_H
#define TS_COMMUNITY_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "1:" + 28 base64 characters + NUL, or "1:" + 40 hex + NUL: 43 */
#define TS_COMMUNITY_ID_LEN 44

struct ts_cid;

/* A reusable SHA-1 context; NULL when out of memory. */
struct ts_cid *ts_cid_new(void);
void ts_cid_free(struct ts_cid *c);

/* family AF_INET (4-byte addresses) or AF_INET6 (16); ports in host order.
 * b64 false gives the spec's hex form. 0, or -1 (bad family, no room). */
int ts_community_id(struct ts_cid *c, int family, const void *saddr, const void *daddr,
		    uint16_t sport, uint16_t dport, uint8_t proto, uint16_t seed, bool b64,
		    char *out, size_t cap);

#endif
