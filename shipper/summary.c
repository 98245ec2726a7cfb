// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS 16384	/* processes remembered; the rest are counted as "other" */

struct entry {
	uint32_t pid;		/* 0: free slot */
	char comm[TS_COMM_LEN];
	uint64_t connects, accepts, failed, bytes_sent, bytes_received;
};

struct ts_summary {
	struct entry slots[SLOTS];
	uint64_t other;
};

struct ts_summary *ts_summary_new(void)
{
	return calloc(1, sizeof(struct ts_summary));
}

static struct entry *slot(struct ts_summary *s, uint32_t pid)
{
	uint32_t i = (pid * 2654435761u) % SLOTS;

	for (uint32_t n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS) {
		if (s->slots[i].pid == pid)
			return &s->slots[i];
		if (!s->slots[i].pid) {
			s->slots[i].pid = pid;
			return &s->slots[i];
		}
	}
	return NULL;
}

void ts_summary_add(struct ts_summary *s, const struct ts_hdr *h, const void *rec)
{
	const struct ts_event *ev = rec;
	struct entry *e;

	if (!(h->flags & TS_F_TASK) || !h->pid ||
	    (h->type != TS_CONNECT && h->type != TS_ACCEPT && h->type != TS_CLOSE))
		return;
	e = slot(s, h->pid);
	if (!e) {
		s->other++;
		return;
	}
	memcpy(e->comm, h->comm, TS_COMM_LEN);
	if (h->type == TS_CONNECT)
		e->connects++;
	else if (h->type == TS_ACCEPT)
		e->accepts++;
	else {
		if (!(h->flags & TS_F_ESTABLISHED))
			e->failed++;
		e->bytes_sent += ev->close.bytes_sent;
		e->bytes_received += ev->close.bytes_received;
	}
}

static int by_connections(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	uint64_t cx = x->connects + x->accepts, cy = y->connects + y->accepts;

	return cx < cy ? 1 : cx > cy ? -1 : (x->pid > y->pid) - (x->pid < y->pid);
}

void ts_summary_print(const struct ts_summary *s, unsigned n, FILE *f)
{
	struct entry *all = malloc(sizeof(struct entry) * SLOTS);
	unsigned used = 0;

	if (!all)
		return;
	for (unsigned i = 0; i < SLOTS; i++)
		if (s->slots[i].pid && s->slots[i].connects + s->slots[i].accepts)
			all[used++] = s->slots[i];
	qsort(all, used, sizeof(*all), by_connections);
	fprintf(f, "tcpship: top %u processes by connections\n", n);
	fprintf(f, "%8s %-16s %9s %9s %7s %14s %14s\n", "PID", "COMM", "CONNECTS", "ACCEPTS",
		"FAILED", "BYTES_SENT", "BYTES_RECV");
	for (unsigned i = 0; i < used && i < n; i++) {
		char comm[TS_COMM_LEN];
		size_t len = strnlen(all[i].comm, TS_COMM_LEN - 1);

		for (size_t k = 0; k < len; k++)
			comm[k] = (all[i].comm[k] < 0x20 || all[i].comm[k] == 0x7f) ? '?' : all[i].comm[k];
		comm[len] = 0;
		fprintf(f, "%8u %-16s %9llu %9llu %7llu %14llu %14llu\n", all[i].pid, comm,
			(unsigned long long)all[i].connects, (unsigned long long)all[i].accepts,
			(unsigned long long)all[i].failed, (unsigned long long)all[i].bytes_sent,
			(unsigned long long)all[i].bytes_received);
	}
	if (s->other)
		fprintf(f, "(%llu events from processes beyond the %d tracked)\n",
			(unsigned long long)s->other, SLOTS);
	free(all);
}

void ts_summary_free(struct ts_summary *s)
{
	free(s);
}
