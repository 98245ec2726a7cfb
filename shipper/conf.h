/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The config file, JSON (json-c) or YAML (yamlconf.c makes it the same
 * json-c tree), and the declared option tables of sinks. Every mistake is
 * one line naming the file and the key's full path, and in YAML its line:
 * "tcpship.json: outputs[1].max_size: '10Mb' is not a size (4096, 64KiB, 100MiB)",
 * "tcpship.yaml: line 12: outputs[1].max_size: '10Mb' is not a size (...)".
 */
#ifndef TS_CONF_H
#define TS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "fanout.h"
#include "options.h"
#include "sink.h"

struct json_object;

/* "a string", "an array", ...: what a value is, for messages */
const char *ts_json_type_word(struct json_object *v);
/* a non-negative integer from a JSON number: 0, -EINVAL (not an integer)
 * or -ERANGE (negative, or too large for json-c) */
int ts_json_u64(struct json_object *v, uint64_t *out);
/* the same for a config value at path, with the message for a mistake */
int ts_json_count(struct json_object *v, const char *path, uint64_t *out, char *err,
		  size_t errlen);

/* Fill conf from obj following table t; path prefixes messages. */
int ts_conf_apply(const struct ts_opt *t, void *conf, struct json_object *obj,
		  const char *path, char *err, size_t errlen);
/* Free what ts_conf_apply (or a sink's conf_spec) allocated in conf. */
void ts_conf_free(const struct ts_opt *t, void *conf);

/* Load FILE into o (before the command line is applied over it): YAML if
 * its name ends in .yaml or .yml, JSON if in .json, else JSON if it starts
 * with '{'. The file's objects stay referenced from o->outputs until
 * ts_config_release(). */
int ts_config_load(const char *file, struct ts_options *o, char *err, size_t errlen);
/* The line in the loaded file of what a message that starts with a key path
 * ("outputs[1].queue.max_size: ...") is about; 0 if not known (JSON). */
int ts_config_line(const char *msg);
void ts_config_release(struct ts_options *o);

/* The sink and its parsed conf for one output request (-o SPEC or a config
 * entry), with the queue policy of that entry. -EINVAL: a config mistake. */
int ts_output_conf(const struct ts_output_req *req, const struct ts_output_ops **ops,
		   void **conf, struct ts_queue_opts *q, char *err, size_t errlen);

#endif
