/* stats.h: reading the per-CPU counters and summing them across CPUs. */
#ifndef CANARY_STATS_H
#define CANARY_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include "maps/pins.h"

/* One arm's counters: the data plane's slot plus the sweeper's, each summed over CPUs. */
int arm_stats_read(struct canary_maps *m, uint32_t svc, int arm, struct arm_stats *out);

/* The whole arm_stats map in one batch lookup (canaryd's poll): the keys and every CPU's
 * values, kept between reads so that a poll allocates nothing. Zero-initialise it; the
 * values are allocated at the first read. One reader at a time. */
struct arm_stats_batch {
	__u32 keys[CANARY_ARM_STATS_SLOTS];
	void *percpu; /* CANARY_ARM_STATS_SLOTS * ncpus struct arm_stats */
};
/* Every slot of the arm_stats map, summed over CPUs, into out[CANARY_ARM_STATS_SLOTS].
 * Returns 0 or -errno. */
int arm_stats_read_all(struct canary_maps *m, struct arm_stats_batch *b, struct arm_stats *out);
/* One arm's counters from a table read by arm_stats_read_all: the data plane's slot plus
 * the sweeper's, as arm_stats_read gives them. */
void arm_stats_total(const struct arm_stats *all, uint32_t svc, int arm, struct arm_stats *out);

int backend_stats_read(struct canary_maps *m, uint32_t svc, int arm, int idx,
		       struct backend_stats *out);
int reasons_read(struct canary_maps *m, struct reason_stats *out);

/* Name/offset table of struct reason_stats, for status output. */
struct reason_field {
	const char *name;
	size_t offset;
	bool verdict; /* pass_*, drop_*, fwd_*: exactly one of these moves per packet */
};
extern const struct reason_field reason_fields[];
extern const unsigned int reason_field_count;

/* Histogram helpers: bucket i holds samples in [2^i, 2^(i+1)) microseconds (bucket 0
 * also holds anything under 1 us). Quantile q in 0..1, estimated by linear
 * interpolation inside the bucket; returns microseconds, or -1 with no samples. */
double hist_quantile_us(const __u64 *hist, unsigned int nbuckets, double q);

#endif
