// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kafka sink's pure parts: the flow key, topic names, which
 * properties are secrets, and the checks of a config entry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kafka/kafka.h"
#include "test.h"

static struct ts_rec rec(int family, const char *sa, unsigned sp, const char *da, unsigned dp)
{
	struct ts_rec r = { .family = (uint8_t)family, .sport = (uint16_t)sp,
			    .dport = (uint16_t)dp };

	inet_pton(family, sa, r.saddr);
	inet_pton(family, da, r.daddr);
	return r;
}

static bool key_is(const char *file, int line, struct ts_rec r, const char *want)
{
	char k[TS_KAFKA_KEY_MAX + 1];
	size_t n = ts_kafka_flow_key(&r, k);

	k[n] = 0;
	return ts_check_str(file, line, "flow key", k, want);
}

#define KEY(r, want) do { if (!key_is(__FILE__, __LINE__, r, want)) return; } while (0)

TEST(kafka_flow_key_same_both_ways)
{
	/* both sides of one connection: one key, so one partition */
	KEY(rec(AF_INET, "10.0.0.9", 51234, "10.0.0.5", 443), "10.0.0.5:443 10.0.0.9:51234");
	KEY(rec(AF_INET, "10.0.0.5", 443, "10.0.0.9", 51234), "10.0.0.5:443 10.0.0.9:51234");
	/* the same address: the port decides */
	KEY(rec(AF_INET, "127.0.0.1", 40000, "127.0.0.1", 8080), "127.0.0.1:8080 127.0.0.1:40000");
	KEY(rec(AF_INET, "127.0.0.1", 8080, "127.0.0.1", 40000), "127.0.0.1:8080 127.0.0.1:40000");
	/* byte order, not text order: 9.x < 10.x */
	KEY(rec(AF_INET, "10.0.0.1", 1, "9.255.255.255", 2), "9.255.255.255:2 10.0.0.1:1");
	KEY(rec(AF_INET6, "2001:db8::1", 443, "::1", 5), "[::1]:5 [2001:db8::1]:443");
	/* the longest fits */
	KEY(rec(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535 "
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

TEST(kafka_topic_names)
{
	char out[64];

	CHECK(!ts_kafka_topic_name("tcpship-{type}", "connect", out, sizeof(out)));
	CHECK(!strcmp(out, "tcpship-connect"));
	CHECK(!ts_kafka_topic_name("{type}.{type}", "dns", out, sizeof(out)));
	CHECK(!strcmp(out, "dns.dns"));
	CHECK(!ts_kafka_topic_name("plain", "dns", out, sizeof(out)));
	CHECK(!strcmp(out, "plain"));
	CHECK(ts_kafka_topic_name("a-much-longer-topic-{type}", "retransmit", out, 16) ==
	      -ENAMETOOLONG);
}

TEST(kafka_secret_properties)
{
	CHECK(ts_kafka_secret_property("sasl.password"));
	CHECK(ts_kafka_secret_property("ssl.key.password"));
	CHECK(ts_kafka_secret_property("ssl.keystore.password"));
	CHECK(ts_kafka_secret_property("sasl.oauthbearer.client.secret"));
	CHECK(ts_kafka_secret_property("ssl.key.pem"));
	CHECK(ts_kafka_secret_property("sasl.oauthbearer.config"));
	/* paths and names are not */
	CHECK(!ts_kafka_secret_property("ssl.key.location"));
	CHECK(!ts_kafka_secret_property("sasl.username"));
	CHECK(!ts_kafka_secret_property("sasl.kerberos.keytab"));
}

static int check(const char *brokers, const char *topic, char *err, size_t n)
{
	struct ts_kafka_conf c;

	memset(&c, 0, sizeof(c));
	ts_kafka_conf_init(&c);
	c.brokers = (char *)brokers;
	c.topic = (char *)topic;
	return ts_kafka_check(&c, err, n);
}

TEST(kafka_check_brokers_and_topics)
{
	char err[256];

	CHECK(!check("127.0.0.1:9092", "t", err, sizeof(err)));
	CHECK(!check("a:1,b:2,[::1]:9092", "tcpship-{type}", err, sizeof(err)));
	CHECK(check("a:1,", "t", err, sizeof(err)) == -EINVAL);
	CHECKF(strstr(err, "\"\" is not HOST:PORT"), "%s", err);
	CHECK(check(":9092", "t", err, sizeof(err)) == -EINVAL);
	CHECK(check("[::1]", "t", err, sizeof(err)) == -EINVAL);
	CHECK(check("a:0", "t", err, sizeof(err)) == -EINVAL);
	CHECK(check("a:1x", "t", err, sizeof(err)) == -EINVAL);
	CHECK(check("user@a:1", "t", err, sizeof(err)) == -EINVAL);
	CHECK(check("a:1", NULL, err, sizeof(err)) == -EINVAL);
	CHECKF(strstr(err, "topic: missing"), "%s", err);
	CHECK(check("a:1", "{kind}", err, sizeof(err)) == -EINVAL);
	CHECK(check("a:1", "..", err, sizeof(err)) == -EINVAL);
	CHECK(check("a:1", "t\"x", err, sizeof(err)) == -EINVAL);
}

TEST(kafka_spec)
{
	struct ts_kafka_conf c;
	char err[128];

	memset(&c, 0, sizeof(c));
	ts_kafka_conf_init(&c);
	CHECK(!ts_kafka_conf_spec(&c, "kafka://h1:9092,h2:9092/events-{type}", err, sizeof(err)));
	CHECK(!strcmp(c.brokers, "h1:9092,h2:9092") && !strcmp(c.topic, "events-{type}"));
	free(c.brokers);
	free(c.topic);
	memset(&c, 0, sizeof(c));
	CHECK(!ts_kafka_conf_spec(&c, "kafka://h1:9092", err, sizeof(err)));
	CHECK(!strcmp(c.brokers, "h1:9092") && !c.topic);
	free(c.brokers);
}
