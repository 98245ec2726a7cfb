/* SPDX-License-Identifier: GPL-2.0 */
/*
 * connect: kprobe tcp_connect, or the tracepoint pair CLOSE->SYN_SENT +
 * sys_exit_connect (the record waits for the local port).
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_CONNECT_H
#define TS_BPF_CONNECT_H

/* ---- connect ---- */

static __always_inline int on_connect(const struct sock *sk, __u32 probe)
{
	struct task_info t;

	task_current(&t);
	flow_start(sk, &t, FLOW_ACTIVE | FLOW_EMITTED, 0, true);
	emit_plain(TS_CONNECT, probe, sk, &t, NULL, false);	/* before the SYN: no latency yet */
	return 0;
}

SEC("kprobe/tcp_connect")
int BPF_KPROBE(kp_connect, struct sock *sk)
{
	return on_connect(sk, TS_KPROBE);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct task_conn *c = bpf_task_storage_get(&connecting, bpf_get_current_task_btf(), 0, 0);
	const struct sock *sk;

	if (!c || !c->sk)
		return 0;
	sk = (const struct sock *)c->sk;
	c->sk = 0;
	connect_once(sk, flow_get(sk), false);
	return 0;
}

#endif
