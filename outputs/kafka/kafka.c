// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kafka: each unit of events is produced whole to librdkafka's idempotent
 * producer (acks=all), then its delivery reports are awaited; only they say
 * what was delivered. So the output's queue and its policy stay in front of
 * librdkafka's (which never holds more than one unit), a disk queue moves
 * its position only past what Kafka acknowledged, and the exit deadline
 * purges what is still in flight and counts it.
 *
 * A report's error is final: librdkafka has retried for message_timeout
 * already (a broker down, a leader moving, a throttled produce). What
 * timed out is dropped (counted), unless the queue is on disk: then it is
 * kept and produced again once the brokers are back.
 *
 * The key (default: the flow's two endpoints, in an order that does not
 * depend on direction) puts all events of a flow in one partition, where
 * Kafka keeps their order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka.h"
#include "net/secret.h"
#include "util.h"

#define MAX_TOPICS 32

enum { M_TODO = 0, M_WAIT, M_OK, M_DROP };

struct topic_ent {
	const char *type;	/* a static string: compared by address */
	rd_kafka_topic_t *t;
};

struct ts_kafka {
	const struct ts_kafka_conf *c;
	struct ts_output *o;
	rd_kafka_t *rk;
	bool per_type;
	struct topic_ent topics[MAX_TOPICS];
	int n_topics;
	/* the unit being delivered, and its records' states */
	const struct ts_batch *ub;
	uint64_t useq;
	uint32_t un;
	uint8_t *st;
	size_t st_cap;
	uint32_t gen;		/* of the write: a late report of an older one is ignored */
	uint32_t waiting, got_ok, got_drop, got_again;
	rd_kafka_resp_err_t first_err;
	/* what was said on stderr already */
	_Atomic int said_cb_err;
	int said_dr_err;
	bool failing;
	_Atomic uint64_t produced, delivered, failed, timed_out, requeued, purged, fatal;
	_Atomic int last_error;
};

static bool kafka_match(const char *spec)
{
	return !strncmp(spec, "kafka://", 8);
}

static bool timed_out(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
	       e == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ts_kafka *p = opaque;
	uintptr_t op = (uintptr_t)m->_private;
	uint32_t i = (uint32_t)(op & 0xffffffffu);
	rd_kafka_resp_err_t e = m->err;

	if ((uint32_t)(op >> 32) != p->gen || i >= p->un || p->st[i] != M_WAIT)
		return;		/* a report of a write that gave up on it */
	p->waiting--;
	if (!e) {
		p->st[i] = M_OK;
		p->got_ok++;
		atomic_fetch_add(&p->delivered, 1);
		return;
	}
	if (!p->first_err)
		p->first_err = e;
	atomic_store(&p->last_error, e);
	if (e == RD_KAFKA_RESP_ERR__PURGE_QUEUE || e == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		/* the exit deadline: the core counts it, or the disk keeps it */
		p->st[i] = M_TODO;
		p->got_again++;
		atomic_fetch_add(&p->purged, 1);
	} else if (timed_out(e) && p->o->durable) {
		p->st[i] = M_TODO;
		p->got_again++;
		atomic_fetch_add(&p->requeued, 1);
	} else {
		p->st[i] = M_DROP;
		p->got_drop++;
		atomic_fetch_add(timed_out(e) ? &p->timed_out : &p->failed, 1);
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ts_kafka *p = opaque;
	char safe[256];

	atomic_store(&p->last_error, err);
	/* the same error again and again (a broker down, retried) is said once */
	if (atomic_exchange(&p->said_cb_err, err) == err)
		return;
	ts_output_log(p->o, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
		      ts_printable(safe, sizeof(safe), reason, strlen(reason)));
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct ts_kafka *p = rd_kafka_opaque(rk);
	char safe[256];

	/* connection failures come through on_error, once each */
	if (level > 4 || !strcmp(fac, "FAIL"))
		return;
	ts_output_log(p->o, "librdkafka %s: %s", fac, ts_printable(safe, sizeof(safe), buf,
								      strlen(buf)));
}

static void drop_topics(struct ts_kafka *p)
{
	for (int i = 0; i < p->n_topics; i++)
		rd_kafka_topic_destroy(p->topics[i].t);
	p->n_topics = 0;
}

static void producer_free(struct ts_kafka *p)
{
	if (!p->rk)
		return;
	drop_topics(p);
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	p->gen++;	/* whatever it still reports is no longer ours */
	rd_kafka_destroy(p->rk);
	p->rk = NULL;
}

static int producer_new(struct ts_kafka *p, char *err, size_t errlen)
{
	rd_kafka_conf_t *kc = ts_kafka_make_conf(p->c, p, true, err, errlen);
	char why[512];

	if (!kc)
		return -EINVAL;
	rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
	rd_kafka_conf_set_error_cb(kc, on_error);
	rd_kafka_conf_set_log_cb(kc, on_log);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof(why));
	if (!p->rk) {
		rd_kafka_conf_destroy(kc);
		return ts_errf(err, errlen, "librdkafka: %s", why);
	}
	return 0;
}

static rd_kafka_topic_t *topic_for(struct ts_kafka *p, const char *type)
{
	char name[300];
	int i;

	if (!p->per_type)
		type = NULL;
	for (i = 0; i < p->n_topics; i++)
		if (p->topics[i].type == type)
			return p->topics[i].t;
	if (p->n_topics == MAX_TOPICS ||
	    ts_kafka_topic_name(p->c->topic, type ? type : "", name, sizeof(name)))
		return NULL;
	p->topics[i].t = rd_kafka_topic_new(p->rk, name, NULL);
	if (!p->topics[i].t)
		return NULL;
	p->topics[i].type = type;
	p->n_topics++;
	return p->topics[i].t;
}

static void kafka_free(struct ts_kafka *p)
{
	if (!p)
		return;
	producer_free(p);
	free(p->st);
	free(p);
}

static int kafka_open(struct ts_output *o, const void *conf, char *err, size_t errlen)
{
	const struct ts_kafka_conf *c = conf;
	struct ts_kafka *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *kc;

	if (!p)
		return ts_err(err, errlen, -ENOMEM, "out of memory");
	p->c = c;
	p->o = o;
	p->per_type = c->topic && strstr(c->topic, "{type}");
	/* every property checked now; the producer, whose threads must never
	 * hold a privilege, comes at start */
	kc = ts_kafka_make_conf(c, p, true, err, errlen);
	if (!kc) {
		kafka_free(p);
		return -EINVAL;
	}
	rd_kafka_conf_destroy(kc);
	o->priv = p;
	snprintf(o->name, sizeof(o->name), "kafka://%s/%s", c->brokers, c->topic);
	o->batching.max_events = (uint32_t)c->max_events;
	o->batching.max_bytes = c->max_bytes;
	o->batching.max_delay_ns = c->max_delay_ns;
	return 0;
}

static int kafka_start(struct ts_output *o, char *err, size_t errlen)
{
	return producer_new(o->priv, err, errlen);
}

/* A new unit, or the same one again (a retry of what is left). */
static int unit_start(struct ts_kafka *p, const struct ts_batch *b, uint32_t from, uint32_t n)
{
	uint64_t seq = n ? b->recs[from].seq : 0;

	if (p->ub == b && p->useq == seq && p->un == n)
		return 0;
	if (n > p->st_cap) {
		uint8_t *st = realloc(p->st, n);

		if (!st)
			return -ENOMEM;
		p->st = st;
		p->st_cap = n;
	}
	memset(p->st, M_TODO, n);
	p->ub = b;
	p->useq = seq;
	p->un = n;
	return 0;
}

/* Produce record i; false if it cannot be for now (the deadline, or
 * librdkafka's queue full for too long). */
static bool produce(struct ts_kafka *p, const struct ts_rec *r, uint32_t i, const char *data)
{
	rd_kafka_topic_t *t = topic_for(p, r->type);
	char key[TS_KAFKA_KEY_MAX];
	const char *k = NULL;
	size_t klen = 0;
	rd_kafka_resp_err_t e;

	if (!t) {
		p->st[i] = M_DROP;
		p->got_drop++;
		atomic_fetch_add(&p->failed, 1);
		return true;
	}
	if (p->c->key == TS_KAFKA_KEY_FLOW) {
		klen = ts_kafka_flow_key(r, key);
		k = key;
	} else if (p->c->key == TS_KAFKA_KEY_HOST) {
		k = p->o->run->host;
		klen = strlen(k);
	}
	for (;;) {
		e = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(t),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_VALUE((void *)(data + r->off), r->len - 1),
				      RD_KAFKA_V_KEY(k, klen),
				      RD_KAFKA_V_TIMESTAMP((int64_t)(r->time_ns / 1000000ULL)),
				      RD_KAFKA_V_OPAQUE((void *)(((uintptr_t)p->gen << 32) | i)),
				      RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		if (ts_out_past_deadline())
			return false;
		rd_kafka_poll(p->rk, 10);
	}
	if (e) {	/* refused at once: too large, an unknown partition */
		p->st[i] = M_DROP;
		p->got_drop++;
		atomic_fetch_add(&p->failed, 1);
		atomic_store(&p->last_error, e);
		if (!p->first_err)
			p->first_err = e;
		return true;
	}
	p->st[i] = M_WAIT;
	p->waiting++;
	atomic_fetch_add(&p->produced, 1);
	return true;
}

/* Wait for the reports of what was produced; at the deadline, purge it. */
static void await_reports(struct ts_kafka *p)
{
	while (p->waiting) {
		if (ts_out_past_deadline()) {
			rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			for (int k = 0; p->waiting && k < 20; k++)
				rd_kafka_poll(p->rk, 50);
			break;
		}
		rd_kafka_flush(p->rk, 100);
		if (rd_kafka_fatal_error(p->rk, NULL, 0))
			break;
	}
}

/* Say a change between failing and delivering, once. */
static void say_outcome(struct ts_kafka *p)
{
	rd_kafka_resp_err_t e = p->first_err;

	if (p->got_drop && (int)e != p->said_dr_err) {
		ts_output_log(p->o, "%u events not delivered (%s): %s%s", p->got_drop,
			      rd_kafka_err2name(e), rd_kafka_err2str(e),
			      p->failing ? "" : "; counted in dropped_error");
		p->said_dr_err = (int)e;
		p->failing = true;
	} else if (p->got_again && !p->got_ok && !p->failing && !ts_out_past_deadline()) {
		ts_output_log(p->o, "%u events not delivered yet (%s): kept in the disk queue",
			      p->got_again, rd_kafka_err2name(e));
		p->failing = true;
	} else if (p->got_ok && p->failing && !p->got_drop && !p->got_again) {
		ts_output_log(p->o, "delivering again");
		p->failing = false;
		p->said_dr_err = 0;
		atomic_store(&p->said_cb_err, 0);
	}
}

static enum ts_out_result kafka_write(struct ts_output *o, const struct ts_batch *b,
				      uint32_t from, uint32_t n)
{
	struct ts_kafka *p = o->priv;
	char why[512];
	bool stopped = false;

	if (!p->rk && producer_new(p, why, sizeof(why))) {
		ts_output_log(o, "%s", why);
		return TS_OUT_RETRY;
	}
	if (unit_start(p, b, from, n))
		return TS_OUT_RETRY;
	p->gen++;
	p->waiting = p->got_ok = p->got_drop = p->got_again = 0;
	p->first_err = 0;
	for (uint32_t i = 0; i < n && !stopped; i++)
		if (p->st[i] == M_TODO)
			stopped = !produce(p, &b->recs[from + i], i, b->data);
	await_reports(p);
	if (rd_kafka_fatal_error(p->rk, why, sizeof(why))) {
		/* an idempotent producer's state is broken (the brokers lost
		 * its sequence): a new producer, and what was not reported
		 * goes again */
		ts_output_log(o, "librdkafka: fatal: %s: starting a new producer", why);
		atomic_fetch_add(&p->fatal, 1);
		for (uint32_t i = 0; i < n; i++)
			if (p->st[i] == M_WAIT)
				p->st[i] = M_TODO;
		producer_free(p);
		stopped = true;
	} else if (p->waiting) {	/* the deadline: reports that never came */
		for (uint32_t i = 0; i < n; i++)
			if (p->st[i] == M_WAIT)
				p->st[i] = M_TODO;
		stopped = true;
	}
	say_outcome(p);
	ts_out_delivered(p->got_ok);
	ts_out_dropped(p->got_drop);
	if (stopped || p->got_again)
		return TS_OUT_RETRY;
	p->ub = NULL;
	return TS_OUT_OK;
}

static void kafka_close(struct ts_output *o)
{
	struct ts_kafka *p = o->priv;

	if (p && p->rk)
		rd_kafka_flush(p->rk, 1000);
	kafka_free(p);
	o->priv = NULL;
}

static int kafka_counters(struct ts_output *o, char *buf, size_t len)
{
	struct ts_kafka *p = o->priv;
	int e = atomic_load(&p->last_error);

	return snprintf(buf, len,
			"produced=%llu acked=%llu failed=%llu timed_out=%llu requeued=%llu "
			"purged=%llu fatal=%llu error=%s",
			(unsigned long long)atomic_load(&p->produced),
			(unsigned long long)atomic_load(&p->delivered),
			(unsigned long long)atomic_load(&p->failed),
			(unsigned long long)atomic_load(&p->timed_out),
			(unsigned long long)atomic_load(&p->requeued),
			(unsigned long long)atomic_load(&p->purged),
			(unsigned long long)atomic_load(&p->fatal),
			e ? rd_kafka_err2name((rd_kafka_resp_err_t)e) : "none");
}

const struct ts_output_ops ts_output_kafka = {
	.type = "kafka",
	.match = kafka_match,
	.conf_size = sizeof(struct ts_kafka_conf),
	.opts = ts_kafka_opts,
	.conf_init = ts_kafka_conf_init,
	.conf_spec = ts_kafka_conf_spec,
	.check = ts_kafka_check,
	.open = kafka_open,
	.start = kafka_start,
	.write = kafka_write,
	.close = kafka_close,
	.counters = kafka_counters,
	.default_drop_when_full = true,
};
