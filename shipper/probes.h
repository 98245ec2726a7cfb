/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The hook sets: which BPF program serves which event, detection of what can
 * attach on this kernel, and the open -> configure -> load -> attach steps.
 */
#ifndef TS_PROBES_H
#define TS_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "options.h"

enum ts_set {
	TS_SET_KPROBE = 0,
	TS_SET_TP = 1,
	TS_SET_NONE = 2,
};

enum ts_group {
	TS_G_STATE,		/* flow bookkeeping + close */
	TS_G_CONNECT,
	TS_G_ACCEPT,
	TS_G_RETRANSMIT,
	TS_G_SEND,
	TS_G_RECV,
	TS_G_DNS,
	TS_G_PROC,		/* exec/fork/exit: the process cache (exe) */
	TS_G_CGROUP,		/* cgroup mkdir/rmdir: --cgroup, --container */
	TS_G_SYNACK,		/* SYN-ACKs sent again: inbound connect latency */
	TS_G_DNS_ANSWER,	/* responses from port 53 read by a process */
	TS_G_FLOW,		/* the flow table's walk: flow reports */
	TS_G_MAX,
};

struct tcpship_bpf;
struct bpf_link;
struct bpf_program;

struct ts_probes {
	struct tcpship_bpf *skel;
	struct bpf_link *links[40];
	const struct bpf_program *linked[40];
	int n_links;
	enum ts_set chosen[TS_G_MAX];
	uint32_t type_mask;		/* the events actually served */
};

/* Root/capabilities and kernel BTF; exit status 1 material. */
int ts_probes_preflight(const struct ts_options *o, char *err, size_t errlen);
/* Open, configure, load and attach; on error -errno and one line in err.
 * cg_ids: the ids of o->cgroups (o->n_cgroups of them). */
int ts_probes_start(struct ts_probes *p, const struct ts_options *o, const uint64_t *cg_ids,
		    char *err, size_t errlen);
/* --cgroup / --container: the cgroups that pass now, into the kernel's
 * table (after start: the mkdir hook keeps it current from then on). */
struct ts_cgfs;
int ts_probes_fill_cgroups(struct ts_probes *p, const struct ts_options *o,
			   const uint64_t *cg_ids, const struct ts_cgfs *fs, char *err,
			   size_t errlen);
/* Whether exec records flow (the exe key). */
bool ts_probes_have_proc(const struct ts_probes *p);
/* One line per event on f: which hook serves it, and what it cannot give. */
void ts_probes_describe(const struct ts_probes *p, FILE *f);
/* --list-probes: every hook of both sets, whether it loads and attaches. */
int ts_probes_list(const struct ts_options *o, FILE *out);
int ts_probes_ringbuf_fd(const struct ts_probes *p);
/* flow events: the program that walks the flow table (run it with
 * BPF_PROG_TEST_RUN), or -1 when flow events are off */
int ts_probes_flow_walk_fd(const struct ts_probes *p);
/* Sums of the per-CPU counters, TS_CNT_MAX of them. */
int ts_probes_counters(const struct ts_probes *p, uint64_t *out);
/* Runs of our programs the kernel skipped because one was already running
 * on that CPU (a softirq interrupting it): events that never were. */
uint64_t ts_probes_missed(const struct ts_probes *p);
void ts_probes_detach(struct ts_probes *p);
void ts_probes_destroy(struct ts_probes *p);

#endif
