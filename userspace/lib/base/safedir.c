/* safedir.c: directories that only root may change, and bounded locks on them (see
 * safedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/safedir.h"

/* The parent must not let others swap path for their own directory: root's, and
 * either writable by root alone or sticky (as /sys/fs/bpf at 1777 and /run are). */
static int parent_check(const char *path, char *why, size_t len)
{
	char parent[4096], *slash;
	struct stat st;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = 0;
	else
		*slash = 0;
	if (stat(parent, &st)) {
		int err = -errno;

		snprintf(why, len, "cannot use %s: %s", parent, strerror(errno));
		return err;
	}
	if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		snprintf(why, len, "%s lies in %s, which others can change (owner uid %u, mode "
				   "%04o); use a directory under one that only root can change",
			 path, parent, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int safedir_ensure(const char *path, bool create, mode_t mode, char *why, size_t len)
{
	struct stat st;
	int err = parent_check(path, why, len);

	if (err)
		return err;
	if (lstat(path, &st)) {
		if (errno != ENOENT || !create) {
			err = -errno;
			snprintf(why, len, "cannot use %s: %s", path, strerror(errno));
			return err;
		}
		/* mkdir never follows a symlink planted at path: it fails with EEXIST. */
		if (mkdir(path, mode) && errno != EEXIST) {
			err = -errno;
			snprintf(why, len, "cannot create %s: %s", path, strerror(errno));
			return err;
		}
		if (lstat(path, &st)) {
			err = -errno;
			snprintf(why, len, "cannot use %s: %s", path, strerror(errno));
			return err;
		}
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, len, "%s is a symbolic link; refusing to follow it (remove it, and "
				   "let root create the directory)",
			 path);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != 0) {
		snprintf(why, len, "%s is owned by uid %u, not root: someone else created it, and "
				   "could plant files in it; remove it and let root create it",
			 path, (unsigned int)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "%s can be written by others (mode %04o); make it root's alone "
				   "(chmod 0700 %s)",
			 path, (unsigned int)(st.st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

void dirlock_holder(int fd, char *buf, size_t len)
{
	char line[256], comm[64] = "", path[64];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	FILE *f;
	int pid = 0;

	snprintf(buf, len, "another process");
	if (fstat(fd, &st))
		return;
	f = fopen("/proc/locks", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int p;

		/* "1: FLOCK  ADVISORY  WRITE 10087 00:27:257597 0 EOF" */
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &p, &maj, &min, &ino) == 4 &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) && ino == st.st_ino &&
		    p != getpid()) {
			pid = p;
			break;
		}
	}
	fclose(f);
	if (!pid)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(buf, len, "pid %d (%s)", pid, comm[0] ? comm : "?");
}

int dirlock_take(const char *path, int timeout_ms, char *holder, size_t len)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	int fd, waited = 0;

	if (holder && len)
		holder[0] = 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (waited >= timeout_ms)
			break;
		nanosleep(&pause, NULL);
		waited += 20;
	}
	if (holder && len)
		dirlock_holder(fd, holder, len);
	close(fd);
	return -EWOULDBLOCK;
}

void dirlock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
