/* state.c: what canaryd keeps in its state directory, so that a rollout survives kill -9:
 * the directory's lock (one agent per directory), a state file per rollout (saved,
 * and loaded and checked at the start), a history file per service, and the table of
 * rollouts they fill. Every function here expects A.lock held, or no other thread yet
 * (state_dir_take and load_states, at the start). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonv.h"
#include "base/safedir.h"
#include "base/util.h"
#include "canaryd.h"
#include "present/status.h"

/* One agent per state directory: it must be root's, and its flock is held for the
 * agent's life. Returns 0, or 1 after saying why. */
int state_dir_take(void)
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

/* ---- state files -------------------------------------------------------------------------- */

void persist(const struct rollout *r)
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

void history_path(const char *svc, char *buf, size_t len)
{
	snprintf(buf, len, "%s/history-%s.jsonl", A.state_dir, svc);
}

/* History: one JSON object per line, appended and synced. actor says who made the
 * change: canaryd itself, "uid:N" through the socket, "token:NAME" over TCP, or
 * "maps" for a change noticed in the maps (made with canaryctl directly). */
void history_line(const char *svc, const struct rollout_decision *d, const char *reason,
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

void history(const struct rollout *r, const struct rollout_decision *d, const char *actor,
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

struct bad_state *find_bad(const char *svc)
{
	unsigned int i;

	for (i = 0; i < A.nbad; i++)
		if (!strcmp(A.bad[i].service, svc))
			return &A.bad[i];
	return NULL;
}

/* Load every state file. One that fails validation is never dropped quietly: its
 * service's canary may be carrying traffic with nobody watching, so it becomes a
 * rollout in phase Error (API, status, metric) until the operator aborts or promotes
 * it. The weight is left as it is. */
void load_states(void)
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

struct rollout *find_rollout(const char *svc)
{
	unsigned int i;

	for (i = 0; i < CANARY_MAX_SERVICES; i++)
		if (A.rollouts[i] && !strcmp(A.rollouts[i]->plan.service, svc))
			return A.rollouts[i];
	return NULL;
}

int rollouts_put(struct rollout *old, struct rollout *r)
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
