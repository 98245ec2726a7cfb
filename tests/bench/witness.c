// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/witness.bpf.c, prints "witness: ready" on stderr, and on
 * SIGINT/SIGTERM what the kernel showed to BPF: state changes, sockets
 * destroyed, sockets destroyed without a CLOSE seen, its programs'
 * recursion misses, and one line per socket that no program saw close or
 * be destroyed ("witness: unseen ...").
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "witness.skel.h"

#define WITNESS_STATES 8
#define MAX_LISTED 1000

struct witness_log {	/* bpf/witness.bpf.c */
	__u64 first_ns;
	__u16 sport, dport;
	__u8 n;
	__u8 closed;
	__u8 states[WITNESS_STATES];
	__u8 _pad[2];
};

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	stop = 1;
}

static unsigned long long misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? 0
		: info.recursion_misses;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(void)
{
	struct witness_bpf *skel = witness_bpf__open_and_load();
	int ncpu = libbpf_num_possible_cpus(), listed = 0, fd;
	unsigned long long cnt[4] = {}, left = 0;
	__u64 *vals, key, next, *prev = NULL;
	struct witness_log l;

	if (!skel || witness_bpf__attach(skel)) {
		fprintf(stderr, "witness: cannot load or attach\n");
		return 1;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	fprintf(stderr, "witness: ready\n");
	while (!stop)
		pause();
	witness_bpf__detach(skel);
	vals = calloc((size_t)ncpu, sizeof(*vals));
	for (__u32 i = 0; vals && i < 4; i++)
		if (!bpf_map__lookup_elem(skel->maps.wcount, &i, sizeof(i), vals,
					  sizeof(*vals) * (size_t)ncpu, 0))
			for (int c = 0; c < ncpu; c++)
				cnt[i] += vals[c];
	free(vals);
	fd = bpf_map__fd(skel->maps.logs);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &l) || l.closed)
			continue;
		left++;
		if (listed++ >= MAX_LISTED)
			continue;
		fprintf(stderr, "witness: unseen sport=%u dport=%u age_ms=%llu states=",
			l.sport, l.dport, (now_ns() - l.first_ns) / 1000000);
		for (int i = 0; i < l.n && i < WITNESS_STATES; i++)
			fprintf(stderr, "%s%u", i ? "," : "", l.states[i]);
		fputc('\n', stderr);
	}
	fprintf(stderr, "witness: exit: changes=%llu destroyed=%llu destroyed_without_close=%llu "
		"log_full=%llu never_closed=%llu state_misses=%llu destroy_misses=%llu\n",
		cnt[0], cnt[1], cnt[2], cnt[3], left, misses(skel->progs.witness_state),
		misses(skel->progs.witness_destroy));
	witness_bpf__destroy(skel);
	return 0;
}
