// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Kafka sink's options, and the producer configuration made from them.
 * Every librdkafka property the config passes through is checked by
 * librdkafka at start (--check-config too), and named by its key path when
 * refused; a secret is read from its file and never printed, not even in
 * librdkafka's own refusal (which quotes the value).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "kafka/kafka.h"
#include "net/secret.h"
#include "util.h"

#define OFF(f) offsetof(struct ts_kafka_conf, f)
#define SECONDS(n) ((n) * 1000000000ULL)

static const char *const key_names[] = { "flow", "none", "host", NULL };
/* librdkafka's own names for compression.codec */
const char *const ts_kafka_compressions[] = { "none", "gzip", "snappy", "lz4", "zstd", NULL };

static const struct ts_opt batch_keys[] = {
	{ .name = "max_events", .type = TS_OPT_UINT, .off = OFF(max_events), .min = 1,
	  .max = 1000000 },
	{ .name = "max_bytes", .type = TS_OPT_SIZE, .off = OFF(max_bytes), .min = 4096,
	  .max = 1ULL << 30 },
	{ .name = "max_delay", .type = TS_OPT_DURATION, .off = OFF(max_delay_ns), .min = 0,
	  .max = SECONDS(3600) },
	{ .name = NULL },
};

const struct ts_opt ts_kafka_opts[] = {
	{ .name = "brokers", .type = TS_OPT_STRING, .off = OFF(brokers) },
	{ .name = "topic", .type = TS_OPT_STRING, .off = OFF(topic) },
	{ .name = "key", .type = TS_OPT_ENUM, .off = OFF(key), .choices = key_names },
	{ .name = "compression", .type = TS_OPT_ENUM, .off = OFF(compression),
	  .choices = ts_kafka_compressions },
	{ .name = "batch", .type = TS_OPT_OBJECT, .sub = batch_keys },
	/* librdkafka's message.timeout.ms: how long it retries one message */
	{ .name = "message_timeout", .type = TS_OPT_DURATION, .off = OFF(message_timeout_ns),
	  .min = 1000000ULL, .max = SECONDS(24 * 3600) },
	{ .name = "properties", .type = TS_OPT_MAP, .off = OFF(properties) },
	{ .name = "property_files", .type = TS_OPT_MAP, .off = OFF(property_files) },
	{ .name = NULL },
};

void ts_kafka_conf_init(void *conf)
{
	struct ts_kafka_conf *c = conf;

	c->key = TS_KAFKA_KEY_FLOW;
	c->compression = 0;
	/* a unit is produced whole, then its reports are awaited: big units
	 * keep the brokers' batches big at one round trip per unit */
	c->max_events = 10000;
	c->max_bytes = 16ULL << 20;
	c->max_delay_ns = 500 * 1000000ULL;
	/* librdkafka's default: a broker outage of up to 5 minutes costs
	 * nothing; past it, what is in flight is counted as dropped */
	c->message_timeout_ns = SECONDS(300);
}

/* kafka://BROKER[,BROKER...][/TOPIC] */
int ts_kafka_conf_spec(void *conf, const char *spec, char *err, size_t errlen)
{
	struct ts_kafka_conf *c = conf;
	const char *b = spec + strlen("kafka://"), *slash = strchr(b, '/');
	size_t n = slash ? (size_t)(slash - b) : strlen(b);

	c->brokers = strndup(b, n);
	if (!c->brokers)
		return -ENOMEM;
	if (slash && slash[1]) {
		c->topic = strdup(slash + 1);
		if (!c->topic)
			return -ENOMEM;
	}
	return 0;
}

static int check_broker(const char *s, size_t n, char *err, size_t errlen)
{
	const char *colon = NULL;
	uint64_t port;
	char num[8];

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close && (size_t)(close - s) + 1 < n && close[1] == ':')
			colon = close + 1;
	} else {
		for (size_t i = 0; i < n; i++)
			if (s[i] == ':')
				colon = s + i;
	}
	if (!colon || colon == s || (size_t)(s + n - colon - 1) >= sizeof(num) ||
	    colon + 1 == s + n)
		return ts_errf(err, errlen, "brokers: \"%.*s\" is not HOST:PORT", (int)n, s);
	memcpy(num, colon + 1, (size_t)(s + n - colon - 1));
	num[s + n - colon - 1] = 0;
	if (ts_parse_u64(num, 1, 65535, &port))
		return ts_errf(err, errlen, "brokers: \"%.*s\": the port is not 1..65535",
			       (int)n, s);
	for (const char *p = s; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@')
			return ts_errf(err, errlen, "brokers: \"%.*s\" is not HOST:PORT",
				       (int)n, s);
	return 0;
}

/* Kafka's topic names: [a-zA-Z0-9._-], at most 249 bytes; "{type}" is the
 * event type, whose names fit. */
static int check_topic(const char *t, char *err, size_t errlen)
{
	size_t len = 0;

	if (!t || !*t)
		return ts_errf(err, errlen, "topic: missing (kafka://BROKERS/TOPIC, or \"topic\")");
	for (const char *p = t; *p; p++, len++) {
		if (!strncmp(p, "{type}", 6)) {
			p += 5;
			len += 10;	/* the longest type name */
			continue;
		}
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' && *p != '-')
			return ts_errf(err, errlen, "topic \"%s\": Kafka takes [a-zA-Z0-9._-] and "
				       "\"{type}\" only", t);
	}
	if (len > 249)
		return ts_errf(err, errlen, "topic \"%s\": longer than Kafka's 249 bytes", t);
	if (!strcmp(t, ".") || !strcmp(t, ".."))
		return ts_errf(err, errlen, "topic \"%s\": not a name Kafka takes", t);
	return 0;
}

int ts_kafka_check(const void *conf, char *err, size_t errlen)
{
	const struct ts_kafka_conf *c = conf;
	rd_kafka_conf_t *kc;

	kc = ts_kafka_make_conf(c, NULL, false, err, errlen);
	if (!kc)
		return -EINVAL;
	rd_kafka_conf_destroy(kc);
	return 0;
}

bool ts_kafka_secret_property(const char *name)
{
	static const char *const ends[] = { "password", "secret", ".pem", "oauthbearer.config" };
	size_t n = strlen(name);

	for (size_t i = 0; i < TS_ARRAY_SIZE(ends); i++) {
		size_t e = strlen(ends[i]);

		if (n >= e && !strcasecmp(name + n - e, ends[i]))
			return true;
	}
	return false;
}

/* What tcpship sets from its own keys: the config says it there, once. */
static const char *owned_property(const char *k)
{
	static const struct { const char *prop, *key; } owned[] = {
		{ "bootstrap.servers", "brokers" },
		{ "metadata.broker.list", "brokers" },
		{ "compression.codec", "compression" },
		{ "compression.type", "compression" },
		{ "message.timeout.ms", "message_timeout" },
		{ "delivery.timeout.ms", "message_timeout" },
		{ "client.id", NULL },
	};

	for (size_t i = 0; i < TS_ARRAY_SIZE(owned); i++)
		if (!strcmp(k, owned[i].prop))
			return owned[i].key ? owned[i].key : "";
	return NULL;
}

static int set(rd_kafka_conf_t *kc, const char *k, const char *v, char *err, size_t errlen)
{
	char why[512];

	if (rd_kafka_conf_set(kc, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK)
		return ts_errf(err, errlen, "librdkafka refuses %s: %s", k, why);
	return 0;
}

static const char *kv_get(const struct ts_kv *m, const char *k)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->keys[i], k))
			return m->vals[i];
	return NULL;
}

static int pass_through(const struct ts_kafka_conf *c, rd_kafka_conf_t *kc, bool secrets,
			char *err, size_t errlen)
{
	char why[512];

	for (int i = 0; i < c->properties.n; i++) {
		const char *k = c->properties.keys[i], *mine = owned_property(k);

		if (mine)
			return ts_errf(err, errlen, "properties.%s: tcpship sets it%s%s", k,
				       *mine ? ": use " : "", mine);
		if (ts_kafka_secret_property(k))
			return ts_errf(err, errlen, "properties.%s: a secret in the config would "
				       "show wherever the config does: use property_files", k);
		if (rd_kafka_conf_set(kc, k, c->properties.vals[i], why, sizeof(why)) !=
		    RD_KAFKA_CONF_OK)
			return ts_errf(err, errlen, "properties.%s: %s", k, why);
	}
	for (int i = 0; i < c->property_files.n; i++) {
		const char *k = c->property_files.keys[i];
		char key[160], *secret = NULL;
		int rc;

		if (owned_property(k) || kv_get(&c->properties, k))
			return ts_errf(err, errlen, "property_files.%s: set twice, or set by "
				       "tcpship", k);
		snprintf(key, sizeof(key), "property_files.%s", k);
		/* --check-config reads no secret (as for HTTP's token_file): a
		 * stand-in shows whether librdkafka knows the property */
		rc = secrets ? ts_secret_from_file(key, c->property_files.vals[i], &secret, err,
						   errlen) :
			       (secret = strdup("x")) ? 0 : -ENOMEM;
		if (rc)
			return rc;
		/* librdkafka's refusal quotes the value: say only that it refused */
		rc = rd_kafka_conf_set(kc, k, secret, why, sizeof(why));
		explicit_bzero(why, sizeof(why));
		ts_secret_free(secret);
		if (rc != RD_KAFKA_CONF_OK)
			return ts_errf(err, errlen, "property_files.%s: librdkafka refuses it "
				       "(an unknown property, or a value it cannot take)", k);
	}
	return 0;
}

rd_kafka_conf_t *ts_kafka_make_conf(const struct ts_kafka_conf *c, void *opaque, bool secrets,
				    char *err, size_t errlen)
{
	const char *acks = kv_get(&c->properties, "acks");
	rd_kafka_conf_t *kc;
	char num[32];
	int rc = 0;

	if (!c->brokers || !*c->brokers) {
		ts_errf(err, errlen, "brokers: missing (kafka://HOST:PORT[,HOST:PORT]/TOPIC)");
		return NULL;
	}
	for (const char *b = c->brokers; !rc; b++) {
		size_t n = strcspn(b, ",");

		rc = check_broker(b, n, err, errlen);
		b += n;
		if (!*b)
			break;
	}
	if (rc || check_topic(c->topic, err, errlen))
		return NULL;
	kc = rd_kafka_conf_new();
	if (!kc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = set(kc, "client.id", "tcpship", err, errlen) ||
	     set(kc, "bootstrap.servers", c->brokers, err, errlen) ||
	     set(kc, "compression.codec", ts_kafka_compressions[c->compression], err, errlen);
	/* a retried produce never duplicates and never reorders; Kafka's
	 * idempotence needs acks=all, so a config that lowers acks (its
	 * choice) turns it off unless it says otherwise */
	if (!rc && (!acks || !strcmp(acks, "all") || !strcmp(acks, "-1")))
		rc = set(kc, "enable.idempotence", "true", err, errlen) ||
		     set(kc, "acks", "all", err, errlen);
	else if (!rc && !kv_get(&c->properties, "enable.idempotence"))
		rc = set(kc, "enable.idempotence", "false", err, errlen);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(c->message_timeout_ns / 1000000ULL));
	if (!rc)
		rc = set(kc, "message.timeout.ms", num, err, errlen);
	/* librdkafka's queue holds one unit at a time (write waits for its
	 * reports); the output's own queue and policy are in front of it */
	snprintf(num, sizeof(num), "%llu", (unsigned long long)c->max_events + 1000);
	if (!rc)
		rc = set(kc, "queue.buffering.max.messages", num, err, errlen);
	if (!rc)
		rc = pass_through(c, kc, secrets, err, errlen);
	if (rc) {
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	rd_kafka_conf_set_opaque(kc, opaque);
	return kc;
}

static size_t put_endpoint(char *out, int family, const uint8_t *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	return (size_t)snprintf(out, INET6_ADDRSTRLEN + 9, family == AF_INET6 ? "[%s]:%u" : "%s:%u",
				a, port);
}

size_t ts_kafka_flow_key(const struct ts_rec *r, char out[TS_KAFKA_KEY_MAX])
{
	size_t alen = r->family == AF_INET6 ? 16 : 4, n;
	int c = memcmp(r->saddr, r->daddr, alen);
	const uint8_t *a = r->saddr, *b = r->daddr;
	uint16_t pa = r->sport, pb = r->dport;

	if (c > 0 || (!c && r->sport > r->dport)) {
		a = r->daddr;
		b = r->saddr;
		pa = r->dport;
		pb = r->sport;
	}
	n = put_endpoint(out, r->family, a, pa);
	out[n++] = ' ';
	n += put_endpoint(out + n, r->family, b, pb);
	return n;
}

int ts_kafka_topic_name(const char *pattern, const char *type, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = pattern; *p; p++) {
		const char *s = p;
		size_t n = 1;

		if (!strncmp(p, "{type}", 6)) {
			s = type;
			n = strlen(type);
			p += 5;
		}
		if (o + n >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, s, n);
		o += n;
	}
	out[o] = 0;
	return 0;
}
