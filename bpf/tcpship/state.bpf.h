/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State changes: the flow table's bookkeeping and the close summary, and
 * the nested twin that takes the changes a softirq made while tp_state ran.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_STATE_H
#define TS_BPF_STATE_H

/* ---- state changes: flow bookkeeping and close ---- */

/* tcp_sock's byte counters follow sequence numbers, so they count the
 * control bits too: bytes_acked includes our SYN (active open) and our FIN
 * once acked; bytes_received includes the peer's FIN. Users want payload. */
static __always_inline __u64 payload_sent(const struct tcp_sock *tp, const struct flow *f,
					  int oldstate, bool direct)
{
	__u64 n = RD(direct, tp, bytes_acked);
	bool fin_sent = oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 ||
			oldstate == TCP_CLOSING || oldstate == TCP_LAST_ACK;

	if (f && (f->flags & FLOW_ACTIVE) && (f->flags & FLOW_ESTABLISHED) && n)
		n--;
	if (fin_sent && n && RD(direct, tp, snd_una) == RD(direct, tp, write_seq))
		n--;
	return n;
}

static __always_inline __u64 payload_received(const struct sock *sk,
					      const struct tcp_sock *tp, bool direct)
{
	__u64 n = RD(direct, tp, bytes_received);
	unsigned long sk_flags = RD(direct, sk, __sk_common.skc_flags);

	/* tcp_fin() sets SOCK_DONE; tcp_done() has not run yet at this point */
	if ((sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && n)
		n--;
	return n;
}

static __always_inline void emit_close(const struct sock *sk, const struct flow *f,
				       int oldstate, __u32 probe, bool direct)
{
	const struct tcp_sock *tp = tcp_of(sk, direct);
	struct task_info t;
	struct ts_event *e;
	struct tuple tu;
	bool established;

	if (!tp) {
		/* bpf_skc_to_tcp_sock() refuses a socket it does not take for
		 * a full one; the event must not go with it */
		count(TS_CNT_SLOW_READ);
		direct = false;
		tp = (const struct tcp_sock *)sk;
	}
	task_from_flow(&t, f);
	if (!pass_task(&t) || !read_tuple(sk, &tu, direct) || !pass_tuple(&tu))
		return;
	e = reserve(sizeof(*e), TS_CLOSE);
	if (!e)
		return;
	fill_hdr(&e->h, TS_CLOSE, probe, sizeof(*e), &t, &tu);
	e->h.state = TCP_CLOSE;
	/* A flow we did not see start (it predates us, or was pushed out of
	 * the table) was established unless it closed from a handshake state. */
	established = f ? (f->flags & FLOW_ESTABLISHED)
			: (oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV);
	if (established)
		e->h.flags |= TS_F_ESTABLISHED;
	if (f && (f->flags & FLOW_ACTIVE))
		e->h.flags |= TS_F_ACTIVE;
	e->close.connect_latency_ns = 0;
	if (f) {
		e->h.flags |= TS_F_START;
		e->close.duration_ns = e->h.ts_ns - f->start_ns;
		if (f->handshake_ns) {
			e->h.flags |= TS_F_HANDSHAKE;
			e->close.connect_latency_ns = f->handshake_ns;
		}
	} else {
		e->close.duration_ns = 0;
	}
	e->close.bytes_sent = payload_sent(tp, f, oldstate, direct);
	e->close.bytes_received = payload_received(sk, tp, direct);
	e->close.retransmits = RD(direct, tp, total_retrans);
	/* tcp_done_with_error()/tcp_reset() store sk_err before the move to
	 * CLOSE; connect() clears it later (sock_error), so read it here. */
	e->close.error = RD(direct, sk, sk_err);
	if (e->close.error)
		e->h.flags |= TS_F_ERROR;	/* for outputs that see only the header */
	e->close.oldstate = oldstate;
	e->close._pad = 0;
	submit(e);
}

/* ---- inbound connect latency: first SYN-ACK sent -> ESTABLISHED ---- */

/* A request socket's ends, and its child's (which copies them). */
struct synack_key {
	__u8 laddr[16], raddr[16];
	__u16 lport, rport;		/* host byte order, network byte order */
	__u32 family;
};

/* SYN-ACKs sent again: the request's ends -> its first SYN-ACK's time
 * (tcp_clock_us, CLOCK_MONOTONIC). Rare; LRU so a flood of half-open
 * requests that never complete cannot fill it for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct synack_key);
	__type(value, __u64);
} synack_sent SEC(".maps");

static __always_inline void synack_key_of(const struct sock_common *c, struct synack_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = BPF_CORE_READ(c, skc_family);
	k->lport = BPF_CORE_READ(c, skc_num);
	k->rport = BPF_CORE_READ(c, skc_dport);
	if (k->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)k->laddr, c, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)k->raddr, c, skc_daddr);
	} else {
		BPF_CORE_READ_INTO(k->laddr, c, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(k->raddr, c, skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* The handshake's wait as the server saw it. Where the first SYN-ACK was
 * answered, the kernel measured it itself (tcp_synack_rtt_meas: first
 * SYN-ACK sent -> the ACK; srtt's first sample is 8x it). Where it was
 * sent again, that sample is not taken from it: tp_synack kept its time. */
static __always_inline __u64 passive_handshake_ns(const struct sock *sk, bool direct)
{
	const struct tcp_sock *tp = tcp_of(sk, direct);
	struct synack_key k;
	__u64 *sent, us;

	if (!tp)
		return 0;
	if (!RD(direct, tp, total_retrans)) {	/* = the request's SYN-ACK resends */
		us = RD(direct, tp, srtt_us) >> 3;
		return us * 1000;
	}
	synack_key_of((const struct sock_common *)sk, &k);
	sent = bpf_map_lookup_elem(&synack_sent, &k);
	if (!sent)
		return 0;
	us = bpf_ktime_get_ns() / 1000 - *sent;
	bpf_map_delete_elem(&synack_sent, &k);
	return us * 1000;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tp_synack, const struct sock *sk, const struct request_sock *req)
{
	const struct tcp_request_sock *treq = (const struct tcp_request_sock *)req;
	struct synack_key k;
	__u64 first = BPF_CORE_READ(treq, snt_synack);

	if (!first)
		return 0;
	synack_key_of(&req->__req_common, &k);
	bpf_map_update_elem(&synack_sent, &k, &first, BPF_NOEXIST);
	return 0;
}

static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate,
				    __u32 probe, bool direct)
{
	struct flow *f;
	__u64 key;

	/* most moves (FIN_WAIT1, CLOSE_WAIT, LAST_ACK, ...) matter to nobody:
	 * leave before the first read of the socket */
	if (newstate != TCP_SYN_SENT && newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (RD(direct, sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	switch (newstate) {
	case TCP_SYN_SENT:
		if (connect_tp && oldstate == TCP_CLOSE) {
			/* process context: connect() is running */
			struct task_info t;
			struct task_conn *c;

			task_current(&t);
			flow_start(sk, &t, FLOW_ACTIVE, 0, true);
			c = bpf_task_storage_get(&connecting, bpf_get_current_task_btf(), 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (c)
				c->sk = (__u64)sk;
		}
		return 0;
	case TCP_ESTABLISHED:
		f = flow_get(sk);
		if (oldstate == TCP_SYN_SENT) {
			if (f) {
				/* the flow started when the SYN went out */
				f->handshake_ns = bpf_ktime_get_boot_ns() - f->start_ns;
				__sync_fetch_and_or(&f->flags, FLOW_ESTABLISHED);
				if (connect_tp)
					connect_once(sk, f, direct);
			}
		} else if (oldstate == TCP_SYN_RECV) {
			/* passive open completes in softirq: no task yet */
			__u64 hs = passive_handshake_ns(sk, direct);

			if (f && (f->flags & FLOW_EARLY)) {
				/* accepted while still SYN_RECV (Fast Open) */
				f->handshake_ns = hs;
				__sync_fetch_and_or(&f->flags, FLOW_ESTABLISHED);
			} else {
				flow_start(sk, NULL, FLOW_ESTABLISHED, hs, true);
			}
		}
		return 0;
	case TCP_CLOSE:
		if (oldstate == TCP_LISTEN || oldstate == TCP_CLOSE)
			return 0;
		f = flow_get(sk);
		if (connect_tp)
			connect_once(sk, f, direct);
		if (type_on(TS_CLOSE))
			emit_close(sk, f, oldstate, probe, direct);
		key = (__u64)sk;
		bpf_map_delete_elem(&flows, &key);
		return 0;
	}
	return 0;
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(kp_state, struct sock *sk, int state)
{
	/* called before the change: the socket still holds the old state */
	return on_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, TS_KPROBE, false);
}

/*
 * The kernel runs one BPF program at a time per CPU: when a softirq
 * interrupts tp_state (a connect() in process context, say) and changes
 * another socket's state on that CPU, tp_state is skipped for it — a lost
 * event, counted only as a "miss" of the program. So a second program sits
 * on the same tracepoint, attached after tp_state so it runs after it.
 * tp_state's first act is to write the change it takes (socket + new state)
 * into a small per-CPU ring; tp_state_nested takes a change only if it is
 * not in the ring, i.e. exactly when tp_state was skipped for it, and
 * clears the entry it found. A ring, not a single slot: an interrupt
 * between the two programs' runs for one change writes its own entry
 * without erasing the first, so nothing is taken twice; and no flag set
 * inside tp_state leaves a window at its start or end (measured with a
 * flag: 2 of 6 skipped changes still lost). Softirqs do not nest, so at
 * most one change comes between; four entries are plenty.
 *
 * An entry is the socket's address and the new state. Addresses are
 * reused (sockets come and go from the same slab slots), but an entry
 * lives only from tp_state's run to tp_state_nested's for the same change,
 * which clears it: a closed socket's CLOSE cannot linger to hide the next
 * socket's at that address. (The socket cookie did the same job at ~25 ns
 * a run in both programs.) An entry stays only if tp_state_nested itself
 * was the program interrupted, and then only until the ring comes round.
 */
#define TAKEN_RING 4

struct state_taken {
	/* the changes taken: socket address and new state (two fields: the
	 * verifier allows no arithmetic on a socket pointer) */
	__u64 sk[TAKEN_RING];
	__u8 state[TAKEN_RING];
	__u32 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct state_taken);
} state_taken SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 k = 0;
	struct state_taken *t = bpf_map_lookup_elem(&state_taken, &k);

	/* every change, even those on_state() ignores: tp_state_nested then
	 * takes exactly tp_state's recursion misses, and user space can tell
	 * a lost change (misses - taken) from a recovered one */
	if (t) {
		__u32 i = t->n++ & (TAKEN_RING - 1);

		t->sk[i] = (__u64)sk;
		t->state[i] = newstate;
	}
	return on_state(sk, oldstate, newstate, TS_TRACEPOINT, true);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_state_nested, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 k = 0;
	struct state_taken *t = bpf_map_lookup_elem(&state_taken, &k);

	if (!t)
		return 0;
	for (int i = 0; i < TAKEN_RING; i++) {
		if (t->sk[i] == (__u64)sk && t->state[i] == newstate) {
			t->sk[i] = 0;	/* tp_state took it */
			return 0;
		}
	}
	count(TS_CNT_NESTED);
	return on_state(sk, oldstate, newstate, TS_TRACEPOINT, true);
}

#endif
