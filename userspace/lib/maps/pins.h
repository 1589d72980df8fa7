/* pins.h: opening the pinned xdp-canary maps under a pin root, with the checks that
 * keep one build from misreading another build's maps. */
#ifndef CANARY_PINS_H
#define CANARY_PINS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xdp_canary.h"

/* The maps' fds, one field per map of CANARY_MAPS (xdp_canary.h), named as the map. */
struct canary_maps {
	char root[PATH_MAX];
#define CANARY__MAP_FD(name, kind, value, about) int name;
	CANARY_MAPS(CANARY__MAP_FD)
#undef CANARY__MAP_FD
};

/* Name, expected value size and place in struct canary_maps of every pinned map, made
 * from CANARY_MAPS and indexed by CANARY_MAP_ID_<name>. */
struct canary_map_desc {
	const char *name;    /* the map's name, also its pin file name */
	uint32_t value_size; /* 0 = not checked (map-in-map values are ids) */
	size_t offset;
	const char *about; /* one line: what it holds */
};
extern const struct canary_map_desc canary_map_descs[CANARY_MAP_COUNT];
extern const unsigned int canary_map_count;

/* The pin file name of a map of CANARY_MAPS: CANARY_MAP_NAME(meta) is "meta". */
#define CANARY_MAP_NAME(map) (canary_map_descs[CANARY_MAP_ID_##map].name)

static inline int *canary_map_fd(struct canary_maps *m, const struct canary_map_desc *d)
{
	return (int *)((char *)m + d->offset);
}

/* Whether a map came to this ABI after its first release (client_hll): pins made by an
 * earlier build of the same ABI lack it. canary_maps_open leaves its fd at -1, its
 * readers treat that as "not counted yet", and the next attach creates it (libbpf pins a
 * map it finds no pin for); it starts empty, so nothing needs migrating. */
bool canary_map_late(const char *name);

/* Mount bpffs on /sys/fs/bpf if it is not mounted. Returns 0 or -errno. */
int bpffs_ensure(void);

/* Open every map pinned under root and check the ABI. On failure prints one
 * sentence with a hint and returns -errno; nothing is left open. */
int canary_maps_open(struct canary_maps *m, const char *root);
void canary_maps_close(struct canary_maps *m);

/* Whether root holds xdp-canary pins at all (the meta map). */
int canary_pins_exist(const char *root);

/* The maps of a loaded object (not pinned), by name: for tests and benchmarks. */
struct bpf_object;
void canary_maps_from_obj(struct canary_maps *m, struct bpf_object *obj);

/* Read the meta entry. */
int canary_meta_read(struct canary_maps *m, struct canary_meta *meta);

/* The inner map that entry `key` of a map-in-map (svc_configs, backend_index) names: a
 * new fd the caller closes, or -errno (-ENOENT: no inner map there; -ESTALE: the map it
 * named is gone, as when a writer swapped it in between). */
int canary_inner_fd(int outer_fd, const void *key);
/* Look `ikey` up in the inner map that outer_fd[okey] names: 0 or -errno. */
int canary_inner_lookup(int outer_fd, const void *okey, const void *ikey, void *out);

/* Every entry of a map, read `chunk` at a time with bpf_map_lookup_batch. fn returns
 * nonzero to stop the walk. 0 when all were visited, 1 when fn stopped it, or -errno. */
typedef int (*canary_entry_fn)(const void *key, const void *val, void *ctx);
int canary_map_foreach(int fd, size_t key_size, size_t val_size, unsigned int chunk,
		       canary_entry_fn fn, void *ctx);

/* Kernel memory charged to a map (fdinfo "memlock"), in bytes; 0 if unknown. */
uint64_t map_memlock(int fd);

/* Check the pin root is root's alone (not a symlink, owned by root, writable by
 * nobody else, in a parent others cannot change); with create, make it 0700 first.
 * Prints why and returns -errno when it is not. */
int canary_pin_root_check(const char *root, bool create);

/* The writers' lock of a pin root: an flock on the pin-root directory itself, which
 * only root can open. Every read-modify-publish of service state (apply, set-weight,
 * overrides, canaryd's steps, the sweeper) holds it, so one writer never publishes a
 * config built from state another writer has since changed. Waits at most timeout_ms
 * (0: one try); returns an fd, or -errno after printing why (-EWOULDBLOCK names the
 * holder); maps that are not pinned (root "") need no lock. canaryd's rollbacks never wait for it: they rely on the compare-and-swap
 * of svc_config_publish instead. */
#define CANARY_LOCK_WAIT_MS 10000
#define CANARY_LOCK_NONE    (1 << 30) /* maps not pinned (tests): nothing to lock */
int canary_lock(const char *root, int timeout_ms);
void canary_unlock(int fd);

/* Number of possible CPUs, for per-CPU map values. */
int canary_ncpus(void);

/* Route libbpf/libxdp output through log_debug (shown with -v only). */
void canary_quiet_libs(void);

#endif
