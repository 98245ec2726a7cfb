// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The table of sinks: adding one is one line here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "output.h"

extern const struct ts_output_ops ts_output_stdout;
extern const struct ts_output_ops ts_output_file;
extern const struct ts_output_ops ts_output_http;
extern const struct ts_output_ops ts_output_syslog;

const struct ts_output_ops *const ts_output_table[] = {
	&ts_output_stdout,
	&ts_output_file,
	&ts_output_http,
	&ts_output_syslog,
	NULL,
};

const struct ts_output_ops *ts_output_find(const char *spec)
{
	for (int i = 0; ts_output_table[i]; i++)
		if (ts_output_table[i]->match(spec))
			return ts_output_table[i];
	return NULL;
}

const struct ts_output_ops *ts_output_by_type(const char *type)
{
	for (int i = 0; ts_output_table[i]; i++)
		if (!strcmp(ts_output_table[i]->type, type))
			return ts_output_table[i];
	return NULL;
}

void ts_output_log(const struct ts_output *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write: lines from several sink threads never interleave */
	fprintf(stderr, "tcpship: %s: %s\n", o->name, line);
}
