// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* stdout: `tcpship | jq` and `tcpship > file`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdwriter.h"
#include "sink.h"

static bool stdout_match(const char *spec)
{
	return !strcmp(spec, "stdout") || !strcmp(spec, "-");
}

static int stdout_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	struct ts_fdw *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ts_fdw_init(w, STDOUT_FILENO);
	o->priv = w;
	snprintf(o->name, sizeof(o->name), "stdout");
	return 0;
}

static enum ts_out_result stdout_write(struct ts_output *o, const struct ts_batch *b,
				       uint32_t from, uint32_t n)
{
	size_t bytes;

	return ts_fdw_write(o->priv, b, from, n, &bytes);
}

static void stdout_close(struct ts_output *o)
{
	free(o->priv);
	o->priv = NULL;
}

const struct ts_output_ops ts_output_stdout = {
	.type = "stdout",
	.match = stdout_match,
	.open = stdout_open,
	.write = stdout_write,
	.close = stdout_close,
	.format = ts_fdw_format,
	.default_drop_when_full = false,
};
