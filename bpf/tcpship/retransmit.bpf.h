/* SPDX-License-Identifier: GPL-2.0 */
/*
 * retransmit: k(ret)probe tcp_retransmit_skb / tcp_send_loss_probe (an
 * event only when the retransmission count moved), or tp_btf
 * tcp_retransmit_skb.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_RETRANSMIT_H
#define TS_BPF_RETRANSMIT_H

/* ---- retransmit ---- */

static __always_inline int on_retransmit(const struct sock *sk, __u32 probe, bool direct)
{
	struct flow *f = flow_get(sk);
	struct task_info t;

	if (connect_tp)
		connect_once(sk, f, direct);	/* a SYN that gets no answer */
	task_from_flow(&t, f);
	emit_plain(TS_RETRANSMIT, probe, sk, &t, NULL, direct);
	return 0;
}

/* kprobe set. A retransmission leaves through tcp_retransmit_skb(), or,
 * for a tail loss probe, straight through __tcp_retransmit_skb() from
 * tcp_send_loss_probe() (6.1 inlines the inner function into the outer
 * one, so it cannot be probed itself; the outer kprobe alone saw 2 of 3
 * retransmissions). Around both callers, the socket's own retransmission
 * counter says whether a segment really went out again: a failed attempt,
 * or a loss probe that sent new data, is no retransmission (and is not
 * what the tracepoint reports either). */
static __always_inline int retrans_enter(const struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct retrans_start r = {
		.sk = (__u64)sk,
		.total_retrans = BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans),
	};

	bpf_map_update_elem(&retrans_sk, &tid, &r, BPF_ANY);
	return 0;
}

static __always_inline int retrans_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct retrans_start *rp = bpf_map_lookup_elem(&retrans_sk, &tid);
	const struct tcp_sock *tp;
	struct retrans_start r;

	if (!rp)
		return 0;
	r = *rp;
	bpf_map_delete_elem(&retrans_sk, &tid);
	/* a plain local: inside BPF_CORE_READ, `r.sk` itself would become a
	 * CO-RE relocation against a struct the kernel does not have */
	tp = (const struct tcp_sock *)r.sk;
	if (BPF_CORE_READ(tp, total_retrans) == r.total_retrans)
		return 0;
	return on_retransmit((const struct sock *)tp, TS_KPROBE, false);
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(kp_retransmit, struct sock *sk)
{
	return retrans_enter(sk);
}

SEC("kretprobe/tcp_retransmit_skb")
int BPF_KRETPROBE(kr_retransmit)
{
	return retrans_exit();
}

SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(kp_loss_probe, struct sock *sk)
{
	return retrans_enter(sk);
}

SEC("kretprobe/tcp_send_loss_probe")
int BPF_KRETPROBE(kr_loss_probe)
{
	return retrans_exit();
}

/* The tracepoint gained an `err` argument (failed attempts are traced too)
 * in later kernels; with it, only a 0 is a retransmission. */
struct trace_event_raw_tcp_retransmit_skb___err {
	int err;
} __attribute__((preserve_access_index));

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tp_retransmit, const struct sock *sk)
{
	if (bpf_core_field_exists(((struct trace_event_raw_tcp_retransmit_skb___err *)0)->err) &&
	    (int)ctx[2])
		return 0;
	return on_retransmit(sk, TS_TRACEPOINT, true);
}

#endif
