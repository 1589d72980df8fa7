/* canary-loader: attach the xdp-canary data plane to interfaces through libxdp, pin its
 * maps under the pin root, detach it, and report what is attached and what it costs. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <xdp/libxdp.h>

#include "xdp_canary.h"
#include "base/util.h"
#include "cli/cli.h"
#include "maps/migrate.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "xdp_canary.skel.h"

#define MAX_DEVS 32
#define PROG_NAME CANARY_STR(CANARY_PROG_NAME)

static const char *pin_root = CANARY_DEFAULT_PIN_ROOT;

static int need_root(void)
{
	if (geteuid() == 0)
		return 0;
	log_error("%s %s needs root (CAP_BPF, CAP_NET_ADMIN); run it with sudo",
		  cli_current->prog, cli_current->cmd);
	return 1;
}

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "skb";
	case XDP_MODE_HW:
		return "hw";
	default:
		return "none";
	}
}

/* Our program on an interface, if any: returns its id and fills mode/dispatcher. */
static __u32 find_ours(int ifindex, enum xdp_attach_mode *mode, bool *dispatcher,
		       struct xdp_program **prog_out, struct xdp_multiprog **mp_out)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;
	__u32 id;

	if (mp_out)
		*mp_out = NULL;
	if (!mp || libxdp_get_error(mp))
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && strcmp(xdp_program__name(p), PROG_NAME))
			p = NULL;
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (!strcmp(xdp_program__name(p), PROG_NAME))
				break;
	}
	if (!p) {
		xdp_multiprog__close(mp);
		return 0;
	}
	if (mode)
		*mode = xdp_multiprog__attach_mode(mp);
	if (dispatcher)
		*dispatcher = !xdp_multiprog__is_legacy(mp);
	if (prog_out)
		*prog_out = p;
	/* p belongs to mp: take its id before mp (and p with it) may be freed. */
	id = xdp_program__id(p);
	if (mp_out)
		*mp_out = mp;
	else
		xdp_multiprog__close(mp);
	return id;
}

/* Whether the interface already has some XDP program that is not ours. */
static bool has_foreign_prog(int ifindex, char *name, size_t len)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool foreign = false;

	if (!mp || libxdp_get_error(mp))
		return false;
	p = xdp_multiprog__main_prog(mp);
	if (xdp_multiprog__is_legacy(mp) && p && strcmp(xdp_program__name(p), PROG_NAME)) {
		snprintf(name, len, "%s", xdp_program__name(p));
		foreign = true;
	}
	xdp_multiprog__close(mp);
	return foreign;
}

static int read_sysctl(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return atoi(buf);
}

/* ---- attach ------------------------------------------------------------------------------ */

/* The settings an attach may give, kept in meta: option, range, field. */
static const struct meta_opt {
	const char *opt;
	unsigned int min, max;
	size_t offset;
} meta_opts[] = {
	{"--flows", 1024, 1u << 28, offsetof(struct canary_meta, flow_capacity)},
	{"--syn-timeout", 1, 86400, offsetof(struct canary_meta, syn_timeout_s)},
	{"--tcp-idle", 1, 864000, offsetof(struct canary_meta, tcp_idle_s)},
	{"--tcp-closing", 1, 86400, offsetof(struct canary_meta, tcp_closing_s)},
	{"--udp-idle", 1, 86400, offsetof(struct canary_meta, udp_idle_s)},
	{"--pending", 1024, 1u << 26, offsetof(struct canary_meta, pending_capacity)},
};

static __u32 *meta_field(struct canary_meta *meta, const struct meta_opt *mo)
{
	return (__u32 *)((char *)meta + mo->offset);
}

struct attach_opts {
	const char *devs[MAX_DEVS];
	int ndevs;
	enum xdp_attach_mode mode;
	struct canary_meta meta;
	bool meta_given[ARRAY_SIZE(meta_opts)];
};

/* Pins already there: their settings win; an explicit different one is an error. */
static int reconcile_meta(struct attach_opts *o)
{
	struct canary_maps m;
	struct canary_meta cur;
	unsigned int i;
	int err;

	if (!canary_pins_exist(pin_root))
		return 0;
	err = canary_maps_open(&m, pin_root);
	if (err)
		return err;
	err = canary_meta_read(&m, &cur);
	canary_maps_close(&m);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(meta_opts); i++) {
		__u32 want = *meta_field(&o->meta, &meta_opts[i]);
		__u32 have = *meta_field(&cur, &meta_opts[i]);

		if (o->meta_given[i] && want != have) {
			log_error("the maps under %s were created with %s %u; detach everything "
				  "and run 'canary-loader detach --all --purge' to change it, or use "
				  "another --pin-root",
				  pin_root, meta_opts[i].opt, have);
			return -EINVAL;
		}
		*meta_field(&o->meta, &meta_opts[i]) = have;
	}
	return 0;
}

/* Open a fresh copy of the program with the settings and every map pinned under root. */
static struct xdp_canary_bpf *open_prog(const struct canary_meta *meta, const char *root)
{
	struct xdp_canary_bpf *skel = xdp_canary_bpf__open();
	unsigned int i;

	if (!skel) {
		log_error("cannot open the embedded BPF object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->syn_timeout_ns = meta->syn_timeout_s * 1000000000ull;
	skel->rodata->tcp_idle_ns = meta->tcp_idle_s * 1000000000ull;
	skel->rodata->tcp_closing_ns = meta->tcp_closing_s * 1000000000ull;
	skel->rodata->udp_idle_ns = meta->udp_idle_s * 1000000000ull;
	bpf_map__set_max_entries(skel->maps.flows, meta->flow_capacity);
	bpf_map__set_max_entries(skel->maps.pending, meta->pending_capacity);
	for (i = 0; i < canary_map_count; i++) {
		struct bpf_map *map =
			bpf_object__find_map_by_name(skel->obj, canary_map_descs[i].name);
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", root, canary_map_descs[i].name);
		if (map)
			bpf_map__set_pin_path(map, path);
	}
	return skel;
}

/* Attach to one interface; write_meta records the settings in freshly made pins. */
static int attach_one(const char *dev, int ifindex, struct attach_opts *o, bool write_meta)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts);
	struct xdp_canary_bpf *skel;
	struct xdp_program *prog;
	char errbuf[256];
	int err;

	skel = open_prog(&o->meta, pin_root);
	if (!skel)
		return -EINVAL;
	xopts.obj = skel->obj;
	xopts.prog_name = PROG_NAME;
	prog = xdp_program__create(&xopts);
	err = libxdp_get_error(prog);
	if (err) {
		libxdp_strerror(err, errbuf, sizeof(errbuf));
		log_error("cannot prepare the XDP program: %s", errbuf);
		xdp_canary_bpf__destroy(skel);
		return err;
	}
	err = xdp_program__attach(prog, ifindex, o->mode, 0);
	if (err) {
		libxdp_strerror(err, errbuf, sizeof(errbuf));
		if (err == -EOPNOTSUPP && o->mode == XDP_MODE_NATIVE)
			log_error("%s does not support native XDP; try --mode skb", dev);
		else if (err == -EEXIST || err == -EBUSY)
			log_error("%s already has an XDP program and the multi-program dispatcher "
				  "is not available here; detach that program first (see "
				  "'xdp-loader status')",
				  dev);
		else if (err == -EINVAL && strstr(errbuf, "reuse"))
			log_error("the maps under %s do not match this build; run 'canary-loader "
				  "detach --all --purge' and attach again",
				  pin_root);
		else
			log_error("cannot attach to %s: %s (run with -v for the loader's log)", dev,
				  errbuf);
		xdp_program__close(prog);
		xdp_canary_bpf__destroy(skel);
		return err;
	}
	if (write_meta) {
		__u32 zero = 0;

		o->meta.abi_version = CANARY_ABI_VERSION;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &o->meta, BPF_ANY))
			log_warn("cannot record settings in %s/meta: %s", pin_root,
				 strerror(errno));
	}
	printf("attached %s (id %u, %s mode) to %s\n", PROG_NAME, xdp_program__id(prog),
	       mode_name(o->mode), dev);
	/* The kernel keeps the program and the pinned maps alive; our handles can go. */
	xdp_program__close(prog);
	xdp_canary_bpf__destroy(skel);
	return 0;
}

static int detach_dev(const char *dev, int ifindex, bool quiet)
{
	struct xdp_multiprog *mp = NULL;
	struct xdp_program *prog = NULL;
	enum xdp_attach_mode mode;
	bool dispatcher;
	__u32 id;
	int err;

	id = find_ours(ifindex, &mode, &dispatcher, &prog, &mp);
	if (!id) {
		if (!quiet)
			log_error("xdp-canary is not attached to %s", dev);
		return -ENOENT;
	}
	if (dispatcher)
		err = xdp_program__detach(prog, ifindex, mode, 0);
	else
		err = xdp_multiprog__detach(mp);
	xdp_multiprog__close(mp);
	if (err) {
		char errbuf[256];

		libxdp_strerror(err, errbuf, sizeof(errbuf));
		log_error("cannot detach from %s: %s", dev, errbuf);
		return err;
	}
	printf("detached %s (id %u) from %s\n", PROG_NAME, id, dev);
	return 0;
}

/* Remove the map pins under the pin root and the pin root itself. quiet (undoing a
 * failed attach): no success line, and a pin root that holds other files stays
 * without complaint. Returns 0, or 1 after printing what could not be removed. */
static int purge_pins(bool quiet)
{
	char path[PATH_MAX];
	unsigned int i;
	int failed = 0;

	for (i = 0; i < canary_map_count; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_root, canary_map_descs[i].name);
		if (unlink(path) && errno != ENOENT) {
			log_error("cannot remove %s: %s", path, strerror(errno));
			failed = 1;
		}
	}
	if (rmdir(pin_root) && errno != ENOENT && !(quiet && errno == ENOTEMPTY)) {
		log_error("cannot remove %s: %s (it holds files that are not ours)", pin_root,
			  strerror(errno));
		failed = 1;
	}
	if (!failed && !quiet)
		printf("removed the pins under %s\n", pin_root);
	return failed;
}

/* ---- upgrade: pins of the ABI before this one -------------------------------------------- */

/* Replace the program on an interface in one step: the kernel swaps old for new
 * (XDP_FLAGS_REPLACE) when our program runs alone; under libxdp's dispatcher, the new
 * one is added and the old one removed. Returns 0 or -errno. */
static int swap_prog(int ifindex, struct xdp_program *newp, int new_fd, const char *dev)
{
	struct xdp_multiprog *mp = NULL;
	struct xdp_program *oldp = NULL;
	enum xdp_attach_mode mode;
	bool dispatcher;
	int err;

	if (!find_ours(ifindex, &mode, &dispatcher, &oldp, &mp))
		return -ENOENT;
	if (!dispatcher) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = xdp_program__fd(oldp));
		__u32 flags = XDP_FLAGS_REPLACE |
			      (mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		/* new_fd must be the loaded program: -1 here would detach. */
		err = new_fd < 0 ? -EBADF : bpf_xdp_attach(ifindex, new_fd, flags, &ao) ? -errno : 0;
	} else {
		err = xdp_program__attach(newp, ifindex, mode, 0);
		if (!err)
			err = xdp_program__detach(oldp, ifindex, mode, 0);
	}
	xdp_multiprog__close(mp);
	if (err)
		log_error("cannot replace the program on %s: %s", dev, strerror(-err));
	return err;
}

/* The old pins are of ABI CANARY_MIGRATE_FROM: build this ABI's maps beside them, copy
 * the configuration and the flows, swap the programs on every interface, copy the
 * flows the old program made meanwhile and the counters, and only then put the new
 * maps where the old pins were. Every established connection keeps its entry (and a
 * flow the old program placed after the copy is decided again the same way: the
 * configs, salts and rings are the same). */
static int upgrade(struct attach_opts *o, const int *ifindex)
{
	struct canary_maps old, new;
	struct migrate_result res = {};
	struct xdp_canary_bpf *skel = NULL;
	struct xdp_program *prog = NULL;
	struct if_nameindex *ifs, *it;
	char tmp_root[PATH_MAX - 64];
	unsigned int i, swapped = 0;
	int err, k;

	if (migrate_open_old(pin_root, &old))
		return 1;
	/* The old settings, unless the command asks for others. */
	{
		__u32 zero = 0;
		__u8 buf[256] = {};
		struct canary_meta cur = {};

		bpf_map_lookup_elem(old.meta, &zero, buf);
		memcpy(&cur, buf, offsetof(struct canary_meta, pending_capacity));
		for (i = 0; i < ARRAY_SIZE(meta_opts); i++) {
			if (meta_opts[i].offset == offsetof(struct canary_meta, pending_capacity))
				continue; /* new in this ABI */
			if (o->meta_given[i] && *meta_field(&o->meta, &meta_opts[i]) !=
							*meta_field(&cur, &meta_opts[i])) {
				log_error("an upgrade keeps the pins' settings (%s %u); give it without "
					  "%s",
					  meta_opts[i].opt, *meta_field(&cur, &meta_opts[i]),
					  meta_opts[i].opt);
				canary_maps_close(&old);
				return 1;
			}
			*meta_field(&o->meta, &meta_opts[i]) = *meta_field(&cur, &meta_opts[i]);
		}
	}
	/* Every interface that runs the old program moves, and only those. */
	for (k = 0; k < o->ndevs; k++)
		if (!find_ours(ifindex[k], NULL, NULL, NULL, NULL)) {
			log_error("%s does not run the old data plane; upgrade the interfaces that "
				  "do, then attach %s",
				  o->devs[k], o->devs[k]);
			canary_maps_close(&old);
			return 1;
		}
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index; it++) {
		bool listed = false;

		for (k = 0; k < o->ndevs; k++)
			listed |= (unsigned int)ifindex[k] == it->if_index;
		if (!listed && find_ours(it->if_index, NULL, NULL, NULL, NULL)) {
			log_error("%s runs the old data plane too: give every such interface with "
				  "--dev, so that all of them move together",
				  it->if_name);
			if_freenameindex(ifs);
			canary_maps_close(&old);
			return 1;
		}
	}
	if (ifs)
		if_freenameindex(ifs);

	/* bpffs refuses names with a dot: a sibling named with a dash. */
	snprintf(tmp_root, sizeof(tmp_root), "%s-upgrade", pin_root);
	if (canary_pins_exist(tmp_root) || canary_pin_root_check(tmp_root, true)) {
		log_error("%s is left from an earlier upgrade that did not finish; remove it "
			  "(rm -r %s) and run the same attach again",
			  tmp_root, tmp_root);
		canary_maps_close(&old);
		return 1;
	}
	skel = open_prog(&o->meta, tmp_root);
	err = skel ? xdp_canary_bpf__load(skel) : -EINVAL;
	if (err) {
		log_error("cannot load the new data plane: %s", strerror(-err));
		goto fail;
	}
	canary_maps_from_obj(&new, skel->obj);
	err = migrate_config(&old, &new, o->meta.pending_capacity, &res);
	if (!err)
		err = migrate_flows(&old, &new, &res);
	if (err) {
		log_error("cannot copy the old state: %s", strerror(-err));
		goto fail;
	}
	{
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = skel->obj,
				    .prog_name = PROG_NAME);

		prog = xdp_program__create(&xopts);
		err = libxdp_get_error(prog);
		if (err) {
			prog = NULL;
			goto fail;
		}
	}
	for (k = 0; k < o->ndevs; k++) {
		err = swap_prog(ifindex[k], prog, bpf_program__fd(skel->progs.xdp_canary), o->devs[k]);
		if (err)
			goto fail;
		swapped++;
	}
	/* The old program has stopped: what it did meanwhile, then its counters. */
	err = migrate_flows(&old, &new, &res);
	if (!err)
		err = migrate_counters(&old, &new);
	if (err)
		log_warn("after the swap: %s (traffic flows on the new data plane)", strerror(-err));
	/* The new maps take the old pins' place. */
	for (i = 0; i < canary_map_count; i++) {
		const struct canary_map_desc *d = &canary_map_descs[i];
		char from[PATH_MAX + 64], to[PATH_MAX + 64];

		snprintf(from, sizeof(from), "%s/%s", tmp_root, d->name);
		snprintf(to, sizeof(to), "%s/%s", pin_root, d->name);
		unlink(to);
		if (bpf_obj_pin(*canary_map_fd(&new, d), to))
			log_error("cannot pin %s: %s", to, strerror(errno));
		unlink(from);
	}
	rmdir(tmp_root);
	printf("upgraded the pins under %s from ABI %u to ABI %u: %u services, %u backends, "
	       "%lu flows and %lu pending kept, counters kept; %d interfaces switched\n",
	       pin_root, CANARY_MIGRATE_FROM, CANARY_ABI_VERSION, res.services, res.backends,
	       res.flows, res.pending, o->ndevs);
	xdp_program__close(prog);
	xdp_canary_bpf__destroy(skel);
	canary_maps_close(&old);
	return 0;

fail:
	/* Nothing has moved unless some interfaces were swapped: those go back. */
	if (swapped)
		log_error("%u interfaces run the new program; detach and attach again to "
			  "recover",
			  swapped);
	for (i = 0; i < canary_map_count; i++) {
		char from[PATH_MAX + 64];

		snprintf(from, sizeof(from), "%s/%s", tmp_root, canary_map_descs[i].name);
		unlink(from);
	}
	rmdir(tmp_root);
	xdp_program__close(prog);
	if (skel)
		xdp_canary_bpf__destroy(skel);
	canary_maps_close(&old);
	return 1;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dev", required_argument, NULL, 'd'},
		{"mode", required_argument, NULL, 'm'},
		{"pin-root", required_argument, NULL, 'p'},
		{"flows", required_argument, NULL, 'f'},
		{"syn-timeout", required_argument, NULL, 1},
		{"tcp-idle", required_argument, NULL, 2},
		{"tcp-closing", required_argument, NULL, 3},
		{"udp-idle", required_argument, NULL, 4},
		{"pending", required_argument, NULL, 5},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct attach_opts o = {
		.mode = XDP_MODE_NATIVE,
		.meta = {.flow_capacity = CANARY_DEFAULT_FLOWS,
			 .syn_timeout_s = CANARY_DEF_SYN_TIMEOUT,
			 .tcp_idle_s = CANARY_DEF_TCP_IDLE,
			 .tcp_closing_s = CANARY_DEF_TCP_CLOSING,
			 .udp_idle_s = CANARY_DEF_UDP_IDLE,
			 .pending_capacity = CANARY_DEFAULT_PENDING},
	};
	int ifindex[MAX_DEVS], attached = 0, i, j, opt, err = 0;
	bool fresh;

	while ((opt = cli_getopt(argc, argv, "d:m:p:f:h", opts)) != -1) {
		switch (opt) {
		case 'd':
			if (o.ndevs == MAX_DEVS)
				return cli_usage_error("at most %d --dev options", MAX_DEVS);
			o.devs[o.ndevs++] = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "native"))
				o.mode = XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "skb"))
				o.mode = XDP_MODE_SKB;
			else
				return cli_usage_error("--mode '%s' must be native or skb", optarg);
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'f': /* --flows is meta_opts[0]; the others have their index as value */
		case 1:
		case 2:
		case 3:
		case 4:
		case 5: {
			const struct meta_opt *mo = &meta_opts[opt == 'f' ? 0 : opt];
			uint64_t v;

			if (cli_parse_uint(mo->opt, optarg, mo->min, mo->max, &v))
				return EXIT_USAGE;
			*meta_field(&o.meta, mo) = (__u32)v;
			o.meta_given[mo - meta_opts] = true;
			break;
		}
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o.ndevs)
		return cli_usage_error("name at least one interface with --dev IFACE");
	if (need_root())
		return 1;
	for (i = 0; i < o.ndevs; i++) {
		ifindex[i] = if_nametoindex(o.devs[i]);
		if (!ifindex[i]) {
			log_error("no interface named '%s' in this network namespace; list them "
				  "with 'ip link'",
				  o.devs[i]);
			return 1;
		}
		for (j = 0; j < i; j++)
			if (ifindex[j] == ifindex[i])
				return cli_usage_error("--dev %s is given twice", o.devs[i]);
	}
	if (bpffs_ensure())
		return 1;
	/* Made 0700 here, before libbpf pins into it; one that someone else made first
	 * (bpffs is often mounted world-writable) is refused, not used. */
	if (canary_pin_root_check(pin_root, true))
		return 1;
	/* Pins of the ABI before this one: an upgrade, which keeps every flow. */
	if (canary_pins_exist(pin_root)) {
		uint32_t abi = 0;

		if (migrate_pinned_abi(pin_root, &abi) == 0 && abi == CANARY_MIGRATE_FROM)
			return upgrade(&o, ifindex);
	}
	for (i = 0; i < o.ndevs; i++) {
		if (find_ours(ifindex[i], NULL, NULL, NULL, NULL)) {
			log_error("xdp-canary is already attached to %s; detach it first with "
				  "'canary-loader detach --dev %s'",
				  o.devs[i], o.devs[i]);
			return 1;
		}
		{
			char other[64];

			if (has_foreign_prog(ifindex[i], other, sizeof(other)))
				log_debug("%s already runs XDP program '%s'; libxdp will try the "
					  "multi-program dispatcher",
					  o.devs[i], other);
		}
	}
	if (reconcile_meta(&o))
		return 1;

	/* Pins this invocation makes are its own: a failure removes them again, so the
	 * next attach does not find maps without their settings in meta. */
	fresh = !canary_pins_exist(pin_root);
	for (i = 0; i < o.ndevs; i++) {
		err = attach_one(o.devs[i], ifindex[i], &o, fresh && attached == 0);
		if (err)
			break;
		attached++;
	}
	if (err) {
		/* All or nothing: undo this invocation's attachments. */
		for (i = 0; i < attached; i++)
			detach_dev(o.devs[i], ifindex[i], true);
		if (fresh)
			purge_pins(true);
		return 1;
	}
	printf("maps pinned under %s\n", pin_root);
	if (read_sysctl("/proc/sys/net/ipv4/ip_forward") == 0)
		log_warn("IPv4 forwarding is off in this namespace, so the splitter cannot "
			 "forward; enable it with 'sysctl -w net.ipv4.ip_forward=1'");
	if (read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding") == 0)
		log_warn("IPv6 forwarding is off in this namespace; enable it with "
			 "'sysctl -w net.ipv6.conf.all.forwarding=1' to split IPv6 services");
	return 0;
}

/* ---- detach ------------------------------------------------------------------------------ */

static int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dev", required_argument, NULL, 'd'}, {"all", no_argument, NULL, 'a'},
		{"purge", no_argument, NULL, 'P'},     {"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},      {},
	};
	const char *devs[MAX_DEVS];
	int ndevs = 0, opt, i, rc = 0;
	bool all = false, purge = false;

	while ((opt = cli_getopt(argc, argv, "d:ap:h", opts)) != -1) {
		switch (opt) {
		case 'd':
			if (ndevs == MAX_DEVS)
				return cli_usage_error("at most %d --dev options", MAX_DEVS);
			devs[ndevs++] = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'P':
			purge = true;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!all && !ndevs)
		return cli_usage_error("say which interface with --dev IFACE, or use --all");
	if (all && ndevs)
		return cli_usage_error("use either --dev or --all, not both");
	if (purge && !all)
		return cli_usage_error("--purge removes the pins and needs --all");
	if (need_root())
		return 1;

	if (all) {
		struct if_nameindex *ifs = if_nameindex(), *it;
		int n = 0;

		for (it = ifs; it && it->if_index; it++)
			if (find_ours(it->if_index, NULL, NULL, NULL, NULL)) {
				if (detach_dev(it->if_name, it->if_index, false))
					rc = 1;
				n++;
			}
		if (ifs)
			if_freenameindex(ifs);
		if (!n)
			printf("xdp-canary is not attached to any interface in this namespace\n");
		if (purge && rc) {
			/* A program still attached keeps using the maps: keep their pins too. */
			log_error("a detach failed, so the pins under %s were kept (the program "
				  "still attached uses those maps); run 'canary-loader detach --all "
				  "--purge' again once it is detached",
				  pin_root);
		} else if (purge && (bpffs_ensure() || purge_pins(false))) {
			rc = 1;
		}
		return rc;
	}
	for (i = 0; i < ndevs; i++) {
		int ifindex = if_nametoindex(devs[i]);

		if (!ifindex) {
			log_error("no interface named '%s' in this network namespace", devs[i]);
			rc = 1;
			continue;
		}
		if (detach_dev(devs[i], ifindex, false))
			rc = 1;
	}
	return rc;
}

/* ---- status ------------------------------------------------------------------------------ */

/* ctx: [0] entries of the flow table, [1] of pending. */
static int count_visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	((unsigned long *)ctx)[!!(v->flags & CANARY_FLOW_F_PENDING)]++;
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"pin-root", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct json_object *root, *jifs, *jmaps;
	struct if_nameindex *ifs, *it;
	struct canary_maps m;
	struct canary_meta meta;
	unsigned long flows[2] = {0, 0};
	uint64_t total = 0;
	bool json = false, pinned;
	unsigned int i;
	int opt, nattached = 0, err;

	while ((opt = cli_getopt(argc, argv, "jp:h", opts)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'p':
			pin_root = optarg;
			break;
		case 'h':
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (need_root())
		return 1;
	root = json_object_new_object();
	jifs = json_object_new_array();
	jmaps = json_object_new_array();

	if (!json)
		printf("Interfaces:\n");
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index; it++) {
		enum xdp_attach_mode mode;
		bool disp;
		__u32 id = find_ours(it->if_index, &mode, &disp, NULL, NULL);
		struct json_object *j;

		if (!id)
			continue;
		nattached++;
		if (!json) {
			printf("  %-16s prog id %-6u %s mode, %s\n", it->if_name, id, mode_name(mode),
			       disp ? "via the libxdp dispatcher" : "single program");
			continue;
		}
		j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(it->if_name));
		json_object_object_add(j, "ifindex", json_object_new_int(it->if_index));
		json_object_object_add(j, "prog_id", json_object_new_int64(id));
		json_object_object_add(j, "mode", json_object_new_string(mode_name(mode)));
		json_object_object_add(j, "dispatcher", json_object_new_boolean(disp));
		json_object_array_add(jifs, j);
	}
	if (ifs)
		if_freenameindex(ifs);
	if (!json && !nattached)
		printf("  (none in this network namespace)\n");

	pinned = bpffs_ensure() == 0 && canary_pins_exist(pin_root);
	err = pinned ? canary_maps_open(&m, pin_root) : -ENOENT;
	if (!err) {
		err = canary_meta_read(&m, &meta);
		if (err) {
			log_error("cannot read %s/meta: %s", pin_root, strerror(-err));
			canary_maps_close(&m);
		}
	}
	if (!err) {
		struct service_state *svcs = NULL;
		unsigned int nsvc = 0;
		uint64_t inner = 0;

		flows_foreach(&m, count_visit, flows);
		if (!json)
			printf("Maps under %s (ABI %u):\n", pin_root, meta.abi_version);
		for (i = 0; i < canary_map_count; i++) {
			int fd = *canary_map_fd(&m, &canary_map_descs[i]);
			uint64_t mem = map_memlock(fd);
			struct json_object *j;

			total += mem;
			if (!json) {
				printf("  %-14s %10.1f KiB\n", canary_map_descs[i].name, mem / 1024.0);
				continue;
			}
			j = json_object_new_object();
			json_object_object_add(j, "name",
					       json_object_new_string(canary_map_descs[i].name));
			json_object_object_add(j, "memlock_bytes", json_object_new_int64(mem));
			json_object_array_add(jmaps, j);
		}
		/* The per-service inner maps hang off svc_configs and are not pinned. */
		if (service_list(&m, &svcs, &nsvc) == 0) {
			for (i = 0; i < nsvc; i++) {
				__u32 inner_id;
				int fd;

				if (bpf_map_lookup_elem(m.svc_configs, &svcs[i].info.id, &inner_id))
					continue;
				fd = bpf_map_get_fd_by_id(inner_id);
				if (fd < 0)
					continue;
				inner += map_memlock(fd);
				close(fd);
			}
			free(svcs);
		}
		{
			__u32 zero = 0, idx_id;
			int fd;

			/* The reply index hangs off backend_index, also unpinned. */
			if (bpf_map_lookup_elem(m.backend_index, &zero, &idx_id) == 0) {
				fd = bpf_map_get_fd_by_id(idx_id);
				if (fd >= 0) {
					uint64_t mem = map_memlock(fd);

					total += mem;
					if (!json)
						printf("  %-14s %10.1f KiB  (the reply index)\n",
						       "backend_slots", mem / 1024.0);
					close(fd);
				}
			}
		}
		total += inner;
		if (!json) {
			printf("  %-14s %10.1f KiB  (%u per-service config maps)\n", "svc_<name>",
			       inner / 1024.0, nsvc);
			printf("  %-14s %10.1f MiB\n", "total", total / 1048576.0);
			printf("Flow table: %lu of %u entries in use; pending (not yet verified): %lu "
			       "of %u\n",
			       flows[0], meta.flow_capacity, flows[1], meta.pending_capacity);
			printf("Timeouts: syn %us, tcp idle %us, tcp closing %us, udp idle %us\n",
			       meta.syn_timeout_s, meta.tcp_idle_s, meta.tcp_closing_s,
			       meta.udp_idle_s);
		} else {
			json_object_object_add(root, "pin_root", json_object_new_string(pin_root));
			json_object_object_add(root, "abi_version",
					       json_object_new_int(meta.abi_version));
			json_object_object_add(root, "maps", jmaps);
			jmaps = NULL;
			json_object_object_add(root, "config_maps_bytes",
					       json_object_new_int64(inner));
			json_object_object_add(root, "memlock_bytes", json_object_new_int64(total));
			json_object_object_add(root, "flow_capacity",
					       json_object_new_int64(meta.flow_capacity));
			json_object_object_add(root, "flows_in_use", json_object_new_int64(flows[0]));
			json_object_object_add(root, "pending_capacity",
					       json_object_new_int64(meta.pending_capacity));
			json_object_object_add(root, "pending_in_use", json_object_new_int64(flows[1]));
		}
		canary_maps_close(&m);
	} else if (!json) {
		/* Pins that cannot be read were explained above. */
		printf(pinned ? "Maps under %s cannot be read\n" : "No maps pinned under %s\n",
		       pin_root);
	}
	if (json) {
		json_object_object_add(root, "interfaces", jifs);
		jifs = NULL;
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	}
	json_object_put(root);
	json_object_put(jifs);
	json_object_put(jmaps);
	return pinned && err ? 1 : 0;
}

static const struct cli_cmd cmds[] = {
	{"attach", cmd_attach, "attach the splitter to interfaces and pin its maps",
	 "attach --dev IFACE [--dev IFACE ...] [OPTIONS]\n"
	 "Load xdp_canary through libxdp and attach it to each interface (all or none).\n"
	 "The maps are pinned under the pin root; if pins exist they are reused, so every\n"
	 "interface and every later attach share one state.\n"
	 "  -d, --dev IFACE         interface to attach to (repeatable)\n"
	 "  -m, --mode MODE         native (default) or skb (generic XDP)\n"
	 "  -p, --pin-root DIR      where the maps are pinned (default " CANARY_DEFAULT_PIN_ROOT
	 ")\n"
	 "  -f, --flows N           flow-table entries (default 1048576; fixed once pinned)\n"
	 "      --syn-timeout S     seconds a SYN waits for the handshake (default 30)\n"
	 "      --tcp-idle S        seconds an idle TCP flow is kept (default 3600)\n"
	 "      --tcp-closing S     seconds kept after FIN or RST (default 10)\n"
	 "      --udp-idle S        seconds an idle UDP flow is kept (default 30)\n"
	 "      --pending N         entries for flows not yet verified (handshakes, first\n"
	 "                          datagrams, mid-stream pick-ups; default 131072; fixed\n"
	 "                          once pinned)\n"},
	{"detach", cmd_detach, "detach the splitter from interfaces",
	 "detach --dev IFACE [--dev IFACE ...] | --all [--purge] [--pin-root DIR]\n"
	 "  -d, --dev IFACE         interface to detach from (repeatable)\n"
	 "  -a, --all               every interface in this network namespace\n"
	 "      --purge             with --all: also remove the pinned maps (all state),\n"
	 "                          once every detach succeeded\n"
	 "  -p, --pin-root DIR      pin root (default " CANARY_DEFAULT_PIN_ROOT ")\n"},
	{"status", cmd_status, "show attachments, map memory and flow-table use",
	 "status [--json] [--pin-root DIR]\n"
	 "  -j, --json              machine-readable output\n"
	 "  -p, --pin-root DIR      pin root (default " CANARY_DEFAULT_PIN_ROOT ")\n"},
	{},
};

int main(int argc, char **argv)
{
	struct cli c = {
		.prog = "canary-loader",
		.version = "0.1",
		.intro = "Attach the xdp-canary data plane (XDP) to interfaces through libxdp.",
		.cmds = cmds,
	};

	return cli_main(&c, argc, argv);
}
