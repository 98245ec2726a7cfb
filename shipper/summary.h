/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --summary N: connections per process, printed on exit. */
#ifndef TS_SUMMARY_H
#define TS_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "tcpship.h"

struct ts_summary;

struct ts_summary *ts_summary_new(void);
void ts_summary_add(struct ts_summary *s, const struct ts_hdr *h, const void *rec);
/* The top n processes by connections made plus accepted. */
void ts_summary_print(const struct ts_summary *s, unsigned n, FILE *f);
void ts_summary_free(struct ts_summary *s);

#endif
