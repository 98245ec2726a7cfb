// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The table of sinks: adding one is one line here. */
#include <stddef.h>

#include "sink.h"

extern const struct ts_output_ops ts_output_stdout;
extern const struct ts_output_ops ts_output_file;
extern const struct ts_output_ops ts_output_http;
extern const struct ts_output_ops ts_output_syslog;
extern const struct ts_output_ops ts_output_kafka;

const struct ts_output_ops *const ts_output_table[] = {
	&ts_output_stdout,
	&ts_output_file,
	&ts_output_http,
	&ts_output_syslog,
	&ts_output_kafka,
	NULL,
};
