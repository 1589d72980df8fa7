/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* canary_hash.h: the arm and backend choice, shared word for word by the XDP program
 * and by `canaryctl explain`, so userspace predicts the data plane exactly. */
#ifndef CANARY_HASH_H
#define CANARY_HASH_H

#include "xdp_canary.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* MurmurHash3 (x86_32) block and finalisation steps over 32-bit words. The input is
 * always a whole number of words taken from struct fields, so both sides see the
 * same values regardless of host byte order. */
static __always_inline __u32 canary_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 canary_hash_word(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = canary_rotl32(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = canary_rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 canary_hash_final(__u32 h, __u32 nwords)
{
	h ^= nwords * 4;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* CANARY_HASH_FLOW: the full 5-tuple of the client's packet. */
static __always_inline __u32 canary_flow_hash(const struct flow_key *k, __u32 salt)
{
	__u32 h = salt;

	h = canary_hash_word(h, k->client.v6[0]);
	h = canary_hash_word(h, k->client.v6[1]);
	h = canary_hash_word(h, k->client.v6[2]);
	h = canary_hash_word(h, k->client.v6[3]);
	h = canary_hash_word(h, k->svc.addr.v6[0]);
	h = canary_hash_word(h, k->svc.addr.v6[1]);
	h = canary_hash_word(h, k->svc.addr.v6[2]);
	h = canary_hash_word(h, k->svc.addr.v6[3]);
	h = canary_hash_word(h, (__u32)k->client_port | ((__u32)k->svc.port << 16));
	h = canary_hash_word(h, (__u32)k->svc.proto | ((__u32)k->svc.family << 8));
	return canary_hash_final(h, 10);
}

/* CANARY_HASH_CLIENT: the source address under the service's client mask. */
static __always_inline __u32 canary_client_hash(const struct flow_key *k,
						const struct svc_config *cfg, __u32 salt)
{
	__u32 h = salt;

	if (k->svc.family == CANARY_AF_INET) {
		h = canary_hash_word(h, k->client.v4 & cfg->client_mask_v4);
		return canary_hash_final(h, 1);
	}
	h = canary_hash_word(h, k->client.v6[0] & cfg->client_mask_v6[0]);
	h = canary_hash_word(h, k->client.v6[1] & cfg->client_mask_v6[1]);
	h = canary_hash_word(h, k->client.v6[2] & cfg->client_mask_v6[2]);
	h = canary_hash_word(h, k->client.v6[3] & cfg->client_mask_v6[3]);
	return canary_hash_final(h, 4);
}

/* The hash that places a new flow: bucket = hash % 10000, canary iff bucket < weight.
 * The canary range comes first, so raising the weight only moves buckets from stable
 * to canary and lowering it only moves them back. */
static __always_inline __u32 canary_decision_hash(const struct flow_key *k,
						  const struct svc_config *cfg)
{
	if (cfg->hash_mode == CANARY_HASH_CLIENT)
		return canary_client_hash(k, cfg, cfg->salt);
	return canary_flow_hash(k, cfg->salt);
}

static __always_inline __u32 canary_bucket(__u32 hash)
{
	return hash % CANARY_WEIGHT_SCALE;
}

/* Ring slot within the arm, from a re-mixed hash so that the slot is independent of
 * the bucket (which, for canary flows, is confined to [0, weight)). */
static __always_inline __u32 canary_ring_slot(__u32 hash)
{
	return canary_hash_final(hash ^ 0x9e3779b9, 1) % CANARY_RING_SIZE;
}

/* ---- distinct clients (client_hll) ----
 * The client of a flow is its source address under the service's client mask, as in
 * CANARY_HASH_CLIENT. Its HyperLogLog hash has its own seed, drawn from the secret salt
 * through the finaliser, so the register a client lands in tells nothing of its arm and
 * its arm nothing of its register (docs/SECURITY.md). */
static __always_inline __u32 canary_hll_hash(const struct flow_key *k, const struct svc_config *cfg)
{
	return canary_client_hash(k, cfg,
				  canary_hash_final(cfg->salt ^ 0x686c6c31 /* "hll1" */, 1));
}

/* The register of a hash: its top CANARY_HLL_BITS bits. */
static __always_inline __u32 canary_hll_index(__u32 h)
{
	return h >> (32 - CANARY_HLL_BITS);
}

/* Its rank: the leading zeros of the other bits, plus one (1 .. 33 - CANARY_HLL_BITS).
 * A binary search, since BPF has no count-leading-zeros instruction. */
static __always_inline __u32 canary_hll_rank(__u32 h)
{
	__u32 w = h << CANARY_HLL_BITS, r = 1;

	if (!w)
		return 33 - CANARY_HLL_BITS;
	if (!(w >> 16)) {
		r += 16;
		w <<= 16;
	}
	if (!(w >> 24)) {
		r += 8;
		w <<= 8;
	}
	if (!(w >> 28)) {
		r += 4;
		w <<= 4;
	}
	if (!(w >> 30)) {
		r += 2;
		w <<= 2;
	}
	if (!(w >> 31))
		r += 1;
	return r;
}

/* First slot of a backend endpoint in the reply index. */
static __always_inline __u32 canary_backend_slot(const struct canary_endpoint *k)
{
	__u32 h = 0x62656e64; /* "bend" */

	h = canary_hash_word(h, k->addr.v6[0]);
	h = canary_hash_word(h, k->addr.v6[1]);
	h = canary_hash_word(h, k->addr.v6[2]);
	h = canary_hash_word(h, k->addr.v6[3]);
	h = canary_hash_word(h, (__u32)k->port | ((__u32)k->proto << 16) | ((__u32)k->family << 24));
	return canary_hash_final(h, 5) & (CANARY_BACKEND_SLOTS - 1);
}

/* Entry of a client address in client_hops (direct-mapped): a multiplicative hash of the
 * address words, cheaper than the mixing above (the cache needs no secrecy: a collision
 * costs one bpf_fib_lookup). */
static __always_inline __u32 canary_client_hop_slot(const union canary_addr *a)
{
	__u32 x = a->v6[0] ^ a->v6[1] ^ a->v6[2] ^ a->v6[3];

	return (x * 0x9e3779b1U) >> (32 - 14) & (CANARY_CLIENT_HOPS - 1);
}
_Static_assert(CANARY_CLIENT_HOPS == 1 << 14, "canary_client_hop_slot takes 14 bits");

#endif /* CANARY_HASH_H */
