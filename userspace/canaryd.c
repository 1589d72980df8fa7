/* canaryd: the rollout agent. It polls the pinned counters every interval, runs each
 * service's rollout (steps, sequential analysis, guards, business metrics), moves the
 * weight or rolls back with one map update, sweeps the flow table, keeps its state in
 * a state directory that survives kill -9, and serves Prometheus metrics and a small
 * JSON API (canaryctl rollout ...) over HTTP on loopback. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
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

#include "cli.h"
#include "pins.h"
#include "plan.h"
#include "prom.h"
#include "rollout.h"
#include "safedir.h"
#include "service.h"
#include "stats.h"
#include "status.h"
#include "sweep.h"
#include "util.h"

#define DEFAULT_LISTEN	  "127.0.0.1:9181"
#define DEFAULT_STATE_DIR "/var/lib/xdp-canary"
#define MAX_BODY	  (1 << 20)
#define NSLOTS		  (2 * CANARY_MAX_SERVICES * CANARY_ARMS)

struct agent {
	pthread_mutex_t lock;
	struct canary_maps maps;
	char state_dir[1024];
	double interval, sweep_interval;
	struct service_state *svcs;
	unsigned int nsvcs;
	struct arm_stats *snap, *prev; /* [NSLOTS] summed over CPUs */
	bool have_prev;
	double dt; /* seconds between the last two polls */
	struct reason_stats reasons;
	struct rollout *rollouts[CANARY_MAX_SERVICES]; /* by slot, any order */
	uint64_t weight_changes[CANARY_MAX_SERVICES][WREASON_COUNT]; /* by service id */
	struct prom_agent stats;
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

/* Write atomically: temp file, fsync, rename, fsync of the directory. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, dfd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd))
		err = -errno;
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

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

/* History: one JSON object per line, appended and synced. */
static void history(const struct rollout *r, const struct rollout_decision *d, int64_t now_ms)
{
	struct json_object *j = json_object_new_object();
	char path[PATH_MAX], ts[32], ev[1024];
	const char *line;
	FILE *f;

	stamp(ts, sizeof(ts), now_ms);
	rollout_evidence(r, ev, sizeof(ev));
	json_object_object_add(j, "time", json_object_new_string(ts));
	json_object_object_add(j, "time_ms", json_object_new_int64(now_ms));
	json_object_object_add(j, "service", json_object_new_string(r->plan.service));
	json_object_object_add(j, "old_weight", json_percent(d->old_bp));
	json_object_object_add(j, "new_weight", json_percent(d->new_bp));
	json_object_object_add(j, "reason", json_object_new_string(weight_reason_names[d->reason]));
	json_object_object_add(j, "step", json_object_new_int(r->step + 1));
	json_object_object_add(j, "steps", json_object_new_int(r->plan.nsteps));
	json_object_object_add(j, "phase", json_object_new_string(rollout_phase_names[r->phase]));
	json_object_object_add(j, "detail", json_object_new_string(r->reason));
	json_object_object_add(j, "evidence", json_object_new_string(ev));
	line = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	snprintf(path, sizeof(path), "%s/history-%s.jsonl", A.state_dir, r->plan.service);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s\n", line);
		fflush(f);
		fsync(fileno(f));
		fclose(f);
	} else {
		logline("%s: cannot append to %s: %s", r->plan.service, path, strerror(errno));
	}
	json_object_put(j);
}

static void load_states(void)
{
	DIR *dir = opendir(A.state_dir);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char path[PATH_MAX], err[256];
		struct json_object *j;
		struct rollout *r;
		unsigned int i;

		if (strncmp(e->d_name, "rollout-", 8) || !strstr(e->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", A.state_dir, e->d_name);
		j = json_object_from_file(path);
		r = calloc(1, sizeof(*r));
		if (!j || !r || rollout_from_json(r, j, err, sizeof(err))) {
			logline("ignoring %s: %s", path, j ? err : "not valid JSON");
			json_object_put(j);
			if (r)
				rollout_free(r);
			free(r);
			continue;
		}
		json_object_put(j);
		for (i = 0; i < CANARY_MAX_SERVICES && A.rollouts[i]; i++)
			;
		if (i == CANARY_MAX_SERVICES) {
			rollout_free(r);
			free(r);
			break;
		}
		A.rollouts[i] = r;
		if (rollout_active(r)) {
			char w[16];

			logline("%s: resuming the rollout at step %u/%u (%s, weight %s%%)",
				r->plan.service, r->step + 1, r->plan.nsteps,
				rollout_phase_names[r->phase], bp_str(r->weight_bp, w, sizeof(w)));
		}
	}
	closedir(dir);
}

static struct rollout *find_rollout(const char *svc)
{
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i] && !strcmp(A.rollouts[i]->plan.service, svc))
			return A.rollouts[i];
	return NULL;
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

/* Every arm counter in one batch read, summed over CPUs. */
static int read_counters(struct arm_stats *out)
{
	static __u32 keys[NSLOTS];
	static void *vals;
	int ncpu = canary_ncpus();
	size_t words = sizeof(struct arm_stats) / 8, k, w;
	__u32 count = NSLOTS, batch = 0;
	int c;

	if (!vals) {
		vals = calloc((size_t)NSLOTS * ncpu, sizeof(struct arm_stats));
		if (!vals)
			return -ENOMEM;
	}
	if (bpf_map_lookup_batch(A.maps.arm_stats, NULL, &batch, keys, vals, &count, NULL) &&
	    errno != ENOENT)
		return -errno;
	memset(out, 0, NSLOTS * sizeof(*out));
	for (k = 0; k < count; k++) {
		__u64 *sum = (__u64 *)&out[keys[k] % NSLOTS];
		const __u64 *v = (const __u64 *)vals + k * ncpu * words;

		for (c = 0; c < ncpu; c++)
			for (w = 0; w < words; w++)
				sum[w] += v[c * words + w];
	}
	return 0;
}

/* An arm's counters: the data plane's slot plus the sweeper's. */
static void arm_total(const struct arm_stats *snap, uint32_t id, int arm, struct arm_stats *out)
{
	const __u64 *a = (const __u64 *)&snap[CANARY_ARM_SLOT(id, arm)];
	const __u64 *b = (const __u64 *)&snap[CANARY_SWEEP_SLOT(id, arm)];
	__u64 *o = (__u64 *)out;
	size_t w;

	for (w = 0; w < sizeof(*out) / 8; w++)
		o[w] = a[w] + b[w];
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

static void apply(struct rollout *r, const struct rollout_decision *d, int64_t now_ms)
{
	const struct service_state *s = find_service(r->plan.service);
	char b[16];

	if (d->manual) {
		if (s)
			A.weight_changes[s->info.id][WREASON_MANUAL]++;
		history(r, d, now_ms);
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
			history(r, d, now_ms);
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
	apply(r, &d, now_ms);
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
		apply(r, &d, now_ms);
}

/* ---- Prometheus pulls --------------------------------------------------------------------- */

static size_t curl_sink(char *p, size_t sz, size_t n, void *ctx)
{
	struct {
		char *buf;
		size_t len;
	} *b = ctx;
	size_t add = sz * n;
	char *nb;

	if (b->len + add > MAX_BODY)
		return 0;
	nb = realloc(b->buf, b->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + b->len, p, add);
	b->buf = nb;
	b->len += add;
	b->buf[b->len] = 0;
	return add;
}

/* An instant query that must return one number (the sum of the vector). */
static int prom_query(const char *base, const char *query, uint64_t *out, char *err, size_t len)
{
	struct {
		char *buf;
		size_t len;
	} b = {};
	struct json_object *j = NULL, *data, *res, *status;
	char url[2048];
	CURL *c = curl_easy_init();
	char *q;
	double sum = 0;
	long code = 0;
	size_t i;
	int rc = -1;

	if (!c) {
		snprintf(err, len, "curl init failed");
		return -1;
	}
	q = curl_easy_escape(c, query, 0);
	snprintf(url, sizeof(url), "%s/api/v1/query?query=%s", base, q ? q : "");
	curl_free(q);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) != CURLE_OK) {
		snprintf(err, len, "cannot reach %s", base);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	j = b.buf ? json_tokener_parse(b.buf) : NULL;
	if (code != 200 || !j || !json_object_object_get_ex(j, "status", &status) ||
	    strcmp(json_object_get_string(status), "success")) {
		snprintf(err, len, "query '%s' failed (HTTP %ld)", query, code);
		goto out;
	}
	if (!json_object_object_get_ex(j, "data", &data) ||
	    !json_object_object_get_ex(data, "result", &res) ||
	    !json_object_is_type(res, json_type_array) || !json_object_array_length(res)) {
		snprintf(err, len, "query '%s' returned no data", query);
		goto out;
	}
	for (i = 0; i < json_object_array_length(res); i++) {
		struct json_object *v = NULL;

		json_object_object_get_ex(json_object_array_get_idx(res, i), "value", &v);
		if (!v || json_object_array_length(v) != 2) {
			snprintf(err, len, "query '%s' is not an instant vector", query);
			goto out;
		}
		sum += atof(json_object_get_string(json_object_array_get_idx(v, 1)));
	}
	if (!isfinite(sum) || sum < 0) {
		snprintf(err, len, "query '%s' gave %g", query, sum);
		goto out;
	}
	*out = (uint64_t)llround(sum);
	rc = 0;
out:
	json_object_put(j);
	free(b.buf);
	curl_easy_cleanup(c);
	return rc;
}

/* Read every pulled metric of every active rollout. Runs on its own thread, so a slow
 * or unreachable Prometheus never delays the poll (and a rollback) of any rollout; the
 * lock is held only to copy the jobs out and to hand a reading back. A reading is
 * dropped when its rollout ended or was restarted while the query ran. */
static void pull_metrics(void)
{
	struct job {
		char service[CANARY_NAME_LEN];
		int64_t started_ms;
		unsigned int idx;
		struct plan_metric m;
	} *jobs = NULL;
	unsigned int n = 0, i, k;

	pthread_mutex_lock(&A.lock);
	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];

		for (k = 0; r && rollout_active(r) && k < r->plan.nmetrics; k++) {
			struct job *nj;

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

	for (i = 0; i < n && !stop; i++) {
		uint64_t succ[CANARY_ARMS], trials[CANARY_ARMS];
		char err[256] = "";
		bool ok = true;
		struct rollout *r;
		int arm;

		for (arm = 0; arm < CANARY_ARMS && ok; arm++)
			ok = !prom_query(jobs[i].m.url, jobs[i].m.successes[arm], &succ[arm], err,
					 sizeof(err)) &&
			     !prom_query(jobs[i].m.url, jobs[i].m.trials[arm], &trials[arm], err,
					 sizeof(err));
		pthread_mutex_lock(&A.lock);
		r = find_rollout(jobs[i].service);
		if (r && rollout_active(r) && r->started_ms == jobs[i].started_ms) {
			rollout_metric_reading(r, jobs[i].idx, ok, succ, trials, err, wall_ms());
			if (!ok)
				logline("%s: metric %s: measurement error %d of %d: %s", r->plan.service,
					jobs[i].m.name, r->metrics[jobs[i].idx].consecutive_errors,
					jobs[i].m.error_limit, err);
		}
		pthread_mutex_unlock(&A.lock);
	}
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

/* ---- the poll ----------------------------------------------------------------------------- */

static void poll_once(double dt)
{
	uint64_t t0 = now_ns();
	int64_t now = wall_ms();
	struct arm_stats *tmp;
	unsigned int i;
	int err;

	pthread_mutex_lock(&A.lock);
	/* Weights and generations for /metrics: a few syscalls per service. */
	refresh_services();
	/* Read into the older buffer; only a good reading becomes the current one. */
	err = read_counters(A.prev);
	if (err) {
		logline("cannot read the counters: %s", strerror(-err));
		pthread_mutex_unlock(&A.lock);
		return;
	}
	tmp = A.prev;
	A.prev = A.snap;
	A.snap = tmp;
	reasons_read(&A.maps, &A.reasons);
	A.dt = dt;

	for (i = 0; i < CANARY_MAX_SERVICES; i++) {
		struct rollout *r = A.rollouts[i];
		const struct service_state *s;
		struct rollout_input in;
		struct rollout_decision d;
		struct svc_config cfg;
		int arm;

		if (!r)
			continue;
		s = find_service(r->plan.service);
		/* A write that failed is retried first, also after the rollout ended (a
		 * rollback's weight 0 matters most), so the config read below sees it. */
		if (r->pending && s)
			retry_pending(r, s, now);
		/* A write of ours that another writer overwrote from an older reading: the
		 * same generation with another weight (both were built on the one before).
		 * The compare-and-swap leaves one syscall for this to happen in; write it
		 * again rather than lose it. */
		else if (s && s->cfg.generation == r->generation &&
			 s->cfg.canary_weight != r->weight_bp) {
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
		if (!rollout_active(r))
			continue;
		if (!s || svc_config_read(&A.maps, s->info.id, &cfg)) {
			rollout_service_gone(r, &d);
			apply(r, &d, now);
			continue;
		}
		for (arm = 0; arm < CANARY_ARMS; arm++)
			arm_total(A.snap, s->info.id, arm, &in.arm[arm]);
		in.svc_id = s->info.id;
		in.weight_bp = cfg.canary_weight;
		in.generation = cfg.generation;
		in.dt = dt;
		in.now_ms = now;
		rollout_tick(r, &in, &d);
		apply(r, &d, now);
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
	A.have_prev = true;
	A.stats.polls++;
	A.stats.poll_seconds = (now_ns() - t0) / 1e9;
	pthread_mutex_unlock(&A.lock);
}

/* ---- HTTP API ------------------------------------------------------------------------------ */

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

/* A string member, or NULL when missing or not a string (a JSON null included). */
static const char *jstring(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A non-negative integer member. */
static bool jcount(struct json_object *o, const char *k, uint64_t *out)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	*out = (uint64_t)json_object_get_int64(v);
	return true;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
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

static double share_of(uint32_t id)
{
	struct arm_stats a[2], p[2];
	uint64_t c, t;
	int arm;

	if (!A.have_prev)
		return -1;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		arm_total(A.snap, id, arm, &a[arm]);
		arm_total(A.prev, id, arm, &p[arm]);
	}
	c = a[1].flows - p[1].flows;
	t = c + a[0].flows - p[0].flows;
	return t ? (double)c / t : -1;
}

static struct json_object *rollout_json(const struct rollout *r)
{
	const struct service_state *s = find_service(r->plan.service);
	struct json_object *j = json_object_new_object(), *ev = json_object_new_array();
	struct json_object *arms = json_object_new_object(), *ms = json_object_new_array();
	const struct plan_step *st = &r->plan.steps[r->step];
	char ts[32];
	unsigned int i;
	int arm;
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
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct json_object *ja = json_object_new_object();
		struct arm_stats a, p;

		if (s && A.have_prev) {
			arm_total(A.snap, s->info.id, arm, &a);
			arm_total(A.prev, s->info.id, arm, &p);
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
	json_object_object_add(j, "arms", arms);
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
	json_object_object_add(j, "evidence", ev);
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
	json_object_object_add(j, "metrics", ms);
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
		arm_total(A.snap, A.svcs[i].info.id, 0, &arms[2 * i]);
		arm_total(A.snap, A.svcs[i].info.id, 1, &arms[2 * i + 1]);
		ps[i].svc = &A.svcs[i];
		ps[i].arm = &arms[2 * i];
		ps[i].share = share_of(A.svcs[i].info.id);
		ps[i].rollout = find_rollout(A.svcs[i].info.name);
		ps[i].weight_changes = A.weight_changes[A.svcs[i].info.id];
	}
	prom_write(f, ps, A.nsvcs, &A.reasons, &A.stats);
	fclose(f);
	ret = reply(c, 200, "text/plain; version=0.0.4", buf ? buf : "");
	free(buf);
	free(ps);
	free(arms);
	return ret;
}

/* POST /api/v1/rollouts/SVC: {"plan_text": "...", "plan_file": "..."} */
static enum MHD_Result api_start(struct MHD_Connection *c, const char *svc, struct json_object *req)
{
	const char *text, *file;
	char *errs = NULL, err[256];
	size_t errlen = 0;
	struct rollout *r, *old;
	struct plan p;
	const struct service_state *s;
	struct arm_stats now[CANARY_ARMS];
	struct rollout_decision d = {};
	FILE *ef;
	unsigned int i;
	int rc, arm;
	int64_t t = wall_ms();

	text = jstring(req, "plan_text");
	if (!text)
		return reply_error(c, 400, "the request needs plan_text (the plan's YAML, a string)");
	file = jstring(req, "plan_file") ?: "(plan)";
	ef = open_memstream(&errs, &errlen);
	rc = plan_parse_text(text, strlen(text), file, &p, ef);
	fclose(ef);
	if (rc) {
		enum MHD_Result ret = reply_error(c, 400, errs ? errs : "invalid plan");

		free(errs);
		return ret;
	}
	free(errs);
	if (strcmp(p.service, svc)) {
		snprintf(err, sizeof(err), "the plan is for service '%s', not '%s'", p.service, svc);
		return reply_error(c, 400, err);
	}
	refresh_services();
	s = find_service(svc);
	if (!s) {
		snprintf(err, sizeof(err), "no service named '%s' in the maps; apply it first with "
					   "'canaryctl apply -f FILE'",
			 svc);
		return reply_error(c, 404, err);
	}
	if (!s->cfg.nbackends[CANARY_ARM_CANARY] || !s->cfg.nbackends[CANARY_ARM_STABLE]) {
		snprintf(err, sizeof(err), "service '%s' needs stable and canary backends for a "
					   "rollout",
			 svc);
		return reply_error(c, 409, err);
	}
	old = find_rollout(svc);
	if (old && rollout_active(old)) {
		snprintf(err, sizeof(err), "a rollout of '%s' is already %s; abort it first", svc,
			 rollout_phase_names[old->phase]);
		return reply_error(c, 409, err);
	}
	/* The baselines: without them the service's whole history would count as the
	 * rollout's traffic. */
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		rc = arm_stats_read(&A.maps, s->info.id, arm, &now[arm]);
		if (rc) {
			snprintf(err, sizeof(err), "cannot read the counters of %s: %s", svc,
				 strerror(-rc));
			return reply_error(c, 500, err);
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return reply_error(c, 500, "out of memory");
	if (rollout_init(r, &p, text, s->info.id, now, t, err, sizeof(err))) {
		rollout_free(r);
		free(r);
		return reply_error(c, 400, err);
	}
	r->weight_bp = s->cfg.canary_weight;
	r->generation = s->cfg.generation;
	if (old) {
		for (i = 0; i < CANARY_MAX_SERVICES && A.rollouts[i] != old; i++)
			;
		rollout_free(old);
		free(old);
		A.rollouts[i] = r;
	} else {
		for (i = 0; i < CANARY_MAX_SERVICES && A.rollouts[i]; i++)
			;
		if (i == CANARY_MAX_SERVICES) {
			rollout_free(r);
			free(r);
			return reply_error(c, 503, "too many rollouts");
		}
		A.rollouts[i] = r;
	}
	d.set_weight = true;
	d.old_bp = r->weight_bp;
	d.new_bp = p.steps[0].weight_bp;
	d.reason = WREASON_START;
	r->weight_bp = d.new_bp;
	{
		char a[16], b[16];

		snprintf(d.log, sizeof(d.log), "%s: rollout started from %s: step 1/%u, weight %s%% -> %s%%",
			 svc, file, p.nsteps, bp_str(d.old_bp, a, sizeof(a)),
			 bp_str(d.new_bp, b, sizeof(b)));
	}
	apply(r, &d, t);
	return reply_json(c, 201, rollout_json(r));
}

static enum MHD_Result api_command(struct MHD_Connection *c, const char *svc, const char *cmd,
				   struct json_object *req)
{
	struct rollout *r = find_rollout(svc);
	struct rollout_decision d;
	struct json_object *jfull;
	char err[256];
	int rc;
	int64_t t = wall_ms();

	if (req && json_object_object_get_ex(req, "full", &jfull) &&
	    !json_object_is_type(jfull, json_type_boolean))
		return reply_error(c, 400, "full must be true or false");

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
	else if (!strcmp(cmd, "promote"))
		rc = rollout_promote(r,
				     req && json_object_object_get_ex(req, "full", &jfull) &&
					     json_object_get_boolean(jfull),
				     &d, t, err, sizeof(err));
	else
		return reply_error(c, 404, "unknown command (pause, resume, abort, promote)");
	if (rc)
		return reply_error(c, 409, err);
	apply(r, &d, t);
	return reply_json(c, 200, rollout_json(r));
}

static enum MHD_Result api_history(struct MHD_Connection *c, const char *svc)
{
	char path[PATH_MAX], line[8192];
	struct json_object *arr = json_object_new_array();
	FILE *f;

	snprintf(path, sizeof(path), "%s/history-%s.jsonl", A.state_dir, svc);
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
static enum MHD_Result api_push(struct MHD_Connection *c, struct json_object *req)
{
	const char *svc = jstring(req, "service"), *armname = jstring(req, "arm");
	const char *name = jstring(req, "name");
	uint64_t succ, trials;
	struct rollout *r;
	char err[256];
	int arm;

	if (!svc || !armname || !name || !jcount(req, "successes", &succ) ||
	    !jcount(req, "trials", &trials))
		return reply_error(c, 400, "a report needs service, arm and name (strings) and "
					   "successes and trials (counts >= 0)");
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

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
			     struct body *b)
{
	struct json_object *req = NULL, *arr;
	enum MHD_Result ret;
	char svc[CANARY_NAME_LEN + 1] = "", cmd[32] = "";
	unsigned int i;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");

	if (b->too_big)
		return reply_error(c, 413, "request body too large");
	if (post && b->len) {
		req = json_tokener_parse(b->buf);
		if (!req)
			return reply_error(c, 400, "the body is not JSON");
	}
	if (get && !strcmp(url, "/metrics"))
		ret = api_metrics(c);
	else if (get && !strcmp(url, "/healthz"))
		ret = reply(c, 200, "text/plain", "ok\n");
	else if (post && !strcmp(url, "/api/v1/metrics"))
		ret = api_push(c, req);
	else if (get && !strcmp(url, "/api/v1/rollouts")) {
		arr = json_object_new_array();
		for (i = 0; i < CANARY_MAX_SERVICES; i++)
			if (A.rollouts[i])
				json_object_array_add(arr, rollout_json(A.rollouts[i]));
		ret = reply_json(c, 200, arr);
	} else if (sscanf(url, "/api/v1/rollouts/%32[^/]/%31s", svc, cmd) >= 1 &&
		   service_name_valid(svc)) {
		struct rollout *r = find_rollout(svc);

		if (!cmd[0] && get)
			ret = r ? reply_json(c, 200, rollout_json(r))
				: reply_error(c, 404, "no rollout of this service");
		else if (!cmd[0] && post)
			ret = api_start(c, svc, req);
		else if (!strcmp(cmd, "history") && get)
			ret = api_history(c, svc);
		else if (post)
			ret = api_command(c, svc, cmd, req);
		else
			ret = reply_error(c, 405, "method not allowed");
	} else {
		ret = reply_error(c, 404, "no such endpoint (see docs/AGENT.md)");
	}
	json_object_put(req);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	enum MHD_Result ret;

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		if (b->len + *upload_size > MAX_BODY) {
			b->too_big = true;
		} else {
			char *nb = realloc(b->buf, b->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + b->len, upload, *upload_size);
			b->buf = nb;
			b->len += *upload_size;
			b->buf[b->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&A.lock);
	ret = route(c, url, method, b);
	pthread_mutex_unlock(&A.lock);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	if (b) {
		free(b->buf);
		free(b);
	}
	*con_cls = NULL;
}

static struct MHD_Daemon *http_start(const char *listen)
{
	struct sockaddr_storage ss = {};
	union canary_addr a;
	uint16_t port;
	int fam = endpoint_parse(listen, &a, &port);
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (fam == CANARY_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = a.v4;
	} else if (fam == CANARY_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
		flags |= MHD_USE_IPv6;
	} else {
		return NULL;
	}
	return MHD_start_daemon(flags, port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
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
		"  -l, --listen ADDR:PORT    HTTP listener (default " DEFAULT_LISTEN
		"; IPv6 as [addr]:port)\n"
		"  -i, --interval SECONDS    poll interval (default 1)\n"
		"      --sweep-interval S    flow-table sweep interval (default 10; 0: never)\n"
		"  -v, --verbose             libbpf and debug output\n"
		"  -h, --help                this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-root", required_argument, NULL, 'p'},
		{"state-dir", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"interval", required_argument, NULL, 'i'},
		{"sweep-interval", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *pin_root = CANARY_DEFAULT_PIN_ROOT, *listen = DEFAULT_LISTEN;
	struct MHD_Daemon *http;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t mask, old;
	pthread_t pull_thread;
	double next_sweep;
	uint64_t last;
	int opt;

	snprintf(A.state_dir, sizeof(A.state_dir), "%s", DEFAULT_STATE_DIR);
	A.interval = 1;
	A.sweep_interval = 10;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "p:s:l:i:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pin_root = optarg;
			break;
		case 's':
			snprintf(A.state_dir, sizeof(A.state_dir), "%s", optarg);
			break;
		case 'l':
			listen = optarg;
			break;
		case 'i':
			if (cli_parse_double("--interval", optarg, 0.05, 3600, &A.interval))
				return EXIT_USAGE;
			break;
		case 'S':
			if (cli_parse_double("--sweep-interval", optarg, 0, 86400, &A.sweep_interval))
				return EXIT_USAGE;
			break;
		case 'v':
			canary_verbose = 1;
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
	canary_quiet_libs();
	if (geteuid() != 0) {
		log_error("canaryd needs root to read and update the pinned maps; run it with sudo");
		return 1;
	}
	if (!endpoint_parse(listen, &(union canary_addr){0}, &(uint16_t){0})) {
		fprintf(stderr, "canaryd: --listen '%s' is not ADDR:PORT (IPv6 as [addr]:port); try "
				"'canaryd --help'\n",
			listen);
		return 2;
	}
	if (mkdir(A.state_dir, 0700) && errno != EEXIST) {
		log_error("cannot create the state directory %s: %s; pass --state-dir", A.state_dir,
			  strerror(errno));
		return 1;
	}
	if (canary_maps_open(&A.maps, pin_root))
		return 1;
	A.snap = calloc(NSLOTS, sizeof(*A.snap));
	A.prev = calloc(NSLOTS, sizeof(*A.prev));
	if (!A.snap || !A.prev)
		return 1;
	pthread_mutex_init(&A.lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	refresh_services();
	load_states();
	read_counters(A.snap);

	http = http_start(listen);
	if (!http) {
		log_error("cannot listen on %s (in use, or not an address of this host); pass "
			  "--listen ADDR:PORT",
			  listen);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The puller blocks the stop signals, so that they wake the main loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	if (pthread_create(&pull_thread, NULL, puller, NULL)) {
		log_error("cannot start the metric puller thread");
		MHD_stop_daemon(http);
		return 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	logline("started: pins %s, state %s, listening on http://%s, polling every %gs", pin_root,
		A.state_dir, listen, A.interval);

	last = now_ns();
	next_sweep = A.sweep_interval;
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
		if (A.sweep_interval > 0 && (next_sweep -= dt) <= 0) {
			struct sweep_result sr;

			next_sweep = A.sweep_interval;
			if (flows_sweep(&A.maps, &sr, 0) == 0) {
				pthread_mutex_lock(&A.lock);
				A.stats.sweeps++;
				A.stats.swept_flows += sr.expired;
				pthread_mutex_unlock(&A.lock);
				if (sr.unanswered)
					logline("sweep: %llu expired flows removed, %llu with an "
						"unanswered SYN",
						(unsigned long long)sr.expired,
						(unsigned long long)sr.unanswered);
			}
		}
	}
	logline("stopping");
	pthread_join(pull_thread, NULL);
	MHD_stop_daemon(http);
	pthread_mutex_lock(&A.lock);
	for (unsigned int i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i])
			persist(A.rollouts[i]);
	pthread_mutex_unlock(&A.lock);
	canary_maps_close(&A.maps);
	curl_global_cleanup();
	return 0;
}
