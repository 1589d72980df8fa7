/* safedir.h: directories that only root may change, and locks taken on them. The pin
 * root and canaryd's state directory must be root's: whoever can write into them can
 * plant pins or state, and whoever can open a lock file can freeze the writers. So the
 * locks are flocks on those directories themselves (bpffs holds no regular files), and
 * every wait for one is bounded. */
#ifndef CANARY_SAFEDIR_H
#define CANARY_SAFEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Check that path is a directory that only root can change: not a symlink, owned by
 * root, writable by nobody else. With create, a missing directory is made with mode
 * (0700 by the callers) first; its parent must exist. Returns 0, or -errno with a
 * sentence in why ("... is owned by uid 65534, not root: ..."). */
int safedir_ensure(const char *path, bool create, mode_t mode, char *why, size_t len);

/* Take an exclusive flock on the directory path (opened O_DIRECTORY|O_NOFOLLOW),
 * waiting at most timeout_ms (0: one try). Returns the fd to pass to dirlock_release,
 * -EWOULDBLOCK when another process kept it for the whole wait (holder then names it,
 * "pid 123 (canaryctl)"), or -errno. */
int dirlock_take(const char *path, int timeout_ms, char *holder, size_t len);
void dirlock_release(int fd);

/* Describe the process holding a flock on the file that fd refers to, from /proc/locks:
 * "pid 123 (canaryd)", or "another process" when it cannot be told. */
void dirlock_holder(int fd, char *buf, size_t len);

#endif
