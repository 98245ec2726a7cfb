/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accept: kretprobe inet_csk_accept, or sys_exit_accept{,4} with the fd
 * walked to its socket.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_ACCEPT_H
#define TS_BPF_ACCEPT_H

/* ---- accept ---- */

static __always_inline int on_accept(const struct sock *sk, __u32 probe)
{
	struct task_info t;
	struct flow *f;
	int state;

	if (!sk)
		return 0;
	task_current(&t);
	f = flow_get(sk);
	if (f) {
		/* the flow began at the handshake; the acceptor owns it now */
		flow_set_owner(f, &t);
	} else if ((state = BPF_CORE_READ(sk, __sk_common.skc_state)) != TCP_CLOSE) {
		/* SYN_RECV: a Fast Open child, its handshake not done yet */
		flow_start(sk, &t, FLOW_ESTABLISHED | (state == TCP_SYN_RECV ? FLOW_EARLY : 0), 0,
			   false);
	}
	/* else: reset while it sat in the accept queue; its close is already
	 * out (without a pid), and a flow entry now would never be removed */
	emit_plain(TS_ACCEPT, probe, sk, &t, f, false);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kp_accept, struct sock *sk)
{
	return on_accept(sk, TS_KPROBE);
}

/* fd of the calling task -> its socket, or NULL. The socket's back pointer
 * to the file proves the file really is a socket. */
static __always_inline struct sock *sk_from_fd(__u64 fd)
{
	/* the task is a BTF pointer: task -> files -> fdt are plain loads;
	 * the variable index and the untyped private_data need copies */
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	struct file **fds, *file = NULL;
	struct fdtable *fdt;
	struct socket *sock;
	struct file *pair[2];		/* the socket's file, then its sock */

	if (!files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	/* file and sk sit side by side in struct socket (a load-time
	 * constant, checked): one copy for both */
	if (bpf_core_field_offset(struct socket, sk) ==
	    bpf_core_field_offset(struct socket, file) + sizeof(void *)) {
		if (bpf_probe_read_kernel(pair, sizeof(pair), &sock->file))
			return NULL;
	} else {
		pair[0] = BPF_CORE_READ(sock, file);
		pair[1] = (struct file *)BPF_CORE_READ(sock, sk);
	}
	return pair[0] == file ? (struct sock *)pair[1] : NULL;
}

static __always_inline bool sk_is(const struct sock *sk, __u16 proto, bool direct)
{
	__u16 family;

	if (!sk || RD(direct, sk, sk_protocol) != proto)
		return false;
	family = RD(direct, sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6;
}

static __always_inline int tp_accept_exit(long ret)
{
	struct sock *sk;

	if (ret < 0)
		return 0;
	sk = sk_from_fd(ret);
	if (!sk_is(sk, IPPROTO_TCP, false))
		return 0;
	return on_accept(sk, TS_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return tp_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_accept(struct trace_event_raw_sys_exit *ctx)
{
	return tp_accept_exit(ctx->ret);
}

#endif
