/* pins.c: opening the pinned xdp-canary maps under a pin root, with the checks that
 * keep one build from misreading another build's maps. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "maps/pins.h"
#include "base/safedir.h"
#include "base/util.h"

#define CANARY__VALUE_SIZE_PLAIN(type) sizeof(type)
#define CANARY__VALUE_SIZE_OUTER(type) 0
#define CANARY__MAP_DESC(map, kind, type, text)                                                    \
	[CANARY_MAP_ID_##map] = {.name = #map,                                                     \
				 .value_size = CANARY__VALUE_SIZE_##kind(type),                    \
				 .offset = offsetof(struct canary_maps, map),                      \
				 .about = text},
const struct canary_map_desc canary_map_descs[CANARY_MAP_COUNT] = {CANARY_MAPS(CANARY__MAP_DESC)};
#undef CANARY__MAP_DESC
const unsigned int canary_map_count = ARRAY_SIZE(canary_map_descs);

bool canary_map_late(const char *name)
{
	return !strcmp(name, CANARY_MAP_NAME(client_hll));
}

int bpffs_ensure(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	/* mode=0700, as systemd mounts it: only root creates pin roots here. */
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		int err = -errno;

		log_error("cannot mount bpffs on /sys/fs/bpf: %s; mount it with "
			  "'mount -t bpf bpf /sys/fs/bpf'",
			  strerror(errno));
		return err;
	}
	return 0;
}

int canary_pins_exist(const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, CANARY_MAP_NAME(meta));
	return access(path, F_OK) == 0;
}

void canary_maps_close(struct canary_maps *m)
{
	unsigned int i;

	for (i = 0; i < canary_map_count; i++) {
		int *fd = canary_map_fd(m, &canary_map_descs[i]);

		if (*fd > 0)
			close(*fd);
		*fd = -1;
	}
}

void canary_maps_from_obj(struct canary_maps *m, struct bpf_object *obj)
{
	struct bpf_map *map;
	unsigned int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < canary_map_count; i++)
		*canary_map_fd(m, &canary_map_descs[i]) = -1;
	bpf_object__for_each_map(map, obj)
	{
		for (i = 0; i < canary_map_count; i++)
			if (!strcmp(bpf_map__name(map), canary_map_descs[i].name))
				*canary_map_fd(m, &canary_map_descs[i]) = bpf_map__fd(map);
	}
}

int canary_meta_read(struct canary_maps *m, struct canary_meta *meta)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->meta, &zero, meta))
		return -errno;
	return 0;
}

int canary_inner_fd(int outer_fd, const void *key)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(outer_fd, key, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	return fd;
}

int canary_inner_lookup(int outer_fd, const void *okey, const void *ikey, void *out)
{
	int fd = canary_inner_fd(outer_fd, okey), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, ikey, out))
		err = -errno;
	close(fd);
	return err;
}

int canary_map_foreach(int fd, size_t key_size, size_t val_size, unsigned int chunk,
		       canary_entry_fn fn, void *ctx)
{
	char *keys = calloc(chunk, key_size), *vals = calloc(chunk, val_size);
	__u32 batch = 0, count, i;
	bool first = true;
	int err = keys && vals ? 0 : -ENOMEM, rc;

	while (!err) {
		count = chunk;
		rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count,
					  NULL);
		if (rc && errno != ENOENT) {
			err = -errno;
			break;
		}
		first = false;
		for (i = 0; i < count && !err; i++)
			if (fn(keys + i * key_size, vals + i * val_size, ctx))
				err = 1;
		if (rc)
			break; /* ENOENT: that was the last batch */
	}
	free(keys);
	free(vals);
	return err;
}

int canary_maps_open(struct canary_maps *m, const char *root)
{
	struct canary_meta meta;
	unsigned int i;
	int err;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < canary_map_count; i++)
		*canary_map_fd(m, &canary_map_descs[i]) = -1;
	snprintf(m->root, sizeof(m->root), "%s", root);

	if (bpffs_ensure())
		return -ENOENT;
	if (!canary_pins_exist(root)) {
		log_error("no xdp-canary maps are pinned under %s; attach the data plane first "
			  "with 'canary-loader attach --dev IFACE' (or pass the right --pin-root)",
			  root);
		return -ENOENT;
	}
	/* Pins in a directory someone else could write may be someone else's. */
	err = canary_pin_root_check(root, false);
	if (err)
		return err;

	for (i = 0; i < canary_map_count; i++) {
		const struct canary_map_desc *d = &canary_map_descs[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[PATH_MAX];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", root, d->name);
		fd = bpf_obj_get(path);
		if (fd < 0 && errno == ENOENT && canary_map_late(d->name))
			continue;
		if (fd < 0) {
			err = -errno;
			log_error("cannot open pinned map %s: %s; the pins under %s are incomplete, "
				  "re-attach with 'canary-loader attach'",
				  path, strerror(errno), root);
			goto fail;
		}
		*canary_map_fd(m, d) = fd;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			err = -errno;
			log_error("cannot inspect pinned map %s: %s", path, strerror(errno));
			goto fail;
		}
		if (d->value_size && info.value_size != d->value_size) {
			log_error("pinned map %s has %u-byte values but this build expects %u: the "
				  "pins come from an incompatible build; run 'canary-loader detach "
				  "--all --purge' and attach again",
				  path, info.value_size, d->value_size);
			err = -EPROTO;
			goto fail;
		}
	}

	err = canary_meta_read(m, &meta);
	if (err) {
		log_error("cannot read %s/%s: %s", root, CANARY_MAP_NAME(meta), strerror(-err));
		goto fail;
	}
	if (meta.abi_version != CANARY_ABI_VERSION) {
		log_error("the pins under %s come from an incompatible build (ABI %u, this build "
			  "%u); run 'canary-loader detach --all --purge' and attach again",
			  root, meta.abi_version, CANARY_ABI_VERSION);
		err = -EPROTO;
		goto fail;
	}
	return 0;

fail:
	canary_maps_close(m);
	return err;
}

int canary_pin_root_check(const char *root, bool create)
{
	char why[512];
	int err = safedir_ensure(root, create, 0700, why, sizeof(why));

	if (err)
		log_error("pin root: %s", why);
	return err;
}

int canary_lock(const char *root, int timeout_ms)
{
	char holder[128];
	int fd;

	if (!root[0])
		return CANARY_LOCK_NONE; /* maps of a loaded object: nobody else has them */
	fd = dirlock_take(root, timeout_ms, holder, sizeof(holder));

	if (fd == -EWOULDBLOCK)
		log_error("the writers' lock of %s is held by %s%s; try again when it is done",
			  root, holder, timeout_ms ? " for longer than the wait allows" : "");
	else if (fd < 0)
		log_error("cannot take the writers' lock of %s: %s", root, strerror(-fd));
	return fd;
}

void canary_unlock(int fd)
{
	if (fd != CANARY_LOCK_NONE)
		dirlock_release(fd);
}

uint64_t map_memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

int canary_ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

static int lib_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!canary_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (!canary_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void canary_quiet_libs(void)
{
	libbpf_set_print(lib_print);
	libxdp_set_print(xdp_print);
}
