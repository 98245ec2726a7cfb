/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel time -> wall-clock time. The BPF side stamps records with
 * CLOCK_BOOTTIME (it keeps counting across suspend and never steps); the
 * offset to CLOCK_REALTIME is re-derived often, so an NTP step or a manual
 * `date -s` shows up in the next records instead of never.
 */
#ifndef TS_CLOCK_H
#define TS_CLOCK_H

#include <stdint.h>

struct ts_clock {
	int64_t offset_ns;		/* realtime - boottime */
	uint64_t synced_mono_ns;	/* when it was derived */
	uint64_t resync_ns;		/* how often to re-derive */
};

/* The offset from one realtime reading taken between two boottime
 * readings: the boottime at the realtime reading is taken as their middle. */
int64_t ts_clock_offset_from(uint64_t boot_before, uint64_t real, uint64_t boot_after);
void ts_clock_init(struct ts_clock *c, uint64_t resync_ns);
/* Re-derive the offset if resync_ns has passed. */
void ts_clock_maybe_sync(struct ts_clock *c);
void ts_clock_sync(struct ts_clock *c);
static inline uint64_t ts_clock_wall(const struct ts_clock *c, uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + c->offset_ns);
}

#endif
