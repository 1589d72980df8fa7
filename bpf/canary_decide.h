/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* canary_decide.h: the arm and backend of a new flow, decided once: by the XDP program
 * (flow_decide in xdp_canary.bpf.c), by `canaryctl explain`, and by the tests that
 * check the one against the other. The steps: a client-group override, else the bucket
 * against the weight; then the other arm when the chosen one is empty; then the ring
 * slot and the backend. */
#ifndef CANARY_DECIDE_H
#define CANARY_DECIDE_H

#include "canary_hash.h"

#ifdef __bpf__
/* The compiler knows x % N < N and would drop a bounds check; the verifier does not. */
#define canary_hide(x) barrier_var(x)
#else
#define canary_hide(x) ((void)0)
#endif

/* Why the flow got its arm. */
enum canary_decide_reason {
	CANARY_DECIDE_WEIGHT = 0,   /* its bucket against the weight */
	CANARY_DECIDE_OVERRIDE,	    /* a client-group override */
	CANARY_DECIDE_FALLBACK,	    /* the chosen arm has no backend: the other arm */
	CANARY_DECIDE_NO_BACKEND,   /* neither arm has a backend: the flow is dropped */
};

struct canary_decision {
	__u32 hash;	 /* canary_decision_hash() of the flow */
	__u32 bucket;	 /* hash % CANARY_WEIGHT_SCALE */
	__u32 slot;	 /* ring slot */
	__u8 chosen_arm; /* the arm the override or the weight chose */
	__u8 arm;	 /* the arm the flow goes to (differs after a fallback) */
	__u8 backend_idx;
	__u8 reason; /* enum canary_decide_reason */
};

/* Decide a new flow k of the service with config cfg. override is the arm a client-group
 * override pins the source to, or -1. Returns 0 with *d filled, or -1 when the flow has
 * nowhere to go (d->reason CANARY_DECIDE_NO_BACKEND; a ring slot that names no backend
 * of the arm is the same, which a config built by userspace never has). */
static __always_inline int canary_decide(const struct svc_config *cfg, const struct flow_key *k,
					 int override, struct canary_decision *d)
{
	__u32 arm, slot, idx;

	d->hash = canary_decision_hash(k, cfg);
	d->bucket = canary_bucket(d->hash);
	d->slot = canary_ring_slot(d->hash);
	if (override >= 0) {
		arm = override & 1;
		d->reason = CANARY_DECIDE_OVERRIDE;
	} else {
		arm = d->bucket < cfg->canary_weight ? CANARY_ARM_CANARY : CANARY_ARM_STABLE;
		d->reason = CANARY_DECIDE_WEIGHT;
	}
	d->chosen_arm = arm;
	if (cfg->nbackends[arm] == 0) {
		arm ^= 1;
		d->reason = CANARY_DECIDE_FALLBACK;
	}
	d->arm = arm;
	d->backend_idx = CANARY_NO_BACKEND;
	if (cfg->nbackends[arm] == 0) {
		d->reason = CANARY_DECIDE_NO_BACKEND;
		return -1;
	}
	slot = d->slot;
	canary_hide(slot);
	if (slot >= CANARY_RING_SIZE)
		return -1;
	idx = cfg->ring[arm][slot];
	if (idx >= CANARY_MAX_BACKENDS || idx >= cfg->nbackends[arm]) {
		d->reason = CANARY_DECIDE_NO_BACKEND;
		return -1;
	}
	d->backend_idx = idx;
	return 0;
}

#endif /* CANARY_DECIDE_H */
