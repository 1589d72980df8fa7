/* yamlutil.h: typed, line-numbered access to a YAML document (libyaml), so every
 * config error can say "FILE:LINE: field: what is wrong". */
#ifndef CANARY_YAMLUTIL_H
#define CANARY_YAMLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <yaml.h>

struct ydoc {
	char file[4096];
	yaml_document_t doc;
	bool loaded;
	int errors;
	FILE *err; /* where problems are printed; stderr when NULL */
};

/* What a document may be: no deeper than this many nested lists and mappings, no
 * longer than this many bytes, one document, no aliases (see prescan in yamlutil.c). */
#define YDOC_MAX_DEPTH 64
#define YDOC_MAX_BYTES 16777216

/* Load a file; on a syntax error prints it with its line and returns -EINVAL. */
int ydoc_load(struct ydoc *d, const char *path);
/* The same from memory; name stands for the file in messages, err receives them. */
int ydoc_load_buffer(struct ydoc *d, const char *name, const char *text, size_t len, FILE *err);
void ydoc_free(struct ydoc *d);
/* End a load or parse: when it failed (rc != 0, or problems were reported) say
 * "FILE: N problems; nothing was changed" (or "FILE: nothing was changed") on d->err
 * (stderr when NULL), then free the document. Returns rc, or -EINVAL for reported
 * problems. d must have gone through ydoc_load or ydoc_load_buffer. */
int ydoc_finish(struct ydoc *d, int rc);
yaml_node_t *ydoc_root(struct ydoc *d);

/* 1-based line of a node. */
static inline int yline(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

/* Report an error at node n for the field named by path (printf-style message). */
void yerr(struct ydoc *d, const yaml_node_t *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

yaml_node_t *ynode(struct ydoc *d, int id);
/* The value of a scalar node, or NULL for mappings and sequences. */
const char *yscalar(const yaml_node_t *n);
bool yis_map(const yaml_node_t *n);
bool yis_seq(const yaml_node_t *n);

/* Number of items in a sequence, and item i. */
int yseq_len(const yaml_node_t *seq);
yaml_node_t *yseq_item(struct ydoc *d, const yaml_node_t *seq, int i);

/* Report keys not in allowed (NULL-terminated), with a "did you mean" hint, and
 * duplicate keys. path names the mapping ("services[0]"). */
void ycheck_keys(struct ydoc *d, yaml_node_t *map, const char *path,
		 const char *const *allowed);
/* Value node of key in a mapping, or NULL. */
yaml_node_t *yget(struct ydoc *d, yaml_node_t *map, const char *key);

/* Typed getters. Each returns 1 when the key is present and valid, 0 when absent
 * (an error if required), -1 after reporting an error. path is the mapping's path;
 * messages name "path.key"; numbers are read by base/num.h ("FILE:LINE: path.key: 'x'
 * must be a whole number from 1 to 65535"). */
int yget_str(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, char *out,
	     size_t len, bool required);
int yget_long(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, long min,
	      long max, long *out, bool required);
int yget_double(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
		double min, double max, double *out, bool required);
int yget_bool(struct ydoc *d, yaml_node_t *map, const char *path, const char *key, bool *out,
	      bool required);
/* Durations: "500ms", "10s", "2m", "1h", or a bare number of seconds. Result in ms. */
int yget_duration_ms(struct ydoc *d, yaml_node_t *map, const char *path, const char *key,
		     long *out_ms, bool required);

#endif
