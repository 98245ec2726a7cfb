/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process cache's feed: exec (with the new executable's path), fork
 * (a new process, running its parent's executable) and exit. User space
 * keeps pid + start time -> exe from these, so a process that execs and
 * connects within microseconds still has its exe: the exec record is in
 * the ring buffer before any event of the new image. The same tp_btf
 * programs serve both hook sets.
 * Part of tcpship.bpf.c: one object, one skeleton.
 */
#ifndef TS_BPF_PROC_H
#define TS_BPF_PROC_H

#define TS_PATH_DEPTH 32	/* components walked; deeper paths are cut */

/* struct mount is private to fs/: reach it from its vfsmount by offset */
static __always_inline struct mount *real_mount(struct vfsmount *mnt)
{
	return (struct mount *)((void *)mnt - bpf_core_field_offset(struct mount, mnt));
}

/* exec records are built here, then copied into the ring buffer: the walk
 * below keeps its write offset in this map value, where the verifier
 * cannot follow its exact value (it would verify one path per possible
 * offset and give up on 6.1) and checks the mask instead */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ts_proc);
} proc_scratch SEC(".maps");

/*
 * The path of f as the task sees it: walk the dentries up to the task's
 * root, crossing mount points, one name per component (leaf first). Cut
 * short (TS_F_PATH_TRUNC) when the names do not fit, the walk is deeper
 * than TS_PATH_DEPTH, a name cannot be read, or the global root comes
 * before the task's own (a file outside its chroot): the caller shows no
 * exe rather than a wrong one.
 */
static __always_inline void walk_path(struct ts_proc *p, struct task_struct *task,
				      struct file *f)
{
	volatile __u16 *len = &p->path_len;
	struct dentry *dentry = BPF_CORE_READ(f, f_path.dentry);
	struct vfsmount *vfs = BPF_CORE_READ(f, f_path.mnt);
	struct dentry *root = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);

	*len = 0;
	for (int i = 0; i < TS_PATH_DEPTH; i++) {
		struct dentry *parent;
		const unsigned char *name;
		__u32 off;
		long n;

		if (dentry == root && vfs == root_mnt)
			return;
		if (dentry == BPF_CORE_READ(vfs, mnt_root)) {
			struct mount *m = real_mount(vfs);
			struct mount *up = BPF_CORE_READ(m, mnt_parent);

			if (up == m)
				break;		/* the global root, not the task's */
			dentry = BPF_CORE_READ(m, mnt_mountpoint);
			vfs = (struct vfsmount *)((void *)up +
						  bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (parent == dentry)
			break;
		off = *len;
		if (off >= TS_PATH_NAMES)
			break;
		name = BPF_CORE_READ(dentry, d_name.name);
		n = bpf_probe_read_kernel_str(&p->path[off & (TS_PATH_NAMES - 1)],
					      TS_PATH_MAX - TS_PATH_NAMES, name);
		if (n <= 1)
			break;
		*len = (__u16)(off + n);
		dentry = parent;
	}
	p->h.flags |= TS_F_PATH_TRUNC;
}

static __always_inline void proc_hdr(struct ts_proc *p, __u32 size, __u32 kind,
				     struct task_struct *task)
{
	__builtin_memset(&p->h, 0, sizeof(p->h));
	p->h.ts_ns = bpf_ktime_get_boot_ns();
	p->h.size = size;
	p->h.type = TS_PROC;
	p->h.flags = TS_F_TASK;
	p->h.pid = task->tgid;
	p->h.tid = task->pid;
	p->h.ppid = task->real_parent->tgid;
	p->h.start_ns = task->group_leader->start_boottime;
	p->h.cgroup_id = bpf_get_current_cgroup_id();
	p->h.uid = (__u32)bpf_get_current_uid_gid();
	bpf_probe_read_kernel_str(p->h.comm, sizeof(p->h.comm), task->comm);
	p->kind = kind;
	p->_pad = 0;
	p->path_len = 0;
	p->parent_pid = 0;
	p->parent_start = 0;
}

/* Records of processes the filters exclude are of no use to user space. */
static __always_inline bool proc_wanted(__u32 tgid)
{
	__u64 cg;

	if (self_pid && tgid == self_pid)
		return false;
	if (!has_cg_filter)
		return true;
	cg = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&cg_pass, &cg) != NULL;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct ts_proc *p;

	if (!proc_wanted(task->tgid))
		return 0;
	p = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!p)
		return 0;
	proc_hdr(p, sizeof(*p), TS_PROC_EXEC, task);
	walk_path(p, task, bprm->file);
	if (bpf_ringbuf_output(&events, p, sizeof(*p), wake_flags()))
		count(TS_CNT_PROC_DROP);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ts_proc *p;

	if (child->tgid == parent->tgid || !proc_wanted(parent->tgid))
		return 0;	/* a thread: the process is known already */
	p = bpf_ringbuf_reserve(&events, TS_PROC_SHORT, 0);
	if (!p) {
		count(TS_CNT_PROC_DROP);
		return 0;
	}
	proc_hdr(p, TS_PROC_SHORT, TS_PROC_FORK, child);
	p->parent_pid = parent->tgid;
	p->parent_start = parent->group_leader->start_boottime;
	submit(p);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_exit, struct task_struct *task)
{
	struct ts_proc *p;

	/* the process ends with its last thread */
	if (task->signal->live.counter || !proc_wanted(task->tgid))
		return 0;
	p = bpf_ringbuf_reserve(&events, TS_PROC_SHORT, 0);
	if (!p) {
		count(TS_CNT_PROC_DROP);
		return 0;
	}
	proc_hdr(p, TS_PROC_SHORT, TS_PROC_EXIT, task);
	submit(p);
	return 0;
}

#endif
