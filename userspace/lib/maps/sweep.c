/* sweep.c: the flow-table sweeper (see sweep.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "maps/sweep.h"
#include "canary_flow.h"
#include "base/util.h"
#include "maps/service.h"

/* Sweeper counts per (service, arm) and per backend, added to the sweeper's slots. */
struct sweep_ctx {
	struct canary_maps *m;
	struct canary_meta meta;
	struct canary_timeouts timeouts; /* from meta, as the data plane was given them */
	uint64_t now;
	struct sweep_result *r;
	struct arm_stats arm[CANARY_MAX_SERVICES * CANARY_ARMS];
	struct backend_stats be[CANARY_MAX_SERVICES * CANARY_ARMS * CANARY_MAX_BACKENDS];
	bool dirty;
};

static bool expired(const struct sweep_ctx *c, const struct flow_state *v)
{
	return canary_flow_expired(&c->timeouts, v, c->now);
}

static int visit(const struct flow_key *k, const struct flow_state *v, void *ctx)
{
	struct sweep_ctx *c = ctx;
	struct flow_state cur;
	int fd = v->flags & CANARY_FLOW_F_PENDING ? c->m->pending : c->m->flows;

	c->r->scanned++;
	if (!expired(c, v))
		return 0;
	/* Look again right before deleting: a packet may have revived it meanwhile. */
	if (bpf_map_lookup_elem(fd, k, &cur) || !expired(c, &cur))
		return 0;
	if (bpf_map_delete_elem(fd, k))
		return 0;
	c->r->expired++;
	if (cur.state == CANARY_FLOW_SYN_SENT) {
		/* c->arm and c->be are laid out like the data plane's slots. */
		uint32_t a = CANARY_ARM_SLOT(cur.svc, cur.arm & 1);
		uint32_t b = CANARY_BACKEND_SLOT(cur.svc, cur.arm & 1,
						 cur.backend_idx % CANARY_MAX_BACKENDS);

		c->r->unanswered++;
		c->arm[a].syn_unanswered++;
		c->be[b].syn_unanswered++;
		if (!(cur.err_flags & CANARY_ERR_COUNTED)) {
			c->arm[a].errored_flows++;
			c->be[b].errored_flows++;
		}
		c->dirty = true;
	}
	return 0;
}

/* Add counts to a sweeper slot of a per-CPU map: CPU 0's copy takes the sum. */
static int slot_add(int fd, uint32_t key, const void *delta, size_t size)
{
	int ncpu = canary_ncpus();
	__u64 *buf = calloc(ncpu, size);
	const __u64 *d = delta;
	size_t w;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf) == 0) {
		for (w = 0; w < size / 8; w++)
			buf[w] += d[w];
		if (bpf_map_update_elem(fd, &key, buf, BPF_ANY))
			err = -errno;
	} else {
		err = -errno;
	}
	free(buf);
	return err;
}

static bool nonzero(const void *p, size_t size)
{
	const __u64 *w = p;
	size_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i])
			return true;
	return false;
}

int flows_sweep(struct canary_maps *m, struct sweep_result *r, int lock_wait_ms)
{
	struct sweep_ctx *c;
	struct timespec ts;
	uint32_t i;
	int err, lock;

	memset(r, 0, sizeof(*r));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->m = m;
	c->r = r;
	err = canary_meta_read(m, &c->meta);
	if (err)
		goto out;
	c->timeouts.udp_idle = c->meta.udp_idle_s * 1000000000ull;
	c->timeouts.syn = c->meta.syn_timeout_s * 1000000000ull;
	c->timeouts.tcp_idle = c->meta.tcp_idle_s * 1000000000ull;
	c->timeouts.tcp_closing = c->meta.tcp_closing_s * 1000000000ull;
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: the stamps' timebase. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;

	lock = canary_lock(m->root, lock_wait_ms);
	if (lock < 0) {
		err = lock;
		goto out;
	}
	err = flows_foreach(m, visit, c);
	for (i = 0; !err && c->dirty && i < CANARY_MAX_SERVICES * CANARY_ARMS; i++) {
		uint32_t svc = i / CANARY_ARMS, arm = i % CANARY_ARMS, b;

		if (nonzero(&c->arm[i], sizeof(c->arm[i])))
			err = slot_add(m->arm_stats, CANARY_SWEEP_SLOT(svc, arm), &c->arm[i],
				       sizeof(c->arm[i]));
		for (b = 0; !err && b < CANARY_MAX_BACKENDS; b++) {
			struct backend_stats *d = &c->be[CANARY_BACKEND_SLOT(svc, arm, b)];

			if (nonzero(d, sizeof(*d)))
				err = slot_add(m->backend_stats,
					       CANARY_BACKEND_SWEEP_SLOT(svc, arm, b), d, sizeof(*d));
		}
	}
	canary_unlock(lock);
out:
	free(c);
	return err;
}
