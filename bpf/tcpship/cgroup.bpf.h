/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --cgroup / --container in the kernel: cg_pass holds the ids of the cgroup
 * v2 directories whose tasks pass. User space fills it at start from a walk
 * of the cgroup2 mount (after this hook is attached, so no new cgroup falls
 * between the two); these hooks keep it current as cgroups come and go. A
 * new cgroup passes when its parent does (a descendant of a --cgroup, or a
 * container's own sub-cgroups) or when its name is one of the --container
 * ids in a runtime's shape. Only the unified hierarchy counts: that is the
 * one bpf_get_current_cgroup_id() answers from.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_CGROUP_H
#define TS_BPF_CGROUP_H

static __always_inline bool has_prefix(const char *s, const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != p[i])
			return false;
	return true;
}

static __always_inline bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "<id>", "docker-<id>.scope", "cri-containerd-<id>.scope",
 * "crio-<id>.scope", "libpod-<id>.scope" (each prefix also without
 * ".scope": the cgroupfs driver's form): is <id> a --container? */
static __always_inline bool name_is_container(const char *kname)
{
	char head[16] = {}, id[TS_CONTAINER_ID_LEN + 8] = {};
	int start = 0;

	if (bpf_probe_read_kernel_str(head, sizeof(head), kname) < 0)
		return false;
	if (has_prefix(head, "docker-", 7) || has_prefix(head, "libpod-", 7))
		start = 7;
	else if (has_prefix(head, "cri-containerd-", 15))
		start = 15;
	else if (has_prefix(head, "crio-", 5))
		start = 5;
	if (bpf_probe_read_kernel_str(id, sizeof(id), kname + start) < 0)
		return false;
	for (int i = 0; i < TS_CONTAINER_ID_LEN; i++)
		if (!is_hex(id[i]))
			return false;
	/* "crio-<id>" with no ".scope": CRI-O under the cgroupfs driver */
	if (id[TS_CONTAINER_ID_LEN] != 0 &&
	    !(start && has_prefix(id + TS_CONTAINER_ID_LEN, ".scope", 7)))
		return false;
	for (int k = 0; k < TS_MAX_CONTAINERS; k++) {
		bool hit = true;

		if (k >= n_containers)
			break;
		for (int i = 0; i < TS_CONTAINER_ID_LEN; i++) {
			if (i >= container_len[k])
				break;
			if (id[i] != containers[k][i])
				hit = false;
		}
		if (hit)
			return true;
	}
	return false;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(tp_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cgroup_subsys_state *parent;
	__u64 id, pid;
	__u8 one = 1;

	if (cgrp->root->hierarchy_id != 0)
		return 0;	/* a v1 hierarchy */
	id = cgrp->kn->id;
	parent = cgrp->self.parent;
	pid = parent ? parent->cgroup->kn->id : 0;
	if (!(pid && bpf_map_lookup_elem(&cg_pass, &pid)) && !name_is_container(cgrp->kn->name))
		return 0;
	if (bpf_map_update_elem(&cg_pass, &id, &one, BPF_ANY))
		count(TS_CNT_CGROUP_FULL);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(tp_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id;

	if (cgrp->root->hierarchy_id != 0)
		return 0;
	id = cgrp->kn->id;
	bpf_map_delete_elem(&cg_pass, &id);
	return 0;
}

#endif
