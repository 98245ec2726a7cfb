// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --dns-names: (process, address) -> the name it resolved (dnsnames.h). */
#include "dnsnames.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "tcpship.h"

#define WAYS 4		/* slots probed from the hash: the oldest of them gives way */

struct slot {
	uint64_t stamp;		/* learn order; 0: empty */
	uint32_t pid;
	uint8_t family;
	uint8_t addr[16];
	char name[TS_DNSNAME_MAX + 1];
};

struct ts_dnsnames {
	size_t mask;
	uint64_t clock;
	struct ts_dnsnames_stats st;
	struct slot slots[];
};

struct ts_dnsnames *ts_dnsnames_new(size_t slots)
{
	size_t n = WAYS;
	struct ts_dnsnames *t;

	while (n < slots)
		n <<= 1;
	t = calloc(1, sizeof(*t) + n * sizeof(struct slot));
	if (t)
		t->mask = n - 1;
	return t;
}

void ts_dnsnames_free(struct ts_dnsnames *t)
{
	free(t);
}

/* FNV-1a over the key */
static size_t hash(uint32_t pid, unsigned family, const uint8_t *addr)
{
	uint64_t h = 1469598103934665603ULL;
	size_t n = family == TS_IPV4 ? 4 : 16;

	for (int i = 0; i < 4; i++) {
		h ^= (pid >> (8 * i)) & 0xff;
		h *= 1099511628211ULL;
	}
	for (size_t i = 0; i < n; i++) {
		h ^= addr[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ h >> 29);
}

static bool same(const struct slot *s, uint32_t pid, unsigned family, const uint8_t *addr)
{
	return s->stamp && s->pid == pid && s->family == family &&
	       !memcmp(s->addr, addr, family == TS_IPV4 ? 4 : 16);
}

static struct slot *find(struct ts_dnsnames *t, uint32_t pid, unsigned family,
			 const uint8_t *addr, bool for_write)
{
	size_t h = hash(pid, family, addr);
	struct slot *oldest = NULL;

	for (size_t i = 0; i < WAYS; i++) {
		struct slot *s = &t->slots[(h + i) & t->mask];

		if (same(s, pid, family, addr))
			return s;
		if (!oldest || s->stamp < oldest->stamp)
			oldest = s;
	}
	return for_write ? oldest : NULL;
}

static void learn_one(struct ts_dnsnames *t, uint32_t pid, unsigned family, const uint8_t *addr,
		      const char *name, size_t len)
{
	struct slot *s = find(t, pid, family, addr, true);

	if (s->stamp && !same(s, pid, family, addr))
		t->st.evicted++;
	s->stamp = ++t->clock;
	s->pid = pid;
	s->family = (uint8_t)family;
	memset(s->addr, 0, sizeof(s->addr));
	memcpy(s->addr, addr, family == TS_IPV4 ? 4 : 16);
	memcpy(s->name, name, len + 1);
	t->st.learned++;
}

void ts_dnsnames_learn(struct ts_dnsnames *t, uint32_t pid, const struct ts_dns_response *r)
{
	size_t len;

	if (!t || !r || r->rcode || !r->has_question || !r->qname[0])
		return;
	len = strlen(r->qname);
	for (int i = 0; i < r->n_answers; i++) {
		const struct ts_dns_answer *a = &r->answers[i];

		if (a->type != 1 && a->type != 28)
			continue;
		if (len > TS_DNSNAME_MAX) {
			t->st.too_long++;
			return;
		}
		learn_one(t, pid, a->type == 1 ? TS_IPV4 : TS_IPV6, a->addr, r->qname, len);
	}
}

const char *ts_dnsnames_lookup(struct ts_dnsnames *t, uint32_t pid, unsigned family,
			       const uint8_t *addr)
{
	struct slot *s = t ? find(t, pid, family, addr, false) : NULL;

	if (!s)
		return NULL;
	t->st.hits++;
	return s->name;
}

void ts_dnsnames_stats(const struct ts_dnsnames *t, struct ts_dnsnames_stats *st)
{
	if (t)
		*st = t->st;
	else
		memset(st, 0, sizeof(*st));
}
