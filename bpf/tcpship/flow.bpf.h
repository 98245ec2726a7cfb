/* SPDX-License-Identifier: GPL-2.0 */
/*
 * flow reports: every --flow-interval user space runs rt_flow_walk (by
 * BPF_PROG_TEST_RUN: it is attached to nothing), which walks the flow table
 * with bpf_for_each_map_elem; each flow established and alive that long
 * gives one record in the ring buffer. The walk runs beside the workload:
 * the hash map is read bucket by bucket under RCU, nothing is stopped.
 * A walk goes in slices (as many entries as a quarter of the ring buffer
 * holds in reports, user space says), so the ring never fills with them
 * and user space drains it between slices.
 *
 * Not a BPF iterator: iter/bpf_map_elem is what the kernel offers for
 * this, but its programs (like iter/bpf_sk_storage_map's) fail to load
 * with EPERM on the project's 6.18 machine, where iter/task and iter/tcp
 * load; and iter/tcp sees only the netns of the process that runs it.
 * raw_tp test runs work there and on 6.1 (5.13 has every helper used).
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_FLOW_H
#define TS_BPF_FLOW_H

/* ---- flow reports ---- */

/* which hook set keeps the flow table: the records' probe */
const volatile __u8 flow_probe = TS_TRACEPOINT;

/* A full socket between the handshake and CLOSE (TIME_WAIT is no full
 * socket: the move there is the close). */
static __always_inline bool live_state(int st)
{
	return st == TCP_ESTABLISHED || st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 ||
	       st == TCP_CLOSE_WAIT || st == TCP_LAST_ACK || st == TCP_CLOSING;
}

static __always_inline __u64 since(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

struct walk {
	__u64 now;
	__u32 start, end;	/* the slice: entries [start, end) */
	__u32 idx;		/* entries seen */
};

static __always_inline void report_flow(const __u64 *key, struct flow *f, __u64 now)
{
	const struct tcp_sock *tp;
	const struct sock *sk;
	struct task_info t;
	struct ts_flow *r;
	struct tuple tu;
	int st;

	if (!(f->flags & FLOW_ESTABLISHED) || now - f->start_ns < flow_interval_ns)
		return;
	/* the key is all there is of the socket: a number, read by copies.
	 * An entry whose socket went without its CLOSE being seen (none
	 * should) points at freed or reused memory: only a TCP socket in a
	 * live state is taken. */
	sk = (const struct sock *)*key;
	tp = (const struct tcp_sock *)sk;
	st = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (!live_state(st) || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return;
	task_from_flow(&t, f);
	if (!pass_task(&t) || !read_tuple_copy(sk, &tu, SC_SLOT_WALK) || !pass_tuple(&tu))
		return;
	r = reserve(sizeof(*r), TS_FLOW);
	if (!r)
		return;	/* counted; the next report carries these deltas */
	fill_hdr_at(&r->e.h, TS_FLOW, flow_probe, sizeof(*r), &t, &tu, now);
	r->e.h.state = st;
	r->e.h.flags |= TS_F_ESTABLISHED | TS_F_START;
	if (f->flags & FLOW_ACTIVE)
		r->e.h.flags |= TS_F_ACTIVE;
	r->e.close.connect_latency_ns = f->handshake_ns;
	if (f->handshake_ns)
		r->e.h.flags |= TS_F_HANDSHAKE;
	r->e.close.duration_ns = now - f->start_ns;
	r->e.close.bytes_sent = payload_sent(tp, f, st, false);
	r->e.close.bytes_received = payload_received(sk, tp, false);
	r->e.close.retransmits = BPF_CORE_READ(tp, total_retrans);
	r->e.close.error = 0;
	r->e.close.oldstate = 0;
	r->e.close._pad = 0;
	r->bytes_sent_delta = since(r->e.close.bytes_sent, f->rep_sent);
	r->bytes_received_delta = since(r->e.close.bytes_received, f->rep_received);
	r->retransmits_delta = since(r->e.close.retransmits, f->rep_retrans);
	r->_pad = 0;
	f->rep_sent = r->e.close.bytes_sent;
	f->rep_received = r->e.close.bytes_received;
	f->rep_retrans = r->e.close.retransmits;
	/* no wake-up: user space drains the ring after each slice */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static long walk_one(struct bpf_map *map, const __u64 *key, struct flow *f, struct walk *w)
{
	__u32 i = w->idx++;

	if (i < w->start)
		return 0;
	if (i >= w->end)
		return 1;	/* the next slice's */
	report_flow(key, f, w->now);
	return 0;
}

/* args[0]: where the slice starts, args[1]: its length. Returns where the
 * next one does, or 0 when the walk is done. */
SEC("raw_tp")
int rt_flow_walk(struct bpf_raw_tracepoint_args *ctx)
{
	struct walk w = { .now = bpf_ktime_get_boot_ns() };

	if (!flow_interval_ns || !type_on(TS_FLOW))
		return 0;
	w.start = ctx->args[0];
	w.end = w.start + (__u32)ctx->args[1];
	bpf_for_each_map_elem(&flows, walk_one, &w, 0);
	return w.idx > w.end ? w.end : 0;
}

#endif
