/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Opening a sink in a unit test the way tcpship does: -o SPEC and/or a
 * config entry (JSON text) through ts_output_conf(), then the sink's open. */
#ifndef TS_TEST_SINK_OPEN_H
#define TS_TEST_SINK_OPEN_H

#include <stddef.h>

#include "sink.h"

/* rc of the config parse or of open; errors read "outputs[0]...". On
 * failure nothing is left to free. */
int test_sink_open(const char *spec, const char *json, struct ts_output *o, void **conf,
		   char *err, size_t errlen);
/* ... with other run constants than test_run()'s */
int test_sink_open_run(const struct ts_run *run, const char *spec, const char *json,
		       struct ts_output *o, void **conf, char *err, size_t errlen);
void test_sink_close(struct ts_output *o, void *conf);
/* The bytes the sink of a config entry would send for all of b (its
 * format hook), NUL-terminated, to free(); NULL and a line in err. */
char *test_sink_body(const struct ts_run *run, const char *json, const struct ts_batch *b,
		     char *err, size_t errlen);
/* The run constants sinks get in tests: this host, our pid, a fixed agent_id. */
const struct ts_run *test_run(void);

#endif
