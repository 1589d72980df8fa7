/* pulls.c: the thread that reads the Prometheus-pulled business metrics, one round of
 * queries per poll interval. A thread of its own, so that a slow or unreachable
 * Prometheus never delays the poll (and a rollback) of any rollout: A.lock is held only
 * to copy the jobs out and to hand each reading back. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/util.h"
#include "canaryd.h"
#include "http/promquery.h"

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

int puller_start(pthread_t *thread)
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
