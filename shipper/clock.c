// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "clock.h"

#include <time.h>

#include "util.h"

int64_t ts_clock_offset_from(uint64_t boot_before, uint64_t real, uint64_t boot_after)
{
	uint64_t mid = boot_before + (boot_after - boot_before) / 2;

	return (int64_t)(real - mid);
}

void ts_clock_sync(struct ts_clock *c)
{
	uint64_t best_gap = UINT64_MAX;

	/* the reading with the smallest gap wins (a preemption between the
	 * calls would skew the offset by the time it took) */
	for (int i = 0; i < 3; i++) {
		uint64_t b0 = ts_now_ns(CLOCK_BOOTTIME);
		uint64_t r = ts_now_ns(CLOCK_REALTIME);
		uint64_t b1 = ts_now_ns(CLOCK_BOOTTIME);

		if (b1 - b0 < best_gap) {
			best_gap = b1 - b0;
			c->offset_ns = ts_clock_offset_from(b0, r, b1);
		}
	}
	c->synced_mono_ns = ts_now_ns(CLOCK_MONOTONIC);
}

void ts_clock_init(struct ts_clock *c, uint64_t resync_ns)
{
	c->resync_ns = resync_ns;
	ts_clock_sync(c);
}

void ts_clock_maybe_sync(struct ts_clock *c)
{
	if (ts_now_ns(CLOCK_MONOTONIC) - c->synced_mono_ns >= c->resync_ns)
		ts_clock_sync(c);
}
