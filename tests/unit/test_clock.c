// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CLOCK_BOOTTIME -> CLOCK_REALTIME: the offset math, then the real clocks. */
#include <time.h>

#include "clock.h"
#include "test.h"
#include "util.h"

#define MS 1000000ULL
#define HOUR 3600000000000ULL

TEST(clock_offset_midpoint)
{
	/* the realtime reading is taken to be at the middle of the boottime pair */
	CHECK_INT(ts_clock_offset_from(100, 1000, 200), 850);
	/* an odd gap: the half is rounded down, the middle is 150 */
	CHECK_INT(ts_clock_offset_from(100, 1000, 201), 850);
	CHECK_INT(ts_clock_offset_from(10, 100, 11), 90);
	CHECK_INT(ts_clock_offset_from(0, 0, 0), 0);
	CHECK_INT(ts_clock_offset_from(7, 7, 7), 0);
	/* realistic readings: 5000 s after boot, 2026-11-26T09:42:09Z */
	CHECK_INT(ts_clock_offset_from(5000000000000ULL, 1795686129123456789ULL,
				       5000000000301ULL),
		  1795686129123456789LL - 5000000000150LL);
	/* realtime behind boottime (a clock set before 1970): negative */
	CHECK_INT(ts_clock_offset_from(1000, 10, 1000), -990);
	/* no overflow on the way to the middle of two large readings */
	CHECK_INT(ts_clock_offset_from(UINT64_MAX - 10, UINT64_MAX - 5, UINT64_MAX), 0);
}

TEST(clock_wall_math)
{
	struct ts_clock c = { .offset_ns = 1795686129123456789LL - 5000000000000LL };

	CHECK_U64(ts_clock_wall(&c, 5000000000000ULL), 1795686129123456789ULL);
	CHECK_U64(ts_clock_wall(&c, 5000000000001ULL), 1795686129123456790ULL);
	c.offset_ns = -1000000000;
	CHECK_U64(ts_clock_wall(&c, 5000000000ULL), 4000000000ULL);
}

/* A step of the wall clock (NTP, `date -s`) moves converted times by
 * exactly the step, whatever the boot time converted. */
TEST(clock_step)
{
	static const uint64_t boots[] = { 0, 1, 5000000000123ULL, 86400000000000ULL * 365 };
	const uint64_t b0 = 5000000000000ULL, b1 = b0 + 333, r = 1795686129123456789ULL;
	struct ts_clock before = { .offset_ns = ts_clock_offset_from(b0, r, b1) };
	struct ts_clock ahead = { .offset_ns = ts_clock_offset_from(b0, r + HOUR, b1) };
	struct ts_clock behind = { .offset_ns = ts_clock_offset_from(b0, r - HOUR, b1) };

	for (size_t i = 0; i < ARRAY_LEN(boots); i++) {
		CHECK_U64(ts_clock_wall(&ahead, boots[i]) - ts_clock_wall(&before, boots[i]), HOUR);
		CHECK_U64(ts_clock_wall(&before, boots[i]) - ts_clock_wall(&behind, boots[i]), HOUR);
	}
	/* and the reading itself converts back to (about) r: off by the half gap */
	CHECK_U64(ts_clock_wall(&before, b0 + 166), r);
}

static int64_t diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

TEST(clock_sync_matches_realtime)
{
	struct ts_clock c = { 0 };
	uint64_t boot, real;
	int64_t d;

	ts_clock_sync(&c);
	boot = ts_now_ns(CLOCK_BOOTTIME);
	real = ts_now_ns(CLOCK_REALTIME);
	d = diff(ts_clock_wall(&c, boot), real);
	CHECKF(d > -(int64_t)MS && d < (int64_t)MS,
	       "converted boot time is %lld ns from CLOCK_REALTIME (limit 1 ms)", (long long)d);
	CHECK(c.synced_mono_ns != 0);
}

/* maybe_sync re-derives only once resync_ns has passed */
TEST(clock_maybe_sync)
{
	struct ts_clock c;
	int64_t d;

	ts_clock_init(&c, UINT64_MAX);
	CHECK_U64(c.resync_ns, UINT64_MAX);
	c.offset_ns = 12345;	/* a stale offset, as if derived long ago */
	ts_clock_maybe_sync(&c);
	CHECK_INT(c.offset_ns, 12345);
	c.resync_ns = 0;
	ts_clock_maybe_sync(&c);
	CHECK(c.offset_ns != 12345);
	d = diff(ts_clock_wall(&c, ts_now_ns(CLOCK_BOOTTIME)), ts_now_ns(CLOCK_REALTIME));
	CHECKF(d > -(int64_t)MS && d < (int64_t)MS, "resynced offset is %lld ns off", (long long)d);
}
