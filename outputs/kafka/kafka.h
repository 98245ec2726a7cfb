/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kafka sink (librdkafka): conf.c reads and checks the config entry and
 * makes the producer's configuration; kafka.c produces each unit and waits
 * for its delivery reports, which alone decide what was delivered.
 */
#ifndef TS_KAFKA_H
#define TS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sink.h"

enum { TS_KAFKA_KEY_FLOW = 0, TS_KAFKA_KEY_NONE, TS_KAFKA_KEY_HOST };

struct ts_kafka_conf {
	char *brokers;		/* "h1:9092,h2:9092" */
	char *topic;		/* may hold "{type}" */
	int key;		/* TS_KAFKA_KEY_* */
	int compression;	/* index into ts_kafka_compressions */
	uint64_t max_events, max_bytes, max_delay_ns;
	uint64_t message_timeout_ns;
	struct ts_kv properties;	/* librdkafka settings, passed through */
	struct ts_kv property_files;	/* librdkafka settings read from files (secrets) */
};

extern const struct ts_opt ts_kafka_opts[];
extern const char *const ts_kafka_compressions[];

void ts_kafka_conf_init(void *conf);
int ts_kafka_conf_spec(void *conf, const char *spec, char *err, size_t errlen);
int ts_kafka_check(const void *conf, char *err, size_t errlen);
/* The producer's configuration, with every property checked by librdkafka
 * itself; with secrets, they are read from their files here (never
 * printed), else a stand-in is checked (--check-config). opaque goes to the
 * callbacks. NULL, and one line in err. */
rd_kafka_conf_t *ts_kafka_make_conf(const struct ts_kafka_conf *c, void *opaque, bool secrets,
				    char *err, size_t errlen);
/* A librdkafka property that holds a secret: given by file only, never
 * shown. */
bool ts_kafka_secret_property(const char *name);

/* The message key of a record (TS_KAFKA_KEY_FLOW): both endpoints, the
 * lower first, so every event of a flow, in either direction, has the same
 * key and so the same partition. Returns its length. */
#define TS_KAFKA_KEY_MAX 112
size_t ts_kafka_flow_key(const struct ts_rec *r, char out[TS_KAFKA_KEY_MAX]);
/* The topic of an event type: "{type}" in pattern replaced by it. 0, or
 * -ENAMETOOLONG. */
int ts_kafka_topic_name(const char *pattern, const char *type, char *out, size_t cap);

#endif
