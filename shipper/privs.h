/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --user: once the hooks are attached and every output and the metrics
 * socket are open, tcpship runs as that user and group, with no
 * supplementary groups, no capability in any set (libcap-ng) and
 * no_new_privs. What it does later needs none: the ring buffer and maps
 * are open fds, reconnects open sockets, SIGHUP reopens files in folders
 * the user can write.
 */
#ifndef TS_PRIVS_H
#define TS_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* The user's uid and primary group (a name from the passwd database, or
 * a number): 0, or -EINVAL and one line in err. */
int ts_privs_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* no_new_privs for this thread and every one started after: call it before
 * any thread starts. 0 or -errno. */
int ts_privs_no_new_privs(void);
/* Become uid:gid for every thread, groups cleared, every capability
 * dropped (bounding set too), and check that it took. Already that user
 * (a service started with ambient capabilities): drop the capabilities;
 * then this must be the only thread. 0, or -errno and one line in err. */
int ts_privs_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
