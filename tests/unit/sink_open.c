// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sink_open.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int test_sink_open(const char *spec, const char *json, struct ts_output *o, void **conf,
		   char *err, size_t errlen)
{
	return test_sink_open_run(test_run(), spec, json, o, conf, err, errlen);
}

int test_sink_open_run(const struct ts_run *run, const char *spec, const char *json,
		       struct ts_output *o, void **conf, char *err, size_t errlen)
{
	struct ts_output_req req = { .spec = spec };
	const struct ts_output_ops *ops;
	struct ts_queue_opts q = { 0 };
	int rc;

	snprintf(req.where, sizeof(req.where), "outputs[0]");
	if (json && !(req.obj = json_tokener_parse(json))) {
		snprintf(err, errlen, "test: bad JSON in the test itself");
		return -EBADMSG;
	}
	err[0] = 0;
	rc = ts_output_conf(&req, &ops, conf, &q, err, errlen);
	json_object_put(req.obj);
	if (rc)
		return rc;
	memset(o, 0, sizeof(*o));
	o->ops = ops;
	o->run = run;
	o->workers = 1;
	rc = ops->open(o, *conf, err, errlen);
	if (!rc && ops->start && (rc = ops->start(o, err, errlen)))
		ops->close(o);
	if (rc) {
		ts_conf_free(ops->opts, *conf);
		free(*conf);
		*conf = NULL;
	}
	return rc;
}

void test_sink_close(struct ts_output *o, void *conf)
{
	o->ops->close(o);
	ts_conf_free(o->ops->opts, conf);
	free(conf);
}

char *test_sink_body(const struct ts_run *run, const char *json, const struct ts_batch *b,
		     char *err, size_t errlen)
{
	struct ts_output o;
	struct ts_buf out = { 0 };
	void *conf;
	int rc = test_sink_open_run(run, NULL, json, &o, &conf, err, errlen);

	if (rc)
		return NULL;
	rc = o.ops->format(&o, b, 0, b->n, &out);
	test_sink_close(&o, conf);
	if (rc || ts_buf_append(&out, "", 1)) {
		snprintf(err, errlen, "format: %d", rc);
		ts_buf_free(&out);
		return NULL;
	}
	return out.p;
}

const struct ts_run *test_run(void)
{
	static struct ts_run run;
	char host[256] = "";

	/* what tcpship's main gives: this machine's name and our own pid */
	if (!run.agent_id[0]) {
		gethostname(host, sizeof(host) - 1);
		ts_run_init(&run, host, "00000000-0000-4000-8000-000000000000", (unsigned)getpid());
	}
	return &run;
}
