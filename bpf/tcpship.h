/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user contract: every record the BPF programs put in the ring
 * buffer starts with struct ts_hdr. Fixed-width types only. Byte order is
 * written beside every multi-byte field; ports are converted to host order
 * once, in BPF. Both sides include this file; the static asserts at the end
 * keep their idea of the layout the same.
 */
#ifndef TCPSHIP_H
#define TCPSHIP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>	/* user space; BPF gets them from vmlinux.h */
#endif

#define TS_COMM_LEN   16
/* A DNS query is a 12-byte header, a qname of at most 255 bytes and 4 bytes
 * of type/class: 271. 288 keeps the record 8-byte aligned. */
#define TS_DNS_MAX    288
#define TS_MAX_PIDS   8
#define TS_MAX_UIDS   8
#define TS_MAX_PORTS  8
#define TS_MAX_CGROUPS 8	/* --cgroup */
#define TS_MAX_CONTAINERS 8	/* --container */
#define TS_CONTAINER_ID_LEN 64
/* exec records: the executable's path, one name per component, leaf first
 * (user space puts them in order). 512 bytes of names, and room for one
 * more name of NAME_MAX past that: the verifier sees every write bounded. */
#define TS_PATH_NAMES 512
#define TS_PATH_MAX   (TS_PATH_NAMES + 256)

enum ts_type {
	TS_CONNECT    = 1,
	TS_ACCEPT     = 2,
	TS_CLOSE      = 3,
	TS_RETRANSMIT = 4,
	TS_SEND       = 5,
	TS_RECV       = 6,
	TS_DNS        = 7,
	TS_FLOW       = 8,	/* an interim report of a live flow (--flow-interval) */
	TS_TYPE_MAX   = 9,	/* array bound, not a type */
	/* Not an event: what the process cache is fed with (struct ts_proc). */
	TS_PROC       = 16,
};

/* ts_proc.kind */
enum ts_proc_kind {
	TS_PROC_EXEC = 1,	/* path holds the new executable */
	TS_PROC_FORK = 2,	/* a new process: it runs its parent's executable */
	TS_PROC_EXIT = 3,	/* the last thread of the process is gone */
};

/* The project's own family enum: AF_* values are not part of the ABI. */
enum ts_family {
	TS_IPV4 = 1,
	TS_IPV6 = 2,
};

/* Which hook set produced a record. */
enum ts_probe {
	TS_KPROBE     = 1,
	TS_TRACEPOINT = 2,
};

/* ts_hdr.flags */
enum ts_flags {
	TS_F_TASK        = 1 << 0,	/* pid, tid, uid, comm are known */
	TS_F_SADDR       = 1 << 1,	/* saddr/sport are known (dns: socket bound) */
	TS_F_ESTABLISHED = 1 << 2,	/* close (always flow): the flow reached ESTABLISHED */
	TS_F_START       = 1 << 3,	/* close (always flow): duration_ns is known */
	TS_F_LATENCY     = 1 << 4,	/* send/recv, dns answer: latency_ns is known */
	TS_F_ACTIVE      = 1 << 5,	/* close, flow: this side connected (client) */
	TS_F_TRUNC       = 1 << 6,	/* dns: payload longer than TS_DNS_MAX */
	TS_F_ERROR       = 1 << 7,	/* close: the connection ended with an error */
	TS_F_NETNS       = 1 << 8,	/* netns is known */
	TS_F_PATH_TRUNC  = 1 << 9,	/* proc exec: the path did not fit, or is unreachable */
	TS_F_HANDSHAKE   = 1 << 10,	/* connect/accept/close: connect_latency_ns is known */
	TS_F_ANSWER      = 1 << 11,	/* dns: a response read by the process, not a query */
};

/* Common header of every record: 104 bytes. */
struct ts_hdr {
	__u64 ts_ns;		/* CLOCK_BOOTTIME, nanoseconds */
	__u16 size;		/* size of the whole record in bytes */
	__u8  type;		/* enum ts_type */
	__u8  probe;		/* enum ts_probe */
	__u8  family;		/* enum ts_family */
	__u8  state;		/* TCP state (kernel numbering) where useful */
	__u16 flags;		/* enum ts_flags */
	__u32 pid;		/* tgid, init pid namespace */
	__u32 tid;
	__u32 uid;		/* init user namespace */
	__u16 sport;		/* host byte order */
	__u16 dport;		/* host byte order */
	char  comm[TS_COMM_LEN];	/* task name, any bytes, NUL padded */
	__u8  saddr[16];	/* network byte order; IPv4 in the first 4 bytes */
	__u8  daddr[16];	/* network byte order; IPv4 in the first 4 bytes */
	/* who, beyond pid: valid with TS_F_TASK (the flow's owner for
	 * softirq-context events) */
	__u64 cgroup_id;	/* cgroup v2 id (the kernfs node id of its directory) */
	__u64 start_ns;		/* process start, CLOCK_BOOTTIME: pid + start survive pid reuse */
	__u32 ppid;		/* real parent's tgid */
	__u32 netns;		/* the socket's network namespace inode, with TS_F_NETNS */
};

/* connect, accept, close, retransmit, send, recv */
struct ts_event {
	struct ts_hdr h;
	union {
		struct {
			__u64 duration_ns;	/* valid with TS_F_START */
			__u64 bytes_sent;	/* tcp_sock.bytes_acked */
			__u64 bytes_received;	/* tcp_sock.bytes_received */
			__u32 retransmits;	/* tcp_sock.total_retrans */
			__u16 error;		/* errno (positive), 0 if none */
			__u8  oldstate;		/* state before CLOSE */
			__u8  _pad;
			/* with TS_F_HANDSHAKE (connect and accept too): SYN
			 * sent -> ESTABLISHED (outbound), first SYN-ACK sent ->
			 * ESTABLISHED (inbound) */
			__u64 connect_latency_ns;
		} close;
		struct {
			__u64 bytes;		/* return value of the call */
			__u64 latency_ns;	/* valid with TS_F_LATENCY */
			__u64 _pad[3];
		} io;
	};
};

/* flow: an interim report of a flow alive for --flow-interval, from the
 * flow table walked by rt_flow_walk. The close part holds what a close
 * would say now (duration, totals, connect latency; error and oldstate 0,
 * h.state the socket's state), then what moved since the flow's previous
 * report (since its start for the first). */
struct ts_flow {
	struct ts_event e;
	__u64 bytes_sent_delta;
	__u64 bytes_received_delta;
	__u32 retransmits_delta;
	__u32 _pad;
};

/* dns: the start of the UDP payload of a query sent to port 53, or (with
 * TS_F_ANSWER) of a response from port 53 as the process reads it. An
 * answer's saddr/sport are the local end, daddr/dport the server's, as a
 * query's are. */
struct ts_dns {
	struct ts_hdr h;
	__u16 len;		/* bytes captured in payload */
	__u16 _pad;
	__u32 total;		/* length of the whole datagram */
	__u64 latency_ns;	/* answer, with TS_F_LATENCY: since its query */
	__u8  payload[TS_DNS_MAX];
};

/* The process cache's feed. h.pid, h.start_ns, h.ppid, h.uid, h.comm and
 * h.cgroup_id are the process's; h.family is 0 and no endpoint is set. */
struct ts_proc {
	struct ts_hdr h;
	__u8  kind;		/* enum ts_proc_kind */
	__u8  _pad;
	__u16 path_len;		/* exec: bytes of path used */
	__u32 parent_pid;	/* fork: the process whose executable the child runs */
	__u64 parent_start;	/* fork: its start_ns */
	char  path[TS_PATH_MAX];	/* exec only: NUL-terminated names, leaf first */
};

#define TS_PROC_SHORT (sizeof(struct ts_proc) - TS_PATH_MAX)	/* fork, exit */

/* Index of the per-CPU counters map. */
enum ts_counter {
	TS_CNT_DROP_BASE   = 0,		/* + type: ring buffer full */
	TS_CNT_FLOW_FULL   = TS_TYPE_MAX,	/* flow table update failed */
	TS_CNT_NESTED,				/* state changes taken by tp_state_nested */
	TS_CNT_SLOW_READ,			/* a tp_btf hook had to copy, not load */
	TS_CNT_PROC_DROP,			/* process records the ring buffer refused */
	TS_CNT_CGROUP_FULL,			/* cgroup filter: a passing cgroup not stored */
	TS_CNT_CLOSE_UNSEEN,			/* a flow outlived its socket: CLOSE never shown */
	TS_CNT_MAX,
};

#define TS_CHECK_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t " changed size: update both sides")
TS_CHECK_SIZE(struct ts_hdr, 104);
TS_CHECK_SIZE(struct ts_event, 104 + 40);
TS_CHECK_SIZE(struct ts_flow, 104 + 40 + 24);
TS_CHECK_SIZE(struct ts_dns, 104 + 16 + TS_DNS_MAX);
TS_CHECK_SIZE(struct ts_proc, 104 + 16 + TS_PATH_MAX);

#endif
