/* canaryd: the rollout agent. It polls the pinned counters every interval, runs each
 * service's rollout (steps, sequential analysis, guards, business metrics), moves the
 * weight or rolls back with one map update, sweeps the flow table, keeps its state in
 * a state directory that survives kill -9, and serves Prometheus metrics and a small
 * JSON API (canaryctl rollout ...) over HTTP on loopback. */
#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdatomic.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "base/jsonv.h"
#include "base/safedir.h"
#include "base/util.h"
#include "cli/cli.h"
#include "http/apiauth.h"
#include "http/promquery.h"
#include "logic/plan.h"
#include "logic/rollout.h"
#include "maps/pins.h"
#include "maps/service.h"
#include "maps/stats.h"
#include "maps/sweep.h"
#include "present/prom.h"
#include "present/status.h"

#define DEFAULT_STATE_DIR "/var/lib/xdp-canary"
#define MAX_BODY	  (1 << 20)
#define STATE_MAX_BYTES	  (4 << 20) /* a saved rollout: its plan plus counters */
#define ACTOR_AGENT	  "canaryd"

struct agent {
	pthread_mutex_t lock;
	struct canary_maps maps;
	char state_dir[1024];
	double interval, sweep_interval;
	struct service_state *svcs;
	unsigned int nsvcs;
	struct arm_stats_batch batch;  /* the poll's buffer for reading arm_stats whole */
	struct arm_stats *snap, *prev; /* [CANARY_ARM_STATS_SLOTS] summed over CPUs */
	bool have_prev;
	double dt; /* seconds between the last two polls */
	struct reason_stats reasons;
	struct rollout *rollouts[CANARY_MAX_SERVICES]; /* by slot, any order */
	uint64_t weight_changes[CANARY_MAX_SERVICES][WREASON_COUNT]; /* by service id */
	struct prom_agent stats;
	/* Rollouts whose saved state failed validation: their canary may carry traffic,
	 * so they are shown (phase Error) until the operator aborts or promotes. */
	struct bad_state {
		char service[CANARY_NAME_LEN];
		char file[NAME_MAX + 1];
		char reason[300];
	} bad[CANARY_MAX_SERVICES];
	unsigned int nbad;
	int state_lock;		     /* flock of state_dir: one agent per directory */
	_Atomic uint64_t last_poll_ns; /* end of the last completed poll, for /healthz */
};

static struct agent A;
static volatile sig_atomic_t stop;

/* ---- logging ------------------------------------------------------------------------------ */

static void stamp(char *buf, size_t len, int64_t ms)
{
	time_t t = ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
	char ts[32];
	va_list ap;

	stamp(ts, sizeof(ts), wall_ms());
	fprintf(stderr, "%s canaryd: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* ---- state files -------------------------------------------------------------------------- */

static void persist(const struct rollout *r)
{
	struct json_object *j = rollout_to_json(r);
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	char name[64];
	int err;

	snprintf(name, sizeof(name), "rollout-%s.json", r->plan.service);
	err = write_atomic(A.state_dir, name, text, strlen(text));
	if (err)
		logline("%s: cannot save the rollout state in %s: %s", r->plan.service, A.state_dir,
			strerror(-err));
	json_object_put(j);
}

static void history_path(const char *svc, char *buf, size_t len)
{
	snprintf(buf, len, "%s/history-%s.jsonl", A.state_dir, svc);
}

/* History: one JSON object per line, appended and synced. actor says who made the
 * change: canaryd itself, "uid:N" through the socket, "token:NAME" over TCP, or
 * "maps" for a change noticed in the maps (made with canaryctl directly). */
static void history_line(const char *svc, const struct rollout_decision *d, const char *reason,
		  unsigned int step, unsigned int steps, const char *phase, const char *detail,
		  const char *evidence, const char *actor, int64_t now_ms)
{
	struct json_object *j = json_object_new_object();
	char path[PATH_MAX], ts[32];
	const char *line;
	FILE *f;

	stamp(ts, sizeof(ts), now_ms);
	json_object_object_add(j, "time", json_object_new_string(ts));
	json_object_object_add(j, "time_ms", json_object_new_int64(now_ms));
	json_object_object_add(j, "service", json_object_new_string(svc));
	json_object_object_add(j, "old_weight", json_percent(d->old_bp));
	json_object_object_add(j, "new_weight", json_percent(d->new_bp));
	json_object_object_add(j, "reason", json_object_new_string(reason));
	json_object_object_add(j, "actor", json_object_new_string(actor));
	json_object_object_add(j, "step", json_object_new_int(step));
	json_object_object_add(j, "steps", json_object_new_int(steps));
	json_object_object_add(j, "phase", json_object_new_string(phase));
	json_object_object_add(j, "detail", json_object_new_string(detail));
	json_object_object_add(j, "evidence", json_object_new_string(evidence));
	line = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	history_path(svc, path, sizeof(path));
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s\n", line);
		fflush(f);
		fsync(fileno(f));
		fclose(f);
	} else {
		logline("%s: cannot append to %s: %s", svc, path, strerror(errno));
	}
	json_object_put(j);
}

static void history(const struct rollout *r, const struct rollout_decision *d, const char *actor,
		    int64_t now_ms)
{
	char ev[1024];

	rollout_evidence(r, ev, sizeof(ev));
	history_line(r->plan.service, d, weight_reason_names[d->reason], r->step + 1, r->plan.nsteps,
		     rollout_phase_names[r->phase], r->reason, ev, d->manual ? "maps" : actor,
		     now_ms);
}

/* "rollout-NAME.json" with a valid NAME is a state file of the agent's own; anything
 * else in the directory (a .bak, a .tmp, an editor's copy) is not read. */
static bool state_file_service(const char *fname, char *svc, size_t len)
{
	size_t n = strlen(fname);

	if (n <= 13 || strncmp(fname, "rollout-", 8) || strcmp(fname + n - 5, ".json"))
		return false;
	n -= 13;
	if (n >= len)
		return false;
	memcpy(svc, fname + 8, n);
	svc[n] = 0;
	return service_name_valid(svc);
}

/* Read and validate one state file; 0, or -1 with the reason in err. */
static int load_state_file(const char *path, const char *svc, struct rollout *r, char *err,
			   size_t len)
{
	struct json_object *j;
	struct jv v = {};
	char *text;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = file_read_all(path, STATE_MAX_BYTES, &text, &n);
	if (rc) {
		snprintf(err, len, "%s", rc == -EFBIG ? "the file is too large" : strerror(-rc));
		return -1;
	}
	j = jv_parse(&v, text, n);
	free(text);
	if (!j) {
		snprintf(err, len, n ? "not valid JSON (truncated?)" : "the file is empty");
		return -1;
	}
	rc = rollout_from_json(r, j, svc, err, len);
	json_object_put(j);
	return rc ? -1 : 0;
}

static struct bad_state *find_bad(const char *svc)
{
	unsigned int i;

	for (i = 0; i < A.nbad; i++)
		if (!strcmp(A.bad[i].service, svc))
			return &A.bad[i];
	return NULL;
}

static struct rollout *find_rollout(const char *svc)
{
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i] && !strcmp(A.rollouts[i]->plan.service, svc))
			return A.rollouts[i];
	return NULL;
}

static int rollouts_put(struct rollout *old, struct rollout *r)
{
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES && A.rollouts[i] != old; i++)
		;
	if (i == CANARY_MAX_SERVICES)
		return -ENOSPC;
	if (old) {
		rollout_free(old);
		free(old);
	}
	A.rollouts[i] = r;
	return 0;
}

/* Load every state file. One that fails validation is never dropped quietly: its
 * service's canary may be carrying traffic with nobody watching, so it becomes a
 * rollout in phase Error (API, status, metric) until the operator aborts or promotes
 * it. The weight is left as it is. */
static void load_states(void)
{
	DIR *dir = opendir(A.state_dir);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char path[PATH_MAX], err[256], svc[CANARY_NAME_LEN];
		struct rollout *r;

		if (!state_file_service(e->d_name, svc, sizeof(svc)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", A.state_dir, e->d_name);
		r = calloc(1, sizeof(*r));
		if (!r)
			break;
		if (load_state_file(path, svc, r, err, sizeof(err))) {
			struct bad_state *b = &A.bad[A.nbad];

			rollout_free(r);
			free(r);
			if (A.nbad == CANARY_MAX_SERVICES)
				continue;
			snprintf(b->service, sizeof(b->service), "%s", svc);
			snprintf(b->file, sizeof(b->file), "%s", e->d_name);
			snprintf(b->reason, sizeof(b->reason), "%s", err);
			A.nbad++;
			logline("%s: ERROR: the saved rollout %s is not valid (%s); its canary keeps "
				"its weight and nobody runs its rollout: 'canaryctl rollout abort %s' "
				"rolls it back, 'canaryctl rollout promote %s' completes it",
				svc, path, err, svc, svc);
			continue;
		}
		if (rollouts_put(NULL, r)) {
			rollout_free(r);
			free(r);
			break;
		}
		if (rollout_active(r)) {
			char w[16];

			logline("%s: resuming the rollout at step %u/%u (%s, weight %s%%)",
				r->plan.service, r->step + 1, r->plan.nsteps,
				rollout_phase_names[r->phase], bp_str(r->weight_bp, w, sizeof(w)));
		}
	}
	closedir(dir);
}

/* ---- reading the maps --------------------------------------------------------------------- */

static void refresh_services(void)
{
	struct service_state *list;
	unsigned int n;

	if (service_list(&A.maps, &list, &n))
		return;
	free(A.svcs);
	A.svcs = list;
	A.nsvcs = n;
}

static const struct service_state *find_service(const char *name)
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

static void apply(struct rollout *r, const struct rollout_decision *d, const char *actor,
		  int64_t now_ms)
{
	const struct service_state *s = find_service(r->plan.service);
	char b[16];

	if (d->manual) {
		if (s)
			A.weight_changes[s->info.id][WREASON_MANUAL]++;
		history(r, d, actor, now_ms);
	}
	if (d->set_weight && s) {
		int rc = write_weight(r, s, d);

		if (rc == 0) {
			r->pending = false;
			A.weight_changes[s->info.id][d->reason]++;
			if (d->reset_flows) {
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
static void sync_manual(struct rollout *r, int64_t now_ms)
{
	const struct service_state *s = find_service(r->plan.service);
	struct rollout_decision d = {};
	struct svc_config cfg;

	if (s && svc_config_read(&A.maps, s->info.id, &cfg) == 0 &&
	    rollout_notice_manual(r, cfg.canary_weight, cfg.generation, now_ms, &d))
		apply(r, &d, ACTOR_AGENT, now_ms);
}

/* ---- Prometheus pulls --------------------------------------------------------------------- */

/* One pulled metric of one rollout, copied out of the agent's state. */
struct pull_job {
	char service[CANARY_NAME_LEN];
	int64_t started_ms;
	unsigned int idx;
	struct plan_metric m;
};

/* Copy out every pulled metric of every active rollout, under the lock. Returns how
 * many, in a malloc'ed *out. */
static unsigned int pull_jobs(struct pull_job **out)
{
	struct pull_job *jobs = NULL;
	unsigned int n = 0, i, k;

	pthread_mutex_lock(&A.lock);
	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];

		for (k = 0; r && rollout_active(r) && k < r->plan.nmetrics; k++) {
			struct pull_job *nj;

			if (r->plan.metrics[k].source != METRIC_PROMETHEUS)
				continue;
			nj = realloc(jobs, (n + 1) * sizeof(*jobs));
			if (!nj)
				break;
			jobs = nj;
			snprintf(jobs[n].service, sizeof(jobs[n].service), "%s", r->plan.service);
			jobs[n].started_ms = r->started_ms;
			jobs[n].idx = k;
			jobs[n].m = r->plan.metrics[k];
			n++;
		}
	}
	pthread_mutex_unlock(&A.lock);
	*out = jobs;
	return n;
}

/* Run one job's queries without the lock, then hand the reading to its rollout under
 * it. A reading is dropped when its rollout ended or was restarted while the query
 * ran. */
static void pull_one(const struct pull_job *job)
{
	uint64_t succ[CANARY_ARMS], trials[CANARY_ARMS];
	char err[256] = "";
	bool ok = true;
	struct rollout *r;
	int arm;

	for (arm = 0; arm < CANARY_ARMS && ok; arm++)
		ok = !prom_query(job->m.url, job->m.successes[arm], &succ[arm], err, sizeof(err)) &&
		     !prom_query(job->m.url, job->m.trials[arm], &trials[arm], err, sizeof(err));
	pthread_mutex_lock(&A.lock);
	r = find_rollout(job->service);
	if (r && rollout_active(r) && r->started_ms == job->started_ms) {
		rollout_metric_reading(r, job->idx, ok, succ, trials, err, wall_ms());
		if (!ok)
			logline("%s: metric %s: measurement error %d of %d: %s", r->plan.service,
				job->m.name, r->metrics[job->idx].consecutive_errors,
				job->m.error_limit, err);
	}
	pthread_mutex_unlock(&A.lock);
}

/* Read every pulled metric of every active rollout. */
static void pull_metrics(void)
{
	struct pull_job *jobs;
	unsigned int n = pull_jobs(&jobs), i;

	for (i = 0; i < n && !stop; i++)
		pull_one(&jobs[i]);
	free(jobs);
}

/* The puller thread: one round of queries per poll interval. */
static void *puller(void *arg)
{
	(void)arg;
	while (!stop) {
		uint64_t until = now_ns() + (uint64_t)(A.interval * 1e9);

		pull_metrics();
		while (!stop && now_ns() < until) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static int puller_start(pthread_t *thread)
{
	sigset_t mask, old;
	int err;

	/* The puller blocks the stop signals, so that they wake the main loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	err = pthread_create(thread, NULL, puller, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err ? -1 : 0;
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
	now = pinned_map_id(A.maps.root, CANARY_STR(CANARY_MAP_META));
	if (!now || now == info.id)
		return;
	if (canary_maps_open(&m, A.maps.root))
		return; /* mid-upgrade: the next poll tries again */
	canary_maps_close(&A.maps);
	A.maps = m;
	A.have_prev = false;
	logline("the maps under %s were replaced (an upgrade): following them", A.maps.root);
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
	struct rollout_input in;
	struct rollout_decision d;
	struct svc_config cfg;
	int arm;

	poll_rewrite(r, s, now);
	if (!rollout_active(r))
		return;
	if (!s || svc_config_read(&A.maps, s->info.id, &cfg)) {
		rollout_service_gone(r, &d);
		apply(r, &d, ACTOR_AGENT, now);
		return;
	}
	for (arm = 0; arm < CANARY_ARMS; arm++)
		arm_stats_total(A.snap, s->info.id, arm, &in.arm[arm]);
	in.svc_id = s->info.id;
	in.weight_bp = cfg.canary_weight;
	in.generation = cfg.generation;
	in.dt = dt;
	in.now_ms = now;
	rollout_tick(r, &in, &d);
	apply(r, &d, ACTOR_AGENT, now);
	/* The evidence moved: keep it (an idle poll changes nothing that matters). */
	if (rollout_active(r) && !d.changed && !d.set_weight && !d.manual) {
		bool moved = false;
		unsigned int k;

		for (k = 0; k < r->nchecks; k++)
			moved |= r->checks[k].last_poll != AV_POLL_IDLE;
		if (moved)
			persist(r);
	}
}

static void poll_once(double dt)
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
		if (A.rollouts[i])
			poll_rollout(A.rollouts[i], dt, now);
	A.have_prev = true;
	A.stats.polls++;
	A.stats.poll_seconds = (now_ns() - t0) / 1e9;
	pthread_mutex_unlock(&A.lock);
}

/* One sweep of the flow table, from the main thread (so A.maps needs no lock). */
static void sweep_once(void)
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

/* ---- HTTP API ------------------------------------------------------------------------------
 * Two doors. The Unix socket (root's, mode 0660, a group the operator names) takes
 * every request: its permissions decide who may steer, and SO_PEERCRED names the
 * caller in the history. The TCP listener serves reads to anyone; it takes changes
 * only with a bearer token from --token-file, and a token only over TLS or loopback.
 * Every change must be JSON, and no request may name a foreign Host or Origin. */

enum door_kind { DOOR_SOCKET, DOOR_TCP };

struct door {
	enum door_kind kind;
	struct MHD_Daemon *d;
	struct api_hosts hosts;
	char where[PATH_MAX + 16]; /* for messages: the socket path or ADDR:PORT */
};

static struct door doors[2];
static struct api_tokens tokens;

/* A request as the handler collects it: the body, then (outside the agent's lock)
 * its JSON and, for a start, the parsed plan. */
struct request {
	char *buf;
	size_t len;
	bool too_big;
	struct json_object *json;
	struct plan *plan;
	char *plan_errors;
	char actor[96];
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	/* Nothing here is for other sites' pages: no CORS headers, no framing, no sniffing. */
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (code == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"canaryd\"");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned int code,
				  struct json_object *j)
{
	enum MHD_Result ret =
		reply(c, code, "application/json",
		      json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));

	json_object_put(j);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned int code, const char *msg)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "error", json_object_new_string(msg));
	return reply_json(c, code, j);
}

/* The canary's share of new flows over the last poll, or -1. */
static double share_of(uint32_t id)
{
	struct arm_stats a[2], p[2];
	uint64_t c, t;
	int arm;

	if (!A.have_prev)
		return -1;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		arm_stats_total(A.snap, id, arm, &a[arm]);
		arm_stats_total(A.prev, id, arm, &p[arm]);
	}
	c = a[1].flows - p[1].flows;
	t = c + a[0].flows - p[0].flows;
	return t ? (double)c / t : -1;
}

/* Both arms: the rates over the last poll (when there are two readings), and the
 * rollout's counts. */
static struct json_object *arms_json(const struct rollout *r, const struct service_state *s)
{
	struct json_object *arms = json_object_new_object();
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *ja = json_object_new_object();
		struct arm_stats a, p;

		if (s && A.have_prev) {
			arm_stats_total(A.snap, s->info.id, arm, &a);
			arm_stats_total(A.prev, s->info.id, arm, &p);
			json_object_object_add(ja, "rates", status_rates_json(&a, &p, A.dt));
		}
		json_object_object_add(ja, "flows", json_object_new_int64(r->last[arm].flows));
		json_object_object_add(ja, "errored_flows",
				       json_object_new_int64(r->last[arm].errored_flows));
		json_object_object_add(ja, "http_5xx", json_object_new_int64(r->last[arm].http_class[5]));
		json_object_object_add(ja, "reset_flows",
				       json_object_new_int64(r->last[arm].reset_flows));
		json_object_object_add(arms, arm_name(arm), ja);
	}
	return arms;
}

/* Each signal's test: e-value against its threshold, verdict, and each arm's events and
 * exposure. */
static struct json_object *evidence_json(const struct rollout *r)
{
	struct json_object *ev = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < r->nchecks; i++) {
		const struct rollout_check *c = &r->checks[i];
		struct json_object *e = json_object_new_object(), *o;
		enum av_verdict v = av_verdict(&c->cfg, &c->st);

		json_object_object_add(e, "signal", json_object_new_string(c->name));
		json_object_object_add(e, "e_value", json_object_new_double(av_evalue(&c->st.rollback)));
		json_object_object_add(e, "threshold",
				       json_object_new_double(1 / c->cfg.rollback.alpha));
		json_object_object_add(e, "p_value", json_object_new_double(av_pvalue(&c->st.rollback)));
		json_object_object_add(e, "tolerance", json_object_new_double(c->cfg.rollback.r_null));
		json_object_object_add(e, "verdict", json_object_new_string(av_verdict_name(v)));
		json_object_object_add(e, "last_poll", json_object_new_string(av_poll_name(c->last_poll)));
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			o = json_object_new_object();
			json_object_object_add(o, "events",
					       json_object_new_int64(c->st.x[arm ? AV_CANARY : AV_STABLE]));
			json_object_object_add(o, "exposure",
					       json_object_new_int64(c->st.n[arm ? AV_CANARY : AV_STABLE]));
			json_object_object_add(e, arm_name(arm), o);
		}
		json_object_array_add(ev, e);
	}
	return ev;
}

/* The business metrics: each arm's successes, trials and rate, and the source's errors. */
static struct json_object *metrics_json(const struct rollout *r)
{
	struct json_object *ms = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < r->plan.nmetrics; i++) {
		const struct metric_state *m = &r->metrics[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(r->plan.metrics[i].name));
		json_object_object_add(o, "source", json_object_new_string(
							    r->plan.metrics[i].source == METRIC_PUSH
								    ? "push"
								    : "prometheus"));
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "successes", json_object_new_int64(m->successes[arm]));
			json_object_object_add(a, "trials", json_object_new_int64(m->trials[arm]));
			json_object_object_add(a, "rate", json_object_new_double(
								  m->trials[arm] ? (double)m->successes[arm] /
											   m->trials[arm]
										 : 0));
			json_object_object_add(o, arm_name(arm), a);
		}
		json_object_object_add(o, "consecutive_errors",
				       json_object_new_int(m->consecutive_errors));
		json_object_object_add(o, "last_error", json_object_new_string(m->last_error));
		json_object_array_add(ms, o);
	}
	return ms;
}

static struct json_object *rollout_json(const struct rollout *r)
{
	const struct service_state *s = find_service(r->plan.service);
	struct json_object *j = json_object_new_object();
	const struct plan_step *st = &r->plan.steps[r->step];
	char ts[32];
	int64_t now = wall_ms();

	json_object_object_add(j, "service", json_object_new_string(r->plan.service));
	json_object_object_add(j, "plan_file", json_object_new_string(r->plan.file));
	json_object_object_add(j, "phase", json_object_new_string(rollout_phase_names[r->phase]));
	json_object_object_add(j, "paused_for",
			       r->phase == PHASE_PAUSED
				       ? json_object_new_string(pause_reason_names[r->pause])
				       : NULL);
	json_object_object_add(j, "reason", json_object_new_string(r->reason));
	json_object_object_add(j, "step", json_object_new_int(r->step + 1));
	json_object_object_add(j, "steps", json_object_new_int(r->plan.nsteps));
	json_object_object_add(j, "step_weight", json_percent(st->weight_bp));
	json_object_object_add(j, "canary_weight", json_percent(r->weight_bp));
	json_object_object_add(j, "pending_weight", r->pending ? json_percent(r->pending_bp) : NULL);
	json_object_object_add(j, "hold_s", json_object_new_double(st->hold_ms / 1000.0));
	json_object_object_add(j, "hold_accrued_s", json_object_new_double(r->step_hold_s));
	json_object_object_add(j, "time_in_step_s",
			       json_object_new_double(((rollout_active(r) ? now : r->ended_ms) -
						       r->step_started_ms) /
						      1000.0));
	json_object_object_add(j, "min_flows", json_object_new_int64(st->min_flows));
	json_object_object_add(j, "step_canary_flows",
			       json_object_new_int64(r->last[1].flows - r->step_base[1].flows));
	{
		uint64_t c = r->last[1].flows - r->step_base[1].flows;
		uint64_t t = c + r->last[0].flows - r->step_base[0].flows;

		json_object_object_add(j, "measured_share",
				       t ? json_object_new_double(100.0 * c / t) : NULL);
	}
	stamp(ts, sizeof(ts), r->started_ms);
	json_object_object_add(j, "started_at", json_object_new_string(ts));
	if (r->ended_ms) {
		stamp(ts, sizeof(ts), r->ended_ms);
		json_object_object_add(j, "ended_at", json_object_new_string(ts));
	}
	json_object_object_add(j, "arms", arms_json(r, s));
	json_object_object_add(j, "evidence", evidence_json(r));
	json_object_object_add(j, "metrics", metrics_json(r));
	return j;
}

static enum MHD_Result api_metrics(struct MHD_Connection *c)
{
	struct prom_service *ps = calloc(A.nsvcs ? A.nsvcs : 1, sizeof(*ps));
	struct arm_stats *arms = calloc(2 * (A.nsvcs ? A.nsvcs : 1), sizeof(*arms));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	enum MHD_Result ret;
	unsigned int i;

	if (!ps || !arms || !f) {
		free(ps);
		free(arms);
		if (f)
			fclose(f);
		free(buf);
		return reply(c, 500, "text/plain", "out of memory\n");
	}
	for (i = 0; i < A.nsvcs; i++) {
		arm_stats_total(A.snap, A.svcs[i].info.id, 0, &arms[2 * i]);
		arm_stats_total(A.snap, A.svcs[i].info.id, 1, &arms[2 * i + 1]);
		ps[i].svc = &A.svcs[i];
		ps[i].arm = &arms[2 * i];
		ps[i].share = share_of(A.svcs[i].info.id);
		ps[i].rollout = find_rollout(A.svcs[i].info.name);
		ps[i].weight_changes = A.weight_changes[A.svcs[i].info.id];
	}
	A.stats.nstate_errors = A.nbad;
	for (i = 0; i < A.nbad; i++)
		A.stats.state_errors[i] = A.bad[i].service;
	prom_write(f, ps, A.nsvcs, &A.reasons, &A.stats);
	fclose(f);
	ret = reply(c, 200, "text/plain; version=0.0.4", buf ? buf : "");
	free(buf);
	free(ps);
	free(arms);
	return ret;
}

/* A rollout whose saved state is invalid, as the API shows it. */
static struct json_object *bad_json(const struct bad_state *b)
{
	const struct service_state *s = find_service(b->service);
	struct json_object *j = json_object_new_object();
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "the saved state %s is not valid: %s; the canary keeps its weight and no rollout "
		 "watches it: abort rolls it back, promote completes it",
		 b->file, b->reason);
	json_object_object_add(j, "service", json_object_new_string(b->service));
	json_object_object_add(j, "phase", json_object_new_string("Error"));
	json_object_object_add(j, "reason", json_object_new_string(msg));
	json_object_object_add(j, "state_file", json_object_new_string(b->file));
	json_object_object_add(j, "state_error", json_object_new_string(b->reason));
	json_object_object_add(j, "canary_weight",
			       s ? json_percent(s->cfg.canary_weight) : NULL);
	json_object_object_add(j, "step", json_object_new_int(0));
	json_object_object_add(j, "steps", json_object_new_int(0));
	return j;
}

/* abort or promote of a rollout whose state is invalid: set the weight (0 or 100) as
 * a compare-and-swap, keep the bad file under a name the agent does not read, and
 * record it. */
static enum MHD_Result resolve_bad(struct MHD_Connection *c, struct bad_state *b,
				   const char *cmd, const char *actor)
{
	bool promote = !strcmp(cmd, "promote");
	struct rollout_decision d = {.set_weight = true,
				     .new_bp = promote ? CANARY_WEIGHT_SCALE : 0,
				     .reason = promote ? WREASON_PROMOTE : WREASON_ABORT};
	const struct service_state *s;
	char from[PATH_MAX], to[PATH_MAX + 32], detail[1024];
	struct svc_config cfg;
	int err = -ESTALE, tries;
	int64_t t = wall_ms();

	if (strcmp(cmd, "abort") && !promote)
		return reply_error(c, 409, "the rollout's saved state is invalid; only abort (weight "
					   "0) or promote (weight 100) can end it");
	refresh_services();
	s = find_service(b->service);
	if (!s)
		return reply_error(c, 404, "the service is no longer in the maps");
	for (tries = 0; tries < 8 && err == -ESTALE; tries++) {
		err = svc_config_read(&A.maps, s->info.id, &cfg);
		if (err)
			break;
		d.old_bp = cfg.canary_weight;
		cfg.canary_weight = d.new_bp;
		err = svc_config_publish(&A.maps, s->info.id, s->info.name, &cfg, cfg.generation);
	}
	if (err) {
		snprintf(detail, sizeof(detail), "cannot set the weight: %s", strerror(-err));
		return reply_error(c, 500, detail);
	}
	snprintf(from, sizeof(from), "%s/%s", A.state_dir, b->file);
	snprintf(to, sizeof(to), "%s/%s.invalid-%lld", A.state_dir, b->file, (long long)t);
	if (rename(from, to))
		logline("%s: cannot move %s aside: %s", b->service, from, strerror(errno));
	snprintf(detail, sizeof(detail), "%s by hand: the saved state was invalid (%s); kept as %s",
		 promote ? "promoted" : "aborted", b->reason, strrchr(to, '/') + 1);
	history_line(b->service, &d, weight_reason_names[d.reason], 0, 0,
		     promote ? "Succeeded" : "Aborted", detail, "", actor, t);
	logline("%s: %s", b->service, detail);
	A.weight_changes[s->info.id][d.reason]++;
	{
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "service", json_object_new_string(b->service));
		json_object_object_add(j, "phase",
				       json_object_new_string(promote ? "Succeeded" : "Aborted"));
		json_object_object_add(j, "reason", json_object_new_string(detail));
		json_object_object_add(j, "canary_weight", json_percent(d.new_bp));
		*b = A.bad[--A.nbad];
		return reply_json(c, 200, j);
	}
}

/* Whether svc may start a rollout now: 0 with its service in *s (the maps read
 * afresh) and the ended rollout it replaces, if any, in *old; or an HTTP status with
 * the reason in err. */
static unsigned int start_allowed(const char *svc, const struct service_state **s,
				  struct rollout **old, char *err, size_t len)
{
	if (find_bad(svc)) {
		snprintf(err, len, "the saved rollout of '%s' is invalid; end it first with "
				   "'canaryctl rollout abort %s' (or promote)",
			 svc, svc);
		return 409;
	}
	refresh_services();
	*s = find_service(svc);
	if (!*s) {
		snprintf(err, len, "no service named '%s' in the maps; apply it first with "
				   "'canaryctl apply -f FILE'",
			 svc);
		return 404;
	}
	if (!(*s)->cfg.nbackends[CANARY_ARM_CANARY] || !(*s)->cfg.nbackends[CANARY_ARM_STABLE]) {
		snprintf(err, len, "service '%s' needs stable and canary backends for a "
				   "rollout",
			 svc);
		return 409;
	}
	*old = find_rollout(svc);
	if (*old && rollout_active(*old)) {
		snprintf(err, len, "a rollout of '%s' is already %s; abort it first", svc,
			 rollout_phase_names[(*old)->phase]);
		return 409;
	}
	return 0;
}

/* A new rollout of q->plan (its text in text) on service s, from the counters now. 0
 * with it in *out, or an HTTP status with the reason in err. */
static unsigned int start_rollout(const char *svc, const struct service_state *s,
				  const struct request *q, const char *text, int64_t t,
				  struct rollout **out, char *err, size_t len)
{
	struct arm_stats now[CANARY_ARMS];
	struct rollout *r;
	int rc, arm;

	/* The baselines: without them the service's whole history would count as the
	 * rollout's traffic. */
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		rc = arm_stats_read(&A.maps, s->info.id, arm, &now[arm]);
		if (rc) {
			snprintf(err, len, "cannot read the counters of %s: %s", svc, strerror(-rc));
			return 500;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, len, "out of memory");
		return 500;
	}
	if (rollout_init(r, q->plan, text, s->info.id, now, t, err, len)) {
		rollout_free(r);
		free(r);
		return 400;
	}
	r->weight_bp = s->cfg.canary_weight;
	r->generation = s->cfg.generation;
	*out = r;
	return 0;
}

/* POST /api/v1/rollouts/SVC with a plan parsed before the lock was taken. */
static enum MHD_Result api_start(struct MHD_Connection *c, const char *svc, struct request *q)
{
	const char *file = "(plan)";
	char err[256], a[16], b[16];
	struct rollout *r, *old;
	const struct service_state *s;
	struct rollout_decision d = {};
	struct jv v = {};
	const char *text;
	unsigned int code;
	int64_t t = wall_ms();

	if (!jv_str(&v, q->json, "plan_text", NULL, PLAN_MAX_BYTES, false, &text) ||
	    !jv_str(&v, q->json, "plan_file", NULL, PATH_MAX, true, &file))
		return reply_error(c, 400, v.err);
	if (!q->plan)
		return reply_error(c, 400, q->plan_errors ? q->plan_errors : "invalid plan");
	if (strcmp(q->plan->service, svc)) {
		snprintf(err, sizeof(err), "the plan is for service '%s', not '%s'",
			 q->plan->service, svc);
		return reply_error(c, 400, err);
	}
	code = start_allowed(svc, &s, &old, err, sizeof(err));
	if (!code)
		code = start_rollout(svc, s, q, text, t, &r, err, sizeof(err));
	if (code)
		return reply_error(c, code, err);
	if (rollouts_put(old, r)) {
		rollout_free(r);
		free(r);
		return reply_error(c, 503, "too many rollouts");
	}
	d.set_weight = true;
	d.old_bp = r->weight_bp;
	d.new_bp = q->plan->steps[0].weight_bp;
	d.reason = WREASON_START;
	r->weight_bp = d.new_bp;
	snprintf(d.log, sizeof(d.log), "%s: rollout started from %s by %s: step 1/%u, weight "
				       "%s%% -> %s%%",
		 svc, file, q->actor, q->plan->nsteps, bp_str(d.old_bp, a, sizeof(a)),
		 bp_str(d.new_bp, b, sizeof(b)));
	apply(r, &d, q->actor, t);
	return reply_json(c, 201, rollout_json(r));
}

static enum MHD_Result api_command(struct MHD_Connection *c, const char *svc, const char *cmd,
				   struct request *q)
{
	struct rollout *r = find_rollout(svc);
	struct bad_state *b = find_bad(svc);
	struct rollout_decision d;
	struct jv v = {};
	bool full = false;
	char err[256];
	int rc;
	int64_t t = wall_ms();

	if (q->json && !jv_bool(&v, q->json, "full", NULL, true, &full))
		return reply_error(c, 400, "full must be true or false");
	if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "abort") &&
	    strcmp(cmd, "promote"))
		return reply_error(c, 404, "unknown command (pause, resume, abort, promote)");
	if (b)
		return resolve_bad(c, b, cmd, q->actor);
	if (!r) {
		snprintf(err, sizeof(err), "there is no rollout of '%s'; start one with 'canaryctl "
					   "rollout start %s --plan FILE'",
			 svc, svc);
		return reply_error(c, 404, err);
	}
	sync_manual(r, t);
	if (!strcmp(cmd, "pause"))
		rc = rollout_pause(r, &d, err, sizeof(err));
	else if (!strcmp(cmd, "resume"))
		rc = rollout_resume(r, &d, t, err, sizeof(err));
	else if (!strcmp(cmd, "abort"))
		rc = rollout_abort(r, &d, t, err, sizeof(err));
	else
		rc = rollout_promote(r, full, &d, t, err, sizeof(err));
	if (rc)
		return reply_error(c, 409, err);
	if (d.log[0]) {
		size_t n = strlen(d.log);

		snprintf(d.log + n, sizeof(d.log) - n, " (by %s)", q->actor);
	}
	apply(r, &d, q->actor, t);
	/* A command that moves no weight (pause, resume, a gate passed) is still a change
	 * someone made: the history says who. */
	if (!d.set_weight) {
		char ev[1024];

		d.old_bp = d.new_bp = r->weight_bp;
		rollout_evidence(r, ev, sizeof(ev));
		history_line(r->plan.service, &d, cmd, r->step + 1, r->plan.nsteps,
			     rollout_phase_names[r->phase], r->reason, ev, q->actor, t);
	}
	return reply_json(c, 200, rollout_json(r));
}

static enum MHD_Result api_history(struct MHD_Connection *c, const char *svc)
{
	char path[PATH_MAX], line[8192];
	struct json_object *arr = json_object_new_array();
	FILE *f;

	history_path(svc, path, sizeof(path));
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line);

		if (o)
			json_object_array_add(arr, o);
	}
	if (f)
		fclose(f);
	return reply_json(c, 200, arr);
}

/* POST /api/v1/metrics: {"service": S, "arm": "canary", "name": N, "successes": s, "trials": t} */
static enum MHD_Result api_push(struct MHD_Connection *c, struct request *q)
{
	const char *svc, *armname, *name;
	uint64_t succ, trials;
	struct rollout *r;
	struct jv v = {};
	char err[512];
	int arm;

	if (!jv_str(&v, q->json, "service", NULL, CANARY_NAME_LEN - 1, false, &svc) ||
	    !jv_str(&v, q->json, "arm", NULL, 16, false, &armname) ||
	    !jv_str(&v, q->json, "name", NULL, PLAN_NAME_LEN - 1, false, &name) ||
	    !jv_u64(&v, q->json, "successes", NULL, INT64_MAX, false, &succ) ||
	    !jv_u64(&v, q->json, "trials", NULL, INT64_MAX, false, &trials)) {
		snprintf(err, sizeof(err), "a report needs service, arm and name (strings) and "
					   "successes and trials (counts >= 0): %s",
			 v.err);
		return reply_error(c, 400, err);
	}
	if (succ > trials)
		return reply_error(c, 400, "successes cannot exceed trials");
	if (!strcmp(armname, "canary"))
		arm = CANARY_ARM_CANARY;
	else if (!strcmp(armname, "stable"))
		arm = CANARY_ARM_STABLE;
	else
		return reply_error(c, 400, "arm must be stable or canary");
	r = find_rollout(svc);
	if (!r || !rollout_active(r)) {
		snprintf(err, sizeof(err), "no rollout of '%s' is running", svc);
		return reply_error(c, 404, err);
	}
	if (rollout_metric_push(r, name, arm, succ, trials, wall_ms(), err, sizeof(err)))
		return reply_error(c, 400, err);
	return reply(c, 200, "application/json", "{\"ok\":true}\n");
}

/* Every rollout, then every invalid saved state. */
static struct json_object *rollouts_json(void)
{
	struct json_object *arr = json_object_new_array();
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i])
			json_object_array_add(arr, rollout_json(A.rollouts[i]));
	for (i = 0; i < A.nbad; i++)
		json_object_array_add(arr, bad_json(&A.bad[i]));
	return arr;
}

/* Called with the agent's lock held. */
static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
			     struct request *q)
{
	char svc[CANARY_NAME_LEN + 1] = "", cmd[32] = "";
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");

	if (get && !strcmp(url, "/metrics"))
		return api_metrics(c);
	if (post && !strcmp(url, "/api/v1/metrics"))
		return api_push(c, q);
	if (get && !strcmp(url, "/api/v1/rollouts"))
		return reply_json(c, 200, rollouts_json());
	if (sscanf(url, "/api/v1/rollouts/%32[^/]/%31s", svc, cmd) >= 1 &&
	    service_name_valid(svc)) {
		struct rollout *r = find_rollout(svc);
		struct bad_state *b = find_bad(svc);

		if (!cmd[0] && get)
			return b ? reply_json(c, 200, bad_json(b))
			       : r ? reply_json(c, 200, rollout_json(r))
				   : reply_error(c, 404, "no rollout of this service");
		if (!cmd[0] && post)
			return api_start(c, svc, q);
		if (!strcmp(cmd, "history") && get)
			return api_history(c, svc);
		if (post)
			return api_command(c, svc, cmd, q);
		return reply_error(c, 405, "method not allowed");
	}
	return reply_error(c, 404, "no such endpoint (see docs/AGENT.md)");
}

/* /healthz answers without the agent's lock: it says whether the poll loop (the one
 * that rolls back) is alive, and a stuck lock must not hide that it is not. */
static enum MHD_Result healthz(struct MHD_Connection *c)
{
	uint64_t last = atomic_load(&A.last_poll_ns), now = now_ns();
	double age = last ? (now - last) / 1e9 : 0, limit = A.interval * 5 < 5 ? 5 : A.interval * 5;
	char msg[160];

	if (last && age > limit) {
		snprintf(msg, sizeof(msg), "stalled: no poll completed for %.1fs\n", age);
		return reply(c, 503, "text/plain", msg);
	}
	return reply(c, 200, "text/plain", "ok\n");
}

/* Who sends this change, and may they? 0 with q->actor set, or an HTTP status with a
 * message in why. */
static unsigned int authorize(const struct door *door, struct MHD_Connection *c,
			      struct request *q, char *why, size_t len)
{
	const char *auth, *name;

	if (door->kind == DOOR_SOCKET) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct passwd pw, *pwp = NULL;
		char pwbuf[1024];

		if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
			snprintf(why, len, "cannot tell who is calling");
			return 403;
		}
		getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp);
		snprintf(q->actor, sizeof(q->actor), "uid:%u%s%s%s", (unsigned int)cred.uid,
			 pwp ? "(" : "", pwp ? pwp->pw_name : "", pwp ? ")" : "");
		return 0;
	}
	if (!tokens.n) {
		snprintf(why, len, "changes are not accepted on the TCP listener %.100s: use "
				   "canaryd's Unix socket (%.200s), or start canaryd with --token-file for remote "
				   "automation",
			 door->where, doors[DOOR_SOCKET].d ? doors[DOOR_SOCKET].where : "disabled");
		return 403;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	name = api_token_match(&tokens, auth);
	if (!name) {
		snprintf(why, len, "a change over TCP needs 'Authorization: Bearer TOKEN' with a "
				   "token from canaryd's --token-file");
		return 401;
	}
	snprintf(q->actor, sizeof(q->actor), "token:%s", name);
	return 0;
}

/* A start carries a plan: parse it here, outside the lock. A plan that does not parse
 * leaves q->plan NULL, with the messages in q->plan_errors for api.c to answer. */
static void parse_start_plan(const char *url, struct request *q)
{
	char svc[CANARY_NAME_LEN + 1], rest[8];
	struct json_object *t;

	if (sscanf(url, "/api/v1/rollouts/%32[^/]%7s", svc, rest) == 1 && q->json) {
		if (json_object_object_get_ex(q->json, "plan_text", &t) &&
		    json_object_is_type(t, json_type_string) &&
		    json_object_get_string_len(t) <= PLAN_MAX_BYTES) {
			const char *file = "(plan)";
			size_t elen = 0;
			FILE *ef = open_memstream(&q->plan_errors, &elen);
			struct jv v = {};

			jv_str(&v, q->json, "plan_file", NULL, PATH_MAX, true, &file);
			q->plan = malloc(sizeof(*q->plan));
			if (!q->plan || !ef ||
			    plan_parse_text(json_object_get_string(t),
					    (size_t)json_object_get_string_len(t), file, q->plan,
					    ef)) {
				free(q->plan);
				q->plan = NULL;
			}
			if (ef)
				fclose(ef);
		}
	}
}

/* A change: who sends it, that it is JSON, and its body parsed (a start's plan too).
 * 0, or an HTTP status with the message in why. */
static unsigned int check_change(const struct door *door, struct MHD_Connection *c,
				 const char *url, struct request *q, char *why, size_t len)
{
	const char *ctype =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	unsigned int code;

	code = authorize(door, c, q, why, len);
	if (code)
		return code;
	if (!api_json_type(ctype)) {
		snprintf(why, len, "a change must be sent as Content-Type: application/json");
		return 415;
	}
	if (q->too_big) {
		snprintf(why, len, "request body too large");
		return 413;
	}
	if (q->len) {
		struct jv v = {};

		q->json = jv_parse(&v, q->buf, q->len);
		if (!q->json || !json_object_is_type(q->json, json_type_object)) {
			snprintf(why, len, "the body is not a JSON object");
			return 400;
		}
	}
	parse_start_plan(url, q);
	return 0;
}

/* Everything that needs no agent state, so no lock: the door's checks, the JSON body,
 * and a plan's YAML. A slow or hostile request then never delays the poll loop. */
static enum MHD_Result serve(const struct door *door, struct MHD_Connection *c, const char *url,
			     const char *method, struct request *q)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	bool read = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	char why[512];
	enum MHD_Result ret;
	unsigned int code;

	if (!api_host_allowed(&door->hosts, host)) {
		snprintf(why, sizeof(why), "Host '%.100s' is not this listener's name (allowed: its "
					   "address, localhost, address literals, and --allow-host "
					   "names)",
			 host);
		return reply_error(c, 403, why);
	}
	if (!api_origin_allowed(&door->hosts, origin))
		return reply_error(c, 403, "requests from web pages of other origins are refused");
	if (read && !strcmp(url, "/healthz"))
		return healthz(c);
	if (!read) {
		code = check_change(door, c, url, q, why, sizeof(why));
		if (code)
			return reply_error(c, code, why);
	}
	pthread_mutex_lock(&A.lock);
	ret = route(c, url, method, q);
	pthread_mutex_unlock(&A.lock);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct request *q = *con_cls;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		snprintf(q->actor, sizeof(q->actor), "anonymous");
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->too_big || q->len + *upload_size > MAX_BODY) {
			q->too_big = true;
		} else {
			char *nb = realloc(q->buf, q->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + q->len, upload, *upload_size);
			q->buf = nb;
			q->len += *upload_size;
			q->buf[q->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return serve(cls, c, url, method, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *q = *con_cls;

	if (q) {
		free(q->buf);
		json_object_put(q->json);
		free(q->plan);
		free(q->plan_errors);
		free(q);
	}
	*con_cls = NULL;
}

/* The daemon options both doors share: a few threads, so that one slow connection
 * never holds up another (or /healthz), and bounded connections and time. */
#define DOOR_THREADS	  4
#define DOOR_CONNECTIONS  64
#define DOOR_PER_IP	  16
#define DOOR_TIMEOUT_S	  10u

static struct MHD_Daemon *door_start(struct door *door, unsigned int flags, uint16_t port,
				     int listen_fd, const struct sockaddr *sa, const char *cert,
				     const char *key)
{
	flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (cert)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(
		flags, port, NULL, NULL, handler, door, MHD_OPTION_NOTIFY_COMPLETED, completed,
		NULL, MHD_OPTION_CONNECTION_TIMEOUT, DOOR_TIMEOUT_S, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned int)DOOR_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DOOR_CONNECTIONS,
		listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
		listen_fd >= 0 ? (intptr_t)listen_fd : (intptr_t)sa,
		cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_END);
}

struct listen_opts {
	const char *listen, *socket, *socket_group, *token_file, *tls_cert, *tls_key;
	const char *allow_hosts[API_MAX_HOSTS];
	unsigned int nallow;
};

/* The TCP listener's address from --listen (already checked to be ADDR:PORT): the
 * socket address, its text for Host checks, the daemon's flags, and whether it is
 * loopback. */
static bool tcp_address(const char *listen, struct sockaddr_storage *ss, char *host,
			size_t hlen, uint16_t *port, unsigned int *flags)
{
	union canary_addr a;
	int fam = endpoint_parse(listen, &a, port);
	bool loopback;

	if (fam == CANARY_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(*port);
		s4->sin_addr.s_addr = a.v4;
		loopback = (ntohl(a.v4) >> 24) == 127;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(*port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
		*flags |= MHD_USE_IPv6;
		loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	addr_str(fam, &a, host, hlen);
	return loopback;
}

/* The TCP listener's secrets: the tokens (never in clear text off loopback), and the
 * TLS certificate and key, read into *cert and *key (NULL without TLS). 0, or 1 after
 * saying why. */
static int tcp_secrets(const struct listen_opts *o, bool loopback, char **cert, char **key)
{
	size_t n;
	int err;

	if ((o->tls_cert != NULL) != (o->tls_key != NULL)) {
		log_error("TLS needs both --tls-cert and --tls-key");
		return 1;
	}
	if (o->token_file) {
		char why[512];

		err = api_tokens_load(o->token_file, &tokens, why, sizeof(why));
		if (err) {
			log_error("%s", why);
			return 1;
		}
		if (!o->tls_cert && !loopback) {
			log_error("a token must not cross the network in clear text: with --token-file "
				  "on %s (not loopback), give --tls-cert and --tls-key",
				  o->listen);
			return 1;
		}
	}
	if (o->tls_cert) {
		if (file_read_all(o->tls_cert, 1 << 20, cert, &n) ||
		    file_read_all(o->tls_key, 1 << 20, key, &n)) {
			log_error("cannot read --tls-cert %s or --tls-key %s", o->tls_cert, o->tls_key);
			free(*cert);
			free(*key);
			return 1;
		}
	}
	return 0;
}

/* The TCP listener: reads for anyone; changes with a token (only over TLS or on
 * loopback). Returns 0, or 1 after saying why. */
static int tcp_door_start(const struct listen_opts *o)
{
	struct door *door = &doors[DOOR_TCP];
	struct sockaddr_storage ss = {};
	char host[CANARY_ADDRSTRLEN], *cert = NULL, *key = NULL;
	unsigned int flags = 0, i;
	uint16_t port;
	bool loopback;

	door->kind = DOOR_TCP;
	snprintf(door->where, sizeof(door->where), "%s", o->listen);
	loopback = tcp_address(o->listen, &ss, host, sizeof(host), &port, &flags);
	api_hosts_init(&door->hosts, host, port);
	for (i = 0; i < o->nallow; i++)
		if (api_hosts_add(&door->hosts, o->allow_hosts[i])) {
			log_error("--allow-host '%s' is not a host name (or there are more than %d)",
				  o->allow_hosts[i], API_MAX_HOSTS);
			return 1;
		}
	if (tcp_secrets(o, loopback, &cert, &key))
		return 1;
	door->d = door_start(door, flags, port, -1, (struct sockaddr *)&ss, cert, key);
	free(cert);
	free(key);
	if (!door->d) {
		log_error("cannot listen on %s (in use, not an address of this host, or a bad TLS "
			  "certificate or key); pass --listen ADDR:PORT",
			  o->listen);
		return 1;
	}
	return 0;
}

/* The gid of --socket-group (root's without it). 0, or 1 after saying why. */
static int socket_gid(const char *group, gid_t *gid)
{
	struct group gr, *grp = NULL;
	char buf[4096];

	*gid = 0;
	if (!group)
		return 0;
	getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
	if (!grp) {
		log_error("--socket-group %s: no such group", group);
		return 1;
	}
	*gid = grp->gr_gid;
	return 0;
}

/* The socket's directory must be root's and writable by nobody else (made 0755 when
 * missing). 0, or 1 after saying why. */
static int socket_dir_check(const char *path)
{
	char dir[PATH_MAX], why[512], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
	if (safedir_ensure(dir, true, 0755, why, sizeof(why))) {
		log_error("socket directory: %s", why);
		return 1;
	}
	return 0;
}

/* Whatever is at the socket's path: a stale socket of an agent that is gone is removed;
 * a live agent on it, or anything but a socket, is refused. 0, or 1 after saying why. */
static int socket_clear(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int probe;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket; remove it or pass --socket", path);
		return 1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(probe);
		log_error("another canaryd already answers on %s; stop it first", path);
		return 1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path); /* a stale socket of an agent that is gone */
	return 0;
}

/* Bind and listen on the socket: root-only from the moment it exists, then root's with
 * mode 0660 and group gid. The listening fd, or -1 (after saying why, but for a
 * failing socket()). */
static int socket_listen(const char *path, const struct sockaddr_un *sun, gid_t gid)
{
	mode_t old;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0177); /* root-only from the moment it exists */
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun))) {
		umask(old);
		log_error("cannot create the socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chown(path, 0, gid) || chmod(path, 0660) || listen(fd, 64)) {
		log_error("cannot set up the socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* The Unix socket: root's, mode 0660, group --socket-group (default root's). Its
 * directory must be root's and writable by nobody else. Returns 0, or 1 after saying
 * why. */
static int socket_door_start(const struct listen_opts *o)
{
	struct door *door = &doors[DOOR_SOCKET];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	gid_t gid;
	int fd;

	door->kind = DOOR_SOCKET;
	snprintf(door->where, sizeof(door->where), "%s", o->socket);
	api_hosts_init(&door->hosts, NULL, 0);
	if (strlen(o->socket) >= sizeof(sun.sun_path)) {
		log_error("--socket %s: the path is too long for a Unix socket", o->socket);
		return 1;
	}
	if (socket_gid(o->socket_group, &gid) || socket_dir_check(o->socket))
		return 1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o->socket);
	if (socket_clear(o->socket, &sun))
		return 1;
	fd = socket_listen(o->socket, &sun, gid);
	if (fd < 0)
		return 1;
	door->d = door_start(door, 0, 0, fd, NULL, NULL, NULL);
	if (!door->d) {
		log_error("cannot serve on the socket %s", o->socket);
		close(fd);
		unlink(o->socket);
		return 1;
	}
	return 0;
}

static int doors_start(const struct listen_opts *o)
{
	if (tcp_door_start(o) || (o->socket && socket_door_start(o))) {
		if (doors[DOOR_TCP].d)
			MHD_stop_daemon(doors[DOOR_TCP].d);
		return 1;
	}
	return 0;
}

static void doors_stop(const struct listen_opts *o)
{
	MHD_stop_daemon(doors[DOOR_TCP].d);
	if (doors[DOOR_SOCKET].d) {
		MHD_stop_daemon(doors[DOOR_SOCKET].d);
		unlink(o->socket);
	}
}

static bool tcp_takes_changes(void)
{
	return tokens.n;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: canaryd [OPTIONS]\n"
		"The rollout agent: runs rollouts started with 'canaryctl rollout start', serves\n"
		"Prometheus metrics at /metrics and the API canaryctl uses (docs/AGENT.md).\n"
		"  -p, --pin-root DIR        pinned maps (default " CANARY_DEFAULT_PIN_ROOT ")\n"
		"  -s, --state-dir DIR       rollout state and history (default " DEFAULT_STATE_DIR
		")\n"
		"      --socket PATH         Unix socket for every request, changes included (default\n"
		"                            " CANARY_DEFAULT_SOCKET "; 'none': no socket)\n"
		"      --socket-group GROUP  group that may use the socket (mode 0660; default root)\n"
		"  -l, --listen ADDR:PORT    TCP listener for reads (default " CANARY_DEFAULT_LISTEN
		"; IPv6 as\n"
		"                            [addr]:port); changes there need --token-file\n"
		"      --token-file FILE     'NAME TOKEN' lines: bearer tokens that may make changes\n"
		"                            over TCP (root's file, mode 0600)\n"
		"      --tls-cert FILE       serve TCP over TLS with this certificate (PEM)...\n"
		"      --tls-key FILE        ...and key; needed for tokens off loopback\n"
		"      --allow-host NAME     a Host name the TCP listener answers to, besides its\n"
		"                            address and localhost (repeatable)\n"
		"  -i, --interval SECONDS    poll interval (default 1)\n"
		"      --sweep-interval S    flow-table sweep interval (default 10; 0: never)\n"
		"  -v, --verbose             libbpf and debug output\n"
		"  -h, --help                this text\n");
}

/* One agent per state directory: it must be root's, and its flock is held for the
 * agent's life. Returns 0, or 1 after saying why. */
static int state_dir_take(void)
{
	char why[512], holder[128];

	if (safedir_ensure(A.state_dir, true, 0700, why, sizeof(why))) {
		log_error("state directory: %s; pass --state-dir", why);
		return 1;
	}
	A.state_lock = dirlock_take(A.state_dir, 0, holder, sizeof(holder));
	if (A.state_lock == -EWOULDBLOCK) {
		log_error("another canaryd, %s, already runs on the state directory %s; two agents "
			  "would fight over the same rollouts (stop it, or pass another "
			  "--state-dir)",
			  holder, A.state_dir);
		return 1;
	}
	if (A.state_lock < 0) {
		log_error("cannot lock the state directory %s: %s", A.state_dir,
			  strerror(-A.state_lock));
		return 1;
	}
	return 0;
}

/* What the command line asks for. */
struct agent_opts {
	struct listen_opts listen;
	const char *pin_root, *state_dir;
	double interval, sweep_interval;
	bool verbose;
};

/* What parse_args returns when the agent is to run; anything else is an exit status. */
#define ARGS_RUN (-1)

/* The command line into o, defaults first. Returns ARGS_RUN, or the status to exit
 * with: 0 after --help, 2 (EXIT_USAGE) after saying what is wrong. Nothing else reads
 * argv. One function, longer than the others on purpose: every option of canaryd is
 * here and nowhere else, for an option table to replace whole. */
static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	enum { O_SOCKET = 256, O_SOCKET_GROUP, O_TOKEN_FILE, O_TLS_CERT, O_TLS_KEY, O_ALLOW_HOST };
	static const struct option opts[] = {
		{"pin-root", required_argument, NULL, 'p'},
		{"state-dir", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"socket", required_argument, NULL, O_SOCKET},
		{"socket-group", required_argument, NULL, O_SOCKET_GROUP},
		{"token-file", required_argument, NULL, O_TOKEN_FILE},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"allow-host", required_argument, NULL, O_ALLOW_HOST},
		{"interval", required_argument, NULL, 'i'},
		{"sweep-interval", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct listen_opts *lo = &o->listen;
	int opt;

	*o = (struct agent_opts){
		.listen = {.listen = CANARY_DEFAULT_LISTEN, .socket = CANARY_DEFAULT_SOCKET},
		.pin_root = CANARY_DEFAULT_PIN_ROOT,
		.state_dir = DEFAULT_STATE_DIR,
		.interval = 1,
		.sweep_interval = 10,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "p:s:l:i:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pin_root = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'l':
			lo->listen = optarg;
			break;
		case O_SOCKET:
			lo->socket = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case O_SOCKET_GROUP:
			lo->socket_group = optarg;
			break;
		case O_TOKEN_FILE:
			lo->token_file = optarg;
			break;
		case O_TLS_CERT:
			lo->tls_cert = optarg;
			break;
		case O_TLS_KEY:
			lo->tls_key = optarg;
			break;
		case O_ALLOW_HOST:
			if (lo->nallow == API_MAX_HOSTS) {
				fprintf(stderr, "canaryd: at most %d --allow-host names\n", API_MAX_HOSTS);
				return 2;
			}
			lo->allow_hosts[lo->nallow++] = optarg;
			break;
		case 'i':
			if (cli_parse_double("--interval", optarg, 0.05, 3600, &o->interval))
				return EXIT_USAGE;
			break;
		case 'S':
			if (cli_parse_double("--sweep-interval", optarg, 0, 86400, &o->sweep_interval))
				return EXIT_USAGE;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "canaryd: unknown option or missing value '%s'; try 'canaryd "
					"--help'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "canaryd: unexpected argument '%s'; try 'canaryd --help'\n",
			argv[optind]);
		return 2;
	}
	return ARGS_RUN;
}

/* Everything before the first poll: root, the state directory, the maps, the saved
 * rollouts, the doors, the signals and the puller. Returns 0, or the status to exit
 * with after saying why. */
static int agent_start(const struct agent_opts *o, pthread_t *pull_thread)
{
	const struct listen_opts *lo = &o->listen;
	struct sigaction sa = {.sa_handler = on_signal};

	if (o->verbose)
		canary_verbose = 1;
	canary_quiet_libs();
	if (geteuid() != 0) {
		log_error("canaryd needs root to read and update the pinned maps; run it with sudo");
		return 1;
	}
	if (!endpoint_parse(lo->listen, &(union canary_addr){0}, &(uint16_t){0})) {
		fprintf(stderr, "canaryd: --listen '%s' is not ADDR:PORT (IPv6 as [addr]:port); try "
				"'canaryd --help'\n",
			lo->listen);
		return 2;
	}
	snprintf(A.state_dir, sizeof(A.state_dir), "%s", o->state_dir);
	A.interval = o->interval;
	A.sweep_interval = o->sweep_interval;
	A.state_lock = -1;
	if (state_dir_take())
		return 1;
	if (canary_maps_open(&A.maps, o->pin_root))
		return 1;
	A.snap = calloc(CANARY_ARM_STATS_SLOTS, sizeof(*A.snap));
	A.prev = calloc(CANARY_ARM_STATS_SLOTS, sizeof(*A.prev));
	if (!A.snap || !A.prev)
		return 1;
	pthread_mutex_init(&A.lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	refresh_services();
	load_states();
	arm_stats_read_all(&A.maps, &A.batch, A.snap);

	signal(SIGPIPE, SIG_IGN);
	if (doors_start(lo))
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (puller_start(pull_thread)) {
		log_error("cannot start the metric puller thread");
		return 1;
	}
	logline("started: pins %s, state %s, socket %s, listening on %s://%s (reads%s), polling "
		"every %gs",
		o->pin_root, A.state_dir, lo->socket ? lo->socket : "none",
		lo->tls_cert ? "https" : "http", lo->listen,
		tcp_takes_changes() ? "; changes with a token" : " only", A.interval);
	return 0;
}

/* Poll every interval (on the monotonic clock, from the end of the last wait) and sweep
 * every sweep interval, until a stop signal. */
static void agent_loop(void)
{
	uint64_t last = now_ns();
	double next_sweep = A.sweep_interval;

	atomic_store(&A.last_poll_ns, last);
	while (!stop) {
		struct timespec ts;
		uint64_t target = last + (uint64_t)(A.interval * 1e9), now;
		double dt;

		ts.tv_sec = target / 1000000000ull;
		ts.tv_nsec = target % 1000000000ull;
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (stop)
			break;
		now = now_ns();
		dt = (now - last) / 1e9;
		last = now;
		poll_once(dt);
		atomic_store(&A.last_poll_ns, now_ns());
		if (A.sweep_interval > 0 && (next_sweep -= dt) <= 0) {
			next_sweep = A.sweep_interval;
			sweep_once();
		}
	}
}

/* The puller and the doors first, so that nothing changes a rollout while each is
 * saved. */
static void agent_stop(const struct agent_opts *o, pthread_t pull_thread)
{
	unsigned int i;

	logline("stopping");
	pthread_join(pull_thread, NULL);
	doors_stop(&o->listen);
	pthread_mutex_lock(&A.lock);
	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i])
			persist(A.rollouts[i]);
	pthread_mutex_unlock(&A.lock);
	canary_maps_close(&A.maps);
	curl_global_cleanup();
	dirlock_release(A.state_lock);
}

int main(int argc, char **argv)
{
	struct agent_opts o;
	pthread_t pull_thread;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != ARGS_RUN)
		return rc;
	rc = agent_start(&o, &pull_thread);
	if (rc)
		return rc;
	agent_loop();
	agent_stop(&o, pull_thread);
	return 0;
}
