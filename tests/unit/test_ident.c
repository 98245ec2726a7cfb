// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Identity: a process's start is a fact of the process. The reader
 * converts kernel time to wall time with an offset it resyncs now and
 * then; the start every shape shows (native's process_start string,
 * OCSF's created_time number) is the one of the process's first event,
 * whatever the offset of later ones.
 */
#include <string.h>

#include "ident.h"
#include "tcpship.h"
#include "test.h"

TEST(ident_process_start_fixed_at_first_event)
{
	char err[256] = "";
	struct ts_ident_ctx *c = ts_ident_new(NULL, err, sizeof(err));
	struct ts_hdr h = {};
	struct ts_ident a, b;
	const int64_t off = 1796693000000000000LL;	/* realtime - boottime */

	CHECKF(c, "ts_ident_new: %s", err);
	h.type = TS_CONNECT;
	h.flags = TS_F_TASK;
	h.pid = 3999999;		/* no such process: known only from records */
	h.start_ns = 5000000000ULL;
	ts_ident_lookup(c, &h, off, &a);
	CHECK_U64(a.start_wall_ns, h.start_ns + off);
	CHECK(a.start_str != NULL);
	/* a resync moved the offset by 13 ms: the process did not move */
	ts_ident_lookup(c, &h, off + 13000000, &b);
	CHECK_U64(b.start_wall_ns, a.start_wall_ns);
	CHECK(b.start_str != NULL && !memcmp(b.start_str, a.start_str, 30));
	ts_ident_free(c);
}
