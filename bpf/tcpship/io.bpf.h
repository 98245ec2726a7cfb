/* SPDX-License-Identifier: GPL-2.0 */
/*
 * send / recv: k(ret)probe tcp_sendmsg / tcp_recvmsg, or tp_btf
 * sock_{send,recv}_length (6.3+) with raw_tp sys_enter for the latency.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_IO_H
#define TS_BPF_IO_H

/* ---- send / recv ---- */

static __always_inline void io_enter(const struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct io_start s = { .ts = bpf_ktime_get_boot_ns(), .sk = (__u64)sk };

	bpf_map_update_elem(&io_start, &tid, &s, BPF_ANY);
}

static __always_inline void emit_io(__u32 type, __u32 probe, const struct sock *sk,
				    long ret, __u64 start, bool direct)
{
	struct task_info t;
	struct ts_event *e;
	struct tuple tu;
	__u64 now;

	if (ret <= 0)
		return;
	now = bpf_ktime_get_boot_ns();
	if (min_latency_ns && (!start || now - start < min_latency_ns))
		return;
	task_current(&t);
	if (!pass_task(&t) || !read_tuple(sk, &tu, direct) || !pass_tuple(&tu))
		return;
	e = reserve(sizeof(*e), type);
	if (!e)
		return;
	fill_hdr_at(&e->h, type, probe, sizeof(*e), &t, &tu, now);
	e->h.state = tu.state;
	e->io.bytes = ret;
	if (start) {
		e->h.flags |= TS_F_LATENCY;
		e->io.latency_ns = now - start;
	} else {
		e->io.latency_ns = 0;
	}
	e->io._pad[0] = e->io._pad[1] = 0;
	submit(e);
}

static __always_inline int kp_io_exit(__u32 type, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct io_start *s = bpf_map_lookup_elem(&io_start, &tid);
	struct io_start copy;

	if (!s)
		return 0;
	copy = *s;
	bpf_map_delete_elem(&io_start, &tid);
	emit_io(type, TS_KPROBE, (const struct sock *)copy.sk, ret, copy.ts, false);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_send, struct sock *sk)
{
	io_enter(sk);
	return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(kr_send, int ret)
{
	return kp_io_exit(TS_SEND, ret);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_recv, struct sock *sk)
{
	io_enter(sk);
	return 0;
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(kr_recv, int ret)
{
	return kp_io_exit(TS_RECV, ret);
}

/* Tracepoint set: sock_{send,recv}_length fire when the call is done and
 * carry no start time, so the entry of the socket I/O syscalls is stamped
 * here. Only attached when send or recv is on. */
SEC("raw_tp/sys_enter")
int BPF_PROG(tp_sys_enter, struct pt_regs *regs, long id)
{
	for (int i = 0; i < TS_MAX_IO_SYSCALLS; i++) {
		if (i >= n_io_syscalls)
			return 0;
		if (io_syscalls[i] == id) {
			io_enter(NULL);
			return 0;
		}
	}
	return 0;
}

static __always_inline int tp_io(__u32 type, const struct sock *sk, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct io_start *s;
	__u64 start = 0;

	if (!sk_is(sk, IPPROTO_TCP, true))
		return 0;
	s = bpf_map_lookup_elem(&io_start, &tid);
	if (s) {
		start = s->ts;
		bpf_map_delete_elem(&io_start, &tid);
	}
	emit_io(type, TS_TRACEPOINT, sk, ret, start, true);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp_send, struct sock *sk, int ret, int flags)
{
	return tp_io(TS_SEND, sk, ret);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp_recv, struct sock *sk, int ret, int flags)
{
	return tp_io(TS_RECV, sk, ret);
}

#endif
