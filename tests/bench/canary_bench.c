/* canary_bench.c: `make bench`. Two tables, each a ratio against baselines measured in
 * the same run:
 *   1. ns per packet through BPF_PROG_TEST_RUN for each path of xdp_canary, against a
 *      program that only swaps MACs and redirects and against a minimal NAT forwarder
 *      (the job's floor: parse, one 5-tuple hash lookup, rewrite, redirect);
 *   2. packets per second delivered end to end through a veth "wire" with a live-frame
 *      generator, xdp_canary against the same trivial forwarder, with one RX queue and
 *      one generator, then one and two RX queues with a generator on each CPU.
 * Every measurement checks its verdict and counters, so a path that silently became
 * another path (see below) fails instead of producing a number. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "dpfix.h"
#include "xdp_canary.h"
#include "base/util.h"
#include "maps/apply.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "bench.skel.h"
#include "xdp_canary.skel.h"

static unsigned int repeat = 1000000, trials = 7;
static unsigned int live_packets = 20000000;
static bool skip_live, quiet;

/* The VIP is also the only backend, so the NAT rewrite maps the packet onto itself:
 * with `repeat`, the kernel runs the program again on the buffer it just rewrote, and
 * this way every iteration still sees the packet it claims to measure. */
#define VIP "10.0.2.10"

struct tune {
	bool syn_always_new, sniff_every_reply;
};

static void tune_bench(struct xdp_canary_bpf *skel, void *arg)
{
	const struct tune *t = arg;

	/* A SYN normally finds its own entry from the previous iteration and counts as a
	 * retransmission. With an "always expired" SYN timeout every SYN is decided
	 * afresh (lookup, decision, map update): the new-flow path. */
	if (t->syn_always_new)
		skel->rodata->syn_timeout_ns = ~0ull;
	/* Likewise a reply normally answers its request once; this makes every reply the
	 * first byte of an answer: a TTFB sample and a status-line parse each time. */
	if (t->sniff_every_reply)
		skel->rodata->bench_every_reply_answers = true;
}

/* An instance with one HTTP service whose VIP is its own only backend. */
static int canary_load(struct instance *c, bool syn_always_new, bool sniff_every_reply)
{
	struct tune t = {syn_always_new, sniff_every_reply};
	struct service_spec spec;

	if (instance_load_tuned(c, tune_bench, &t))
		return -1;
	spec_init(&spec, "bench", VIP, 80, IPPROTO_TCP, CANARY_HASH_CLIENT, 0);
	spec.http = true;
	spec_backend(&spec, 0, VIP ":80");
	return apply_specs(c, &spec, 1);
}

static size_t build_payload(uint8_t *buf, const char *src, int sport, const char *dst, int dport,
			    uint8_t flags, const uint8_t *smac, const uint8_t *dmac,
			    const char *payload)
{
	struct pkt_spec p = {};

	p.payload = payload;
	p.plen = payload ? strlen(payload) : 0;

	p.family = addr_parse(src, &p.src);
	addr_parse(dst, &p.dst);
	p.sport = sport;
	p.dport = dport;
	p.proto = IPPROTO_TCP;
	p.tcp_flags = flags;
	p.seq = 1;
	p.ack = 1;
	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, dmac, 6);
	return pkt_build(&p, buf, 256);
}

static size_t build(uint8_t *buf, const char *src, int sport, const char *dst, int dport,
		    uint8_t flags, const uint8_t *smac, const uint8_t *dmac)
{
	return build_payload(buf, src, sport, dst, dport, flags, smac, dmac, NULL);
}

struct path {
	const char *name;
	int prog_fd;
	int ifindex;
	uint8_t pkt[256];
	size_t len;
	__u32 verdict;
	/* Counter that must rise by exactly `repeat` per run. */
	struct instance *c;
	size_t reason_off;  /* offset in reason_stats, or -1 */
	int arm_field;	    /* 0: none, 1: fwd_packets, 2: rev_packets, 3: 2xx responses */
	/* The NAT floor rewrites for real, between two entries that map the packet onto
	 * each other: after an odd number of runs the frame is odd_out, else pkt. */
	const uint8_t *odd_out;
	double ns[32];
	bool bad;
};

static __u64 counter(struct path *p)
{
	if (!p->c)
		return 0;
	if (p->arm_field) {
		struct arm_stats a;

		arm_stats_read(&p->c->maps, 0, 0, &a);
		return p->arm_field == 1 ? a.fwd_packets
		       : p->arm_field == 2 ? a.rev_packets
					   : a.http_class[2];
	}
	{
		struct reason_stats r;

		reasons_read(&p->c->maps, &r);
		return *(__u64 *)((char *)&r + p->reason_off);
	}
}

static double run_path(struct path *p)
{
	uint8_t out[256];
	struct xdp_md ctx = {.data = 0, .data_end = p->len, .ingress_ifindex = p->ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->pkt, .data_size_in = p->len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);
	__u64 before = counter(p), after;
	const uint8_t *want;

	if (bpf_prog_test_run_opts(p->prog_fd, &o)) {
		fprintf(stderr, "%s: test run failed: %s\n", p->name, strerror(errno));
		p->bad = true;
		return 0;
	}
	after = counter(p);
	if (o.retval != p->verdict) {
		if (!quiet)
			fprintf(stderr, "%s: verdict %u, expected %u\n", p->name, o.retval, p->verdict);
		p->bad = true;
	}
	/* Beyond the Ethernet header the frame must be exactly what went in (or, for the
	 * NAT floor, what an odd number of rewrites makes of it). */
	want = p->odd_out && repeat % 2 ? p->odd_out : p->pkt;
	if (o.data_size_out != p->len || memcmp(out + 14, want + 14, p->len - 14)) {
		if (!quiet)
			fprintf(stderr, "%s: the program changed the packet, so later iterations would "
				"measure another path\n",
			p->name);
		p->bad = true;
	}
	if (p->c && after - before != repeat) {
		if (!quiet)
			fprintf(stderr, "%s: counter rose by %llu, expected %u: not the intended path\n",
			p->name, (unsigned long long)(after - before), repeat);
		p->bad = true;
	}
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- live frames ------------------------------------------------------------------------- */

/* One wire: generator veth ga -> gb (program under test) -> oa -> ob (sink), with nq RX
 * and TX queues on every end. Wire w uses 10.0.(4+2w).0/24 on gb and 10.0.(5+2w).0/24 on
 * oa; its VIP 10.0.(5+2w).10 is its own backend, reached through oa. */
struct wire {
	unsigned int nq;
	int if_ga, if_gb, if_oa, if_ob;
	char vip[16];
	uint8_t pkt[256];
	size_t len;
};

struct live {
	struct bench_bpf *gen, *sink, *base;
	struct wire w[2];
};

static int wire_setup(struct live *l, struct wire *w, unsigned int idx, unsigned int nq)
{
	unsigned int a = 4 + 2 * idx, b = 5 + 2 * idx, i;
	char cmd[6][256], n[4][8];
	const uint8_t ma[6] = {2, 0, 0, 0, a, 1}, mb[6] = {2, 0, 0, 0, a, 2};
	char src[16];

	for (i = 0; i < 4; i++)
		snprintf(n[i], sizeof(n[i]), "%c%c%u", "gaoo"[i], "abab"[i], idx);
	snprintf(cmd[0], 256, "ip link add %s numrxqueues %u numtxqueues %u address 02:00:00:00:%02x:01 "
		 "type veth peer name %s numrxqueues %u numtxqueues %u address 02:00:00:00:%02x:02",
		 n[0], nq, nq, a, n[1], nq, nq, a);
	snprintf(cmd[1], 256, "ip link add %s numrxqueues %u numtxqueues %u address 02:00:00:00:%02x:01 "
		 "type veth peer name %s numrxqueues %u numtxqueues %u address 02:00:00:00:%02x:02",
		 n[2], nq, nq, b, n[3], nq, nq, b);
	snprintf(cmd[2], 256, "for i in %s %s %s %s; do ip link set $i up; done", n[0], n[1], n[2], n[3]);
	snprintf(cmd[3], 256, "ip addr add 10.0.%u.1/24 dev %s", a, n[1]);
	snprintf(cmd[4], 256, "ip addr add 10.0.%u.1/24 dev %s", b, n[2]);
	snprintf(cmd[5], 256, "ip neigh replace 10.0.%u.10 lladdr 02:00:00:00:%02x:02 dev %s nud permanent",
		 b, b, n[2]);
	for (i = 0; i < 6; i++)
		if (sh(cmd[i]))
			return -1;
	w->nq = nq;
	w->if_ga = if_nametoindex(n[0]);
	w->if_gb = if_nametoindex(n[1]);
	w->if_oa = if_nametoindex(n[2]);
	w->if_ob = if_nametoindex(n[3]);
	snprintf(w->vip, sizeof(w->vip), "10.0.%u.10", b);
	snprintf(src, sizeof(src), "10.0.%u.2", a);
	w->len = build(w->pkt, src, 40000, w->vip, 80, TH_ACK, ma, mb);
	return bpf_xdp_attach(w->if_ob, bpf_program__fd(l->sink->progs.xdp_sink), 0, NULL);
}

/* Wire 0 has one queue per end, wire 1 two. The baseline forwarder redirects to the oa of
 * the wire it runs on, so each wire has its own instance of it. */
static int live_setup(struct live *l, struct bench_bpf **base2)
{
	l->gen = bench_bpf__open_and_load();
	l->sink = bench_bpf__open_and_load();
	l->base = bench_bpf__open();
	*base2 = bench_bpf__open();
	if (!l->gen || !l->sink || !l->base || !*base2)
		return -1;
	if (wire_setup(l, &l->w[0], 0, 1) || wire_setup(l, &l->w[1], 1, 2))
		return -1;
	l->base->rodata->out_ifindex = l->w[0].if_oa;
	(*base2)->rodata->out_ifindex = l->w[1].if_oa;
	return bench_bpf__load(l->base) || bench_bpf__load(*base2) ? -1 : 0;
}

static __u64 sink_total(struct live *l)
{
	int n = canary_ncpus(), i;
	__u64 v[256] = {}, sum = 0;
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(l->sink->maps.sink_count), &zero, v);
	for (i = 0; i < n && i < 256; i++)
		sum += v[i];
	return sum;
}

struct gen_thread {
	pthread_t tid;
	int cpu, prog_fd, ifindex, err;
	const uint8_t *pkt;
	size_t len;
	unsigned int count;
};

/* One generator, pinned to its CPU: veth picks the peer's RX queue by the sending CPU. */
static void *gen_main(void *arg)
{
	struct gen_thread *g = arg;
	struct xdp_md ctx = {.data = 0, .data_end = g->len, .ingress_ifindex = g->ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = g->pkt, .data_size_in = g->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = g->count,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(g->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	g->err = bpf_prog_test_run_opts(g->prog_fd, &o) ? errno : 0;
	return NULL;
}

/* Push live_packets frames into ga of wire w (so through gb's program), from nthreads
 * generators on CPUs 0.., and count what reaches ob. Returns frames per second. */
static double live_run(struct live *l, struct wire *w, int prog_fd, unsigned int nthreads,
		       double *delivered_ratio)
{
	struct gen_thread g[2];
	__u64 before, after;
	uint64_t t0, t1;
	unsigned int i;

	if (bpf_xdp_attach(w->if_gb, prog_fd, 0, NULL))
		return 0;
	before = sink_total(l);
	t0 = now_ns();
	for (i = 0; i < nthreads; i++) {
		g[i] = (struct gen_thread){.cpu = i, .prog_fd = bpf_program__fd(l->gen->progs.xdp_gen),
					   .ifindex = w->if_ga, .pkt = w->pkt, .len = w->len,
					   .count = live_packets / nthreads};
		pthread_create(&g[i].tid, NULL, gen_main, &g[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(g[i].tid, NULL);
		if (g[i].err)
			fprintf(stderr, "live-frame generator failed: %s\n", strerror(g[i].err));
	}
	usleep(20000); /* let the last NAPI batches drain */
	t1 = now_ns();
	after = sink_total(l);
	bpf_xdp_detach(w->if_gb, 0, NULL);
	*delivered_ratio = (double)(after - before) / (live_packets / nthreads * nthreads);
	return (after - before) / ((t1 - t0) / 1e9);
}

/* The wire table: the trivial forwarder and xdp_canary on one RX queue with one
 * generator (the comparable figure), then one and two RX queues with two generators. */
static int live_table(struct instance *est)
{
	static const struct {
		const char *what;
		unsigned int wire, threads;
	} cfg[] = {
		{"1 RX queue, 1 generator", 0, 1},
		{"1 RX queue, 2 generators", 0, 2},
		{"2 RX queues, 2 generators", 1, 2},
	};
	struct service_spec spec[2];
	struct bench_bpf *base2;
	struct live live = {};
	double b[3][3], s[3][3], bd[3] = {0}, sd[3] = {0}, r, mb[3], ms[3];
	unsigned int c, t, w;

	if (live_setup(&live, &base2)) {
		fprintf(stderr, "cannot set up the live-frame topology\n");
		return -1;
	}
	/* xdp_canary on gb needs a service reachable through oa, on each wire. */
	for (w = 0; w < 2; w++) {
		spec_init(&spec[w], w ? "live2" : "live", live.w[w].vip, 80, IPPROTO_TCP,
			  CANARY_HASH_CLIENT, 0);
		spec_backend(&spec[w], 0, w ? "10.0.7.10:80" : "10.0.5.10:80");
	}
	if (apply_specs(est, spec, 2))
		return -1;
	for (t = 0; t < 3; t++)
		for (c = 0; c < ARRAY_SIZE(cfg); c++) {
			struct wire *wi = &live.w[cfg[c].wire];
			struct bench_bpf *bb = cfg[c].wire ? base2 : live.base;

			b[c][t] = live_run(&live, wi, bpf_program__fd(bb->progs.xdp_baseline),
					   cfg[c].threads, &r);
			bd[c] += r / 3;
			s[c][t] = live_run(&live, wi, est->prog_fd, cfg[c].threads, &r);
			sd[c] += r / 3;
		}
	printf("\nEnd to end through veth: live-frame generator -> veth -> program -> "
	       "veth -> counting sink\n%u frames per run, median of 3 runs, interleaved\n\n",
	       live_packets);
	printf("| wire | trivial forwarder Mpps (delivered) | xdp_canary Mpps (delivered) | "
	       "xdp_canary vs trivial |\n|---|---:|---:|---:|\n");
	for (c = 0; c < ARRAY_SIZE(cfg); c++) {
		mb[c] = median(b[c], 3) / 1e6;
		ms[c] = median(s[c], 3) / 1e6;
		printf("| %s | %.2f (%.1f%%) | %.2f (%.1f%%) | %.2fx |\n", cfg[c].what, mb[c],
		       100 * bd[c], ms[c], 100 * sd[c], ms[c] / mb[c]);
	}
	printf("\nTwo RX queues with a generator on each CPU against one queue and one "
	       "generator: trivial %.2fx, xdp_canary %.2fx\n",
	       mb[2] / mb[0], ms[2] / ms[0]);
	printf("Goal (issue 11): xdp_canary >= 0.90x the trivial forwarder on the wire "
	       "(1 queue, 1 generator): %.2fx, %s\n",
	       ms[0] / mb[0], ms[0] / mb[0] >= 0.9 ? "met" : "NOT met");
	bench_bpf__destroy(base2);
	return 0;
}

/* ---- the NAT floor ------------------------------------------------------------------- */

/* Entries in the NAT floor's table besides the benchmark's own two, so that its lookup
 * is one in a populated table like the splitter's. */
#define NAT_FILL 10000

static void nat_put(struct bench_bpf *b, __be32 s, __be16 sp, __be32 d, __be16 dp, __be32 to,
		    __be16 to_port)
{
	struct bench_nat_key k = {.saddr = s, .daddr = d, .sport = sp, .dport = dp,
				  .proto = IPPROTO_TCP};
	struct bench_nat_value v = {.addr = to, .port = to_port, .ifindex = if_xb};

	memcpy(v.dmac, MAC_ST1, 6);
	memcpy(v.smac, MAC_XB, 6);
	bpf_map_update_elem(bpf_map__fd(b->maps.nat_flows), &k, &v, BPF_ANY);
}

/* Fill the NAT floor's table and check that it really rewrites: the benchmark's packet
 * client -> VIP:80 becomes client -> 10.0.2.2:8080 (out of xb, checksums verified from
 * scratch), and that packet has the entry that maps it back, so with `repeat` every
 * iteration is a hit that changes the packet. The frame after one run goes to alt. */
static int nat_floor_setup(struct bench_bpf *b, struct path *p, uint8_t *alt)
{
	__be32 client = inet_addr("10.0.1.2"), vip = inet_addr(VIP), be = inet_addr("10.0.2.2");
	uint8_t out[256];
	struct xdp_md ctx = {.data = 0, .ingress_ifindex = if_xa};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out, .data_size_out = sizeof(out),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	unsigned int i;

	for (i = 0; i < NAT_FILL; i++)
		nat_put(b, htonl(0x0a090000 + i), htons(1024 + i % 50000), vip, htons(80), be,
			htons(8080));
	nat_put(b, client, htons(40000), vip, htons(80), be, htons(8080));
	nat_put(b, client, htons(40000), be, htons(8080), vip, htons(80));
	p->len = build(p->pkt, "10.0.1.2", 40000, VIP, 80, TH_ACK, MAC_CLIENT, MAC_XA);
	build(alt, "10.0.1.2", 40000, "10.0.2.2", 8080, TH_ACK, MAC_XB, MAC_ST1);
	p->odd_out = alt;
	ctx.data_end = p->len;
	o.data_in = p->pkt;
	o.data_size_in = p->len;
	if (bpf_prog_test_run_opts(p->prog_fd, &o) || o.retval != XDP_REDIRECT ||
	    o.data_size_out != p->len || memcmp(out, alt, p->len) || !pkt_csums_ok(out, p->len)) {
		fprintf(stderr, "NAT floor: the rewrite is not the expected frame\n");
		return -1;
	}
	return 0;
}

/* SYN, SYN-ACK, ACK of the benchmark's flow 10.0.1.2:40000 <-> VIP:80, once each. */
static void handshake(struct instance *c)
{
	uint8_t pkt[256], out[256];
	struct {
		const char *src, *dst;
		int sport, dport, ifindex;
		uint8_t flags;
		const uint8_t *smac, *dmac;
	} seg[3] = {
		{"10.0.1.2", VIP, 40000, 80, if_xa, TH_SYN, MAC_CLIENT, MAC_XA},
		{VIP, "10.0.1.2", 80, 40000, if_xb, TH_SYN | TH_ACK, MAC_ST1, MAC_XB},
		{"10.0.1.2", VIP, 40000, 80, if_xa, TH_ACK, MAC_CLIENT, MAC_XA},
	};
	unsigned int i;

	for (i = 0; i < 3; i++) {
		size_t len = build(pkt, seg[i].src, seg[i].sport, seg[i].dst, seg[i].dport,
				   seg[i].flags, seg[i].smac, seg[i].dmac);
		struct xdp_md ctx = {.data = 0, .data_end = len, .ingress_ifindex = seg[i].ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		bpf_prog_test_run_opts(c->prog_fd, &o);
	}
}

/* Issue 11's goals, as information: a miss is reported, never a failure. */
static void print_goals(double est_nat, double rep_nat, double syn_est)
{
	static const char *verdict[] = {"NOT met", "met"};

	printf("\nGoals (issue 11), from this run:\n");
	printf("  established <= 1.30x NAT floor: %.2fx, %s\n", est_nat, verdict[est_nat <= 1.3]);
	printf("  reply       <= 1.40x NAT floor: %.2fx, %s\n", rep_nat, verdict[rep_nat <= 1.4]);
	printf("  new flow    <= 3.00x established: %.2fx, %s\n", syn_est, verdict[syn_est <= 3.0]);
}

static void usage(void)
{
	printf("Usage: canary_bench [--repeat N] [--trials N] [--live-packets N] [--no-live]\n"
	       "Measures xdp_canary against a trivial forwarder and a minimal NAT forwarder in\n"
	       "the same run, on BPF_PROG_TEST_RUN and on a veth wire (needs root).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"repeat", required_argument, NULL, 'r'},
		{"trials", required_argument, NULL, 't'},
		{"live-packets", required_argument, NULL, 'l'},
		{"no-live", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct instance est = {}, syn = {}, sniff = {};
	struct bench_bpf *base;
	/* Printed in this order: the baselines first. */
	static const unsigned int order[] = {0, 8, 1, 2, 3, 4, 5, 6, 7};
	struct path paths[9];
	uint8_t nat_alt[256];
	unsigned int i, t, npaths = 9;
	double med[9];
	int opt, failed = 0;

	while ((opt = getopt_long(argc, argv, "r:t:l:nh", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			repeat = strtoul(optarg, NULL, 10);
			break;
		case 't':
			trials = strtoul(optarg, NULL, 10);
			if (trials < 1 || trials > 32)
				trials = 7;
			break;
		case 'l':
			live_packets = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			skip_live = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	canary_quiet_libs();
	if (setup_netns()) {
		fprintf(stderr, "cannot set up the private namespace (run as root)\n");
		return 1;
	}
	base = bench_bpf__open();
	if (!base)
		return 1;
	base->rodata->out_ifindex = if_xb;
	bpf_map__set_max_entries(base->maps.nat_flows, 65536);
	if (bench_bpf__load(base) || canary_load(&est, false, false) ||
	    canary_load(&syn, true, false) || canary_load(&sniff, false, true)) {
		fprintf(stderr, "cannot load the programs (run with root)\n");
		return 1;
	}

	memset(paths, 0, sizeof(paths));
	paths[0] = (struct path){.name = "baseline: swap MACs + redirect",
				 .prog_fd = bpf_program__fd(base->progs.xdp_baseline),
				 .ifindex = if_xa, .verdict = XDP_REDIRECT};
	paths[0].len = build(paths[0].pkt, "10.0.1.2", 40000, VIP, 80, TH_ACK, MAC_CLIENT, MAC_XA);
	paths[8] = (struct path){.name = "NAT floor: 5-tuple lookup + rewrite + redirect",
				 .prog_fd = bpf_program__fd(base->progs.xdp_nat_floor),
				 .ifindex = if_xa, .verdict = XDP_REDIRECT};
	if (nat_floor_setup(base, &paths[8], nat_alt))
		return 1;
	paths[1] = (struct path){.name = "pass-through (port of no service)", .prog_fd = est.prog_fd,
				 .ifindex = if_xa, .verdict = XDP_PASS, .c = &est,
				 .reason_off = offsetof(struct reason_stats, pass_not_service)};
	paths[1].len = build(paths[1].pkt, "10.0.1.2", 40000, "10.0.9.9", 22, TH_ACK, MAC_CLIENT,
			     MAC_XA);
	paths[5] = (struct path){.name = "pass-through (service port, other address)",
				 .prog_fd = est.prog_fd, .ifindex = if_xa, .verdict = XDP_PASS,
				 .c = &est,
				 .reason_off = offsetof(struct reason_stats, pass_not_service)};
	paths[5].len = build(paths[5].pkt, "10.0.1.2", 40000, "10.0.9.9", 80, TH_ACK, MAC_CLIENT,
			     MAC_XA);
	paths[2] = (struct path){.name = "established (client -> backend)", .prog_fd = est.prog_fd,
				 .ifindex = if_xa, .verdict = XDP_REDIRECT, .c = &est, .arm_field = 1};
	paths[2].len = build(paths[2].pkt, "10.0.1.2", 40000, VIP, 80, TH_ACK, MAC_CLIENT, MAC_XA);
	paths[3] = (struct path){.name = "reply (backend -> client)", .prog_fd = est.prog_fd,
				 .ifindex = if_xb, .verdict = XDP_REDIRECT, .c = &est, .arm_field = 2};
	paths[3].len = build(paths[3].pkt, VIP, 80, "10.0.1.2", 40000, TH_ACK, MAC_ST1, MAC_XB);
	paths[4] = (struct path){.name = "new flow (SYN)", .prog_fd = syn.prog_fd, .ifindex = if_xa,
				 .verdict = XDP_REDIRECT, .c = &syn,
				 .reason_off = offsetof(struct reason_stats, flow_reused)};
	paths[4].len = build(paths[4].pkt, "10.0.1.2", 40001, VIP, 80, TH_SYN, MAC_CLIENT, MAC_XA);

	paths[6] = (struct path){.name = "reply with payload, response under way",
				 .prog_fd = est.prog_fd, .ifindex = if_xb, .verdict = XDP_REDIRECT,
				 .c = &est, .arm_field = 2};
	paths[6].len = build_payload(paths[6].pkt, VIP, 80, "10.0.1.2", 40000, TH_ACK | TH_PSH,
				     MAC_ST1, MAC_XB, "<html>... the middle of a response ...");
	paths[7] = (struct path){.name = "reply, HTTP status line (TTFB + sniffing)",
				 .prog_fd = sniff.prog_fd, .ifindex = if_xb, .verdict = XDP_REDIRECT,
				 .c = &sniff, .arm_field = 3};
	paths[7].len = build_payload(paths[7].pkt, VIP, 80, "10.0.1.2", 40000, TH_ACK | TH_PSH,
				     MAC_ST1, MAC_XB, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
	/* Warm up: a full handshake puts the flow in the flow table of each instance (an
	 * entry picked up mid-stream would stay pending and count no health), then one run
	 * of every path (the SYN path's first entry). */
	handshake(&est);
	handshake(&sniff);

	{
		__u32 saved = repeat;

		repeat = 1;
		quiet = true;
		for (i = 0; i < npaths; i++) {
			run_path(&paths[i]);
			paths[i].bad = false; /* the first SYN is a new flow, not a reuse */
		}
		repeat = saved;
		quiet = false;
	}
	for (t = 0; t < trials; t++)
		for (i = 0; i < npaths; i++)
			paths[i].ns[t] = run_path(&paths[i]);
	for (i = 0; i < npaths; i++) {
		med[i] = median(paths[i].ns, trials);
		failed |= paths[i].bad;
	}

	printf("\nxdp_canary per-packet cost, BPF_PROG_TEST_RUN, repeat %u, median of %u trials\n\n",
	       repeat, trials);
	printf("| path | ns per packet | vs trivial forwarder | vs NAT floor |\n"
	       "|---|---:|---:|---:|\n");
	for (i = 0; i < npaths; i++) {
		unsigned int k = order[i];

		printf("| %s | %.1f | %.2fx | %.2fx |\n", paths[k].name, med[k], med[k] / med[0],
		       med[k] / med[8]);
	}
	print_goals(med[2] / med[8], med[3] / med[8], med[4] / med[2]);
	if (failed)
		printf("\nSome paths did not behave as intended (see above); the numbers are not "
		       "valid.\n");

	if (!skip_live && live_table(&est))
		return 1;
	return failed;
}
