// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --user: the privilege drop after start (privs.h). */
#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privs.h"
#include "util.h"

int ts_privs_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;
	uint64_t n;

	if (!user || !*user)
		return ts_errf(err, errlen, "user: empty");
	errno = 0;
	pw = ts_parse_u64(user, 0, 4294967294ULL, &n) ? getpwnam(user) : getpwuid((uid_t)n);
	if (!pw)
		return ts_errf(err, errlen, "user '%s': no such user%s%s", user,
			       errno ? ": " : "", errno ? strerror(errno) : "");
	if (!pw->pw_uid)
		return ts_errf(err, errlen, "user '%s' is root: name the user to run as after "
			       "start", user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int ts_privs_no_new_privs(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

/* Threads of this process: the drop below reaches only the calling one. */
static int n_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Started as the user already (systemd's User= with AmbientCapabilities=):
 * no id to change, so nothing broadcasts the drop to other threads, and
 * none may exist yet. The bounding set goes too where CAP_SETPCAP allows;
 * otherwise it is the unit's, and no_new_privs keeps exec from using it. */
static int drop_caps_only(const char *user, gid_t gid, char *err, size_t errlen)
{
	int n = n_threads();

	if (n != 1)
		return ts_err(err, errlen, -EPERM, "user '%s': %d threads already run, and a "
			      "capability drop reaches only one", user, n);
	if (getgid() != gid || getegid() != gid)
		return ts_err(err, errlen, -EPERM, "user '%s': running as it, but with group %u "
			      "instead of its group %u", user, getgid(), gid);
	capng_get_caps_process();
	bool bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(bounds ? CAPNG_SELECT_ALL : CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT))
		return ts_err(err, errlen, -EPERM, "user '%s': libcap-ng could not drop the "
			      "capabilities", user);
	return 0;
}

int ts_privs_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int rc;

	if (getuid() == uid && geteuid() == uid) {
		rc = drop_caps_only(user, gid, err, errlen);
		if (rc)
			return rc;
	} else {
		capng_clear(CAPNG_SELECT_BOTH);
		/* setresgid/setresuid through glibc reach every thread; a uid
		 * that is no longer 0 anywhere clears each thread's permitted
		 * and effective capabilities, and libcap-ng applies the empty
		 * set on this one */
		rc = capng_change_id((int)uid, (int)gid,
				     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
		if (rc)
			return ts_err(err, errlen, -EPERM, "cannot become user '%s' (%u:%u): "
				      "libcap-ng capng_change_id failed (%d)", user, uid, gid, rc);
		if (getgroups(0, NULL) != 0)
			return ts_err(err, errlen, -EPERM, "user '%s': groups are left", user);
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return ts_err(err, errlen, -EPERM, "user '%s': the ids did not change", user);
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    capng_have_capabilities(CAPNG_SELECT_AMBIENT) != CAPNG_NONE)
		return ts_err(err, errlen, -EPERM, "user '%s': capabilities are left", user);
	return 0;
}
