/* canary_scale.c: `make bench-scale`: does xdp_canary's per-packet cost stay flat as the
 * work grows? The established, reply and new-flow (SYN) paths, and the NAT floor of
 * canary_bench beside them, measured as the flow table fills (10 .. 1M flows), as
 * services grow (1 .. 256) and as backends per arm grow (1 .. 64).
 *
 * Method. BPF_PROG_TEST_RUN with `repeat` runs one packet again and again, so its flow
 * entry stays in the CPU caches. Here every packet runs once (repeat 1) and each is a
 * different flow picked at random among all in the table, so a large table shows its
 * cache misses. A run of one packet also times the test run's own overhead (a clock
 * read, bottom halves off and on); an empty program measured the same way, interleaved,
 * gives that overhead, which is subtracted. Each point is its own instance, alone:
 * loaded, filled, warmed up with untimed samples, measured, freed. Samples of the paths
 * are interleaved (established, reply, SYN, NAT floor, empty, again) and split into
 * blocks; a point's figure is the median of its blocks' means, and the sweep over the
 * points is repeated (rounds) and the median round taken. Every run's verdict is
 * checked, and the reason counters prove the path: each SYN is a new flow (flow_new),
 * no established packet was decided afresh (flow_midstream) and no reply missed its
 * flow (reply_no_flow). The flows are made by the program itself: a SYN, the backend's
 * SYN-ACK and the client's ACK each, so nothing here depends on the flow table's
 * layout. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dpfix.h"
#include "bench.skel.h"

static unsigned int samples = 14000, blocks = 7, rounds = 3;

/* A flow as the benchmark made it; host byte order. */
struct flowrec {
	uint32_t client, vip, backend;
	uint16_t cport, bport;
};

struct scale {
	struct instance in;
	struct bench_bpf *b;
	struct flowrec *f;
	unsigned int n, nsvc;
	unsigned int syn_seq;
	uint64_t rng;
	unsigned long bad_verdicts;
};

enum { K_EST, K_REP, K_SYN, K_NAT, K_EMPTY, K_N };
static const char *kind_name[K_N] = {"established", "reply", "new flow (SYN)", "NAT floor",
				     "empty program"};

static uint32_t rnd(struct scale *sc)
{
	sc->rng ^= sc->rng << 13;
	sc->rng ^= sc->rng >> 7;
	sc->rng ^= sc->rng << 17;
	return (uint32_t)(sc->rng >> 11);
}

static size_t mk(uint8_t *buf, uint32_t src, int sport, uint32_t dst, int dport, uint8_t flags,
		 const uint8_t *smac, const uint8_t *dmac)
{
	struct pkt_spec p = {.family = CANARY_AF_INET, .sport = sport, .dport = dport,
			     .proto = IPPROTO_TCP, .tcp_flags = flags, .seq = 1, .ack = 1};

	p.src.v4 = htonl(src);
	p.dst.v4 = htonl(dst);
	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, dmac, 6);
	return pkt_build(&p, buf, 256);
}

/* One run of one packet: the kernel's duration (ns); *out gets the frame. */
static __u32 run1(struct scale *sc, int fd, int ifindex, const uint8_t *pkt, size_t len,
		  uint8_t *out, __u32 want)
{
	struct xdp_md ctx = {.data = 0, .data_end = len, .ingress_ifindex = ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = 256, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o) || o.retval != want) {
		sc->bad_verdicts++;
		return 0;
	}
	return o.duration;
}

#define VIP_BASE     0x0a030001u /* 10.3.0.1: service s has 10.3.0.1 + s */
#define CLIENT_BASE  0x0a010000u /* 10.1.0.0/16, routed via xa */
#define BACKEND_BASE 0x0a020000u /* 10.2.0.0/16, routed via xb */

static uint32_t client_of(unsigned int i, uint16_t *port, uint16_t base)
{
	*port = base + (i >> 16);
	return CLIENT_BASE + (i & 0xffff);
}

/* Make flow i (of service i % nsvc) through the program: SYN, SYN-ACK, ACK. The backend
 * the SYN was sent to is read from the rewritten frame. */
static int make_flow(struct scale *sc, unsigned int i)
{
	struct flowrec *f = &sc->f[i];
	uint8_t pkt[256], out[256];
	size_t len;

	f->client = client_of(i, &f->cport, 1024);
	f->vip = VIP_BASE + i % sc->nsvc;
	len = mk(pkt, f->client, f->cport, f->vip, 80, TH_SYN, MAC_CLIENT, MAC_XA);
	run1(sc, sc->in.prog_fd, if_xa, pkt, len, out, XDP_REDIRECT);
	f->backend = ntohl(*(__be32 *)(out + 14 + 16));
	f->bport = ntohs(*(__be16 *)(out + 14 + 20 + 2));
	len = mk(pkt, f->backend, f->bport, f->client, f->cport, TH_SYN | TH_ACK, MAC_ST1, MAC_XB);
	run1(sc, sc->in.prog_fd, if_xb, pkt, len, out, XDP_REDIRECT);
	len = mk(pkt, f->client, f->cport, f->vip, 80, TH_ACK, MAC_CLIENT, MAC_XA);
	run1(sc, sc->in.prog_fd, if_xa, pkt, len, out, XDP_REDIRECT);
	return 0;
}

/* The NAT floor's entry for flow i: the same tuple to the same backend, out of xb. */
static void nat_flow(struct scale *sc, unsigned int i)
{
	const struct flowrec *f = &sc->f[i];
	struct bench_nat_key k = {.saddr = htonl(f->client), .daddr = htonl(f->vip),
				  .sport = htons(f->cport), .dport = htons(80),
				  .proto = IPPROTO_TCP};
	struct bench_nat_value v = {.addr = htonl(f->backend), .port = htons(f->bport),
				    .ifindex = if_xb};

	memcpy(v.dmac, MAC_ST1, 6);
	memcpy(v.smac, MAC_XB, 6);
	bpf_map_update_elem(bpf_map__fd(sc->b->maps.nat_flows), &k, &v, BPF_ANY);
}

/* Grow the table to n flows (made through the program), checking that each was verified
 * into the flow table. */
static int fill(struct scale *sc, unsigned int n)
{
	struct reason_stats r0, r1;
	unsigned int i, from = sc->n;

	reasons_read(&sc->in.maps, &r0);
	for (i = from; i < n; i++) {
		make_flow(sc, i);
		nat_flow(sc, i);
	}
	sc->n = n;
	reasons_read(&sc->in.maps, &r1);
	if (r1.flow_verified - r0.flow_verified != n - from || sc->bad_verdicts) {
		fprintf(stderr, "filling: %llu of %u flows verified, %lu bad verdicts\n",
			(unsigned long long)(r1.flow_verified - r0.flow_verified), n - from,
			sc->bad_verdicts);
		return -1;
	}
	return 0;
}

/* One sample of path k on a random flow (a fresh tuple for the SYN). */
static __u32 sample(struct scale *sc, int k)
{
	const struct flowrec *f = &sc->f[rnd(sc) % sc->n];
	int nat = bpf_program__fd(sc->b->progs.xdp_nat_floor);
	uint8_t pkt[256], out[256];
	uint16_t port;
	uint32_t c;
	size_t len;

	switch (k) {
	case K_EST:
		len = mk(pkt, f->client, f->cport, f->vip, 80, TH_ACK, MAC_CLIENT, MAC_XA);
		return run1(sc, sc->in.prog_fd, if_xa, pkt, len, out, XDP_REDIRECT);
	case K_REP:
		len = mk(pkt, f->backend, f->bport, f->client, f->cport, TH_ACK, MAC_ST1, MAC_XB);
		return run1(sc, sc->in.prog_fd, if_xb, pkt, len, out, XDP_REDIRECT);
	case K_SYN:
		c = client_of(sc->syn_seq++, &port, 40000);
		len = mk(pkt, c, port, VIP_BASE + rnd(sc) % sc->nsvc, 80, TH_SYN, MAC_CLIENT, MAC_XA);
		return run1(sc, sc->in.prog_fd, if_xa, pkt, len, out, XDP_REDIRECT);
	case K_NAT:
		len = mk(pkt, f->client, f->cport, f->vip, 80, TH_ACK, MAC_CLIENT, MAC_XA);
		return run1(sc, nat, if_xa, pkt, len, out, XDP_REDIRECT);
	default:
		len = mk(pkt, f->client, f->cport, f->vip, 80, TH_ACK, MAC_CLIENT, MAC_XA);
		return run1(sc, bpf_program__fd(sc->b->progs.xdp_empty), if_xa, pkt, len, out,
			    XDP_PASS);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Per point: the blocks' mean ns of each path, and the reason counters before. */
struct point {
	struct scale sc;
	double mean[K_N][32];
	struct reason_stats r0;
	unsigned long syns;
};

static void measure_block(struct point *pt, unsigned int bl)
{
	unsigned int s, k, per = samples / blocks;
	double sum[K_N] = {0};

	for (s = 0; s < per; s++)
		for (k = 0; k < K_N; k++)
			sum[k] += sample(&pt->sc, k);
	for (k = 0; k < K_N; k++)
		pt->mean[k][bl] = sum[k] / per;
	pt->syns += per;
}

/* ns per packet of each path (the empty program's overhead subtracted, except from its
 * own row), checked against the reason counters. */
static int point_result(struct point *pt, double res[K_N])
{
	struct scale *sc = &pt->sc;
	struct reason_stats r1, *r0 = &pt->r0;
	unsigned int k;

	reasons_read(&sc->in.maps, &r1);
	for (k = 0; k < K_N; k++) {
		qsort(pt->mean[k], blocks, sizeof(double), cmp_double);
		res[k] = pt->mean[k][blocks / 2];
	}
	for (k = 0; k < K_EMPTY; k++)
		res[k] -= res[K_EMPTY];
	if (sc->bad_verdicts || r1.flow_new - r0->flow_new != pt->syns ||
	    r1.flow_midstream != r0->flow_midstream || r1.reply_no_flow != r0->reply_no_flow) {
		fprintf(stderr,
			"not the intended paths: %lu bad verdicts, %llu new flows for %lu SYNs, "
			"%llu mid-stream, %llu replies without a flow\n",
			sc->bad_verdicts, (unsigned long long)(r1.flow_new - r0->flow_new), pt->syns,
			(unsigned long long)(r1.flow_midstream - r0->flow_midstream),
			(unsigned long long)(r1.reply_no_flow - r0->reply_no_flow));
		return -1;
	}
	return 0;
}

/* A fresh instance with nsvc services of nbe backends per arm (10% canary), flow table
 * big enough for cap flows without eviction, and the bench programs. */
static int scale_load(struct scale *sc, unsigned int nsvc, unsigned int nbe, unsigned int cap)
{
	struct service_spec *specs = calloc(nsvc, sizeof(*specs));
	unsigned int s, b, arm;
	char vip[32], be[48], name[16];
	int rc;

	if (!specs || instance_load_tables(&sc->in, cap * 2 > 1024 ? cap * 2 : 1024, 262144)) {
		sc->in.skel = NULL; /* destroyed by a failed load */
		free(specs);
		return -1;
	}
	for (s = 0; s < nsvc; s++) {
		uint32_t v = VIP_BASE + s;

		snprintf(vip, sizeof(vip), "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255,
			 v & 255);
		snprintf(name, sizeof(name), "svc%u", s);
		spec_init(&specs[s], name, vip, 80, IPPROTO_TCP, CANARY_HASH_FLOW, 1000);
		for (arm = 0; arm < CANARY_ARMS; arm++)
			for (b = 0; b < nbe; b++) {
				/* 10.2.S.B: S = service + 128 * arm, B = 1 + backend */
				snprintf(be, sizeof(be), "10.2.%u.%u:8080", s % 128 + 128 * arm,
					 1 + b + 64 * (s / 128));
				spec_backend(&specs[s], arm, be);
			}
	}
	rc = apply_specs(&sc->in, specs, nsvc);
	free(specs);
	sc->nsvc = nsvc;
	sc->b = bench_bpf__open();
	if (rc || !sc->b)
		return -1;
	bpf_map__set_max_entries(sc->b->maps.nat_flows, cap * 2 > 1024 ? cap * 2 : 1024);
	sc->f = calloc(cap, sizeof(*sc->f));
	return sc->f && !bench_bpf__load(sc->b) ? 0 : -1;
}

static void scale_free(struct scale *sc)
{
	xdp_canary_bpf__destroy(sc->in.skel);
	bench_bpf__destroy(sc->b);
	free(sc->f);
	memset(sc, 0, sizeof(*sc));
}

struct dim {
	const char *name, *axis;
	unsigned int points[8], npoints;
};

static const struct dim dims[] = {
	{"flows", "flows in the table", {10, 10000, 100000, 1000000}, 4},
	{"services", "services", {1, 4, 16, 64, 256}, 5},
	{"backends", "backends per arm", {1, 2, 4, 8, 16, 32, 64}, 7},
};

/* Flows per point in the services and backends runs. */
#define SCALE_FLOWS 10000

/* Load and fill the instance of point x of dimension d. */
static int point_setup(const struct dim *d, unsigned int x, struct point *pt)
{
	bool flows = !strcmp(d->name, "flows");
	struct scale *sc = &pt->sc;

	sc->rng = 0x9e3779b97f4a7c15ull + x;
	if (scale_load(sc, !strcmp(d->name, "services") ? x : 1,
		       !strcmp(d->name, "backends") ? x : 2, flows ? x : SCALE_FLOWS) ||
	    fill(sc, flows ? x : SCALE_FLOWS))
		return -1;
	return 0;
}

static void print_flatness(const struct dim *d, double res[][K_N])
{
	unsigned int k, i;

	printf("\nFlatness against the first point (goal: within +-15%%):\n\n");
	for (k = 0; k < K_EMPTY; k++) {
		double worst = 0;
		unsigned int at = 0;

		for (i = 1; i < d->npoints; i++) {
			double dev = res[i][k] / res[0][k] - 1;

			if (dev * dev > worst * worst) {
				worst = dev;
				at = i;
			}
		}
		printf("- %s: %+.1f%% at %u %s: %s\n", kind_name[k], 100 * worst,
		       d->points[at], d->axis,
		       k == K_NAT		       ? "the baseline (no goal; what any NAT pays here)"
		       : worst <= 0.15 && worst >= -0.15 ? "met"
							 : "NOT met");
	}
}

/* Untimed samples first, so the caches hold what they would in a steady state: as many
 * random packets of each kind as there are flows (at most 200,000). */
static void warm_up(struct point *pt)
{
	unsigned int i, k, n = pt->sc.n < 200000 ? pt->sc.n : 200000;

	for (i = 0; i < n; i++)
		for (k = 0; k < K_N; k++)
			if (k != K_SYN)
				sample(&pt->sc, k);
}

/* One point at a time, alone on the machine's caches (its own instance, loaded, filled,
 * warmed up, measured and freed); the sweep over the points is repeated `rounds` times
 * and each figure is the median of the rounds, so drift over the run hits every point
 * alike. */
static int run_dim(const struct dim *d, FILE *dat)
{
	static struct point pt;
	double res[8][K_N], round[8][K_N][9];
	unsigned int i, k, r, bl;
	int rc = 0;

	for (r = 0; r < rounds && !rc; r++)
		for (i = 0; i < d->npoints && !rc; i++) {
			double one[K_N] = {0};

			memset(&pt, 0, sizeof(pt));
			rc = point_setup(d, d->points[i], &pt);
			if (!rc) {
				warm_up(&pt);
				reasons_read(&pt.sc.in.maps, &pt.r0);
				for (bl = 0; bl < blocks; bl++)
					measure_block(&pt, bl);
				rc = point_result(&pt, one);
			}
			scale_free(&pt.sc);
			for (k = 0; k < K_N; k++)
				round[i][k][r] = one[k];
		}
	if (rc)
		return -1;
	for (i = 0; i < d->npoints; i++)
		for (k = 0; k < K_N; k++) {
			qsort(round[i][k], rounds, sizeof(double), cmp_double);
			res[i][k] = round[i][k][rounds / 2];
		}
	printf("\nPer-packet cost against the number of %s (ns, each packet run once, a random "
	       "flow each; %u samples per path and point in %u blocks, median of %u rounds)\n\n",
	       d->axis, samples, blocks, rounds);
	printf("| %s | established | reply | new flow (SYN) | NAT floor | established / NAT "
	       "| reply / NAT | SYN / established | test-run overhead |\n"
	       "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
	       d->axis);
	for (i = 0; i < d->npoints; i++) {
		printf("| %u | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2fx | %.1f |\n",
		       d->points[i], res[i][K_EST], res[i][K_REP], res[i][K_SYN], res[i][K_NAT],
		       res[i][K_EST] / res[i][K_NAT], res[i][K_REP] / res[i][K_NAT],
		       res[i][K_SYN] / res[i][K_EST], res[i][K_EMPTY]);
		if (dat)
			fprintf(dat, "%u %.2f %.2f %.2f %.2f\n", d->points[i], res[i][K_EST],
				res[i][K_REP], res[i][K_SYN], res[i][K_NAT]);
	}
	print_flatness(d, res);
	return 0;
}

static void usage(void)
{
	printf("Usage: canary_scale --dim flows|services|backends [--samples N] [--blocks N]\n"
	       "       [--rounds N] [--dat FILE]\n"
	       "Per-packet cost of xdp_canary as the work grows (needs root). --dat writes\n"
	       "\"x established reply syn nat\" lines for gnuplot.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dim", required_argument, NULL, 'd'},	  {"samples", required_argument, NULL, 's'},
		{"blocks", required_argument, NULL, 'b'}, {"dat", required_argument, NULL, 'o'},
		{"rounds", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},	  {},
	};
	const struct dim *d = NULL;
	FILE *dat = NULL;
	int opt, rc;
	unsigned int i;

	while ((opt = getopt_long(argc, argv, "d:s:b:o:r:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			for (i = 0; i < ARRAY_SIZE(dims); i++)
				if (!strcmp(optarg, dims[i].name))
					d = &dims[i];
			break;
		case 's':
			samples = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			blocks = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			dat = fopen(optarg, "w");
			if (!dat) {
				perror(optarg);
				return 1;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!d || blocks < 1 || blocks > 32 || rounds < 1 || rounds > 9 || samples < blocks) {
		usage();
		return 2;
	}
	canary_quiet_libs();
	if (setup_netns() || sh("ip route add 10.2.0.0/16 via 10.0.2.2 dev xb")) {
		fprintf(stderr, "cannot set up the private namespace (run as root)\n");
		return 1;
	}
	rc = run_dim(d, dat);
	if (dat)
		fclose(dat);
	return rc ? 1 : 0;
}
