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
	flow_start(sk, &t, FLOW_ACTIVE | FLOW_EMITTED);
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
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *skp = bpf_map_lookup_elem(&connecting, &tid);
	const struct sock *sk;

	if (!skp)
		return 0;
	sk = (const struct sock *)*skp;
	bpf_map_delete_elem(&connecting, &tid);
	connect_once(sk, flow_get(sk), false);
	return 0;
}

#endif
