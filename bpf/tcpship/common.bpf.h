/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration user space sets before load, the maps, and the helpers
 * every hook uses: task and tuple reads, the in-kernel filters, reserve and
 * submit, the flow table that carries the owner to softirq-context events.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_COMMON_H
#define TS_BPF_COMMON_H

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
/* --cgroup / --container: a task passes when its cgroup v2 is in
 * cg_pass (see cgroup.bpf.h: user space fills it at start, the cgroup
 * mkdir hook as cgroups come) */
const volatile bool has_cg_filter = false;
const volatile __u32 n_cgroups = 0;
const volatile __u64 cgroups[TS_MAX_CGROUPS] = {};	/* cgroup ids */
const volatile __u32 n_containers = 0;
const volatile __u8 container_len[TS_MAX_CONTAINERS] = {};	/* 12..64 */
const volatile char containers[TS_MAX_CONTAINERS][TS_CONTAINER_ID_LEN] = {};
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
/* --flow-interval: a flow is reported once it is this old (0: never) */
const volatile __u64 flow_interval_ns = 0;

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
	FLOW_CG_PASS     = 1 << 4,	/* the owner passed the cgroup filters */
	FLOW_EARLY       = 1 << 5,	/* accepted before ESTABLISHED (Fast Open) */
};

/* Who a task is: what the records carry of it. */
struct task_info {
	__u32 pid, tid, uid, ppid;
	__u64 cgroup_id, start_ns;
	bool known;
	bool cg_pass;			/* has_cg_filter: its cgroup passes */
	char comm[TS_COMM_LEN];
};

struct flow {
	__u64 start_ns;
	__u64 handshake_ns;		/* connect latency; 0: not measured */
	__u32 flags;			/* enum flow_flags; updated atomically */
	/* what the last flow report said (rt_flow_walk's alone): the next
	 * one's deltas */
	__u32 rep_retrans;
	__u64 rep_sent, rep_received;
	/* the owner; valid with FLOW_TASK */
	__u32 pid, tid, uid, ppid;
	__u64 cgroup_id, proc_start_ns;
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

/* tracepoint set, connect: the socket a thread's connect() is starting.
 * Task storage, not a hash keyed by thread id: set and read back through
 * the task's own pointer (no hashing, no LRU lists; measured 300 -> ~100 ns
 * for sys_exit_connect), and freed with the thread. */
struct task_conn {
	__u64 sk;			/* 0: none pending */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_conn);
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

/* --cgroup / --container: the cgroup v2 ids that pass. A hash, not an
 * LRU: an entry pushed out would turn a container's events off. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} cg_pass SEC(".maps");

/* ---- small helpers ---- */

struct tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u32 netns;			/* 0: unknown */
	__u8 family;
	__u8 state;			/* the socket's, as read with the ends */
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
	/* a BTF pointer: the walks below are plain loads, not copies */
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();

	t->pid = id >> 32;
	t->tid = (__u32)id;
	/* the kuid is the uid as the initial namespace sees it, which is
	 * what bpf_get_current_uid_gid() returns, at a quarter of its cost */
	t->uid = task->cred->uid.val;
	t->ppid = task->real_parent->tgid;
	t->start_ns = task->group_leader->start_boottime;
	t->cgroup_id = bpf_get_current_cgroup_id();
	t->cg_pass = has_cg_filter && bpf_map_lookup_elem(&cg_pass, &t->cgroup_id);
	t->known = true;
	/* two loads, not the helper's locked copy: a rename racing this
	 * read can at worst mix two names, as the helper's can */
	__builtin_memcpy(t->comm, task->comm, sizeof(t->comm));
}

static __always_inline void task_from_flow(struct task_info *t, const struct flow *f)
{
	if (!f || !(f->flags & FLOW_TASK)) {
		__builtin_memset(t, 0, sizeof(*t));
		return;
	}
	t->known = true;
	t->pid = f->pid;
	t->tid = f->tid;
	t->uid = f->uid;
	t->ppid = f->ppid;
	t->cgroup_id = f->cgroup_id;
	t->start_ns = f->proc_start_ns;
	t->cg_pass = f->flags & FLOW_CG_PASS;
	__builtin_memcpy(t->comm, f->comm, sizeof(t->comm));
}

/* The flow's owner is t from now on (connect, accept). */
static __always_inline void flow_set_owner(struct flow *f, const struct task_info *t)
{
	f->pid = t->pid;
	f->tid = t->tid;
	f->uid = t->uid;
	f->ppid = t->ppid;
	f->cgroup_id = t->cgroup_id;
	f->proc_start_ns = t->start_ns;
	__builtin_memcpy(f->comm, t->comm, TS_COMM_LEN);
	__sync_fetch_and_or(&f->flags, t->cg_pass ? FLOW_TASK | FLOW_CG_PASS : FLOW_TASK);
}

/* Task filters. An event whose task is unknown passes only when no task
 * filter is set: a filter is a promise about who caused what we print. */
static __always_inline bool pass_task(const struct task_info *t)
{
	if (t->known && self_pid && t->pid == self_pid)
		return false;
	if (has_cg_filter && (!t->known || !t->cg_pass))
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

/* State, family and addresses from a socket's common part: a copy of it
 * or (tp_btf) the socket itself. False for a family other than IPv4/6. */
static __always_inline bool tuple_ends(struct tuple *tu, const struct sock_common *c)
{
	tu->state = c->skc_state;
	if (c->skc_family == AF_INET) {
		tu->family = TS_IPV4;
		*(__u32 *)tu->saddr = c->skc_rcv_saddr;
		*(__u32 *)tu->daddr = c->skc_daddr;
		return true;
	}
	if (c->skc_family == AF_INET6) {
		tu->family = TS_IPV6;
		__builtin_memcpy(tu->saddr, &c->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(tu->daddr, &c->skc_v6_daddr, 16);
		unmap_v4(tu);
		return true;
	}
	return false;
}

/* Where read_tuple_copy() copies a socket's common part: too big for the
 * stack of the programs that read it. Slot 0 serves kprobes and syscall
 * tracepoints (the kernel runs one of those at a time per CPU), slot 1 the
 * flow walk, which a softirq's kprobe may interrupt. */
enum { SC_SLOT_PROBE, SC_SLOT_WALK, SC_SLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_SLOTS);
	__type(key, __u32);
	__type(value, struct sock_common);
} sc_copy SEC(".maps");

/* The ends from a socket's common part, copied in one read (the copy's
 * fields are still relocated for the running kernel): kprobes and syscall
 * tracepoints pay one copy for what took five. */
static __always_inline bool read_tuple_copy(const struct sock *sk, struct tuple *tu, __u32 slot)
{
	struct sock_common *c = bpf_map_lookup_elem(&sc_copy, &slot);
	/* up to the last field read: a load-time constant */
	__u32 n = bpf_core_field_offset(struct sock_common, skc_v6_rcv_saddr) + 16;

	__builtin_memset(tu, 0, sizeof(*tu));
	if (n > sizeof(*c))
		n = sizeof(*c);
	if (!c || bpf_probe_read_kernel(c, n, &sk->__sk_common))
		return false;
	tu->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	tu->dport = bpf_ntohs(c->skc_dport);
	tu->netns = BPF_CORE_READ(c->skc_net.net, ns.inum);
	return tuple_ends(tu, c);
}

static __always_inline bool read_tuple(const struct sock *sk, struct tuple *tu, bool direct)
{
	const struct sock_common *c = &sk->__sk_common;
	const struct tcp_sock *tp;

	/* inet_sport, not skc_num: the move to CLOSE releases the port
	 * (inet_put_port zeroes inet_num) before the tracepoint fires */
	if (!direct)
		return read_tuple_copy(sk, tu, SC_SLOT_PROBE);
	__builtin_memset(tu, 0, sizeof(*tu));
	tp = tcp_of(sk, true);
	if (!tp)
		return false;
	tu->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	tu->dport = bpf_ntohs(c->skc_dport);
	tu->netns = c->skc_net.net->ns.inum;
	return tuple_ends(tu, c);
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
static __always_inline __u64 wake_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < wakeup_bytes
		? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP;
}

static __always_inline void submit(void *rec)
{
	bpf_ringbuf_submit(rec, wake_flags());
}

/* The header of a record made at ts (CLOCK_BOOTTIME ns). */
static __always_inline void fill_hdr_at(struct ts_hdr *h, __u32 type, __u32 probe,
					__u32 size, const struct task_info *t,
					const struct tuple *tu, __u64 ts)
{
	h->ts_ns = ts;
	h->size = size;
	h->type = type;
	h->probe = probe;
	h->family = tu->family;
	h->state = 0;
	h->flags = (t->known ? TS_F_TASK : 0) | TS_F_SADDR | (tu->netns ? TS_F_NETNS : 0);
	h->pid = t->pid;
	h->tid = t->tid;
	h->uid = t->uid;
	h->ppid = t->ppid;
	h->cgroup_id = t->cgroup_id;
	h->start_ns = t->start_ns;
	h->netns = tu->netns;
	h->sport = tu->sport;
	h->dport = tu->dport;
	__builtin_memcpy(h->comm, t->comm, TS_COMM_LEN);
	__builtin_memcpy(h->saddr, tu->saddr, 16);
	__builtin_memcpy(h->daddr, tu->daddr, 16);
}

static __always_inline void fill_hdr(struct ts_hdr *h, __u32 type, __u32 probe,
				     __u32 size, const struct task_info *t,
				     const struct tuple *tu)
{
	fill_hdr_at(h, type, probe, size, t, tu, bpf_ktime_get_boot_ns());
}

/* connect, accept, retransmit: header plus an all-zero tail */
static __always_inline void emit_plain(__u32 type, __u32 probe, const struct sock *sk,
				       const struct task_info *t, const struct flow *f,
				       bool direct)
{
	struct ts_event *e;
	struct tuple tu;

	if (!type_on(type) || !pass_task(t) || !read_tuple(sk, &tu, direct) || !pass_tuple(&tu))
		return;
	e = reserve(sizeof(*e), type);
	if (!e)
		return;
	fill_hdr(&e->h, type, probe, sizeof(*e), t, &tu);
	e->h.state = tu.state;
	__builtin_memset(&e->close, 0, sizeof(e->close));
	if (f && f->handshake_ns) {
		e->close.connect_latency_ns = f->handshake_ns;
		e->h.flags |= TS_F_HANDSHAKE;
	}
	submit(e);
}

/*
 * A flow entry for sk. fresh: the socket has only just begun (its SYN goes
 * out, or its handshake completes in the kernel), so an entry already under
 * that address belongs to an earlier socket at the same memory whose CLOSE
 * the kernel never showed to BPF (README: "The closes the kernel hides"):
 * its close is lost, and counted; the new socket must not inherit its
 * start, owner or direction.
 */
static __always_inline void flow_start(const struct sock *sk, const struct task_info *t,
				       __u32 flags, __u64 handshake_ns, bool fresh)
{
	__u64 key = (__u64)sk;
	struct flow f = {};
	long err;

	f.start_ns = bpf_ktime_get_boot_ns();
	f.handshake_ns = handshake_ns;
	f.flags = flags;
	if (t && t->known)
		flow_set_owner(&f, t);
	if (fresh) {
		err = bpf_map_update_elem(&flows, &key, &f, BPF_NOEXIST);
		if (err != -EEXIST) {
			if (err)
				count(TS_CNT_FLOW_FULL);
			return;
		}
		count(TS_CNT_CLOSE_UNSEEN);
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
	emit_plain(TS_CONNECT, TS_TRACEPOINT, sk, &t, f, direct);
}

#endif
