// SPDX-License-Identifier: GPL-2.0
/*
 * tcpship kernel side. Two interchangeable hook sets produce the same records:
 *
 *   event       kprobe set                       tracepoint set
 *   connect     kprobe tcp_connect                inet_sock_set_state CLOSE->SYN_SENT
 *                                                 + syscalls:sys_exit_connect
 *   accept      kretprobe inet_csk_accept         syscalls:sys_exit_accept{,4} (fd -> sock)
 *   close       kprobe tcp_set_state (-> CLOSE)   tp_btf inet_sock_set_state (-> CLOSE)
 *   retransmit  k(ret)probe tcp_retransmit_skb,   tp_btf tcp_retransmit_skb
 *               tcp_send_loss_probe
 *   send/recv   k(ret)probe tcp_sendmsg/recvmsg   tp_btf sock_{send,recv}_length + raw_tp sys_enter
 *   dns         kprobe udp_sendmsg/udpv6_sendmsg  syscalls:sys_enter_send{to,msg,mmsg}
 *
 * The logic of every event is one always-inline body; each SEC() program is a
 * thin wrapper passing the hook set it belongs to. User space decides which
 * wrapper of each pair to load (bpf_program__set_autoload) before load.
 *
 * Softirq context (the handshake's last ACK, retransmits, a RST) is never
 * attributed to whatever task happens to be current: the task comes from the
 * flow table, filled where the socket was connected or accepted, or is left
 * out of the record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpship.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define DNS_PORT	53

char LICENSE[] SEC("license") = "GPL";

/* ---- configuration: read-only globals, set by user space before load ---- */

const volatile __u32 type_mask = 0;		/* 1 << enum ts_type */
const volatile __u32 self_pid = 0;		/* tcpship's own tgid: never traced */
const volatile __u32 n_pids = 0;
const volatile __u32 pids[TS_MAX_PIDS] = {};
const volatile __u32 n_uids = 0;
const volatile __u32 uids[TS_MAX_UIDS] = {};
const volatile __u32 n_ports = 0;
const volatile __u16 ports[TS_MAX_PORTS] = {};	/* host order, local or remote */
const volatile __u8 only_family = 0;		/* enum ts_family, 0: both */
const volatile bool has_comm = false;
const volatile char only_comm[TS_COMM_LEN] = {};
const volatile __u64 min_latency_ns = 0;	/* send/recv */
const volatile __u32 wakeup_bytes = 0;		/* 0: wake the reader per record */
/* connect is served by the tracepoint set: the state hook records the
 * connecting task at CLOSE->SYN_SENT and the event goes out once the local
 * port is known (connect() returns, or the flow moves on). */
const volatile bool connect_tp = false;
/* Syscall numbers whose entry time starts a send/recv latency (tracepoint
 * set); filled from the user-space build's <sys/syscall.h>. */
#define TS_MAX_IO_SYSCALLS 12
const volatile __u32 n_io_syscalls = 0;
const volatile __s32 io_syscalls[TS_MAX_IO_SYSCALLS] = {};

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

enum flow_flags {
	FLOW_TASK        = 1 << 0,	/* pid..comm valid */
	FLOW_ESTABLISHED = 1 << 1,
	FLOW_ACTIVE      = 1 << 2,	/* we connected */
	FLOW_EMITTED     = 1 << 3,	/* connect record sent (tracepoint set) */
};

struct flow {
	__u64 start_ns;
	__u32 pid, tid, uid;
	__u32 flags;			/* enum flow_flags; updated atomically */
	char comm[TS_COMM_LEN];
};

/* Live sockets we saw being born: sock pointer -> flow. LRU so that a burst
 * of connections can never make a tracked flow fail to record; a flow pushed
 * out early just loses its pid and duration on close. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);	/* resized by user space */
	__type(key, __u64);
	__type(value, struct flow);
} flows SEC(".maps");

/* tracepoint set, connect: thread inside connect() -> its socket */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} connecting SEC(".maps");

struct retrans_start {
	__u64 sk;
	__u32 total_retrans;
};

/* kprobe set, retransmit: thread -> socket and its retransmission count,
 * from entry to return */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct retrans_start);
} retrans_sk SEC(".maps");

struct io_start {
	__u64 ts;
	__u64 sk;
};

/* send/recv: thread -> entry time (and socket, kprobe set) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct io_start);
} io_start SEC(".maps");

/* ---- small helpers ---- */

struct task_info {
	__u32 pid, tid, uid;
	bool known;
	char comm[TS_COMM_LEN];
};

struct tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u8 family;
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;	/* per-CPU: no atomics needed */
}

static __always_inline bool type_on(__u32 type)
{
	return type_mask & (1u << type);
}

static __always_inline void task_current(struct task_info *t)
{
	__u64 id = bpf_get_current_pid_tgid();

	t->pid = id >> 32;
	t->tid = (__u32)id;
	t->uid = (__u32)bpf_get_current_uid_gid();
	t->known = true;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

static __always_inline void task_from_flow(struct task_info *t, const struct flow *f)
{
	if (!f || !(f->flags & FLOW_TASK)) {
		t->known = false;
		t->pid = t->tid = t->uid = 0;
		__builtin_memset(t->comm, 0, sizeof(t->comm));
		return;
	}
	t->known = true;
	t->pid = f->pid;
	t->tid = f->tid;
	t->uid = f->uid;
	__builtin_memcpy(t->comm, f->comm, sizeof(t->comm));
}

/* Task filters. An event whose task is unknown passes only when no task
 * filter is set: a filter is a promise about who caused what we print. */
static __always_inline bool pass_task(const struct task_info *t)
{
	if (t->known && self_pid && t->pid == self_pid)
		return false;
	if (n_pids) {
		bool hit = false;

		if (!t->known)
			return false;
		for (int i = 0; i < TS_MAX_PIDS; i++) {
			if (i >= n_pids)
				break;
			if (pids[i] == t->pid)
				hit = true;
		}
		if (!hit)
			return false;
	}
	if (n_uids) {
		bool hit = false;

		if (!t->known)
			return false;
		for (int i = 0; i < TS_MAX_UIDS; i++) {
			if (i >= n_uids)
				break;
			if (uids[i] == t->uid)
				hit = true;
		}
		if (!hit)
			return false;
	}
	if (has_comm) {
		if (!t->known)
			return false;
		for (int i = 0; i < TS_COMM_LEN; i++) {
			if (t->comm[i] != only_comm[i])
				return false;
			if (!t->comm[i])
				break;
		}
	}
	return true;
}

static __always_inline bool pass_tuple(const struct tuple *tu)
{
	if (only_family && tu->family != only_family)
		return false;
	if (n_ports) {
		for (int i = 0; i < TS_MAX_PORTS; i++) {
			if (i >= n_ports)
				break;
			if (ports[i] == tu->sport || ports[i] == tu->dport)
				return true;
		}
		return false;
	}
	return true;
}

static __always_inline bool v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/* Show an IPv4-mapped IPv6 pair (a dual-stack socket talking IPv4) as IPv4. */
static __always_inline void unmap_v4(struct tuple *tu)
{
	if (tu->family != TS_IPV6 || !v4_mapped(tu->daddr))
		return;
	tu->family = TS_IPV4;
	__builtin_memcpy(tu->daddr, tu->daddr + 12, 4);
	__builtin_memset(tu->daddr + 4, 0, 12);
	if (v4_mapped(tu->saddr))
		__builtin_memcpy(tu->saddr, tu->saddr + 12, 4);
	else
		__builtin_memset(tu->saddr, 0, 4);	/* unbound "::" */
	__builtin_memset(tu->saddr + 4, 0, 12);
}

/*
 * Reading a socket. A tp_btf program holds a BTF pointer and loads from it
 * directly (a plain load); kprobes and syscall tracepoints hold a plain
 * number and must copy through bpf_probe_read_kernel (~25 ns a field, most
 * of a hook's cost). `direct` is a constant at every call site, so each
 * program is built with one kind of read only. Fields of the TCP socket
 * beyond struct sock need the tcp_sock type: bpf_skc_to_tcp_sock() gives
 * it on the direct path (NULL for anything but a full TCP socket).
 */
#define RD(direct, p, f) ((direct) ? (p)->f : BPF_CORE_READ(p, f))

static __always_inline const struct tcp_sock *tcp_of(const struct sock *sk, bool direct)
{
	return direct ? bpf_skc_to_tcp_sock((void *)sk) : (const struct tcp_sock *)sk;
}

static __always_inline bool read_tuple(const struct sock *sk, struct tuple *tu, bool direct)
{
	__u16 family = RD(direct, sk, __sk_common.skc_family);
	const struct tcp_sock *tp;

	__builtin_memset(tu, 0, sizeof(*tu));
	/* inet_sport, not skc_num: the move to CLOSE releases the port
	 * (inet_put_port zeroes inet_num) before the tracepoint fires */
	if (direct) {
		tp = tcp_of(sk, true);
		if (!tp)
			return false;
		tu->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	} else {
		tu->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	}
	tu->dport = bpf_ntohs(RD(direct, sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		tu->family = TS_IPV4;
		if (direct) {
			*(__u32 *)tu->saddr = sk->__sk_common.skc_rcv_saddr;
			*(__u32 *)tu->daddr = sk->__sk_common.skc_daddr;
		} else {
			BPF_CORE_READ_INTO((__u32 *)tu->saddr, sk, __sk_common.skc_rcv_saddr);
			BPF_CORE_READ_INTO((__u32 *)tu->daddr, sk, __sk_common.skc_daddr);
		}
		return true;
	}
	if (family == AF_INET6) {
		tu->family = TS_IPV6;
		if (direct) {
			__builtin_memcpy(tu->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
			__builtin_memcpy(tu->daddr, &sk->__sk_common.skc_v6_daddr, 16);
		} else {
			BPF_CORE_READ_INTO((struct in6_addr *)tu->saddr, sk,
					   __sk_common.skc_v6_rcv_saddr);
			BPF_CORE_READ_INTO((struct in6_addr *)tu->daddr, sk,
					   __sk_common.skc_v6_daddr);
		}
		unmap_v4(tu);
		return true;
	}
	return false;
}

static __always_inline void *reserve(__u32 size, __u32 type)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count(TS_CNT_DROP_BASE + type);
	return rec;
}

/* Waking the reader costs an IPI and a context switch per record, charged
 * to the traced task. With wakeup_bytes set, records go in silently until
 * that much is waiting, then the reader is woken by force (a plain submit
 * wakes it only if it had read everything before this record). The reader
 * also looks on a short timer, so a quiet trickle is never stuck. */
static __always_inline void submit(void *rec)
{
	__u64 flags = 0;

	if (wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes
				? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(rec, flags);
}

static __always_inline void fill_hdr(struct ts_hdr *h, __u32 type, __u32 probe,
				     __u32 size, const struct task_info *t,
				     const struct tuple *tu)
{
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->size = size;
	h->type = type;
	h->probe = probe;
	h->family = tu->family;
	h->state = 0;
	h->flags = (t->known ? TS_F_TASK : 0) | TS_F_SADDR;
	h->pid = t->pid;
	h->tid = t->tid;
	h->uid = t->uid;
	h->sport = tu->sport;
	h->dport = tu->dport;
	__builtin_memcpy(h->comm, t->comm, TS_COMM_LEN);
	__builtin_memcpy(h->saddr, tu->saddr, 16);
	__builtin_memcpy(h->daddr, tu->daddr, 16);
}

/* connect, accept, retransmit: header plus an all-zero tail */
static __always_inline void emit_plain(__u32 type, __u32 probe, const struct sock *sk,
				       const struct task_info *t, bool direct)
{
	struct ts_event *e;
	struct tuple tu;

	if (!type_on(type) || !pass_task(t) || !read_tuple(sk, &tu, direct) || !pass_tuple(&tu))
		return;
	e = reserve(sizeof(*e), type);
	if (!e)
		return;
	fill_hdr(&e->h, type, probe, sizeof(*e), t, &tu);
	e->h.state = RD(direct, sk, __sk_common.skc_state);
	__builtin_memset(&e->close, 0, sizeof(e->close));
	submit(e);
}

static __always_inline void flow_start(const struct sock *sk, const struct task_info *t,
				       __u32 flags)
{
	__u64 key = (__u64)sk;
	struct flow f = {};

	f.start_ns = bpf_ktime_get_boot_ns();
	f.flags = flags;
	if (t && t->known) {
		f.flags |= FLOW_TASK;
		f.pid = t->pid;
		f.tid = t->tid;
		f.uid = t->uid;
		__builtin_memcpy(f.comm, t->comm, TS_COMM_LEN);
	}
	if (bpf_map_update_elem(&flows, &key, &f, BPF_ANY))
		count(TS_CNT_FLOW_FULL);
}

static __always_inline struct flow *flow_get(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&flows, &key);
}

/* Tracepoint set: the connect record goes out exactly once per flow, from
 * whichever of connect()'s return, the next state change or a SYN
 * retransmission sees the flow first (they can run on different CPUs). */
static __always_inline void connect_once(const struct sock *sk, struct flow *f, bool direct)
{
	struct task_info t;

	if (!f || !(f->flags & FLOW_ACTIVE) || (f->flags & FLOW_EMITTED))
		return;
	if (__sync_fetch_and_or(&f->flags, FLOW_EMITTED) & FLOW_EMITTED)
		return;
	task_from_flow(&t, f);
	emit_plain(TS_CONNECT, TS_TRACEPOINT, sk, &t, direct);
}

/* ---- connect ---- */

static __always_inline int on_connect(const struct sock *sk, __u32 probe)
{
	struct task_info t;

	task_current(&t);
	flow_start(sk, &t, FLOW_ACTIVE | FLOW_EMITTED);
	emit_plain(TS_CONNECT, probe, sk, &t, false);
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

/* ---- accept ---- */

static __always_inline int on_accept(const struct sock *sk, __u32 probe)
{
	struct task_info t;
	struct flow *f;

	if (!sk)
		return 0;
	task_current(&t);
	f = flow_get(sk);
	if (f) {
		/* the flow began at the handshake; the acceptor owns it now */
		f->pid = t.pid;
		f->tid = t.tid;
		f->uid = t.uid;
		__builtin_memcpy(f->comm, t.comm, TS_COMM_LEN);
		__sync_fetch_and_or(&f->flags, FLOW_TASK);
	} else if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE) {
		flow_start(sk, &t, FLOW_ESTABLISHED);
	}
	/* else: reset while it sat in the accept queue; its close is already
	 * out (without a pid), and a flow entry now would never be removed */
	emit_plain(TS_ACCEPT, probe, sk, &t, false);
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

	if (!files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return BPF_CORE_READ(sock, sk);
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
	if (f) {
		e->h.flags |= TS_F_START;
		e->close.duration_ns = e->h.ts_ns - f->start_ns;
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
			__u64 skv = (__u64)sk;

			task_current(&t);
			flow_start(sk, &t, FLOW_ACTIVE);
			bpf_map_update_elem(&connecting, &t.tid, &skv, BPF_ANY);
		}
		return 0;
	case TCP_ESTABLISHED:
		f = flow_get(sk);
		if (oldstate == TCP_SYN_SENT) {
			if (f) {
				__sync_fetch_and_or(&f->flags, FLOW_ESTABLISHED);
				if (connect_tp)
					connect_once(sk, f, direct);
			}
		} else if (oldstate == TCP_SYN_RECV) {
			/* passive open completes in softirq: no task yet */
			if (f)
				__sync_fetch_and_or(&f->flags, FLOW_ESTABLISHED);
			else
				flow_start(sk, NULL, FLOW_ESTABLISHED);
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
 * tp_state's first act is to write the change it takes (socket cookie + new
 * state) into a small per-CPU ring; tp_state_nested takes a change only if it is
 * not in the ring, i.e. exactly when tp_state was skipped for it. A ring, not
 * a single slot: an interrupt between the two programs' runs for one change
 * writes its own entry without erasing the first, so nothing is taken twice;
 * and no flag set inside tp_state leaves a window at its start or end
 * (measured with a flag: 2 of 6 skipped changes still lost). Softirqs do not
 * nest, so at most one change comes between; four entries are plenty.
 */
#define TAKEN_RING 4

struct state_taken {
	__u64 ring[TAKEN_RING];	/* change_key() of the changes taken */
	__u32 n;
	__u32 _pad;
};

/* Which change this is: the socket's cookie (unique for the socket's whole
 * life, never reused — its address is: sockets come and go from the same
 * slab slots, and a closed socket's CLOSE in the ring would hide the next
 * socket's at that address) and the new state. */
static __always_inline __u64 change_key(const struct sock *sk, int newstate)
{
	return bpf_get_socket_cookie((void *)sk) << 4 | (__u32)(newstate & 15);
}

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
	if (t)
		t->ring[t->n++ & (TAKEN_RING - 1)] = change_key(sk, newstate);
	return on_state(sk, oldstate, newstate, TS_TRACEPOINT, true);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_state_nested, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = change_key(sk, newstate);
	__u32 k = 0;
	struct state_taken *t = bpf_map_lookup_elem(&state_taken, &k);

	if (!t)
		return 0;
	for (int i = 0; i < TAKEN_RING; i++)
		if (t->ring[i] == key)
			return 0;	/* tp_state took it */
	count(TS_CNT_NESTED);
	return on_state(sk, oldstate, newstate, TS_TRACEPOINT, true);
}

/* ---- retransmit ---- */

static __always_inline int on_retransmit(const struct sock *sk, __u32 probe, bool direct)
{
	struct flow *f = flow_get(sk);
	struct task_info t;

	if (connect_tp)
		connect_once(sk, f, direct);	/* a SYN that gets no answer */
	task_from_flow(&t, f);
	emit_plain(TS_RETRANSMIT, probe, sk, &t, direct);
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
	fill_hdr(&e->h, type, probe, sizeof(*e), &t, &tu);
	e->h.ts_ns = now;
	e->h.state = RD(direct, sk, __sk_common.skc_state);
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

static __always_inline void emit_dns(__u32 probe, const struct sock *sk, const struct dns_dst *d,
				     const void *ubuf, __u64 avail, __u64 total)
{
	struct task_info t;
	struct ts_dns *e;
	struct tuple tu;
	__u64 n;	/* 64-bit: a u32 makes clang bound it with a 32-bit compare the verifier cannot use */

	if (!ubuf)
		return;
	task_current(&t);
	if (!pass_task(&t))
		return;
	/* the socket says who we are; the call may say where it goes */
	if (sk)
		read_tuple(sk, &tu, false);
	else
		__builtin_memset(&tu, 0, sizeof(tu));
	tu.dport = d->port;
	tu.family = d->family;
	__builtin_memcpy(tu.daddr, d->addr, 16);
	unmap_v4(&tu);
	if (!pass_tuple(&tu))
		return;
	e = reserve(sizeof(*e), TS_DNS);
	if (!e)
		return;
	fill_hdr(&e->h, TS_DNS, probe, sizeof(*e), &t, &tu);
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
	e->_pad[0] = e->_pad[1] = e->_pad[2] = 0;
	e->_pad2 = 0;
	if (bpf_probe_read_user(e->payload, n, ubuf))
		e->len = 0;
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
