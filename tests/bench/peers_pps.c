/* peers_pps.c: `make bench-peers`, the packet rate through the splitter alone. A live-frame
 * generator (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES) sends one established TCP
 * flow into veth xa of a private namespace; what forwards it to the backends' veths, where
 * an XDP sink counts it, is in turn:
 *   XDP:    the trivial forwarder (swap MACs + redirect) and xdp_canary (NAT + redirect);
 *   kernel: an XDP_PASS program on xa (NAPI, so the stack gets frames in batches), then
 *           plain IP forwarding, or nftables DNAT with a numgen map (conntrack).
 * Runs interleave; it prints Mpps delivered (median), the share of frames delivered, and
 * each forwarder's own ns per run from bpf_stats, with ratios from the same run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dpfix.h"
#include "bench.skel.h"
#include "bench_peers.skel.h"

#define VIP "10.0.9.10"
#define CLIENT "10.0.1.2"
#define NMODES 4

static unsigned int frames = 4000000, runs = 3;

enum { M_XBASE, M_CANARY, M_KFWD, M_NFT };
static const char *mode_name[NMODES] = {
	"XDP: trivial forwarder (swap MACs + redirect)",
	"XDP: xdp_canary, established flow (NAT + redirect)",
	"kernel: plain IP forwarding (XDP_PASS for NAPI, then the stack)",
	"kernel: nftables DNAT, numgen map (conntrack)",
};

struct wire {
	struct bench_bpf *sink, *base;
	struct bench_peers_bpf *gen[NMODES];
	struct bench_peers_bpf *pass;
	struct instance canary;
	int if_ya, if_yb, if_yc;
};

static size_t frame(uint8_t *buf, const char *src, int sport, const char *dst, int dport,
		    uint8_t flags, const uint8_t *smac, const uint8_t *dmac)
{
	struct pkt_spec p;

	spec_pkt(&p, src, sport, dst, dport, IPPROTO_TCP, flags);
	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, dmac, 6);
	return pkt_build(&p, buf, 256);
}

/* A generator whose frame goes from the client to dst:dport, padded to 64 bytes. */
static struct bench_peers_bpf *gen_load(const char *dst, int dport)
{
	struct bench_peers_bpf *g = bench_peers_bpf__open();
	uint8_t buf[256] = {};

	if (!g)
		return NULL;
	frame(buf, CLIENT, 40000, dst, dport, TH_ACK, MAC_CLIENT, MAC_XA);
	memcpy(g->bss->gen_frame, buf, sizeof(g->bss->gen_frame));
	if (bench_peers_bpf__load(g)) {
		bench_peers_bpf__destroy(g);
		return NULL;
	}
	return g;
}

/* SYN, SYN-ACK, ACK through the instance, so the live flow is established in its table.
 * The SYN-ACK is offered from both arms' backends; the one the flow went to takes it. */
static void handshake(struct instance *c)
{
	uint8_t pkt[256];
	struct run r;

	xdp_run(c, if_xa, pkt, frame(pkt, CLIENT, 40000, VIP, 80, TH_SYN, MAC_CLIENT, MAC_XA), &r);
	xdp_run(c, if_xb, pkt,
		frame(pkt, "10.0.2.2", 8080, CLIENT, 40000, TH_SYN | TH_ACK, MAC_ST1, MAC_XB), &r);
	xdp_run(c, if_xc, pkt,
		frame(pkt, "10.0.3.2", 8080, CLIENT, 40000, TH_SYN | TH_ACK, MAC_CA1, MAC_XC), &r);
	xdp_run(c, if_xa, pkt, frame(pkt, CLIENT, 40000, VIP, 80, TH_ACK, MAC_CLIENT, MAC_XA), &r);
}

static int wire_setup(struct wire *w)
{
	struct service_spec spec;
	int i;

	if (setup_netns())
		return -1;
	/* The kernel path's next hops, and DNAT with a 45/45/10 numgen map as bench-peers. */
	if (sh("ip neigh replace 10.0.2.3 lladdr 02:00:00:00:02:03 dev xb nud permanent") ||
	    sh("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.xa.rp_filter=0"))
		return -1;
	w->if_ya = if_nametoindex("ya");
	w->if_yb = if_nametoindex("yb");
	w->if_yc = if_nametoindex("yc");
	w->sink = bench_bpf__open_and_load();
	w->base = bench_bpf__open();
	w->pass = bench_peers_bpf__open_and_load();
	if (!w->sink || !w->base || !w->pass)
		return -1;
	w->base->rodata->out_ifindex = if_xb;
	if (bench_bpf__load(w->base))
		return -1;
	for (i = 0; i < NMODES; i++) {
		w->gen[i] = i == M_KFWD ? gen_load("10.0.2.2", 8080) : gen_load(VIP, 80);
		if (!w->gen[i])
			return -1;
	}
	if (instance_load_tuned(&w->canary, NULL, NULL))
		return -1;
	spec_init(&spec, "live", VIP, 80, IPPROTO_TCP, CANARY_HASH_FLOW, 1000);
	spec_backend(&spec, 0, "10.0.2.2:8080");
	spec_backend(&spec, 0, "10.0.2.3:8080");
	spec_backend(&spec, 1, "10.0.3.2:8080");
	if (apply_specs(&w->canary, &spec, 1))
		return -1;
	handshake(&w->canary);
	if (bpf_xdp_attach(w->if_yb, bpf_program__fd(w->sink->progs.xdp_sink), 0, NULL) ||
	    bpf_xdp_attach(w->if_yc, bpf_program__fd(w->sink->progs.xdp_sink), 0, NULL))
		return -1;
	/* ya sends with XDP_TX; a veth delivers XDP frames only where NAPI runs, so the
	 * program under test on xa provides it. */
	return 0;
}

static __u64 sink_total(struct wire *w)
{
	int n = canary_ncpus(), i;
	__u64 v[256] = {}, sum = 0;
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(w->sink->maps.sink_count), &zero, v);
	for (i = 0; i < n && i < 256; i++)
		sum += v[i];
	return sum;
}

static void prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	*ns = *cnt = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
	}
}

/* fwd_packets of both arms of the live service. */
static __u64 fwd_packets(struct wire *w)
{
	uint32_t id = svc_id(&w->canary, "live");

	return armst(&w->canary, id, 0).fwd_packets + armst(&w->canary, id, 1).fwd_packets;
}

struct result {
	double pps[32], share[32], ns_run[32];
};

/* One run of a mode: attach its program on xa (and its rules), send, count, undo. */
static int run_mode(struct wire *w, int mode, unsigned int t, struct result *res)
{
	int fd = mode == M_XBASE    ? bpf_program__fd(w->base->progs.xdp_baseline)
		 : mode == M_CANARY ? w->canary.prog_fd
				    : bpf_program__fd(w->pass->progs.xdp_pass);
	uint8_t pkt[64] = {};
	struct xdp_md ctx = {.data = 0, .data_end = sizeof(pkt), .ingress_ifindex = w->if_ya};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = frames,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	__u64 before, after, ns0, ns1, c0, c1, fwd0 = fwd_packets(w), fwd1;
	uint64_t t0, t1;

	if (mode == M_NFT &&
	    sh("nft -f - <<'EOF'\n"
	       "table ip bpeers {\n chain pre {\n"
	       "  type nat hook prerouting priority dstnat;\n"
	       "  ip daddr " VIP " tcp dport 80 dnat to numgen random mod 100 map "
	       "{ 0-44 : 10.0.2.2, 45-89 : 10.0.2.3, 90-99 : 10.0.3.2 } : 8080\n }\n}\nEOF"))
		return -1;
	if (bpf_xdp_attach(if_xa, fd, 0, NULL))
		return -1;
	prog_stats(fd, &ns0, &c0);
	before = sink_total(w);
	t0 = now_ns();
	if (bpf_prog_test_run_opts(bpf_program__fd(w->gen[mode]->progs.xdp_gen_fresh), &o)) {
		fprintf(stderr, "live-frame generator failed: %s\n", strerror(errno));
		return -1;
	}
	usleep(20000); /* the last NAPI batches */
	t1 = now_ns();
	after = sink_total(w);
	prog_stats(fd, &ns1, &c1);
	bpf_xdp_detach(if_xa, 0, NULL);
	if (mode == M_NFT && sh("nft delete table ip bpeers && conntrack -F 2>/dev/null; true"))
		return -1;
	/* xdp_canary must have taken the established path for every frame it forwarded (the
	 * sink also sees the odd frame of the kernel's own, IPv6 neighbour discovery). */
	fwd1 = fwd_packets(w);
	if (mode == M_CANARY && fwd1 - fwd0 + 1000 < after - before) {
		fprintf(stderr, "peers_pps: xdp_canary forwarded %llu frames as established, the "
			"sink saw %llu: not the path it names\n", (unsigned long long)(fwd1 - fwd0),
			(unsigned long long)(after - before));
		return -1;
	}
	res->pps[t] = (after - before) / ((t1 - t0) / 1e9);
	res->share[t] = (double)(after - before) / frames;
	res->ns_run[t] = c1 > c0 ? (double)(ns1 - ns0) / (c1 - c0) : 0;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *in, unsigned int n)
{
	double v[32];

	memcpy(v, in, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(struct result *res)
{
	double m[NMODES], share[NMODES];
	int i;

	for (i = 0; i < NMODES; i++) {
		m[i] = median(res[i].pps, runs);
		share[i] = median(res[i].share, runs);
	}
	printf("\nPacket rate through the splitter alone: live-frame generator -> veth -> "
	       "forwarder -> veth -> XDP sink\n%u frames of one established flow per run, "
	       "median of %u interleaved runs\n\n", frames, runs);
	printf("| forwarder | Mpps delivered | share delivered | ns per frame on the wire | ns "
	       "above the trivial XDP forwarder | own ns per run (bpf_stats) | Mpps vs nftables "
	       "DNAT |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < NMODES; i++)
		printf("| %s | %.2f | %.1f%% | %.0f | %.0f | %s%.1f | %.2fx |\n", mode_name[i],
		       m[i] / 1e6, 100 * share[i], 1e9 / m[i], 1e9 / m[i] - 1e9 / m[M_XBASE],
		       i >= M_KFWD ? "(XDP_PASS) " : "", median(res[i].ns_run, runs), m[i] / m[M_NFT]);
	printf("\nxdp_canary / nftables DNAT: %.2fx the Mpps (goal >= 5x: %s); nftables DNAT's "
	       "cost above the trivial XDP forwarder is %.1fx xdp_canary's; xdp_canary / trivial "
	       "XDP forwarder: %.2fx; nftables DNAT / plain kernel forwarding: %.2fx\n",
	       m[M_CANARY] / m[M_NFT], m[M_CANARY] >= 5 * m[M_NFT] ? "met" : "not met",
	       (1e9 / m[M_NFT] - 1e9 / m[M_XBASE]) / (1e9 / m[M_CANARY] - 1e9 / m[M_XBASE]),
	       m[M_CANARY] / m[M_XBASE], m[M_NFT] / m[M_KFWD]);
	/* For the chart and the live-cost table (bench-peers.sh reads these). */
	for (i = 0; i < NMODES; i++)
		printf("pps-data\t%d\t%.4f\t%.1f\n", i, m[i] / 1e6, median(res[i].ns_run, runs));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"frames", required_argument, NULL, 'f'},
		{"runs", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	static struct wire w;
	static struct result res[NMODES];
	unsigned int t;
	int opt, i, stats_fd;

	while ((opt = getopt_long(argc, argv, "f:r:h", opts, NULL)) != -1) {
		if (opt == 'f')
			frames = strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			runs = strtoul(optarg, NULL, 10);
		else {
			printf("Usage: peers_pps [--frames N] [--runs N (1..32)]\n"
			       "Packet rate of xdp_canary against nftables DNAT on one veth wire "
			       "(needs root).\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (runs < 1 || runs > 32 || frames < 1000) {
		fprintf(stderr, "peers_pps: --runs is 1..32 and --frames at least 1000\n");
		return 2;
	}
	canary_quiet_libs();
	if (wire_setup(&w)) {
		fprintf(stderr, "peers_pps: cannot set up the wire (run as root)\n");
		return 1;
	}
	/* bpf_stats while this fd is open: the forwarders' own run time. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (t = 0; t < runs; t++)
		for (i = 0; i < NMODES; i++)
			if (run_mode(&w, i, t, &res[i])) {
				fprintf(stderr, "peers_pps: %s: the run failed\n", mode_name[i]);
				return 1;
			}
	if (stats_fd >= 0)
		close(stats_fd);
	report(res);
	return 0;
}
