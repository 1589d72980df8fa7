/* canary-loader: attach the xdp-canary data plane to interfaces through libxdp, pin its
 * maps under the pin root, detach it, and report what is attached and what it costs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "base/num.h"
#include "base/util.h"
#include "cli/cli.h"
#include "maps/migrate.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "xdp_canary.skel.h"

#define MAX_DEVS 32
#define PROG_NAME CANARY_STR(CANARY_PROG_NAME)

#define PINS CLI_BLOCKS(&cli_pin_root_opts)

static int need_root(void)
{
	return cli_need_root(" (CAP_BPF, CAP_NET_ADMIN)");
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

/* A sysctl's whole-number value, or -1 when it cannot be read. */
static long read_sysctl(const char *path)
{
	char buf[32] = "", why[NUM_WHY_LEN];
	int fd = open(path, O_RDONLY);
	uint64_t v;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return num_parse_uint(buf, 0, LONG_MAX, &v, why, sizeof(why)) ? -1 : (long)v;
}

/* ---- attach ------------------------------------------------------------------------------ */

struct attach_cfg {
	const char *devs[MAX_DEVS];
	unsigned int ndevs;
	enum xdp_attach_mode mode;
	struct canary_meta meta;
	bool meta_given[6]; /* one for each setting kept in meta, as META_OPT numbers them */
};

static const struct attach_cfg attach_defaults = {
    .mode = XDP_MODE_NATIVE,
    .meta = {.flow_capacity = CANARY_DEFAULT_FLOWS,
	     .syn_timeout_s = CANARY_DEF_SYN_TIMEOUT,
	     .tcp_idle_s = CANARY_DEF_TCP_IDLE,
	     .tcp_closing_s = CANARY_DEF_TCP_CLOSING,
	     .udp_idle_s = CANARY_DEF_UDP_IDLE,
	     .pending_capacity = CANARY_DEFAULT_PENDING},
};

/* A setting an attach may give, kept in meta; attach's only whole-number options. */
#define META_OPT(lname, sname, field, lo, hi, mv, text, i)                                         \
	{                                                                                          \
		CLI_UINT, lname, sname, CLI_FIELD(struct attach_cfg, meta.field),                  \
		    .metavar = mv, .help = text, .min = lo, .max = hi,                             \
		    CLI_GIVEN(struct attach_cfg, meta_given[i])                                    \
	}

static const struct cli_opt attach_opts[] = {
    {CLI_LIST, "dev", 'd', CLI_FIELD(struct attach_cfg, devs), .metavar = "IFACE",
     .help = "interface to attach to", .max_count = MAX_DEVS, CLI_COUNT(struct attach_cfg, ndevs)},
    {CLI_ENUM, "mode", 'm', CLI_FIELD(struct attach_cfg, mode), .metavar = "MODE",
     .help = "native or skb (generic XDP)",
     .choices =
	 (const struct cli_choice[]){{"native", XDP_MODE_NATIVE}, {"skb", XDP_MODE_SKB}, {}}},
    META_OPT("flows", 'f', flow_capacity, 1024, 1u << 28, "N",
	     "flow-table entries; fixed once pinned", 0),
    META_OPT("syn-timeout", 0, syn_timeout_s, 1, 86400, "S",
	     "seconds a SYN waits for the handshake", 1),
    META_OPT("tcp-idle", 0, tcp_idle_s, 1, 864000, "S", "seconds an idle TCP flow is kept", 2),
    META_OPT("tcp-closing", 0, tcp_closing_s, 1, 86400, "S", "seconds kept after FIN or RST", 3),
    META_OPT("udp-idle", 0, udp_idle_s, 1, 86400, "S", "seconds an idle UDP flow is kept", 4),
    META_OPT("pending", 0, pending_capacity, 1024, 1u << 26, "N",
	     "entries for flows not yet verified (handshakes, first datagrams, mid-stream "
	     "pick-ups); fixed once pinned",
	     5),
    {},
};

static bool is_meta_opt(const struct cli_opt *o)
{
	return o->type == CLI_UINT;
}

/* The field of meta that a META_OPT sets. */
static __u32 *meta_field(struct canary_meta *meta, const struct cli_opt *o)
{
	return (__u32 *)((char *)meta + o->offset - offsetof(struct attach_cfg, meta));
}

/* Pins already there: their settings win; an explicit different one is an error. */
static int reconcile_meta(struct attach_cfg *o)
{
	const struct cli_opt *opt;
	struct canary_maps m;
	struct canary_meta cur;
	int err;

	if (!canary_pins_exist(cli_pin_root))
		return 0;
	err = canary_maps_open(&m, cli_pin_root);
	if (err)
		return err;
	err = canary_meta_read(&m, &cur);
	canary_maps_close(&m);
	if (err)
		return err;
	for (opt = attach_opts; opt->type; opt++) {
		if (!is_meta_opt(opt))
			continue;
		if (cli_given(opt, o) && *meta_field(&o->meta, opt) != *meta_field(&cur, opt)) {
			log_error(
			    "the maps under %s were created with --%s %u; detach everything "
			    "and run 'canary-loader detach --all --purge' to change it, or use "
			    "another --pin-root",
			    cli_pin_root, opt->name, *meta_field(&cur, opt));
			return -EINVAL;
		}
		*meta_field(&o->meta, opt) = *meta_field(&cur, opt);
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
static int attach_one(const char *dev, int ifindex, struct attach_cfg *o, bool write_meta)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts);
	struct xdp_canary_bpf *skel;
	struct xdp_program *prog;
	char errbuf[256];
	int err;

	skel = open_prog(&o->meta, cli_pin_root);
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
				  cli_pin_root);
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
			log_warn("cannot record settings in %s/meta: %s", cli_pin_root,
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
		snprintf(path, sizeof(path), "%s/%s", cli_pin_root, canary_map_descs[i].name);
		if (unlink(path) && errno != ENOENT) {
			log_error("cannot remove %s: %s", path, strerror(errno));
			failed = 1;
		}
	}
	if (rmdir(cli_pin_root) && errno != ENOENT && !(quiet && errno == ENOTEMPTY)) {
		log_error("cannot remove %s: %s (it holds files that are not ours)", cli_pin_root,
			  strerror(errno));
		failed = 1;
	}
	if (!failed && !quiet)
		printf("removed the pins under %s\n", cli_pin_root);
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

/* An upgrade under way: the old pins, the new data plane beside them, and how far it got. */
struct upgrade {
	struct canary_maps old, new;
	struct migrate_result res;
	struct xdp_canary_bpf *skel;
	struct xdp_program *prog;
	char tmp_root[PATH_MAX - 64];
	unsigned int swapped;
};

/* The old pins' settings become this attach's, unless it asks for others (an error). */
static int upgrade_meta(struct attach_cfg *o, struct canary_maps *old)
{
	const struct cli_opt *opt;
	struct canary_meta cur = {};
	__u8 buf[256] = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(old->meta, &zero, buf);
	memcpy(&cur, buf, offsetof(struct canary_meta, pending_capacity));
	for (opt = attach_opts; opt->type; opt++) {
		if (!is_meta_opt(opt) ||
		    opt->offset == offsetof(struct attach_cfg, meta.pending_capacity))
			continue; /* pending_capacity is new in this ABI */
		if (cli_given(opt, o) && *meta_field(&o->meta, opt) != *meta_field(&cur, opt)) {
			log_error("an upgrade keeps the pins' settings (--%s %u); give it without "
				  "--%s",
				  opt->name, *meta_field(&cur, opt), opt->name);
			return -1;
		}
		*meta_field(&o->meta, opt) = *meta_field(&cur, opt);
	}
	return 0;
}

/* Every interface that runs the old program moves, and only those. */
static int upgrade_check_devs(const struct attach_cfg *o, const int *ifindex)
{
	struct if_nameindex *ifs, *it;
	unsigned int k;
	int rc = 0;

	for (k = 0; k < o->ndevs; k++)
		if (!find_ours(ifindex[k], NULL, NULL, NULL, NULL)) {
			log_error("%s does not run the old data plane; upgrade the interfaces that "
				  "do, then attach %s",
				  o->devs[k], o->devs[k]);
			return -1;
		}
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index && !rc; it++) {
		bool listed = false;

		for (k = 0; k < o->ndevs; k++)
			listed |= (unsigned int)ifindex[k] == it->if_index;
		if (!listed && find_ours(it->if_index, NULL, NULL, NULL, NULL)) {
			log_error("%s runs the old data plane too: give every such interface with "
				  "--dev, so that all of them move together",
				  it->if_name);
			rc = -1;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return rc;
}

/* The new maps are pinned beside the old ones first. bpffs refuses names with a dot: a
 * sibling named with a dash. */
static int upgrade_tmp_root(struct upgrade *u)
{
	snprintf(u->tmp_root, sizeof(u->tmp_root), "%s-upgrade", cli_pin_root);
	if (canary_pins_exist(u->tmp_root) || canary_pin_root_check(u->tmp_root, true)) {
		log_error("%s is left from an earlier upgrade that did not finish; remove it "
			  "(rm -r %s) and run the same attach again",
			  u->tmp_root, u->tmp_root);
		return -1;
	}
	return 0;
}

/* Load this ABI's data plane under the temporary root, copy the configuration and the
 * flows into its maps, and prepare its program for the interfaces. */
static int upgrade_load(struct upgrade *u, const struct attach_cfg *o)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .prog_name = PROG_NAME);
	int err;

	u->skel = open_prog(&o->meta, u->tmp_root);
	err = u->skel ? xdp_canary_bpf__load(u->skel) : -EINVAL;
	if (err) {
		log_error("cannot load the new data plane: %s", strerror(-err));
		return err;
	}
	canary_maps_from_obj(&u->new, u->skel->obj);
	err = migrate_config(&u->old, &u->new, o->meta.pending_capacity, &u->res);
	if (!err)
		err = migrate_flows(&u->old, &u->new, &u->res);
	if (err) {
		log_error("cannot copy the old state: %s", strerror(-err));
		return err;
	}
	xopts.obj = u->skel->obj;
	u->prog = xdp_program__create(&xopts);
	err = libxdp_get_error(u->prog);
	if (err)
		u->prog = NULL;
	return err;
}

static int upgrade_swap(struct upgrade *u, const struct attach_cfg *o, const int *ifindex)
{
	int fd = bpf_program__fd(u->skel->progs.xdp_canary);
	unsigned int k;
	int err;

	for (k = 0; k < o->ndevs; k++) {
		err = swap_prog(ifindex[k], u->prog, fd, o->devs[k]);
		if (err)
			return err;
		u->swapped++;
	}
	return 0;
}

/* Remove what the temporary root holds, and the root. */
static void upgrade_drop_tmp(const struct upgrade *u)
{
	char from[PATH_MAX + 64];
	unsigned int i;

	for (i = 0; i < canary_map_count; i++) {
		snprintf(from, sizeof(from), "%s/%s", u->tmp_root, canary_map_descs[i].name);
		unlink(from);
	}
	rmdir(u->tmp_root);
}

/* The old program has stopped: copy what it did meanwhile and its counters, then the new
 * maps take the old pins' place. */
static void upgrade_finish(struct upgrade *u, const struct attach_cfg *o)
{
	char to[PATH_MAX + 64];
	unsigned int i;
	int err;

	err = migrate_flows(&u->old, &u->new, &u->res);
	if (!err)
		err = migrate_counters(&u->old, &u->new);
	if (err)
		log_warn("after the swap: %s (traffic flows on the new data plane)",
			 strerror(-err));
	for (i = 0; i < canary_map_count; i++) {
		const struct canary_map_desc *d = &canary_map_descs[i];

		snprintf(to, sizeof(to), "%s/%s", cli_pin_root, d->name);
		unlink(to);
		if (bpf_obj_pin(*canary_map_fd(&u->new, d), to))
			log_error("cannot pin %s: %s", to, strerror(errno));
	}
	upgrade_drop_tmp(u);
	printf("upgraded the pins under %s from ABI %u to ABI %u: %u services, %u backends, "
	       "%lu flows and %lu pending kept, counters kept; %u interfaces switched\n",
	       cli_pin_root, CANARY_MIGRATE_FROM, CANARY_ABI_VERSION, u->res.services,
	       u->res.backends, u->res.flows, u->res.pending, o->ndevs);
}

/* The old pins are of ABI CANARY_MIGRATE_FROM: build this ABI's maps beside them, copy
 * the configuration and the flows, swap the programs on every interface, copy the
 * flows the old program made meanwhile and the counters, and only then put the new
 * maps where the old pins were. Every established connection keeps its entry (and a
 * flow the old program placed after the copy is decided again the same way: the
 * configs, salts and rings are the same). */
static int upgrade(struct attach_cfg *o, const int *ifindex)
{
	struct upgrade u = {};
	int err;

	if (migrate_open_old(cli_pin_root, &u.old))
		return 1;
	if (upgrade_meta(o, &u.old) || upgrade_check_devs(o, ifindex) || upgrade_tmp_root(&u)) {
		canary_maps_close(&u.old);
		return 1;
	}
	err = upgrade_load(&u, o);
	if (!err)
		err = upgrade_swap(&u, o, ifindex);
	if (!err) {
		upgrade_finish(&u, o);
	} else {
		/* Nothing has moved unless some interfaces were swapped: those go back. */
		if (u.swapped)
			log_error("%u interfaces run the new program; detach and attach again to "
				  "recover",
				  u.swapped);
		upgrade_drop_tmp(&u);
	}
	xdp_program__close(u.prog);
	if (u.skel)
		xdp_canary_bpf__destroy(u.skel);
	canary_maps_close(&u.old);
	return err ? 1 : 0;
}

/* ifindex of each --dev; every name must exist here, and only once. Returns 0, 1 or
 * EXIT_USAGE after saying why. */
static int resolve_devs(const struct attach_cfg *o, int *ifindex)
{
	unsigned int i, j;

	for (i = 0; i < o->ndevs; i++) {
		ifindex[i] = if_nametoindex(o->devs[i]);
		if (!ifindex[i]) {
			log_error("no interface named '%s' in this network namespace; list them "
				  "with 'ip link'",
				  o->devs[i]);
			return 1;
		}
		for (j = 0; j < i; j++)
			if (ifindex[j] == ifindex[i])
				return cli_usage_error("--dev %s is given twice", o->devs[i]);
	}
	return 0;
}

/* Whether the pins are of the ABI before this one, which an attach upgrades. */
static bool pins_need_upgrade(void)
{
	uint32_t abi = 0;

	return canary_pins_exist(cli_pin_root) && migrate_pinned_abi(cli_pin_root, &abi) == 0 &&
	       abi == CANARY_MIGRATE_FROM;
}

static int check_not_attached(const struct attach_cfg *o, const int *ifindex)
{
	char other[64];
	unsigned int i;

	for (i = 0; i < o->ndevs; i++) {
		if (find_ours(ifindex[i], NULL, NULL, NULL, NULL)) {
			log_error("xdp-canary is already attached to %s; detach it first with "
				  "'canary-loader detach --dev %s'",
				  o->devs[i], o->devs[i]);
			return -1;
		}
		if (has_foreign_prog(ifindex[i], other, sizeof(other)))
			log_debug("%s already runs XDP program '%s'; libxdp will try the "
				  "multi-program dispatcher",
				  o->devs[i], other);
	}
	return 0;
}

/* All or nothing: on a failure, undo this invocation's attachments, and the pins it
 * made (so the next attach does not find maps without their settings in meta). */
static int attach_all(struct attach_cfg *o, const int *ifindex)
{
	bool fresh = !canary_pins_exist(cli_pin_root);
	unsigned int i, attached = 0;
	int err = 0;

	for (i = 0; i < o->ndevs && !err; i++) {
		err = attach_one(o->devs[i], ifindex[i], o, fresh && attached == 0);
		if (!err)
			attached++;
	}
	if (!err)
		return 0;
	for (i = 0; i < attached; i++)
		detach_dev(o->devs[i], ifindex[i], true);
	if (fresh)
		purge_pins(true);
	return -1;
}

static void warn_forwarding(void)
{
	if (read_sysctl("/proc/sys/net/ipv4/ip_forward") == 0)
		log_warn("IPv4 forwarding is off in this namespace, so the splitter cannot "
			 "forward; enable it with 'sysctl -w net.ipv4.ip_forward=1'");
	if (read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding") == 0)
		log_warn("IPv6 forwarding is off in this namespace; enable it with "
			 "'sysctl -w net.ipv6.conf.all.forwarding=1' to split IPv6 services");
}

static int cmd_attach(void *cfg, int argc, char **argv)
{
	struct attach_cfg *o = cfg;
	int ifindex[MAX_DEVS], rc;

	if (argc > 0)
		return cli_usage_error("unexpected argument '%s'", argv[0]);
	if (!o->ndevs)
		return cli_usage_error("name at least one interface with --dev IFACE");
	if (need_root())
		return 1;
	rc = resolve_devs(o, ifindex);
	if (rc)
		return rc;
	if (bpffs_ensure())
		return 1;
	/* Made 0700 here, before libbpf pins into it; one that someone else made first
	 * (bpffs is often mounted world-writable) is refused, not used. */
	if (canary_pin_root_check(cli_pin_root, true))
		return 1;
	/* Pins of the ABI before this one: an upgrade, which keeps every flow. */
	if (pins_need_upgrade())
		return upgrade(o, ifindex);
	if (check_not_attached(o, ifindex) || reconcile_meta(o) || attach_all(o, ifindex))
		return 1;
	printf("maps pinned under %s\n", cli_pin_root);
	warn_forwarding();
	return 0;
}

/* ---- detach ------------------------------------------------------------------------------ */

struct detach_cfg {
	const char *devs[MAX_DEVS];
	unsigned int ndevs;
	bool all, purge;
};

static const struct cli_opt detach_opts[] = {
    {CLI_LIST, "dev", 'd', CLI_FIELD(struct detach_cfg, devs), .metavar = "IFACE",
     .help = "interface to detach from", .max_count = MAX_DEVS,
     CLI_COUNT(struct detach_cfg, ndevs)},
    {CLI_FLAG, "all", 'a', CLI_FIELD(struct detach_cfg, all),
     .help = "every interface in this network namespace"},
    {CLI_FLAG, "purge", 0, CLI_FIELD(struct detach_cfg, purge),
     .help = "with --all: also remove the pinned maps (all state), once every detach "
	     "succeeded"},
    {},
};

/* Every interface in this namespace that runs us; with purge, then the pins. */
static int detach_all(bool purge)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	int n = 0, rc = 0;

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
			  cli_pin_root);
	} else if (purge && (bpffs_ensure() || purge_pins(false))) {
		rc = 1;
	}
	return rc;
}

static int detach_named(const char *const *devs, unsigned int n)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < n; i++) {
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

static int cmd_detach(void *cfg, int argc, char **argv)
{
	const struct detach_cfg *c = cfg;

	if (argc > 0)
		return cli_usage_error("unexpected argument '%s'", argv[0]);
	if (!c->all && !c->ndevs)
		return cli_usage_error("say which interface with --dev IFACE, or use --all");
	if (c->all && c->ndevs)
		return cli_usage_error("use either --dev or --all, not both");
	if (c->purge && !c->all)
		return cli_usage_error("--purge removes the pins and needs --all");
	if (need_root())
		return 1;
	return c->all ? detach_all(c->purge) : detach_named(c->devs, c->ndevs);
}

/* ---- status ------------------------------------------------------------------------------ */

struct status_cfg {
	bool json;
};

static const struct cli_opt status_opts[] = {
    {CLI_FLAG, "json", 'j', CLI_FIELD(struct status_cfg, json), .help = "machine-readable output"},
    {},
};

struct status_iface {
	char name[IF_NAMESIZE];
	unsigned int ifindex;
	__u32 prog_id;
	enum xdp_attach_mode mode;
	bool dispatcher;
};

/* What status reports, collected before it is printed as text or JSON. */
struct loader_status {
	struct status_iface *ifs;
	unsigned int nifs;
	bool pinned;   /* pins exist under the pin root */
	bool readable; /* ... and their maps and meta could be read: the rest is set */
	struct canary_meta meta;
	uint64_t *map_mem; /* memlock of each pinned map, canary_map_descs' order */
	bool have_reply_index;
	uint64_t reply_index_mem;
	uint64_t inner_mem; /* the per-service config maps, nsvc of them */
	unsigned int nsvc;
	uint64_t total;
	unsigned long flows[2]; /* entries in use: [0] the flow table, [1] pending */
};

/* ctx: [0] entries of the flow table, [1] of pending. */
static int count_visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	((unsigned long *)ctx)[!!(v->flags & CANARY_FLOW_F_PENDING)]++;
	return 0;
}

static void collect_ifaces(struct loader_status *st)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	unsigned int n = 0;

	for (it = ifs; it && it->if_index; it++)
		n++;
	st->ifs = calloc(n ? n : 1, sizeof(*st->ifs));
	for (it = ifs; st->ifs && it && it->if_index; it++) {
		struct status_iface *f = &st->ifs[st->nifs];

		f->prog_id = find_ours(it->if_index, &f->mode, &f->dispatcher, NULL, NULL);
		if (!f->prog_id)
			continue;
		snprintf(f->name, sizeof(f->name), "%s", it->if_name);
		f->ifindex = it->if_index;
		st->nifs++;
	}
	if (ifs)
		if_freenameindex(ifs);
}

/* Memory of an unpinned map that hangs off a pinned one (map-in-map): key -> its id. */
static uint64_t inner_memlock(int outer, const void *key)
{
	uint64_t mem;
	int fd = canary_inner_fd(outer, key);

	if (fd < 0)
		return 0;
	mem = map_memlock(fd);
	close(fd);
	return mem;
}

static void collect_maps(struct canary_maps *m, struct loader_status *st)
{
	struct service_state *svcs = NULL;
	__u32 zero = 0;
	unsigned int i;
	int fd;

	flows_foreach(m, count_visit, st->flows);
	st->map_mem = calloc(canary_map_count, sizeof(*st->map_mem));
	for (i = 0; st->map_mem && i < canary_map_count; i++) {
		st->map_mem[i] = map_memlock(*canary_map_fd(m, &canary_map_descs[i]));
		st->total += st->map_mem[i];
	}
	/* The per-service inner maps hang off svc_configs and are not pinned. */
	if (service_list(m, &svcs, &st->nsvc) == 0) {
		for (i = 0; i < st->nsvc; i++)
			st->inner_mem += inner_memlock(m->svc_configs, &svcs[i].info.id);
		free(svcs);
	}
	/* The reply index hangs off backend_index, also unpinned. */
	fd = canary_inner_fd(m->backend_index, &zero);
	if (fd >= 0) {
		st->have_reply_index = true;
		st->reply_index_mem = map_memlock(fd);
		st->total += st->reply_index_mem;
		close(fd);
	}
	st->total += st->inner_mem;
}

/* Returns 1 when the pins exist but cannot be read (said why), else 0. */
static int collect_status(struct loader_status *st)
{
	struct canary_maps m;
	int err;

	collect_ifaces(st);
	st->pinned = bpffs_ensure() == 0 && canary_pins_exist(cli_pin_root);
	if (!st->pinned || canary_maps_open(&m, cli_pin_root))
		return st->pinned;
	err = canary_meta_read(&m, &st->meta);
	if (err) {
		log_error("cannot read %s/meta: %s", cli_pin_root, strerror(-err));
		canary_maps_close(&m);
		return 1;
	}
	collect_maps(&m, st);
	canary_maps_close(&m);
	st->readable = true;
	return 0;
}

static void print_status_text(const struct loader_status *st)
{
	unsigned int i;

	printf("Interfaces:\n");
	for (i = 0; i < st->nifs; i++)
		printf("  %-16s prog id %-6u %s mode, %s\n", st->ifs[i].name, st->ifs[i].prog_id,
		       mode_name(st->ifs[i].mode),
		       st->ifs[i].dispatcher ? "via the libxdp dispatcher" : "single program");
	if (!st->nifs)
		printf("  (none in this network namespace)\n");
	if (!st->readable) {
		/* Pins that cannot be read were explained already. */
		printf(st->pinned ? "Maps under %s cannot be read\n" : "No maps pinned under %s\n",
		       cli_pin_root);
		return;
	}
	printf("Maps under %s (ABI %u):\n", cli_pin_root, st->meta.abi_version);
	for (i = 0; st->map_mem && i < canary_map_count; i++)
		printf("  %-14s %10.1f KiB\n", canary_map_descs[i].name, st->map_mem[i] / 1024.0);
	if (st->have_reply_index)
		printf("  %-14s %10.1f KiB  (the reply index)\n", "backend_slots",
		       st->reply_index_mem / 1024.0);
	printf("  %-14s %10.1f KiB  (%u per-service config maps)\n", "svc_<name>",
	       st->inner_mem / 1024.0, st->nsvc);
	printf("  %-14s %10.1f MiB\n", "total", st->total / 1048576.0);
	printf("Flow table: %lu of %u entries in use; pending (not yet verified): %lu of %u\n",
	       st->flows[0], st->meta.flow_capacity, st->flows[1], st->meta.pending_capacity);
	printf("Timeouts: syn %us, tcp idle %us, tcp closing %us, udp idle %us\n",
	       st->meta.syn_timeout_s, st->meta.tcp_idle_s, st->meta.tcp_closing_s,
	       st->meta.udp_idle_s);
}

static void json_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void print_status_json(const struct loader_status *st)
{
	struct json_object *root = json_object_new_object(), *a;
	unsigned int i;

	if (st->readable) {
		json_add(root, "pin_root", json_object_new_string(cli_pin_root));
		json_add(root, "abi_version", json_object_new_int(st->meta.abi_version));
		a = json_object_new_array();
		for (i = 0; st->map_mem && i < canary_map_count; i++) {
			struct json_object *j = json_object_new_object();

			json_add(j, "name", json_object_new_string(canary_map_descs[i].name));
			json_add(j, "memlock_bytes", json_object_new_int64(st->map_mem[i]));
			json_object_array_add(a, j);
		}
		json_add(root, "maps", a);
		json_add(root, "config_maps_bytes", json_object_new_int64(st->inner_mem));
		json_add(root, "memlock_bytes", json_object_new_int64(st->total));
		json_add(root, "flow_capacity", json_object_new_int64(st->meta.flow_capacity));
		json_add(root, "flows_in_use", json_object_new_int64(st->flows[0]));
		json_add(root, "pending_capacity",
			 json_object_new_int64(st->meta.pending_capacity));
		json_add(root, "pending_in_use", json_object_new_int64(st->flows[1]));
	}
	a = json_object_new_array();
	for (i = 0; i < st->nifs; i++) {
		struct json_object *j = json_object_new_object();

		json_add(j, "name", json_object_new_string(st->ifs[i].name));
		json_add(j, "ifindex", json_object_new_int(st->ifs[i].ifindex));
		json_add(j, "prog_id", json_object_new_int64(st->ifs[i].prog_id));
		json_add(j, "mode", json_object_new_string(mode_name(st->ifs[i].mode)));
		json_add(j, "dispatcher", json_object_new_boolean(st->ifs[i].dispatcher));
		json_object_array_add(a, j);
	}
	json_add(root, "interfaces", a);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
}

static int cmd_status(void *cfg, int argc, char **argv)
{
	const struct status_cfg *c = cfg;
	struct loader_status st = {};
	int rc;

	if (need_root())
		return 1;
	rc = collect_status(&st);
	if (c->json)
		print_status_json(&st);
	else
		print_status_text(&st);
	free(st.ifs);
	free(st.map_mem);
	return rc;
}

static const struct cli_cmd cmds[] = {
    {"attach", cmd_attach, "attach the splitter to interfaces and pin its maps",
     "attach --dev IFACE [--dev IFACE ...] [OPTIONS]\n"
     "Load xdp_canary through libxdp and attach it to each interface (all or none).\n"
     "The maps are pinned under the pin root; if pins exist they are reused, so every\n"
     "interface and every later attach share one state.\n",
     .opts = attach_opts, .defaults = &attach_defaults, .cfg_size = sizeof(struct attach_cfg),
     .blocks = PINS},
    {"detach", cmd_detach, "detach the splitter from interfaces",
     "detach --dev IFACE [--dev IFACE ...] | --all [--purge] [--pin-root DIR]\n",
     .opts = detach_opts, .cfg_size = sizeof(struct detach_cfg), .blocks = PINS},
    {"status", cmd_status, "show attachments, map memory and flow-table use",
     "status [--json] [--pin-root DIR]\n", .opts = status_opts,
     .cfg_size = sizeof(struct status_cfg), .blocks = PINS},
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
