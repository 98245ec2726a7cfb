// SPDX-License-Identifier: GPL-2.0
/*
 * The witness for `make bench`: what the kernel shows to BPF of each TCP
 * socket's life, independent of tcpship. Every state change on
 * sock:inet_sock_set_state is logged per socket (keyed by its cookie); the
 * log is dropped when tcp:tcp_destroy_sock fires. A socket whose log is
 * still there at the end was freed (or lives on) without any BPF program
 * seeing its move to CLOSE or its destruction: a close that no tracer on
 * these hooks can report, whatever it does with what it sees.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define WITNESS_STATES 8

struct witness_log {
	__u64 first_ns;
	__u16 sport, dport;
	__u8 n;				/* state changes seen (the first 8 kept) */
	__u8 closed;			/* a move to CLOSE was seen */
	__u8 states[WITNESS_STATES];	/* new state of each change */
	__u8 _pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, __u64);
	__type(value, struct witness_log);
} logs SEC(".maps");

enum { W_CHANGES, W_DESTROYED, W_NO_CLOSE, W_LOG_FULL, W_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, W_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wcount SEC(".maps");

static __always_inline void bump(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&wcount, &i);

	if (v)
		*v += 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(witness_state, const struct sock *sk, const int oldstate, const int newstate)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	struct witness_log *l, fresh = {};
	__u64 c;

	if (sk->sk_protocol != IPPROTO_TCP || oldstate == TCP_LISTEN || newstate == TCP_LISTEN)
		return 0;
	bump(W_CHANGES);
	c = bpf_get_socket_cookie((void *)sk);
	l = bpf_map_lookup_elem(&logs, &c);
	if (!l) {
		fresh.first_ns = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&logs, &c, &fresh, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&logs, &c)) {
			bump(W_LOG_FULL);
			return 0;
		}
		l = bpf_map_lookup_elem(&logs, &c);
		if (!l)
			return 0;
	}
	if (tp)
		l->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	l->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (l->n < WITNESS_STATES)
		l->states[l->n & (WITNESS_STATES - 1)] = newstate;
	if (l->n < 255)
		l->n++;
	if (newstate == TCP_CLOSE)
		l->closed = 1;
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(witness_destroy, struct sock *sk)
{
	__u64 c = bpf_get_socket_cookie((void *)sk);
	struct witness_log *l = bpf_map_lookup_elem(&logs, &c);

	bump(W_DESTROYED);
	if (!l)
		return 0;
	if (!l->closed)
		bump(W_NO_CLOSE);	/* destroyed, its CLOSE not seen */
	bpf_map_delete_elem(&logs, &c);
	return 0;
}
