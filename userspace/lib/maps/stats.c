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

/* sum += add, word by word. */
static void words_add(__u64 *sum, const __u64 *add, size_t words)
{
	size_t w;

	for (w = 0; w < words; w++)
		sum[w] += add[w];
}

/* Add the ncpu per-CPU copies of one value (words long each) into sum. */
static void percpu_add(__u64 *sum, const __u64 *percpu, int ncpu, size_t words)
{
	int c;

	for (c = 0; c < ncpu; c++)
		words_add(sum, percpu + c * words, words);
}

static int percpu_sum(int fd, uint32_t key, void *out, size_t size)
{
	int ncpu = canary_ncpus();
	__u64 *buf;

	buf = calloc(ncpu, size);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		int err = -errno;

		free(buf);
		return err;
	}
	memset(out, 0, size);
	percpu_add(out, buf, ncpu, size / 8);
	free(buf);
	return 0;
}

/* Add the sweeper's slot to the data plane's, word by word. */
static int two_slots(int fd, uint32_t a, uint32_t b, void *out, size_t size)
{
	__u64 *tmp;
	int err;

	err = percpu_sum(fd, a, out, size);
	if (err)
		return err;
	tmp = malloc(size);
	if (!tmp)
		return -ENOMEM;
	err = percpu_sum(fd, b, tmp, size);
	if (!err)
		words_add(out, tmp, size / 8);
	free(tmp);
	return err;
}

int arm_stats_read(struct canary_maps *m, uint32_t svc, int arm, struct arm_stats *out)
{
	return two_slots(m->arm_stats, CANARY_ARM_SLOT(svc, arm), CANARY_SWEEP_SLOT(svc, arm), out,
			 sizeof(*out));
}

int arm_stats_read_all(struct canary_maps *m, struct arm_stats_batch *b, struct arm_stats *out)
{
	int ncpu = canary_ncpus();
	size_t words = sizeof(struct arm_stats) / 8, k;
	__u32 count = CANARY_ARM_STATS_SLOTS, batch = 0;

	if (!b->percpu) {
		b->percpu = calloc((size_t)CANARY_ARM_STATS_SLOTS * ncpu, sizeof(struct arm_stats));
		if (!b->percpu)
			return -ENOMEM;
	}
	/* ENOENT: the lookup reached the end of the map, every slot returned. */
	if (bpf_map_lookup_batch(m->arm_stats, NULL, &batch, b->keys, b->percpu, &count, NULL) &&
	    errno != ENOENT)
		return -errno;
	memset(out, 0, CANARY_ARM_STATS_SLOTS * sizeof(*out));
	for (k = 0; k < count; k++)
		percpu_add((__u64 *)&out[b->keys[k] % CANARY_ARM_STATS_SLOTS],
			   (const __u64 *)b->percpu + k * ncpu * words, ncpu, words);
	return 0;
}

void arm_stats_total(const struct arm_stats *all, uint32_t svc, int arm, struct arm_stats *out)
{
	*out = all[CANARY_ARM_SLOT(svc, arm)];
	words_add((__u64 *)out, (const __u64 *)&all[CANARY_SWEEP_SLOT(svc, arm)], sizeof(*out) / 8);
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
