/* jsonv.h: typed, range-checked reading of JSON that comes from outside (state files,
 * API bodies, Prometheus answers). json-c asserts when, say, an array call meets an
 * object; these never do: a missing field, a wrong type or a value out of range is an
 * error that names the field, and the first one is kept for the message. */
#ifndef CANARY_JSONV_H
#define CANARY_JSONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct jv {
	char err[256]; /* the first problem, "field: what is wrong" */
	bool failed;
};

/* Record a problem (only the first is kept). Returns false, for `return jv_fail(...)`. */
bool jv_fail(struct jv *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Member key of object o, which must be present (or optional: absent leaves *out as it
 * was and returns true). field names it in messages; NULL means key. */
bool jv_int(struct jv *v, struct json_object *o, const char *key, const char *field,
	    int64_t min, int64_t max, bool optional, int64_t *out);
bool jv_u64(struct jv *v, struct json_object *o, const char *key, const char *field,
	    uint64_t max, bool optional, uint64_t *out);
/* A finite number (JSON integer or decimal) from min to max. */
bool jv_double(struct jv *v, struct json_object *o, const char *key, const char *field,
	       double min, double max, bool optional, double *out);
bool jv_bool(struct jv *v, struct json_object *o, const char *key, const char *field,
	     bool optional, bool *out);
/* A string of at most maxlen bytes and no NUL; *out points into o. */
bool jv_str(struct jv *v, struct json_object *o, const char *key, const char *field,
	    size_t maxlen, bool optional, const char **out);
/* An array of min..max items, or an object; NULL (and an error unless optional and
 * absent) otherwise. */
struct json_object *jv_array(struct jv *v, struct json_object *o, const char *key,
			     const char *field, size_t min, size_t max, bool optional);
struct json_object *jv_object(struct jv *v, struct json_object *o, const char *key,
			      const char *field, bool optional);
/* Every member of o is one of keys (NULL-terminated). */
bool jv_known_keys(struct jv *v, struct json_object *o, const char *field,
		   const char *const *keys);

/* A uint64 array of exactly n items into out (state files keep counters this way). */
bool jv_u64_array(struct jv *v, struct json_object *o, const char *key, const char *field,
		  uint64_t *out, size_t n);

/* Parse text as one JSON value, with json-c's depth limit and no trailing bytes.
 * NULL with v->err set when it is not JSON. */
struct json_object *jv_parse(struct jv *v, const char *text, size_t len);

#endif
