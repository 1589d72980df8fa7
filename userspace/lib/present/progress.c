/* progress.c: the progress display of `canaryctl rollout status --wait` (progress.h). */
#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <json-c/json.h>

#include "present/progress.h"

static struct json_object *member(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static double num(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);

	return v && (json_object_is_type(v, json_type_double) ||
		     json_object_is_type(v, json_type_int))
		   ? json_object_get_double(v)
		   : 0;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = member(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* The signal whose e-value is nearest its threshold (the largest E / threshold). */
static struct json_object *strongest(struct json_object *r)
{
	struct json_object *ev = member(r, "evidence"), *best = NULL;
	double best_ratio = -1;
	size_t i;

	if (!ev || !json_object_is_type(ev, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(ev); i++) {
		struct json_object *e = json_object_array_get_idx(ev, i);
		double t = num(e, "threshold"), ratio = t > 0 ? num(e, "e_value") / t : 0;

		if (isfinite(ratio) && ratio > best_ratio) {
			best_ratio = ratio;
			best = e;
		}
	}
	return best;
}

const char *progress_line(struct json_object *r, char *buf, size_t len)
{
	struct json_object *e = strongest(r);
	size_t n;

	n = (size_t)snprintf(buf, len,
			     "%s: %s, step %d/%d at %g%% | hold %.1f/%gs, canary flows "
			     "%.0f/%.0f | ",
			     str(r, "service"), str(r, "phase"), (int)num(r, "step"),
			     (int)num(r, "steps"), num(r, "canary_weight"),
			     num(r, "hold_accrued_s"), num(r, "hold_s"),
			     num(r, "step_canary_flows"), num(r, "min_flows"));
	if (n >= len)
		return buf;
	if (e)
		snprintf(buf + n, len - n, "strongest: %s E=%.3g of %g", str(e, "signal"),
			 num(e, "e_value"), num(e, "threshold"));
	else
		snprintf(buf + n, len - n, "no evidence yet");
	return buf;
}

void progress_init(struct progress *p, FILE *f, bool tty)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
	p->tty = tty;
}

/* The terminal's width (80 when it does not say). */
static size_t columns(FILE *f)
{
	struct winsize ws;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void progress_show(struct progress *p, struct json_object *r)
{
	char line[512], key[sizeof(p->last)];
	size_t w;

	progress_line(r, line, sizeof(line));
	if (p->tty) {
		/* Shorter than the terminal, so it never wraps and \r returns to its start. */
		w = columns(p->f) - 1;
		if (strlen(line) > w)
			line[w] = '\0';
		fprintf(p->f, "\r\033[K%s", line);
		fflush(p->f);
		p->drawn = true;
		return;
	}
	snprintf(key, sizeof(key), "%s %d %g", str(r, "phase"), (int)num(r, "step"),
		 num(r, "canary_weight"));
	if (strcmp(key, p->last)) {
		snprintf(p->last, sizeof(p->last), "%s", key);
		fprintf(p->f, "%s\n", line);
		fflush(p->f);
	}
}

void progress_end(struct progress *p)
{
	if (p->tty && p->drawn)
		fputc('\n', p->f); /* the last reading stays on the screen */
	p->drawn = false;
}
