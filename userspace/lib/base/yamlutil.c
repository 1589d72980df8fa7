/* yamlutil.c: typed, line-numbered access to a YAML document (libyaml), so every
 * config error can say "FILE:LINE: field: what is wrong". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yamlutil.h"
#include "base/num.h"
#include "base/util.h"

static int syntax_error(struct ydoc *d, const yaml_parser_t *parser)
{
	extern const char *__progname;

	fprintf(d->err ?: stderr, "%s: error: %s:%zu: YAML syntax error: %s%s%s\n", __progname,
		d->file, parser->problem_mark.line + 1, parser->problem ? parser->problem : "unknown",
		parser->context ? " " : "", parser->context ? parser->context : "");
	return -EINVAL;
}

static int refuse(struct ydoc *d, size_t line, const char *what)
{
	extern const char *__progname;

	fprintf(d->err ?: stderr, "%s: error: %s:%zu: %s\n", __progname, d->file, line + 1, what);
	return -EINVAL;
}

/* One pass over the events before anything is built: refuse what no config of ours
 * needs and what makes the loader slow or ambiguous. Nesting deeper than
 * YDOC_MAX_DEPTH (libyaml's loader is quadratic in it), aliases (a node reachable
 * twice), and a second document (which would otherwise be ignored unread). The pass
 * stops at the first problem, so a hostile document costs at most the bytes before
 * it. */
static int prescan(struct ydoc *d, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, docs = 0, rc = 0;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(d, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = refuse(d, ev.start_mark.line,
					    "a second YAML document ('---'); put everything in one");
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > YDOC_MAX_DEPTH)
				rc = refuse(d, ev.start_mark.line,
					    "nested more than " CANARY_STR(YDOC_MAX_DEPTH)
					    " levels deep");
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_ALIAS_EVENT:
			rc = refuse(d, ev.start_mark.line,
				    "aliases (*name) are not supported; write the value out");
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int ydoc_load_buffer(struct ydoc *d, const char *name, const char *text, size_t len, FILE *err)
{
	yaml_parser_t parser;
	int rc;

	memset(d, 0, sizeof(*d));
	d->err = err;
	snprintf(d->file, sizeof(d->file), "%s", name);
	if (len > YDOC_MAX_BYTES)
		return refuse(d, 0, "longer than " CANARY_STR(YDOC_MAX_BYTES) " bytes");
	rc = prescan(d, text, len);
	if (rc)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &d->doc))
		rc = syntax_error(d, &parser);
	yaml_parser_delete(&parser);
	if (rc)
		return rc;
	d->loaded = true;
	if (!yaml_document_get_root_node(&d->doc)) {
		extern const char *__progname;

		fprintf(d->err ?: stderr, "%s: error: %s: the file is empty\n", __progname, d->file);
		return -EINVAL;
	}
	return 0;
}

int ydoc_load(struct ydoc *d, const char *path)
{
	char *text;
	size_t n;
	int err;

	memset(d, 0, sizeof(*d));
	snprintf(d->file, sizeof(d->file), "%s", path);
	err = file_read_all(path, YDOC_MAX_BYTES, &text, &n);
	if (err == -EFBIG)
		return refuse(d, 0, "longer than " CANARY_STR(YDOC_MAX_BYTES) " bytes");
	if (err) {
		log_error("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	if (memchr(text, 0, n)) {
		free(text);
		return refuse(d, 0, "contains a NUL byte: not a text file");
	}
	err = ydoc_load_buffer(d, path, text, n, NULL);
	free(text);
	return err;
}

void ydoc_free(struct ydoc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = false;
}

int ydoc_finish(struct ydoc *d, int rc)
{
	extern const char *__progname;
	FILE *f = d->err ?: stderr;

	if (!rc && d->errors)
		rc = -EINVAL;
	if (d->errors > 1)
		fprintf(f, "%s: error: %s: %d problems; nothing was changed\n", __progname, d->file,
			d->errors);
	else if (rc)
		fprintf(f, "%s: error: %s: nothing was changed\n", __progname, d->file);
	ydoc_free(d);
	return rc;
}

yaml_node_t *ydoc_root(struct ydoc *d)
{
	return yaml_document_get_root_node(&d->doc);
}

void yerr(struct ydoc *d, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	extern const char *__progname;
	va_list ap;

	FILE *f = d->err ?: stderr;

	d->errors++;
	fprintf(f, "%s: error: %s:%d: %s: ", __progname, d->file, yline(n), path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

yaml_node_t *ynode(struct ydoc *d, int id)
{
	return yaml_document_get_node(&d->doc, id);
}

const char *yscalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

bool yis_map(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

bool yis_seq(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE;
}

int yseq_len(const yaml_node_t *seq)
{
	if (!yis_seq(seq))
		return 0;
	return (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *yseq_item(struct ydoc *d, const yaml_node_t *seq, int i)
{
	return ynode(d, seq->data.sequence.items.start[i]);
}

/* Levenshtein distance for short keys, to suggest the field a typo meant. */
static int edit_distance(const char *a, const char *b)
{
	int la = strlen(a), lb = strlen(b), i, j;
	int prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int c = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

void ycheck_keys(struct ydoc *d, yaml_node_t *map, const char *path,
		 const char *const *allowed)
{
	yaml_node_pair_t *p, *q;

	if (!yis_map(map))
		return;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = ynode(d, p->key);
		const char *key = yscalar(k);
		const char *best = NULL;
		int bestd = 3, i;
		bool known = false;

		if (!key) {
			yerr(d, k, path, "keys must be plain words");
			continue;
		}
		for (i = 0; allowed[i]; i++) {
			int dist;

			if (!strcmp(key, allowed[i])) {
				known = true;
				break;
			}
			dist = edit_distance(key, allowed[i]);
			if (dist < bestd) {
				bestd = dist;
				best = allowed[i];
			}
		}
		if (!known) {
			if (best)
				yerr(d, k, path, "unknown field '%s' (did you mean '%s'?)", key, best);
			else
				yerr(d, k, path, "unknown field '%s'", key);
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			const char *prev = yscalar(ynode(d, q->key));

			if (prev && !strcmp(prev, key)) {
				yerr(d, k, path, "field '%s' appears twice", key);
				break;
			}
		}
	}
}

yaml_node_t *yget(struct ydoc *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!yis_map(map))
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = yscalar(ynode(d, p->key));

		if (k && !strcmp(k, key))
			return ynode(d, p->value);
	}
	return NULL;
}

/* Shared front half of the typed getters: find the key, require a scalar. */
static int scalar_of(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
		     bool required, yaml_node_t **node, const char **val, char *field, size_t flen)
{
	snprintf(field, flen, "%s%s%s", path, *path ? "." : "", key);
	*node = yget(d, map, key);
	if (!*node) {
		if (required) {
			yerr(d, map, field, "missing (this field is required)");
			return -1;
		}
		return 0;
	}
	*val = yscalar(*node);
	if (!*val) {
		yerr(d, *node, field, "must be a single value, not a list or mapping");
		return -1;
	}
	return 1;
}

int yget_str(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, char *out,
	     size_t len, bool required)
{
	char field[256];
	yaml_node_t *n;
	const char *v;
	int rc = scalar_of(d, map, path, key, required, &n, &v, field, sizeof(field));

	if (rc <= 0)
		return rc;
	if (strlen(v) >= len) {
		yerr(d, n, field, "is longer than %zu characters", len - 1);
		return -1;
	}
	snprintf(out, len, "%s", v);
	return 1;
}

int yget_long(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, long min,
	      long max, long *out, bool required)
{
	char field[256], why[NUM_WHY_LEN];
	yaml_node_t *n;
	const char *v;
	int64_t x;
	int rc = scalar_of(d, map, path, key, required, &n, &v, field, sizeof(field));

	if (rc <= 0)
		return rc;
	if (num_parse_int(v, min, max, &x, why, sizeof(why))) {
		yerr(d, n, field, "'%s' %s", v, why);
		return -1;
	}
	*out = (long)x;
	return 1;
}

int yget_double(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
		double min, double max, double *out, bool required)
{
	char field[256], why[NUM_WHY_LEN];
	yaml_node_t *n;
	const char *v;
	int rc = scalar_of(d, map, path, key, required, &n, &v, field, sizeof(field));

	if (rc <= 0)
		return rc;
	if (num_parse_double(v, min, max, out, why, sizeof(why))) {
		yerr(d, n, field, "'%s' %s", v, why);
		return -1;
	}
	return 1;
}

int yget_bool(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, bool *out,
	      bool required)
{
	char field[256];
	yaml_node_t *n;
	const char *v;
	int rc = scalar_of(d, map, path, key, required, &n, &v, field, sizeof(field));

	if (rc <= 0)
		return rc;
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
		*out = true;
		return 1;
	}
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
		*out = false;
		return 1;
	}
	yerr(d, n, field, "'%s' is not true or false", v);
	return -1;
}

int yget_duration_ms(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
		     long *out_ms, bool required)
{
	char field[256], why[NUM_WHY_LEN];
	uint64_t ms;
	yaml_node_t *n;
	const char *v;
	int rc = scalar_of(d, map, path, key, required, &n, &v, field, sizeof(field));

	if (rc <= 0)
		return rc;
	if (num_parse_duration_ms(v, 0, UINT64_MAX, &ms, why, sizeof(why))) {
		yerr(d, n, field, "'%s' %s", v, why);
		return -1;
	}
	*out_ms = (long)ms;
	return 1;
}
