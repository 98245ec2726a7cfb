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
 *   flow        raw_tp walk of the flow table (both sets), run by user space
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
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define EEXIST		17	/* the map update refused: the key is there */

char LICENSE[] SEC("license") = "GPL";

/* One object whose source is split by area; the parts below are included
 * in this order, each using what the ones before it define. */
#include "tcpship/common.bpf.h"
#include "tcpship/connect.bpf.h"
#include "tcpship/accept.bpf.h"
#include "tcpship/state.bpf.h"
#include "tcpship/flow.bpf.h"
#include "tcpship/retransmit.bpf.h"
#include "tcpship/io.bpf.h"
#include "tcpship/dns.bpf.h"
#include "tcpship/proc.bpf.h"
#include "tcpship/cgroup.bpf.h"
