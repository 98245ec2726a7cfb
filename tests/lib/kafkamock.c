// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafkamock: librdkafka's own mock Kafka cluster (rdkafka_mock.h) on
 * loopback, for the Kafka output's tests and benchmark, driven line by line
 * on stdin:
 *
 *   kafkamock BROKERS TOPIC PARTITIONS
 *     -> "bootstrap HOST:PORT,HOST:PORT,..."
 *   topic NAME PARTITIONS         create another topic
 *   down ID | up ID               a broker (1..BROKERS) stops or starts answering
 *   errors ID API N ERR           broker ID fails its next N requests of API
 *                                 (produce) with ERR (a Kafka error name, e.g.
 *                                 NOT_LEADER_FOR_PARTITION)
 *   stack ID API                  "stack N": injected answers of broker ID not
 *                                 used yet
 *   slow ID API N MS              broker ID answers its next N API requests MS late
 *                                 (past the client's timeout: it retries a request
 *                                 the broker already applied)
 *   consume TOPIC                 every message of TOPIC, from the start:
 *                                 "m PARTITION OFFSET TIMESTAMP KEYHEX VALUEHEX"
 *                                 ("-" for no key), then "end COUNT"
 *   count TOPIC                   "count N unknown K": messages appended (high
 *                                 watermarks) in the partitions whose leader
 *                                 answers; K did not
 *   quit
 *
 * Each command is answered "ok", a result, or "error ..." on one line.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_kafka_t *mrk;
static rd_kafka_mock_cluster_t *mc;
static const char *boot;
static int rf, n_brokers;

/* Leaders round robin, so every broker leads a partition (the mock's own
 * choice may leave one broker leading none: then it sees no produce). */
static rd_kafka_resp_err_t topic_create(const char *name, int partitions)
{
	rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, partitions, rf);

	for (int p = 0; !e && p < partitions; p++)
		e = rd_kafka_mock_partition_set_leader(mc, name, p, p % n_brokers + 1);
	return e;
}

static rd_kafka_resp_err_t err_by_name(const char *name)
{
	const struct rd_kafka_err_desc *d;
	size_t n;

	rd_kafka_get_err_descs(&d, &n);
	for (size_t i = 0; i < n; i++)
		if (d[i].name && !strcmp(d[i].name, name))
			return d[i].code;
	return (rd_kafka_resp_err_t)atoi(name);
}

static int16_t api_by_name(const char *name)
{
	if (!strcmp(name, "produce"))
		return 0;
	if (!strcmp(name, "metadata"))
		return 3;
	if (!strcmp(name, "initproducerid"))
		return 22;
	return (int16_t)atoi(name);
}

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;

	if (!p) {
		fputc('-', stdout);
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	if (!n)
		fputs("-", stdout);
}

static rd_kafka_t *consumer(char *why, size_t len)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	if (rd_kafka_conf_set(c, "bootstrap.servers", boot, why, len) ||
	    rd_kafka_conf_set(c, "group.id", "kafkamock", why, len) ||
	    rd_kafka_conf_set(c, "enable.auto.commit", "false", why, len) ||
	    rd_kafka_conf_set(c, "enable.partition.eof", "true", why, len) ||
	    rd_kafka_conf_set(c, "log_level", "3", why, len)) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	return rd_kafka_new(RD_KAFKA_CONSUMER, c, why, len);
}

static int partitions(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	int n = -1;

	if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (md->topic_cnt == 1 && !md->topics[0].err)
			n = md->topics[0].partition_cnt;
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(t);
	return n;
}

static void consume(const char *topic, bool count_only)
{
	char why[512];
	rd_kafka_t *rk = consumer(why, sizeof(why));
	rd_kafka_topic_partition_list_t *l;
	int np, eofs = 0;
	long total = 0;

	if (!rk) {
		printf("error consumer: %s\n", why);
		return;
	}
	np = partitions(rk, topic);
	if (np < 1) {
		printf("error no topic %s\n", topic);
		rd_kafka_destroy(rk);
		return;
	}
	if (count_only) {
		int unknown = 0;

		/* a partition whose leader is down is left out, and said so */
		for (int p = 0; p < np; p++) {
			int64_t lo, hi;

			if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 2000))
				unknown++;
			else
				total += hi;	/* appended ever: the mock trims its logs */
		}
		printf("count %ld unknown %d\n", total, unknown);
		rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		return;
	}
	l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++)
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	while (eofs < np) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);

		if (!m) {
			printf("error timed out after %ld messages\n", total);
			break;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
		} else if (m->err) {
			printf("error consume: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			break;
		} else {
			rd_kafka_timestamp_type_t tt;

			printf("m %d %lld %lld ", (int)m->partition, (long long)m->offset,
			       (long long)rd_kafka_message_timestamp(m, &tt));
			hex(m->key, m->key_len);
			fputc(' ', stdout);
			hex(m->payload, m->len);
			fputc('\n', stdout);
			total++;
		}
		rd_kafka_message_destroy(m);
	}
	if (eofs == np)
		printf("end %ld\n", total);
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

static void command(char *line)
{
	char a[256], b[256];
	int x, y, z;

	if (sscanf(line, "topic %255s %d", a, &x) == 2) {
		rd_kafka_resp_err_t e = topic_create(a, x);

		printf(e ? "error %s\n" : "ok\n", rd_kafka_err2name(e));
	} else if (sscanf(line, "down %d", &x) == 1) {
		printf(rd_kafka_mock_broker_set_down(mc, x) ? "error\n" : "ok\n");
	} else if (sscanf(line, "up %d", &x) == 1) {
		printf(rd_kafka_mock_broker_set_up(mc, x) ? "error\n" : "ok\n");
	} else if (sscanf(line, "errors %d %255s %d %255s", &x, a, &y, b) == 4) {
		rd_kafka_resp_err_t e = 0, code = err_by_name(b);

		for (int i = 0; i < y && !e; i++)
			e = rd_kafka_mock_broker_push_request_error_rtts(mc, x, api_by_name(a), 1,
									 code, 0);
		printf(e ? "error %s\n" : "ok\n", rd_kafka_err2name(e));
	} else if (sscanf(line, "stack %d %255s", &x, a) == 2) {
		size_t cnt = 0;
		rd_kafka_resp_err_t e = rd_kafka_mock_broker_error_stack_cnt(mc, x, api_by_name(a),
									     &cnt);

		if (e)
			printf("error %s\n", rd_kafka_err2name(e));
		else
			printf("stack %zu\n", cnt);
	} else if (sscanf(line, "slow %d %255s %d %d", &x, a, &y, &z) == 4) {
		rd_kafka_resp_err_t e = 0;

		for (int i = 0; i < y && !e; i++)
			e = rd_kafka_mock_broker_push_request_error_rtts(mc, x, api_by_name(a), 1,
									 RD_KAFKA_RESP_ERR_NO_ERROR, z);
		printf(e ? "error %s\n" : "ok\n", rd_kafka_err2name(e));
	} else if (sscanf(line, "consume %255s", a) == 1) {
		consume(a, false);
	} else if (sscanf(line, "count %255s", a) == 1) {
		consume(a, true);
	} else {
		printf("error unknown command\n");
	}
}

int main(int argc, char **argv)
{
	rd_kafka_conf_t *conf;
	char why[512], line[1024];

	if (argc != 4) {
		fprintf(stderr, "usage: kafkamock BROKERS TOPIC PARTITIONS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", why, sizeof(why));
	mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!mrk) {
		fprintf(stderr, "kafkamock: %s\n", why);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(mrk, atoi(argv[1]));
	if (!mc) {
		fprintf(stderr, "kafkamock: cannot start the mock cluster\n");
		return 1;
	}
	n_brokers = atoi(argv[1]);
	rf = n_brokers < 3 ? 1 : 3;
	if (topic_create(argv[2], atoi(argv[3]))) {
		fprintf(stderr, "kafkamock: cannot create topic %s\n", argv[2]);
		return 1;
	}
	boot = rd_kafka_mock_cluster_bootstraps(mc);
	printf("bootstrap %s\n", boot);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "quit"))
			break;
		command(line);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	return 0;
}
