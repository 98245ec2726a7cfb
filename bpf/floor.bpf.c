// SPDX-License-Identifier: GPL-2.0
/*
 * The floor for `make bench`: the same hooks tcpship's default events use
 * (tracepoint set), with programs that only count in a per-CPU map and emit
 * nothing. What a tracer costs above this is the price of its work, not of
 * being attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(void)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &k);

	if (v)
		*v += 1;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_state) { return hit(); }

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(floor_retransmit) { return hit(); }

SEC("tracepoint/syscalls/sys_exit_connect")
int floor_connect(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int floor_accept4(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_exit_accept")
int floor_accept(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int floor_sendto(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int floor_sendmsg(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int floor_sendmmsg(void *ctx) { return hit(); }

/* DNS answers (a default event): the reads of every process */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int floor_recvfrom(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int floorx_recvfrom(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int floor_recvmsg(void *ctx) { return hit(); }

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int floorx_recvmsg(void *ctx) { return hit(); }
