// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/floor.bpf.c (count-only programs on tcpship's hooks), prints
 * "floor: ready" on stderr, and on SIGINT/SIGTERM the number of hook runs.
 */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	stop = 1;
}

int main(void)
{
	struct floor_bpf *skel = floor_bpf__open_and_load();
	unsigned long long total = 0;
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 k = 0;

	if (!skel || floor_bpf__attach(skel)) {
		fprintf(stderr, "floor: cannot load or attach\n");
		return 1;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	fprintf(stderr, "floor: ready\n");
	while (!stop)
		pause();
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (vals && !bpf_map__lookup_elem(skel->maps.hits, &k, sizeof(k), vals,
					  sizeof(*vals) * (size_t)ncpu, 0))
		for (int c = 0; c < ncpu; c++)
			total += vals[c];
	fprintf(stderr, "floor: exit: runs=%llu\n", total);
	free(vals);
	floor_bpf__destroy(skel);
	return 0;
}
