/* poll.c: the poll, which every interval reads the maps (services, configs, every arm
 * counter) and ticks each rollout; the weight writes that carry out its decisions, as a
 * compare-and-swap under the writers' lock; following the pins after an upgrade; and
 * the flow-table sweep. This is the path of a rollback: it never waits for a request,
 * a Prometheus query or another writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "base/safedir.h"
#include "base/util.h"
#include "canaryd.h"
#include "maps/hll.h"
#include "maps/sweep.h"

/* ---- reading the maps --------------------------------------------------------------------- */

void refresh_services(void)
{
	struct service_state *list;
	unsigned int n;

	if (service_list(&A.maps, &list, &n))
		return;
	free(A.svcs);
	A.svcs = list;
	A.nsvcs = n;
}

const struct service_state *find_service(const char *name)
{
	unsigned int i;

	for (i = 0; i < A.nsvcs; i++)
		if (!strcmp(A.svcs[i].info.name, name))
			return &A.svcs[i];
	return NULL;
}

/* ---- applying decisions ------------------------------------------------------------------- */

/* Whether a decided weight moves traffic the safe way: a rollback, an abort, any
 * lowering of the canary's share. */
static bool weight_is_safe(const struct rollout_decision *d)
{
	return d->reason == WREASON_ROLLBACK || d->reason == WREASON_ABORT || d->new_bp < d->old_bp;
}

/* Write a decided weight as a compare-and-swap on the config generation. The intent
 * (the weight, and the generation the write will produce) is saved first: a crash
 * right after the write is then retried, not mistaken for a manual change on restart.
 *
 * A step or a promotion takes the writers' lock without waiting (a writer holding it
 * makes the next poll try again), and defers to a change made since the rollout last
 * looked (the next poll records it as a manual change, which wins). A rollback never
 * waits for anyone: it is written without the lock when another process holds it, and
 * on top of whatever config is live when that changed meanwhile, since lowering the
 * canary's share is the safe direction. Returns 0 when written, 1 when not (changed
 * meanwhile), or -errno (retried at the next poll). */
static int write_weight(struct rollout *r, const struct service_state *s,
			const struct rollout_decision *d)
{
	uint32_t orig = r->generation, expected = orig;
	bool safe = weight_is_safe(d);
	struct svc_config cfg;
	char holder[128];
	int lock, err, tries;

	lock = dirlock_take(A.maps.root, 0, holder, sizeof(holder));
	if (lock < 0 && !safe)
		return lock;
	if (lock < 0)
		logline("%s: the writers' lock is held by %s; writing weight 0 without it "
			"(compare-and-swap on the generation)",
			r->plan.service, holder[0] ? holder : "another process");
	for (tries = 0; tries < 8; tries++) {
		err = svc_config_read(&A.maps, s->info.id, &cfg);
		if (err)
			break;
		if (cfg.generation != expected) {
			if (!safe) {
				err = 1;
				break;
			}
			logline("%s: the service changed meanwhile (generation %u, expected %u); "
				"rolling back on top of that change",
				r->plan.service, cfg.generation, expected);
			expected = cfg.generation;
		}
		r->generation = cfg.generation + 1;
		r->pending = true;
		r->pending_bp = d->new_bp;
		r->pending_reason = d->reason;
		persist(r);
		cfg.canary_weight = d->new_bp;
		err = svc_config_publish(&A.maps, s->info.id, s->info.name, &cfg, expected);
		if (err != -ESTALE)
			break;
		if (!safe) {
			err = 1;
			break;
		}
		expected = cfg.generation; /* the live one: try again on top of it */
	}
	r->generation = err ? orig : cfg.generation;
	dirlock_release(lock);
	return err;
}

void apply(struct rollout *r, const struct rollout_decision *d, const char *actor, int64_t now_ms)
{
	const struct service_state *s = find_service(r->plan.service);
	char b[16];

	if (d->manual) {
		if (s)
			A.weight_changes[s->info.id][WREASON_MANUAL]++;
		history(r, d, actor, now_ms);
	}
	if (d->srm_hold) {
		char ev[1024];

		/* No weight moves, but the hold and its shares belong in the history. */
		rollout_evidence(r, ev, sizeof(ev));
		history_line(r->plan.service, d, "srm_hold", r->step + 1, r->plan.nsteps,
			     rollout_phase_names[r->phase], r->reason, ev, actor, now_ms);
	}
	if (d->set_weight && (s || r->fleet)) {
		/* A fleet rollout's weight goes to the store (leader.c), not to the maps. */
		int rc = r->fleet ? 0 : write_weight(r, s, d);

		if (rc == 0) {
			r->pending = false;
			if (s)
				A.weight_changes[s->info.id][d->reason]++;
			if (d->reset_flows && !r->fleet) {
				long n = service_reset_flows(&A.maps, s->info.id, CANARY_ARM_CANARY);

				logline("%s: removed %ld canary flows from the flow table "
					"(on_rollback: reset)",
					r->plan.service, n);
			}
			history(r, d, actor, now_ms);
		} else if (rc == 1) {
			r->pending = false;
			logline("%s: the service was changed by hand meanwhile; not writing weight "
				"%s (the next poll records the change)",
				r->plan.service, bp_pct(d->new_bp, b, sizeof(b)));
		} else {
			r->pending = true;
			r->pending_bp = d->new_bp;
			r->pending_reason = d->reason;
			logline("%s: CANNOT SET THE WEIGHT to %s: %s; retrying every poll",
				r->plan.service, bp_pct(d->new_bp, b, sizeof(b)), strerror(-rc));
		}
	}
	if (d->log[0])
		logline("%s", d->log);
	if (d->changed || d->set_weight || d->manual)
		persist(r);
}

/* A weight decided earlier whose write failed: try again. */
static void retry_pending(struct rollout *r, const struct service_state *s, int64_t now_ms)
{
	struct rollout_decision d = {.set_weight = true, .old_bp = s->cfg.canary_weight,
				     .new_bp = r->pending_bp, .reason = r->pending_reason};
	char b[16];

	/* A rollback's or an abort's flow reset was skipped with the write: it goes with
	 * the retry. */
	d.reset_flows = d.new_bp == 0 && !rollout_active(r) && r->plan.on_rollback == ROLLBACK_RESET;
	snprintf(d.log, sizeof(d.log), "%s: retried the weight write: %s", r->plan.service,
		 bp_pct(d.new_bp, b, sizeof(b)));
	apply(r, &d, ACTOR_AGENT, now_ms);
}

/* Record any change made by hand since the rollout last looked (before a command
 * acts, so that it acts on the present). */
void sync_manual(struct rollout *r, int64_t now_ms)
{
	const struct service_state *s = find_service(r->plan.service);
	struct rollout_decision d = {};
	struct svc_config cfg;

	if (r->fleet)
		return; /* the leader's tick records changes to the store's weight */
	if (s && svc_config_read(&A.maps, s->info.id, &cfg) == 0 &&
	    rollout_notice_manual(r, cfg.canary_weight, cfg.generation, now_ms, &d))
		apply(r, &d, ACTOR_AGENT, now_ms);
}

/* ---- the poll ----------------------------------------------------------------------------- */

/* The id of the map pinned at root/name, or 0. */
static __u32 pinned_map_id(const char *root, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* After an upgrade (canary-loader attach on older pins), the pins name new maps: follow
 * them, or canaryd would go on reading the old ones. One syscall or three per poll. */
static void follow_pins(void)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), now;
	struct canary_maps m;

	if (bpf_obj_get_info_by_fd(A.maps.meta, &info, &len))
		return;
	now = pinned_map_id(A.maps.root, CANARY_MAP_NAME(meta));
	if (!now || now == info.id)
		return;
	if (canary_maps_open(&m, A.maps.root))
		return; /* mid-upgrade: the next poll tries again */
	canary_maps_close(&A.maps);
	A.maps = m;
	A.have_prev = false;
	logline("the maps under %s were replaced (an upgrade): following them", A.maps.root);
}

void rollout_input_of(const struct service_state *s, const struct svc_config *cfg, double dt,
		      int64_t now_ms, struct rollout_input *in)
{
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++)
		arm_stats_total(A.snap, s->info.id, arm, &in->arm[arm]);
	in->svc_id = s->info.id;
	in->weight_bp = cfg->canary_weight;
	in->generation = cfg->generation;
	in->hash_mode = cfg->hash_mode;
	in->svc_flags = cfg->flags;
	in->dt = dt;
	in->now_ms = now_ms;
}

/* Whether the data plane's client_hll interval moved on since the last poll: then the
 * other parity's sets hold the interval just done, and nothing writes them for 4.3 s.
 * Taken only well inside the new interval (two clock ticks after the flip, a second
 * before the next), so no packet still in flight writes what is read and cleared. */
static void clients_poll(void)
{
	const uint64_t half = 1ULL << CANARY_HLL_SHIFT;
	uint64_t now, into, interval;

	A.clients_ready = false;
	if (!clients_counted(&A.maps) || clients_clock(&A.maps, &now) || !now)
		return;
	/* The interval's number, not only its parity: a poll interval that is a multiple
	 * of two intervals would otherwise always see the same parity and take nothing.
	 * When polls skip an interval, the other parity's sets hold the last one done and
	 * this parity's the one before as well: HyperLogLog sets merge by maximum, so a
	 * set taken late, or twice, counts no client twice. */
	interval = now >> CANARY_HLL_SHIFT;
	into = now & (half - 1);
	if (interval == A.clients_interval || into < 2 * CANARY_CLOCK_TICK_NS ||
	    into + 1000000000ULL > half)
		return;
	A.clients_ready = true;
	A.clients_done = (unsigned int)(interval & 1) ^ 1;
	A.clients_interval = interval;
}

/* The interval just done of one service (and its sets cleared for the next), or NULL. */
static const struct rollout_clients *clients_take(uint32_t svc, struct rollout_clients *out)
{
	int err;

	if (!A.clients_ready)
		return NULL;
	err = clients_read(&A.maps, svc, A.clients_done, out->flows, out->reg);
	if (!err)
		err = clients_clear(&A.maps, svc, A.clients_done);
	if (err) {
		logline("cannot read the distinct clients of service %u: %s", svc, strerror(-err));
		return NULL;
	}
	return out;
}

/* The poll's reading of the maps: the pins, the services, every arm counter and the
 * verdict counters. 0, or -errno (logged) when the counters cannot be read. */
static int poll_read(double dt)
{
	struct arm_stats *tmp;
	int err;

	follow_pins();
	/* Weights and generations for /metrics: a few syscalls per service. */
	refresh_services();
	/* Read into the older buffer; only a good reading becomes the current one. */
	err = arm_stats_read_all(&A.maps, &A.batch, A.prev);
	if (err) {
		logline("cannot read the counters: %s", strerror(-err));
		return err;
	}
	tmp = A.prev;
	A.prev = A.snap;
	A.snap = tmp;
	reasons_read(&A.maps, &A.reasons);
	clients_poll();
	A.dt = dt;
	return 0;
}

/* Before a rollout's tick: a write that failed is retried first, also after the
 * rollout ended (a rollback's weight 0 matters most), so the config read after it sees
 * it. */
static void poll_rewrite(struct rollout *r, const struct service_state *s, int64_t now)
{
	if (r->pending && s)
		retry_pending(r, s, now);
	/* A write of ours that another writer overwrote from an older reading: the
	 * same generation with another weight (both were built on the one before).
	 * The compare-and-swap leaves one syscall for this to happen in; write it
	 * again rather than lose it. */
	else if (s && s->cfg.generation == r->generation && s->cfg.canary_weight != r->weight_bp) {
		char a[16], b[16];

		logline("%s: weight %s (generation %u) was overwritten with %s by a writer "
			"that had not seen it; writing it again",
			r->plan.service, bp_pct(r->weight_bp, a, sizeof(a)), r->generation,
			bp_pct(s->cfg.canary_weight, b, sizeof(b)));
		r->pending = true;
		r->pending_bp = r->weight_bp;
		r->pending_reason = r->weight_bp < s->cfg.canary_weight ? WREASON_ROLLBACK
									: WREASON_STEP;
		retry_pending(r, s, now);
	}
}

/* One rollout's part of the poll: its pending write, then its tick on this poll's
 * counters, then what the tick decided. */
static void poll_rollout(struct rollout *r, double dt, int64_t now)
{
	const struct service_state *s = find_service(r->plan.service);
	static struct rollout_clients clients; /* under A.lock */
	struct rollout_input in = {0};
	struct rollout_decision d;
	struct svc_config cfg;

	poll_rewrite(r, s, now);
	if (!rollout_active(r))
		return;
	if (!s || svc_config_read(&A.maps, s->info.id, &cfg)) {
		rollout_service_gone(r, &d);
		apply(r, &d, ACTOR_AGENT, now);
		return;
	}
	rollout_input_of(s, &cfg, dt, now, &in);
	in.clients_counted = clients_counted(&A.maps);
	in.clients = clients_take(s->info.id, &clients);
	rollout_tick(r, &in, &d);
	apply(r, &d, ACTOR_AGENT, now);
	/* The evidence moved: keep it (an idle poll changes nothing that matters). */
	if (rollout_active(r) && !d.changed && !d.set_weight && !d.manual) {
		bool moved = false;
		unsigned int k;

		for (k = 0; k < r->nchecks; k++)
			moved |= r->checks[k].last_poll != AV_POLL_IDLE;
		/* An interval of client_hll was merged into the tally and cleared. */
		moved |= in.clients != NULL;
		if (moved)
			persist(r);
	}
}

void poll_once(double dt)
{
	uint64_t t0 = now_ns();
	int64_t now = wall_ms();
	unsigned int i;

	pthread_mutex_lock(&A.lock);
	if (poll_read(dt)) {
		pthread_mutex_unlock(&A.lock);
		return;
	}
	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i] && !A.rollouts[i]->fleet) /* the leader ticks the fleet's */
			poll_rollout(A.rollouts[i], dt, now);
	watch_poll(dt, now);
	A.have_prev = true;
	A.stats.polls++;
	A.stats.poll_seconds = (now_ns() - t0) / 1e9;
	pthread_mutex_unlock(&A.lock);
}

/* ---- the sweep ---------------------------------------------------------------------------- */

/* One sweep of the flow table, from the main thread (so A.maps needs no lock). */
void sweep_once(void)
{
	struct sweep_result sr;

	/* Never wait for the writers' lock here: skip a round instead. */
	if (flows_sweep(&A.maps, &sr, 0))
		return;
	pthread_mutex_lock(&A.lock);
	A.stats.sweeps++;
	A.stats.swept_flows += sr.expired;
	pthread_mutex_unlock(&A.lock);
	if (sr.unanswered)
		logline("sweep: %llu expired flows removed, %llu with an unanswered SYN",
			(unsigned long long)sr.expired, (unsigned long long)sr.unanswered);
}
