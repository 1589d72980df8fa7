/* stats.c: reading the per-CPU counters and summing them across CPUs. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "maps/stats.h"
#include "base/util.h"

/* Every counter struct is made of __u64 fields only, so summing is word by word. */
_Static_assert(sizeof(struct arm_stats) % 8 == 0, "arm_stats must be all __u64");
_Static_assert(sizeof(struct backend_stats) % 8 == 0, "backend_stats must be all __u64");
_Static_assert(sizeof(struct reason_stats) % 8 == 0, "reason_stats must be all __u64");

static int percpu_sum(int fd, uint32_t key, void *out, size_t size)
{
	int ncpu = canary_ncpus(), c;
	size_t words = size / 8, w;
	__u64 *buf, *sum = out;

	buf = calloc(ncpu, size);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		int err = -errno;

		free(buf);
		return err;
	}
	memset(out, 0, size);
	for (c = 0; c < ncpu; c++)
		for (w = 0; w < words; w++)
			sum[w] += buf[c * words + w];
	free(buf);
	return 0;
}

/* Add the sweeper's slot to the data plane's, word by word. */
static int two_slots(int fd, uint32_t a, uint32_t b, void *out, size_t size)
{
	__u64 *sum = out, *tmp;
	size_t w;
	int err;

	err = percpu_sum(fd, a, out, size);
	if (err)
		return err;
	tmp = malloc(size);
	if (!tmp)
		return -ENOMEM;
	err = percpu_sum(fd, b, tmp, size);
	for (w = 0; !err && w < size / 8; w++)
		sum[w] += tmp[w];
	free(tmp);
	return err;
}

int arm_stats_read(struct canary_maps *m, uint32_t svc, int arm, struct arm_stats *out)
{
	return two_slots(m->arm_stats, CANARY_ARM_SLOT(svc, arm), CANARY_SWEEP_SLOT(svc, arm), out,
			 sizeof(*out));
}

int backend_stats_read(struct canary_maps *m, uint32_t svc, int arm, int idx,
		       struct backend_stats *out)
{
	return two_slots(m->backend_stats, CANARY_BACKEND_SLOT(svc, arm, idx),
			 CANARY_BACKEND_SWEEP_SLOT(svc, arm, idx), out, sizeof(*out));
}

int reasons_read(struct canary_maps *m, struct reason_stats *out)
{
	return percpu_sum(m->reasons, 0, out, sizeof(*out));
}

/* V: a verdict counter (every pass_*, drop_* and fwd_* field, and icmp_unmatched, a
 * PASS): exactly one of these moves per packet. I: says more about a packet that also
 * has a verdict. */
#define V(f) {#f, offsetof(struct reason_stats, f), true}
#define I(f) {#f, offsetof(struct reason_stats, f), false}
const struct reason_field reason_fields[] = {
	V(pass_not_ip),	      V(pass_not_service), V(pass_vlan),	V(pass_fragment),
	V(pass_malformed),    V(pass_ipv6_ext),	   V(pass_no_neigh),	V(drop_no_backend),
	V(drop_fib),	      V(pass_wrong_iface), V(fwd_redirect),	V(fwd_tx),
	I(flow_new),	      I(flow_midstream),   I(flow_reused),	I(flow_verified),
	I(flow_insert_fail),  I(reply_no_flow),	   I(override_hits),	I(arm_fallback),
	I(icmp_mapped),	      V(icmp_unmatched),
};
#undef V
#undef I
const unsigned int reason_field_count = ARRAY_SIZE(reason_fields);
_Static_assert(sizeof(reason_fields) / sizeof(reason_fields[0]) ==
		       sizeof(struct reason_stats) / 8,
	       "every reason_stats field needs a reason_fields entry");

double hist_quantile_us(const __u64 *hist, unsigned int nbuckets, double q)
{
	__u64 total = 0, seen = 0;
	unsigned int i;
	double target;

	for (i = 0; i < nbuckets; i++)
		total += hist[i];
	if (!total)
		return -1;
	target = q * (double)total;
	for (i = 0; i < nbuckets; i++) {
		double lo = i ? (double)(1ull << i) : 0, hi = (double)(1ull << (i + 1));

		if (hist[i] && seen + hist[i] >= target) {
			double frac = (target - seen) / (double)hist[i];

			if (frac < 0)
				frac = 0;
			return lo + frac * (hi - lo);
		}
		seen += hist[i];
	}
	return (double)(1ull << nbuckets);
}
