/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dns: the start of a UDP payload to port 53, from kprobe udp_sendmsg /
 * udpv6_sendmsg or the sendto/sendmsg/sendmmsg syscall tracepoints.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_DNS_H
#define TS_BPF_DNS_H

/* ---- dns ---- */

/* struct iov_iter through the kernel versions we load on */
struct iov_iter___v64 {			/* 6.4+: iov became __iov */
	const struct iovec *__iov;
} __attribute__((preserve_access_index));

struct iov_iter___v514 {		/* 5.14 - 6.3 */
	__u8 iter_type;
	const struct iovec *iov;
} __attribute__((preserve_access_index));

struct iov_iter___v58 {			/* 5.8 - 5.13: type held flags */
	unsigned int type;
	const struct iovec *iov;
} __attribute__((preserve_access_index));

enum iter_type___v60 {
	ITER_UBUF___v60,
	ITER_IOVEC___v60,
};

#define ITER_IOVEC_V58 4

/* First user buffer of a message being sent, or NULL. */
static __always_inline const void *iter_user_buf(struct iov_iter *it, __u64 *avail)
{
	const struct iovec *iov = NULL;
	__u64 off = BPF_CORE_READ(it, iov_offset);
	const void *base;
	__u64 len;

	if (bpf_core_field_exists(it->iter_type)) {
		__u8 type = BPF_CORE_READ(it, iter_type);

		if (bpf_core_enum_value_exists(enum iter_type___v60, ITER_UBUF___v60) &&
		    type == bpf_core_enum_value(enum iter_type___v60, ITER_UBUF___v60)) {
			base = BPF_CORE_READ(it, ubuf);
			*avail = BPF_CORE_READ(it, count);
			return base ? base + off : NULL;
		}
		if (type != bpf_core_enum_value(enum iter_type___v60, ITER_IOVEC___v60))
			return NULL;
		if (bpf_core_field_exists(((struct iov_iter___v64 *)it)->__iov))
			iov = BPF_CORE_READ((struct iov_iter___v64 *)it, __iov);
		else
			iov = BPF_CORE_READ((struct iov_iter___v514 *)it, iov);
	} else {
		struct iov_iter___v58 *old = (void *)it;

		if (!(BPF_CORE_READ(old, type) & ITER_IOVEC_V58))
			return NULL;
		iov = BPF_CORE_READ(old, iov);
	}
	if (!iov)
		return NULL;
	base = BPF_CORE_READ(iov, iov_base);
	len = BPF_CORE_READ(iov, iov_len);
	if (!base || off >= len)
		return NULL;
	*avail = len - off;
	return base + off;
}

struct dns_dst {
	__u8 addr[16];
	__u16 port;
	__u8 family;
};

static __always_inline bool read_sockaddr(const void *sa, bool user, struct dns_dst *d)
{
	struct sockaddr_in6 s6 = {};
	long err;

	/* sockaddr_in is a prefix of the same size range as sockaddr_in6 */
	if (user)
		err = bpf_probe_read_user(&s6, sizeof(struct sockaddr_in), sa);
	else
		err = bpf_probe_read_kernel(&s6, sizeof(struct sockaddr_in), sa);
	if (err)
		return false;
	d->port = bpf_ntohs(s6.sin6_port);
	if (s6.sin6_family == AF_INET) {
		d->family = TS_IPV4;
		__builtin_memcpy(d->addr, &((struct sockaddr_in *)&s6)->sin_addr, 4);
		return true;
	}
	if (s6.sin6_family != AF_INET6)
		return false;
	if (d->port != DNS_PORT)
		return true;	/* not ours: don't bother with the address */
	if (user)
		err = bpf_probe_read_user(&s6, sizeof(s6), sa);
	else
		err = bpf_probe_read_kernel(&s6, sizeof(s6), sa);
	if (err)
		return false;
	d->family = TS_IPV6;
	__builtin_memcpy(d->addr, &s6.sin6_addr, 16);
	return true;
}

/* Queries waiting for their answer: the asking process, the server and the
 * query's id -> when it went out. An answer read by that process from that
 * server with that id is its answer (the socket of an unbound sender is not
 * known yet when the query leaves, so the process stands for it). */
struct dns_wait {
	__u8 server[16];
	__u32 pid;
	__u16 id;
	__u8 family;
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct dns_wait);
	__type(value, __u64);
} dns_pending SEC(".maps");

/* Processes with a query out (the last one's time): only their reads are
 * looked at, so every other process's recv costs one lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} dns_askers SEC(".maps");

static __always_inline void dns_pending_add(__u32 pid, const struct tuple *tu, const __u8 *msg,
					    __u64 ts)
{
	struct dns_wait w = {};

	__builtin_memcpy(w.server, tu->daddr, 16);
	w.pid = pid;
	w.id = (__u16)msg[0] << 8 | msg[1];
	w.family = tu->family;
	bpf_map_update_elem(&dns_pending, &w, &ts, BPF_ANY);
	bpf_map_update_elem(&dns_askers, &w.pid, &ts, BPF_ANY);
}

/* A dns record for the current task, its local end from the socket (when
 * there is one) and the server d; NULL if a filter says no or the ring
 * buffer is full. */
static __always_inline struct ts_dns *dns_start(__u32 probe, const struct sock *sk,
						const struct dns_dst *d, struct task_info *t,
						struct tuple *tu)
{
	struct ts_dns *e;

	task_current(t);
	if (!pass_task(t))
		return NULL;
	if (sk)
		read_tuple(sk, tu, false);
	else
		__builtin_memset(tu, 0, sizeof(*tu));
	tu->dport = d->port;
	tu->family = d->family;
	__builtin_memcpy(tu->daddr, d->addr, 16);
	unmap_v4(tu);
	if (!pass_tuple(tu))
		return NULL;
	e = reserve(sizeof(*e), TS_DNS);
	if (e)
		fill_hdr(&e->h, TS_DNS, probe, sizeof(*e), t, tu);
	return e;
}

static __always_inline void emit_dns(__u32 probe, const struct sock *sk, const struct dns_dst *d,
				     const void *ubuf, __u64 avail, __u64 total)
{
	struct task_info t;
	struct ts_dns *e;
	struct tuple tu;
	__u64 n;	/* 64-bit: a u32 makes clang bound it with a 32-bit compare the verifier cannot use */

	if (!ubuf || !(e = dns_start(probe, sk, d, &t, &tu)))
		return;
	if (!tu.sport)
		e->h.flags &= ~TS_F_SADDR;	/* not bound yet */
	n = avail < total ? avail : total;
	/* Compare and use the same register: where avail == total (the
	 * tracepoint set), clang otherwise bounds one reload of `total` from
	 * the stack and passes another to bpf_probe_read_user. 6.18's verifier
	 * carries the bound across the stack slot; 6.1's does not ("R2 min
	 * value is negative"). */
	barrier_var(n);
	if (n > TS_DNS_MAX) {
		n = TS_DNS_MAX;
		e->h.flags |= TS_F_TRUNC;
	}
	e->len = n;
	e->total = total;
	e->_pad = 0;
	e->latency_ns = 0;
	if (bpf_probe_read_user(e->payload, n, ubuf))
		e->len = 0;
	else if (n >= 2)
		dns_pending_add(t.pid, &tu, e->payload, e->h.ts_ns);
	submit(e);
}

static __always_inline int on_udp_sendmsg(const struct sock *sk, struct msghdr *msg, __u64 len)
{
	struct dns_dst d = {};
	const void *name = BPF_CORE_READ(msg, msg_name);
	const void *ubuf;
	__u64 avail = 0;

	if (!type_on(TS_DNS))
		return 0;
	if (name) {
		if (!read_sockaddr(name, false, &d))
			return 0;
	} else {
		struct tuple tu;

		if (!read_tuple(sk, &tu, false))
			return 0;
		d.port = tu.dport;
		d.family = tu.family;
		__builtin_memcpy(d.addr, tu.daddr, 16);
	}
	if (d.port != DNS_PORT)
		return 0;
	ubuf = iter_user_buf(&msg->msg_iter, &avail);
	emit_dns(TS_KPROBE, sk, &d, ubuf, avail, len);
	return 0;
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(kp_dns4, struct sock *sk, struct msghdr *msg, size_t len)
{
	return on_udp_sendmsg(sk, msg, len);
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(kp_dns6, struct sock *sk, struct msghdr *msg, size_t len)
{
	return on_udp_sendmsg(sk, msg, len);
}

/* Tracepoint set: the send syscalls. The destination is the address given
 * to the call, else the connected socket's peer (glibc connects its socket
 * and uses sendmmsg; Go uses write(2), which this set does not watch). */
static __always_inline void dns_user(__u64 fd, const void *buf, __u64 len, const void *uaddr)
{
	struct dns_dst d = {};
	struct sock *sk;

	if (uaddr) {
		if (!read_sockaddr(uaddr, true, &d) || d.port != DNS_PORT)
			return;
		sk = sk_from_fd(fd);
		if (!sk_is(sk, IPPROTO_UDP, false))
			return;
	} else {
		struct tuple tu;

		sk = sk_from_fd(fd);
		if (!sk_is(sk, IPPROTO_UDP, false) || !read_tuple(sk, &tu, false) || tu.dport != DNS_PORT)
			return;
		d.port = tu.dport;
		d.family = tu.family;
		__builtin_memcpy(d.addr, tu.daddr, 16);
	}
	emit_dns(TS_TRACEPOINT, sk, &d, buf, len, len);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_dns_sendto(struct trace_event_raw_sys_enter *ctx)
{
	if (type_on(TS_DNS))
		dns_user(ctx->args[0], (const void *)ctx->args[1], ctx->args[2],
			 (const void *)ctx->args[4]);
	return 0;
}

static __always_inline void dns_user_msg(__u64 fd, const struct user_msghdr *um)
{
	struct user_msghdr m;
	struct iovec iov;

	if (bpf_probe_read_user(&m, sizeof(m), um) || !m.msg_iov || !m.msg_iovlen)
		return;
	if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
		return;
	dns_user(fd, iov.iov_base, iov.iov_len, m.msg_name);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_dns_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (type_on(TS_DNS))
		dns_user_msg(ctx->args[0], (const struct user_msghdr *)ctx->args[1]);
	return 0;
}

/* ---- answers: a datagram from port 53 read by a process that asked ---- */

/* a read in flight, entry to return */
struct dns_read {
	const struct sock *sk;		/* kprobe set */
	const void *msg;		/* kprobe: struct msghdr; tracepoint: user_msghdr */
	const void *ubuf, *uaddr;	/* tracepoint recvfrom */
	__u64 fd, avail;
};

/* a thread's read in progress: task storage, as for connecting (common.bpf.h) */
struct dns_read_slot {
	struct dns_read r;
	__u64 live;			/* r is a read begun and not yet ended */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dns_read_slot);
} dns_reads SEC(".maps");

static __always_inline bool asker(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	return type_on(TS_DNS) && bpf_map_lookup_elem(&dns_askers, &pid);
}

static __always_inline void read_begin(const struct dns_read *r)
{
	struct dns_read_slot *p = bpf_task_storage_get(&dns_reads, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!p)
		return;
	p->r = *r;
	p->live = 1;
}

static __always_inline bool read_end(struct dns_read *r)
{
	struct dns_read_slot *p = bpf_task_storage_get(&dns_reads, bpf_get_current_task_btf(), 0, 0);

	if (!p || !p->live)
		return false;
	*r = p->r;
	p->live = 0;
	return true;
}

/* ret bytes of a response from server d are at ubuf (user memory) */
static __always_inline void emit_answer(__u32 probe, const struct sock *sk,
					const struct dns_dst *d, const void *ubuf, __u64 ret)
{
	struct dns_wait w = {};
	struct task_info t;
	struct ts_dns *e;
	struct tuple tu;
	__u64 *sent, n = ret;

	if (!ubuf || !sk || !(e = dns_start(probe, sk, d, &t, &tu)))
		return;
	e->h.flags |= TS_F_ANSWER;
	barrier_var(n);
	if (n > TS_DNS_MAX) {
		n = TS_DNS_MAX;
		e->h.flags |= TS_F_TRUNC;
	}
	e->len = n;
	e->total = ret;
	e->_pad = 0;
	e->latency_ns = 0;
	if (bpf_probe_read_user(e->payload, n, ubuf)) {
		e->len = 0;
	} else if (n >= 2) {
		__builtin_memcpy(w.server, tu.daddr, 16);
		w.pid = t.pid;
		w.id = (__u16)e->payload[0] << 8 | e->payload[1];
		w.family = tu.family;
		sent = bpf_map_lookup_elem(&dns_pending, &w);
		if (sent) {
			e->latency_ns = e->h.ts_ns - *sent;
			e->h.flags |= TS_F_LATENCY;
			bpf_map_delete_elem(&dns_pending, &w);
		}
	}
	submit(e);
}

/* The server: the address the read filled in, else the connected peer. */
static __always_inline bool answer_from(const struct sock *sk, const void *name, bool user,
					struct dns_dst *d)
{
	struct tuple tu;

	if (name)
		return read_sockaddr(name, user, d) && d->port == DNS_PORT;
	if (!read_tuple(sk, &tu, false) || tu.dport != DNS_PORT)
		return false;
	d->port = tu.dport;
	d->family = tu.family;
	__builtin_memcpy(d->addr, tu.daddr, 16);
	return true;
}

/* kprobe set: udp_recvmsg / udpv6_recvmsg, entry and return */
static __always_inline int kp_recv_enter(const struct sock *sk, struct msghdr *msg)
{
	struct dns_read r = {};

	if (!asker())
		return 0;
	r.sk = sk;
	r.msg = msg;
	r.ubuf = iter_user_buf(&msg->msg_iter, &r.avail);
	if (r.ubuf)
		read_begin(&r);
	return 0;
}

static __always_inline int kp_recv_return(long ret)
{
	struct dns_read r;
	struct dns_dst d = {};
	const struct msghdr *msg;

	if (!read_end(&r) || ret <= 0)
		return 0;
	msg = r.msg;
	if (!answer_from(r.sk, BPF_CORE_READ(msg, msg_name), false, &d))
		return 0;
	emit_answer(TS_KPROBE, r.sk, &d, r.ubuf, (__u64)ret < r.avail ? (__u64)ret : r.avail);
	return 0;
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(kp_dns_recv4, struct sock *sk, struct msghdr *msg)
{
	return kp_recv_enter(sk, msg);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(kr_dns_recv4, int ret)
{
	return kp_recv_return(ret);
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(kp_dns_recv6, struct sock *sk, struct msghdr *msg)
{
	return kp_recv_enter(sk, msg);
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(kr_dns_recv6, int ret)
{
	return kp_recv_return(ret);
}

/* tracepoint set: recvfrom and recvmsg, entry and exit; the kernel has
 * written the sender's address to user memory by the exit */
static __always_inline void tp_recv_done(const struct dns_read *r, long ret)
{
	struct dns_dst d = {};
	struct sock *sk;

	if (ret <= 0)
		return;
	sk = sk_from_fd(r->fd);
	if (!sk_is(sk, IPPROTO_UDP, false) || !answer_from(sk, r->uaddr, true, &d))
		return;
	emit_answer(TS_TRACEPOINT, sk, &d, r->ubuf, (__u64)ret < r->avail ? (__u64)ret : r->avail);
}

static __always_inline int tp_recv_begin(__u64 fd, const void *ubuf, __u64 avail,
					 const void *uaddr, const void *msg)
{
	struct dns_read r = { .fd = fd, .ubuf = ubuf, .avail = avail, .uaddr = uaddr, .msg = msg };

	if (asker())
		read_begin(&r);
	return 0;
}

/* recvmsg's buffer and address are in its user_msghdr, read at the exit */
static __always_inline int tp_recv_exit(long ret)
{
	struct user_msghdr m;
	struct iovec iov;
	struct dns_read r;

	if (!read_end(&r) || ret <= 0)
		return 0;
	if (r.msg) {
		if (bpf_probe_read_user(&m, sizeof(m), r.msg) || !m.msg_iov || !m.msg_iovlen ||
		    bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
			return 0;
		r.ubuf = iov.iov_base;
		r.avail = iov.iov_len;
		r.uaddr = m.msg_name;
	}
	tp_recv_done(&r, ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int tp_dns_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return tp_recv_begin(ctx->args[0], (const void *)ctx->args[1], ctx->args[2],
			     (const void *)ctx->args[4], NULL);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int tpx_dns_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return tp_recv_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int tp_dns_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return tp_recv_begin(ctx->args[0], NULL, 0, NULL, (const void *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int tpx_dns_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return tp_recv_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int tp_dns_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	const struct mmsghdr *vec = (const struct mmsghdr *)ctx->args[1];
	__u64 vlen = ctx->args[2];

	if (!type_on(TS_DNS))
		return 0;
	/* glibc sends the A and AAAA queries of one lookup in one call */
	for (int i = 0; i < 4; i++) {
		if (i >= vlen)
			break;
		dns_user_msg(ctx->args[0], &vec[i].msg_hdr);
	}
	return 0;
}

#endif
