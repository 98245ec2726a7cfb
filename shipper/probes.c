// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "shape.h"
#include "tcpship.skel.h"
#include "util.h"

#define T(x) (1u << (x))

struct hook_set {
	const char *progs[4];	/* BPF program names (bpf/tcpship.bpf.c) */
	const char *desc;	/* what it hooks, for people */
	const char *note;	/* what this set cannot give, or NULL */
};

static const struct group {
	const char *name;
	uint32_t needed_by;	/* event types that need this group */
	struct hook_set set[2];
	bool optional;		/* the events go on without it (a key less) */
} groups[TS_G_MAX] = {
	[TS_G_STATE] = { "state", T(TS_CONNECT) | T(TS_ACCEPT) | T(TS_CLOSE) | T(TS_RETRANSMIT), {
		{ { "kp_state" }, "kprobe tcp_set_state", NULL },
		{ { "tp_state", "tp_state_nested" }, "tp_btf inet_sock_set_state", NULL },
	} },
	[TS_G_CONNECT] = { "connect", T(TS_CONNECT), {
		{ { "kp_connect" }, "kprobe tcp_connect", NULL },
		{ { "tp_connect" }, "tracepoint sys_exit_connect + inet_sock_set_state",
		  "sent when connect() returns and the local port is known" },
	} },
	[TS_G_ACCEPT] = { "accept", T(TS_ACCEPT), {
		{ { "kp_accept" }, "kretprobe inet_csk_accept", NULL },
		{ { "tp_accept", "tp_accept4" }, "tracepoint sys_exit_accept, sys_exit_accept4",
		  "accepts made outside accept(2)/accept4(2), e.g. io_uring, are not seen; "
		  "their close events carry no pid" },
	} },
	[TS_G_RETRANSMIT] = { "retransmit", T(TS_RETRANSMIT), {
		{ { "kp_retransmit", "kr_retransmit", "kp_loss_probe", "kr_loss_probe" },
		  "kprobe+kretprobe tcp_retransmit_skb, tcp_send_loss_probe", NULL },
		{ { "tp_retransmit" }, "tp_btf tcp_retransmit_skb", NULL },
	} },
	[TS_G_SEND] = { "send", T(TS_SEND), {
		{ { "kp_send", "kr_send" }, "kprobe+kretprobe tcp_sendmsg", NULL },
		{ { "tp_send", "tp_sys_enter" }, "tp_btf sock_send_length + raw_tp sys_enter",
		  "latency_ns counts from the syscall's entry; absent for io_uring" },
	} },
	[TS_G_RECV] = { "recv", T(TS_RECV), {
		{ { "kp_recv", "kr_recv" }, "kprobe+kretprobe tcp_recvmsg", NULL },
		{ { "tp_recv", "tp_sys_enter" }, "tp_btf sock_recv_length + raw_tp sys_enter",
		  "latency_ns counts from the syscall's entry; absent for io_uring" },
	} },
	[TS_G_DNS] = { "dns", T(TS_DNS), {
		{ { "kp_dns4", "kp_dns6" }, "kprobe udp_sendmsg, udpv6_sendmsg", NULL },
		{ { "tp_dns_sendto", "tp_dns_sendmsg", "tp_dns_sendmmsg" },
		  "tracepoint sys_enter_sendto, sys_enter_sendmsg, sys_enter_sendmmsg",
		  "queries sent with write(2) on a connected socket (Go's resolver) are not seen" },
	} },
	/* the same tp_btf programs in both sets */
	[TS_G_PROC] = { "process", 0, {
		{ { "tp_exec", "tp_fork", "tp_exit" },
		  "tp_btf sched_process_exec, sched_process_fork, sched_process_exit", NULL },
		{ { "tp_exec", "tp_fork", "tp_exit" },
		  "tp_btf sched_process_exec, sched_process_fork, sched_process_exit", NULL },
	}, .optional = true },
	/* the same tp_btf program in both sets; without it, an inbound flow
	 * whose SYN-ACK was sent again has no connect_latency_ns */
	[TS_G_SYNACK] = { "synack", 0, {
		{ { "tp_synack" }, "tp_btf tcp_retransmit_synack", NULL },
		{ { "tp_synack" }, "tp_btf tcp_retransmit_synack", NULL },
	}, .optional = true },
	/* the same tp_btf program in both sets; without it, dns events are
	 * queries only */
	[TS_G_DNS_ANSWER] = { "answers", 0, {
		{ { "kp_dns_recv4", "kr_dns_recv4", "kp_dns_recv6", "kr_dns_recv6" },
		  "kprobe+kretprobe udp_recvmsg, udpv6_recvmsg",
		  "answers to the queries tcpship saw, read by the process that asked" },
		{ { "tp_dns_recvfrom", "tpx_dns_recvfrom", "tp_dns_recvmsg", "tpx_dns_recvmsg" },
		  "tracepoint sys_enter/exit_recvfrom, recvmsg",
		  "answers to the queries tcpship saw, read with recvfrom(2) or recvmsg(2) by "
		  "the process that asked; read(2) and recvmmsg(2) are not seen" },
	}, .optional = true },
	/* the same program in both sets, run by user space, attached to
	 * nothing; the flow table it walks is the state hooks' (and
	 * connect's and accept's, which name each flow's owner) */
	[TS_G_FLOW] = { "flow", T(TS_FLOW), {
		{ { "rt_flow_walk" }, "a walk of the flow table every --flow-interval", NULL },
		{ { "rt_flow_walk" }, "a walk of the flow table every --flow-interval", NULL },
	} },
	[TS_G_CGROUP] = { "cgroup", 0, {
		{ { "tp_cgroup_mkdir", "tp_cgroup_rmdir" }, "tp_btf cgroup_mkdir, cgroup_rmdir",
		  NULL },
		{ { "tp_cgroup_mkdir", "tp_cgroup_rmdir" }, "tp_btf cgroup_mkdir, cgroup_rmdir",
		  NULL },
	} },
};

static const char *const set_names[] = { "kprobe", "tracepoint", "none" };

/* event type -> the groups it needs */
static uint32_t groups_for(unsigned type)
{
	switch (type) {
	case TS_CONNECT: return T(TS_G_CONNECT) | T(TS_G_STATE);
	case TS_ACCEPT: return T(TS_G_ACCEPT) | T(TS_G_STATE);
	case TS_CLOSE: return T(TS_G_STATE);
	case TS_RETRANSMIT: return T(TS_G_RETRANSMIT) | T(TS_G_STATE);
	case TS_SEND: return T(TS_G_SEND);
	case TS_RECV: return T(TS_G_RECV);
	case TS_DNS: return T(TS_G_DNS);
	case TS_FLOW:
		return T(TS_G_FLOW) | T(TS_G_STATE) | T(TS_G_CONNECT) | T(TS_G_ACCEPT);
	}
	return 0;
}

/* ---- preflight ---- */

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int ts_probes_preflight(const struct ts_options *o, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	const char *btf = o->btf_path ? o->btf_path : "/sys/kernel/btf/vmlinux";

	if (syscall(SYS_capget, &h, d))
		return ts_err(err, errlen, -errno, "cannot read own capabilities: %s",
			    strerror(errno));
	if (!has_cap(d, CAP_SYS_ADMIN) && !(has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))
		return ts_err(err, errlen, -EPERM,
			    "needs root, or CAP_BPF and CAP_PERFMON, to load BPF programs "
			    "(running as uid %u without them)", getuid());
	if (access(btf, R_OK))
		return ts_err(err, errlen, -ENOENT,
			    o->btf_path ? "cannot read BTF file %s: %s"
					: "no kernel BTF at %s (%s): the kernel needs "
					  "CONFIG_DEBUG_INFO_BTF=y, or give --btf FILE",
			    btf, strerror(errno));
	return 0;
}

/* ---- what can attach here ---- */

struct env {
	bool probed_kprobes, kprobes;
	char kprobes_why[200];
	bool probed_tracefs, tracefs;
	char tracefs_root[64];
	char tracefs_why[200];
	struct btf *btf;
	/* kprobe targets of the object, and whether /proc/kallsyms has them */
	char *fn[32];
	bool fn_found[32];
	int n_fn;
	bool kallsyms_read, kallsyms_hidden;
	/* the last check failed because the hook's target is not in this
	 * kernel at all (a tracepoint that came later, an inlined function):
	 * its programs cannot load here, and that is no verifier failure */
	bool absent;
};

static void env_kprobes(struct env *e)
{
	if (e->probed_kprobes)
		return;
	e->probed_kprobes = true;
	/* libbpf attaches through the kprobe PMU, or the legacy kprobe_events
	 * file; a kernel without CONFIG_KPROBES has neither */
	if (!faccessat(AT_FDCWD, "/sys/bus/event_source/devices/kprobe/type", F_OK, AT_EACCESS) ||
	    !faccessat(AT_FDCWD, "/sys/kernel/tracing/kprobe_events", F_OK, AT_EACCESS) ||
	    !access("/sys/kernel/debug/tracing/kprobe_events", F_OK)) {
		e->kprobes = true;
		return;
	}
	snprintf(e->kprobes_why, sizeof(e->kprobes_why),
		 "kprobes are not available on this kernel (no kprobe PMU in "
		 "/sys/bus/event_source/devices, no kprobe_events in tracefs: CONFIG_KPROBES off)");
}

/* Where tracefs is, by the effective credentials (stat, not access(2),
 * which checks the real uid without capabilities): a service running as
 * its own user reads a root-only tracefs with CAP_DAC_READ_SEARCH. */
static void env_tracefs(struct env *e)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct stat st;
	int denied = 0;

	if (e->probed_tracefs)
		return;
	e->probed_tracefs = true;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char events[64];

		snprintf(events, sizeof(events), "%s/events", roots[i]);
		if (!stat(events, &st)) {
			snprintf(e->tracefs_root, sizeof(e->tracefs_root), "%s", roots[i]);
			e->tracefs = true;
			return;
		}
		if (errno == EACCES && !denied)
			denied = (int)i + 1;
	}
	if (denied) {
		snprintf(e->tracefs_why, sizeof(e->tracefs_why),
			 "%s is not readable by uid %u (syscall tracepoints need their ids from "
			 "tracefs: give CAP_DAC_READ_SEARCH, or run as root)",
			 roots[denied - 1], (unsigned)geteuid());
		return;
	}
	if (!mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		/* libbpf finds tracepoint ids there; leaving it mounted is what
		 * systemd does too */
		snprintf(e->tracefs_root, sizeof(e->tracefs_root), "/sys/kernel/tracing");
		fprintf(stderr, "tcpship: mounted tracefs on /sys/kernel/tracing "
				"(syscall tracepoints need it)\n");
		e->tracefs = true;
		return;
	}
	snprintf(e->tracefs_why, sizeof(e->tracefs_why),
		 "tracefs is not mounted and mounting it on /sys/kernel/tracing failed: %s",
		 strerror(errno));
}

/* One pass over /proc/kallsyms for every kprobe target of the object. */
static void env_kallsyms(struct env *e, struct bpf_object *obj)
{
	struct bpf_program *prog;
	char line[512];
	long n_text = 0;
	FILE *f;

	if (e->kallsyms_read)
		return;
	e->kallsyms_read = true;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if ((!strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10)) &&
		    e->n_fn < (int)TS_ARRAY_SIZE(e->fn))
			e->fn[e->n_fn++] = strdup(strchr(sec, '/') + 1);
	}
	/* systemd's ProtectKernelTunables= puts an empty, unreadable file over
	 * /proc/kallsyms (readable, and empty, with CAP_DAC_*): then the
	 * kernel's BTF lists every function that is not inlined everywhere */
	f = fopen("/proc/kallsyms", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char type, name[256];

		if (sscanf(line, "%*s %c %255s", &type, name) != 2 || (type != 't' && type != 'T'))
			continue;
		n_text++;
		for (int i = 0; i < e->n_fn; i++)
			if (e->fn[i] && !strcmp(name, e->fn[i]))
				e->fn_found[i] = true;
	}
	if (f)
		fclose(f);
	if (n_text)
		return;
	e->kallsyms_hidden = true;
	for (int i = 0; i < e->n_fn; i++)
		e->fn_found[i] = e->fn[i] && e->btf &&
				 btf__find_by_name_kind(e->btf, e->fn[i], BTF_KIND_FUNC) > 0;
}

static bool kallsyms_has(const struct env *e, const char *fn)
{
	for (int i = 0; i < e->n_fn; i++)
		if (e->fn[i] && !strcmp(e->fn[i], fn))
			return e->fn_found[i];
	return false;
}

static void env_init(struct env *e, const struct ts_options *o)
{
	memset(e, 0, sizeof(*e));
	e->btf = o->btf_path ? btf__parse(o->btf_path, NULL) : btf__load_vmlinux_btf();
}

static void env_free(struct env *e)
{
	btf__free(e->btf);
	for (int i = 0; i < e->n_fn; i++)
		free(e->fn[i]);
}

/* Is the hook behind section `sec` there on this kernel? If not, why. */
static bool sec_available(struct env *e, struct bpf_object *obj, const char *sec, char *why,
			  size_t n)
{
	const char *slash = strchr(sec, '/');
	const char *name = slash ? slash + 1 : "";
	char buf[160];

	e->absent = false;
	if (!strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10)) {
		env_kprobes(e);
		if (!e->kprobes) {
			snprintf(why, n, "%s", e->kprobes_why);
			return false;
		}
		env_kallsyms(e, obj);
		if (!kallsyms_has(e, name)) {
			snprintf(why, n, "function %s is not in %s on this kernel", name,
				 e->kallsyms_hidden ? "the BTF (/proc/kallsyms is hidden)" :
				 "/proc/kallsyms");
			e->absent = true;
			return false;
		}
		return true;
	}
	if (!strncmp(sec, "tp_btf/", 7) || !strncmp(sec, "raw_tp/", 7)) {
		if (!e->btf) {
			snprintf(why, n, "kernel BTF could not be read");
			return false;
		}
		snprintf(buf, sizeof(buf), "btf_trace_%s", name);
		if (btf__find_by_name_kind(e->btf, buf, BTF_KIND_TYPEDEF) < 0) {
			snprintf(why, n, "tracepoint %s does not exist on this kernel", name);
			e->absent = true;
			return false;
		}
		return true;
	}
	if (!strcmp(sec, "raw_tp"))
		return true;	/* run by user space (BPF_PROG_TEST_RUN), not attached */
	if (!strncmp(sec, "tracepoint/", 11)) {
		env_tracefs(e);
		if (!e->tracefs) {
			snprintf(why, n, "%s", e->tracefs_why);
			return false;
		}
		snprintf(buf, sizeof(buf), "%s/events/%s", e->tracefs_root, name);
		if (faccessat(AT_FDCWD, buf, F_OK, AT_EACCESS)) {
			snprintf(why, n, "tracepoint %s does not exist on this kernel%s", name,
				 strstr(name, "syscalls/") ? " (CONFIG_FTRACE_SYSCALLS off?)" : "");
			e->absent = true;
			return false;
		}
		return true;
	}
	snprintf(why, n, "unknown section %s", sec);
	return false;
}

static bool set_available(struct env *e, struct bpf_object *obj, int g, int s, char *why,
			  size_t n)
{
	for (int i = 0; i < 4 && groups[g].set[s].progs[i]; i++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(obj, groups[g].set[s].progs[i]);

		if (!prog) {
			snprintf(why, n, "program %s missing from the BPF object",
				 groups[g].set[s].progs[i]);
			return false;
		}
		if (!sec_available(e, obj, bpf_program__section_name(prog), why, n))
			return false;
	}
	return true;
}

/* ---- open, configure, load, attach ---- */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int libbpf_warn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static int libbpf_all(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static void set_libbpf_print(int verbose)
{
	libbpf_set_print(verbose >= 2 ? libbpf_all : verbose ? libbpf_warn : libbpf_quiet);
}

static struct tcpship_bpf *open_skel(const struct ts_options *o, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	struct tcpship_bpf *skel = tcpship_bpf__open_opts(&oo);
	struct bpf_program *prog;

	if (!skel) {
		ts_err(err, errlen, -errno, "cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	return skel;
}

static void configure(struct tcpship_bpf *skel, const struct ts_options *o, uint32_t mask,
		      bool connect_tp, const uint64_t *cg_ids)
{
	static const int io_syscalls[] = {
		SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_sendto, SYS_recvfrom,
		SYS_sendmsg, SYS_recvmsg, SYS_sendmmsg, SYS_recvmmsg,
	};
	struct tcpship_bpf__rodata *r = skel->rodata;

	r->type_mask = mask;
	r->self_pid = (uint32_t)getpid();
	r->n_pids = o->n_pids;
	memcpy((void *)r->pids, o->pids, sizeof(o->pids));
	r->n_uids = o->n_uids;
	memcpy((void *)r->uids, o->uids, sizeof(o->uids));
	r->n_ports = o->n_ports;
	memcpy((void *)r->ports, o->ports, sizeof(o->ports));
	r->only_family = o->family;
	r->has_comm = o->has_comm;
	memcpy((void *)r->only_comm, o->comm, sizeof(o->comm));
	r->has_cg_filter = o->n_cgroups || o->n_containers;
	r->n_cgroups = o->n_cgroups;
	for (uint32_t i = 0; i < o->n_cgroups && cg_ids; i++)
		((uint64_t *)r->cgroups)[i] = cg_ids[i];
	r->n_containers = o->n_containers;
	for (uint32_t i = 0; i < o->n_containers; i++) {
		size_t n = strlen(o->containers[i]);

		((uint8_t *)r->container_len)[i] = (uint8_t)n;
		memcpy((char *)r->containers[i], o->containers[i], n);
	}
	r->min_latency_ns = o->min_latency_ns;
	r->wakeup_bytes = (uint32_t)o->wakeup_bytes;
	r->connect_tp = connect_tp;
	r->n_io_syscalls = TS_ARRAY_SIZE(io_syscalls);
	for (size_t i = 0; i < TS_ARRAY_SIZE(io_syscalls); i++)
		((int32_t *)r->io_syscalls)[i] = io_syscalls[i];
	bpf_map__set_max_entries(skel->maps.events, (uint32_t)o->ringbuf_size);
	bpf_map__set_max_entries(skel->maps.flows, o->max_flows);
	r->flow_interval_ns = o->flow_interval_ns;
}

static int enable_set(struct tcpship_bpf *skel, int g, int s)
{
	for (int i = 0; i < 4 && groups[g].set[s].progs[i]; i++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(skel->obj, groups[g].set[s].progs[i]);

		if (!prog)
			return -ENOENT;
		bpf_program__set_autoload(prog, true);
	}
	return 0;
}

int ts_probes_flow_walk_fd(const struct ts_probes *p)
{
	if (p->chosen[TS_G_FLOW] == TS_SET_NONE || !(p->type_mask & T(TS_FLOW)))
		return -1;
	return bpf_program__fd(p->skel->progs.rt_flow_walk);
}

static int attach_set(struct ts_probes *p, int g, int s, char *err, size_t errlen)
{
	for (int i = 0; i < 4 && groups[g].set[s].progs[i]; i++) {
		const char *name = groups[g].set[s].progs[i];
		struct bpf_program *prog = bpf_object__find_program_by_name(p->skel->obj, name);
		struct bpf_link *link;
		bool dup = false;

		/* raw_tp sys_enter serves both send and recv */
		for (int k = 0; k < p->n_links; k++)
			if (p->linked[k] == prog)
				dup = true;
		if (dup)
			continue;
		if (!strcmp(bpf_program__section_name(prog), "raw_tp"))
			continue;	/* run, not attached (ts_probes_flow_walk_fd) */
		link = bpf_program__attach(prog);
		if (!link) {
			int rc = -errno;

			return ts_err(err, errlen, rc, "%s: %s (%s) cannot attach: %s",
				    groups[g].name, groups[g].set[s].desc,
				    bpf_program__section_name(prog), strerror(-rc));
		}
		if (p->n_links == (int)TS_ARRAY_SIZE(p->links)) {
			bpf_link__destroy(link);
			return ts_err(err, errlen, -E2BIG, "too many links");
		}
		p->linked[p->n_links] = prog;
		p->links[p->n_links++] = link;
	}
	return 0;
}

static void unload(struct ts_probes *p)
{
	ts_probes_detach(p);
	tcpship_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* A hook set per group the events need: the kprobe where it can attach
 * (unless told otherwise), else the tracepoint; none if neither can. */
static int choose_sets(struct ts_probes *p, struct env *e, const struct ts_options *o,
		       const bool *kprobe_failed, char why[][256], char *err, size_t errlen)
{
	uint32_t need = 0;

	for (unsigned t = 1; t < TS_TYPE_MAX; t++)
		if (o->type_mask & T(t))
			need |= groups_for(t);
	need |= T(TS_G_PROC);
	if (need & T(TS_G_STATE))
		need |= T(TS_G_SYNACK);
	if (need & T(TS_G_DNS))
		need |= T(TS_G_DNS_ANSWER);
	if (o->n_cgroups || o->n_containers)
		need |= T(TS_G_CGROUP);
	for (int g = 0; g < TS_G_MAX; g++) {
		p->chosen[g] = TS_SET_NONE;
		why[g][0] = 0;
		if (!(need & T(g)))
			continue;
		if (!strcmp(groups[g].set[0].progs[0], groups[g].set[1].progs[0])) {
			/* one set serves both modes */
			if (set_available(e, p->skel->obj, g, TS_SET_TP, why[g], 256))
				p->chosen[g] = TS_SET_TP;
			else if (!groups[g].optional)
				return ts_err(err, errlen, -ENOTSUP, "%s: %s cannot attach: %s",
					      groups[g].name, groups[g].set[TS_SET_TP].desc,
					      why[g]);
			continue;
		}
		if (o->probes != TS_PROBES_TRACEPOINT && !kprobe_failed[g] &&
		    set_available(e, p->skel->obj, g, TS_SET_KPROBE, why[g], 256))
			p->chosen[g] = TS_SET_KPROBE;
		else if (o->probes == TS_PROBES_KPROBE)
			return ts_err(err, errlen, -ENOTSUP,
				      "--probes kprobe: %s: %s cannot attach: %s", groups[g].name,
				      groups[g].set[TS_SET_KPROBE].desc, why[g]);
		else if (set_available(e, p->skel->obj, g, TS_SET_TP, why[g], 256))
			p->chosen[g] = TS_SET_TP;
		else if (o->probes == TS_PROBES_TRACEPOINT)
			return ts_err(err, errlen, -ENOTSUP,
				      "--probes tracepoint: %s: %s cannot attach: %s", groups[g].name,
				      groups[g].set[TS_SET_TP].desc, why[g]);
	}
	return 0;
}

/* The events of mask whose groups all have a set; say once which not. */
static uint32_t served(const struct ts_probes *p, uint32_t mask, char why[][256], bool say)
{
	for (unsigned t = 1; t < TS_TYPE_MAX; t++) {
		uint32_t gs = groups_for(t);

		if (!(mask & T(t)))
			continue;
		for (int g = 0; g < TS_G_MAX; g++)
			if ((gs & T(g)) && p->chosen[g] == TS_SET_NONE) {
				if (say)
					fprintf(stderr, "tcpship: %s events are not available "
						"here: %s: %s\n", ts_type_name(t), groups[g].name,
						why[g]);
				mask &= ~T(t);
				break;
			}
	}
	return mask;
}

int ts_probes_start(struct ts_probes *p, const struct ts_options *o, const uint64_t *cg_ids,
		    char *err, size_t errlen)
{
	bool kprobe_failed[TS_G_MAX] = {};
	struct env e;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	set_libbpf_print(o->verbose);
	env_init(&e, o);

	for (int round = 0; round < 3; round++) {
		uint32_t mask = o->type_mask;
		char why[TS_G_MAX][256];

		p->skel = open_skel(o, err, errlen);
		if (!p->skel) {
			rc = -EINVAL;
			goto out;
		}
		rc = choose_sets(p, &e, o, kprobe_failed, why, err, errlen);
		if (rc)
			goto out;
		mask = served(p, mask, why, round == 0);
		if (!mask) {
			rc = ts_err(err, errlen, -ENOTSUP,
				  "none of the requested events can be traced on this kernel");
			goto out;
		}
		p->type_mask = mask;
		for (int g = 0; g < TS_G_MAX; g++)
			if (p->chosen[g] != TS_SET_NONE)
				enable_set(p->skel, g, p->chosen[g]);
		configure(p->skel, o, mask, p->chosen[TS_G_CONNECT] == TS_SET_TP, cg_ids);
		p->skel->rodata->flow_probe =
			p->chosen[TS_G_STATE] == TS_SET_KPROBE ? TS_KPROBE : TS_TRACEPOINT;
		rc = tcpship_bpf__load(p->skel);
		if (rc) {
			rc = ts_err(err, errlen, rc,
				  "loading the BPF programs failed: %s (-vv shows the verifier's log)",
				  strerror(-rc));
			goto out;
		}
		rc = 0;
		for (int g = 0; g < TS_G_MAX && !rc; g++) {
			if (p->chosen[g] == TS_SET_NONE)
				continue;
			rc = attach_set(p, g, p->chosen[g], err, errlen);
			/* auto: a kprobe that was there but would not attach
			 * falls back to the tracepoint twin */
			if (rc && o->probes == TS_PROBES_AUTO && p->chosen[g] == TS_SET_KPROBE) {
				if (o->verbose)
					fprintf(stderr, "tcpship: %s; trying the tracepoint\n", err);
				kprobe_failed[g] = true;
				break;
			}
		}
		if (!rc)
			goto out;
		unload(p);
		if (o->probes != TS_PROBES_AUTO)
			goto out;
	}
out:
	env_free(&e);
	if (rc && p->skel)
		unload(p);
	return rc;
}

void ts_probes_describe(const struct ts_probes *p, FILE *f)
{
	for (unsigned t = 1; t < TS_TYPE_MAX; t++) {
		uint32_t gs = groups_for(t);
		int g = TS_G_STATE;
		const struct hook_set *hs;

		if (!(p->type_mask & T(t)))
			continue;
		/* the group that makes the event; state only for close */
		for (int k = 0; k < TS_G_MAX; k++)
			if ((gs & T(k)) && k != TS_G_STATE)
				g = k;
		hs = &groups[g].set[p->chosen[g]];
		/* flow: one walk for both sets, of the table the state set keeps */
		fprintf(f, "tcpship: %-10s %-10s %s%s%s%s\n", ts_type_name(t),
			set_names[p->chosen[g == TS_G_FLOW ? TS_G_STATE : g]], hs->desc,
			hs->note ? " (" : "",
			hs->note ? hs->note : "", hs->note ? ")" : "");
	}
	if (p->chosen[TS_G_STATE] != TS_SET_NONE)
		fprintf(f, "tcpship: %-10s %-10s %s\n", "(flows)", set_names[p->chosen[TS_G_STATE]],
			groups[TS_G_STATE].set[p->chosen[TS_G_STATE]].desc);
	if (p->chosen[TS_G_DNS_ANSWER] != TS_SET_NONE) {
		enum ts_set set = p->chosen[TS_G_DNS_ANSWER];
		const struct hook_set *hs = &groups[TS_G_DNS_ANSWER].set[set];

		fprintf(f, "tcpship: %-10s %-10s %s (%s)\n", "(answers)", set_names[set],
			hs->desc, hs->note);
	}
	if (p->chosen[TS_G_SYNACK] != TS_SET_NONE)
		fprintf(f, "tcpship: %-10s %-10s %s\n", "(synack)", "tracepoint",
			groups[TS_G_SYNACK].set[TS_SET_TP].desc);
	if (p->chosen[TS_G_PROC] != TS_SET_NONE)
		fprintf(f, "tcpship: %-10s %-10s %s\n", "(exe)", "tracepoint",
			groups[TS_G_PROC].set[TS_SET_TP].desc);
	else
		fprintf(f, "tcpship: (exe)      none       the exe key comes from /proc only: "
			"a process may be gone before it is read\n");
}

bool ts_probes_have_proc(const struct ts_probes *p)
{
	return p->chosen[TS_G_PROC] != TS_SET_NONE;
}

struct fill {
	int fd;
	const struct ts_options *o;
	const uint64_t *cg_ids;
	uint64_t n, full;
};

static void fill_one(void *ctx, uint64_t id, uint64_t parent, const char *name)
{
	struct fill *f = ctx;
	const char *cid = ts_cg_name_id(name);
	uint8_t one = 1, v;
	bool pass = parent && !bpf_map_lookup_elem(f->fd, &parent, &v);

	for (uint32_t i = 0; i < f->o->n_cgroups && !pass; i++)
		pass = f->cg_ids[i] == id;
	for (uint32_t i = 0; i < f->o->n_containers && cid && !pass; i++)
		pass = !strncmp(cid, f->o->containers[i], strlen(f->o->containers[i]));
	if (!pass)
		return;
	if (bpf_map_update_elem(f->fd, &id, &one, BPF_ANY))
		f->full++;
	else
		f->n++;
}

int ts_probes_fill_cgroups(struct ts_probes *p, const struct ts_options *o,
			   const uint64_t *cg_ids, const struct ts_cgfs *fs, char *err,
			   size_t errlen)
{
	struct fill f = { bpf_map__fd(p->skel->maps.cg_pass), o, cg_ids, 0, 0 };
	int rc;

	if (!o->n_cgroups && !o->n_containers)
		return 0;
	rc = ts_cgfs_walk(fs, fill_one, &f);
	if (rc)
		return ts_err(err, errlen, rc, "%s: cannot walk the cgroups: %s", fs->mnt,
			      strerror(-rc));
	if (f.full)
		return ts_err(err, errlen, -ENOSPC, "--cgroup/--container: %llu cgroups pass, "
			      "more than the kernel table holds", (unsigned long long)(f.n + f.full));
	return 0;
}

int ts_probes_list(const struct ts_options *o, FILE *out)
{
	struct env e;
	enum ts_set pick[TS_G_MAX];
	int bad = 0;

	set_libbpf_print(o->verbose);
	env_init(&e, o);
	fprintf(out, "%-11s %-11s %-6s %-9s %s\n", "HOOK", "SET", "LOADS", "ATTACHES", "WHAT");
	for (int g = 0; g < TS_G_MAX; g++) {
		pick[g] = TS_SET_NONE;
		for (int s = 0; s < 2; s++) {
			char err[256] = "", why[256] = "", loads[64] = "yes", attaches[256] = "yes";
			struct ts_probes p = {};
			bool avail;
			int rc;

			p.skel = open_skel(o, err, sizeof(err));
			if (!p.skel) {
				fprintf(out, "%-11s %-11s error: %s\n", groups[g].name, set_names[s], err);
				bad++;
				continue;
			}
			avail = set_available(&e, p.skel->obj, g, s, why, sizeof(why));
			/* load with the filters of this command line, one set at a
			 * time: a verifier rejection names its set */
			enable_set(p.skel, g, s);
			configure(p.skel, o, o->type_mask, s == TS_SET_TP, NULL);
			rc = tcpship_bpf__load(p.skel);
			if (rc && !avail && e.absent) {
				snprintf(loads, sizeof(loads), "n/a");
				snprintf(attaches, sizeof(attaches), "no (%s)", why);
			} else if (rc) {
				snprintf(loads, sizeof(loads), "no");
				snprintf(attaches, sizeof(attaches), "no (does not load: %s)",
					 strerror(-rc));
				bad++;
			} else if (!avail) {
				snprintf(attaches, sizeof(attaches), "no (%s)", why);
			} else if (attach_set(&p, g, s, err, sizeof(err))) {
				snprintf(attaches, sizeof(attaches), "no (%s)", err);
			} else if (pick[g] == TS_SET_NONE) {
				pick[g] = s;
			}
			/* "no (why)" -> "-- why" */
			if (!strncmp(attaches, "no (", 4))
				attaches[strlen(attaches) - 1] = 0;
			fprintf(out, "%-11s %-11s %-6s %-9s %s%s%s\n", groups[g].name, set_names[s],
				loads, strncmp(attaches, "yes", 3) ? "no" : "yes", groups[g].set[s].desc,
				strncmp(attaches, "no (", 4) ? "" : " -- ",
				strncmp(attaches, "no (", 4) ? "" : attaches + 4);
			unload(&p);
		}
	}
	fprintf(out, "auto picks:");
	for (int g = 0; g < TS_G_MAX; g++)
		fprintf(out, " %s=%s", groups[g].name, set_names[pick[g]]);
	fprintf(out, "\n");
	env_free(&e);
	return bad ? -EINVAL : 0;
}

int ts_probes_ringbuf_fd(const struct ts_probes *p)
{
	return bpf_map__fd(p->skel->maps.events);
}

int ts_probes_counters(const struct ts_probes *p, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < TS_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(p->skel->maps.counters, &i, sizeof(i), vals,
					 sizeof(*vals) * (size_t)ncpu, 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

static uint64_t prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.recursion_misses : 0;
}

uint64_t ts_probes_missed(const struct ts_probes *p)
{
	uint64_t sum = 0, state_missed = 0, nested = 0, cnt[TS_CNT_MAX];
	struct bpf_program *prog;

	if (!p->skel)
		return 0;
	bpf_object__for_each_program(prog, p->skel->obj) {
		const char *name = bpf_program__name(prog);

		if (!strcmp(name, "tp_state"))
			state_missed = prog_misses(prog);
		else if (strcmp(name, "tp_state_nested"))
			sum += prog_misses(prog);
		/* tp_state_nested's own misses come while tp_state runs the
		 * change: nothing is lost then */
	}
	/* tp_state's misses are lost only where tp_state_nested did not
	 * take the change in its place */
	if (!ts_probes_counters(p, cnt))
		nested = cnt[TS_CNT_NESTED];
	return sum + (state_missed > nested ? state_missed - nested : 0);
}

void ts_probes_detach(struct ts_probes *p)
{
	for (int i = 0; i < p->n_links; i++)
		bpf_link__destroy(p->links[i]);
	p->n_links = 0;
}

void ts_probes_destroy(struct ts_probes *p)
{
	if (p->skel)
		unload(p);
}
