/* abi2-setup: attach the ABI-2 data plane (tests/fixtures/abi2, built into
 * build/fixtures/abi2.bpf.o) with its maps pinned, and write one IPv4 service in the
 * ABI-2 layouts, as the previous release's canary-loader and canaryctl would have left
 * them. For the upgrade test only.
 *   abi2-setup OBJ PIN-ROOT DEV... -- NAME VIP:PORT WEIGHT-BP STABLE,... CANARY,...
 * Backends are ADDR:PORT, comma-separated; TCP; hash by client; salt 12345. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "../fixtures/abi2/canary_csum.h"
#include "../fixtures/abi2/canary_hash.h"
#include "../fixtures/abi2/xdp_canary.h"

static int parse_ep(const char *s, __be32 *addr, __be16 *port)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = 0;
	*port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
}

static unsigned int parse_list(const char *s, struct canary_backend *out)
{
	char buf[1024], *tok, *save;
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok && n < CANARY_MAX_BACKENDS;
	     tok = strtok_r(NULL, ",", &save)) {
		memset(&out[n], 0, sizeof(out[n]));
		if (parse_ep(tok, &out[n].addr.v4, &out[n].port))
			return 0;
		n++;
	}
	return n;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

int main(int argc, char **argv)
{
	struct canary_endpoint vip = {.proto = IPPROTO_TCP, .family = CANARY_AF_INET};
	struct canary_meta meta = {.abi_version = 2,
				   .flow_capacity = 65536,
				   .pending_capacity = CANARY_DEFAULT_PENDING,
				   .syn_timeout_s = CANARY_DEF_SYN_TIMEOUT,
				   .tcp_idle_s = CANARY_DEF_TCP_IDLE,
				   .tcp_closing_s = CANARY_DEF_TCP_CLOSING,
				   .udp_idle_s = CANARY_DEF_UDP_IDLE};
	static struct svc_config cfg;
	static struct backend_slot slots[CANARY_BACKEND_SLOTS];
	static struct port_kinds pk;
	struct svc_info info = {.id = 0};
	struct bpf_object *obj;
	struct bpf_map *map;
	int i, dash, ndev, arm, fd, zero = 0;
	unsigned int b, slot;

	/* libbpf's feature probes are not this tool's business. */
	libbpf_set_print(NULL);
	for (dash = 1; dash < argc && strcmp(argv[dash], "--"); dash++)
		;
	ndev = dash - 3;
	if (ndev < 1 || argc - dash != 6) {
		fprintf(stderr, "usage: abi2-setup OBJ PIN-ROOT DEV... -- NAME VIP:PORT WEIGHT-BP "
				"STABLE,... CANARY,...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "abi2-setup: cannot open %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_map(map, obj)
	{
		char path[4096];

		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[2], bpf_map__name(map));
		bpf_map__set_pin_path(map, path);
		if (!strcmp(bpf_map__name(map), "flows"))
			bpf_map__set_max_entries(map, meta.flow_capacity);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "abi2-setup: cannot load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_map_update_elem(map_fd(obj, "meta"), &zero, &meta, BPF_ANY);

	/* The service, as ABI-2 canaryctl apply wrote it. */
	snprintf(info.name, sizeof(info.name), "%s", argv[dash + 1]);
	if (parse_ep(argv[dash + 2], &vip.addr.v4, &vip.port))
		return 2;
	cfg.generation = 1;
	cfg.salt = 12345;
	cfg.canary_weight = atoi(argv[dash + 3]);
	cfg.hash_mode = CANARY_HASH_CLIENT;
	cfg.client_mask_v4 = 0xffffffff;
	memset(cfg.client_mask_v6, 0xff, 8);
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		cfg.nbackends[arm] = parse_list(argv[dash + 4 + arm], cfg.backends[arm]);
		for (b = 0; b < cfg.nbackends[arm]; b++) {
			struct canary_backend *be = &cfg.backends[arm][b];

			be->csum_ip = canary_csum_delta(&vip.addr.v4, &be->addr.v4, 4);
			be->csum_l4 = canary_csum_add(be->csum_ip, canary_csum_delta(&vip.port, &be->port, 2));
		}
		for (slot = 0; slot < CANARY_RING_SIZE; slot++)
			cfg.ring[arm][slot] = cfg.nbackends[arm] ? slot % cfg.nbackends[arm] : CANARY_NO_BACKEND;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "svc_web", 4, sizeof(cfg), 1, NULL);
	if (fd < 0 || bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) ||
	    bpf_map_update_elem(map_fd(obj, "svc_configs"), &info.id, &fd, BPF_ANY)) {
		fprintf(stderr, "abi2-setup: cannot write the config: %s\n", strerror(errno));
		return 1;
	}
	bpf_map_update_elem(map_fd(obj, "services"), &vip, &info, BPF_ANY);
	pk.kind[vip.port] |= CANARY_PORT_SERVICE;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		for (b = 0; b < cfg.nbackends[arm]; b++) {
			struct canary_endpoint k = {.addr = cfg.backends[arm][b].addr,
						    .port = cfg.backends[arm][b].port,
						    .proto = vip.proto,
						    .family = vip.family};
			struct backend_info v = {.vip = vip, .svc = 0, .arm = arm, .index = b};
			__u32 h = canary_backend_slot(&k);

			v.csum_ip = canary_csum_delta(&k.addr.v4, &vip.addr.v4, 4);
			v.csum_l4 = canary_csum_add(v.csum_ip, canary_csum_delta(&k.port, &vip.port, 2));
			bpf_map_update_elem(map_fd(obj, "backends"), &k, &v, BPF_ANY);
			while (slots[h].key.family)
				h = (h + 1) & (CANARY_BACKEND_SLOTS - 1);
			slots[h].key = k;
			slots[h].info = v;
			pk.kind[k.port] |= CANARY_PORT_BACKEND;
		}
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "backend_slots", 4, sizeof(struct backend_slot),
			    CANARY_BACKEND_SLOTS, NULL);
	for (slot = 0; fd >= 0 && slot < CANARY_BACKEND_SLOTS; slot++)
		if (slots[slot].key.family)
			bpf_map_update_elem(fd, &slot, &slots[slot], BPF_ANY);
	if (fd < 0 || bpf_map_update_elem(map_fd(obj, "backend_index"), &zero, &fd, BPF_ANY)) {
		fprintf(stderr, "abi2-setup: cannot write the reply index: %s\n", strerror(errno));
		return 1;
	}
	bpf_map_update_elem(map_fd(obj, "ports"), &zero, &pk, BPF_ANY);

	for (i = 0; i < ndev; i++) {
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = obj, .prog_name = "xdp_canary");
		struct xdp_program *prog = xdp_program__create(&xo);
		int ifindex = if_nametoindex(argv[3 + i]), err;

		err = libxdp_get_error(prog);
		if (!err)
			err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
		if (err) {
			fprintf(stderr, "abi2-setup: cannot attach to %s: %d\n", argv[3 + i], err);
			return 1;
		}
		printf("attached ABI-2 xdp_canary to %s\n", argv[3 + i]);
	}
	return 0;
}
