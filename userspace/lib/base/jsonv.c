/* jsonv.c: typed, range-checked reading of JSON from outside (see jsonv.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/jsonv.h"

bool jv_fail(struct jv *v, const char *field, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (v->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(v->err, sizeof(v->err), "%s: %s", field, msg);
	v->failed = true;
	return false;
}

static const char *type_name(struct json_object *o)
{
	return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

/* The member, or NULL. *present tells a JSON null apart from a missing key. */
static struct json_object *member(struct json_object *o, const char *key, bool *present)
{
	struct json_object *m = NULL;

	*present = o && json_object_is_type(o, json_type_object) &&
		   json_object_object_get_ex(o, key, &m);
	return m;
}

/* Common start: found (1), absent and optional (0), or an error (-1). */
static int find(struct jv *v, struct json_object *o, const char *key, const char **field,
		bool optional, struct json_object **m)
{
	bool present;

	if (!*field)
		*field = key;
	*m = member(o, key, &present);
	if (!present) {
		if (optional)
			return 0;
		jv_fail(v, *field, "missing");
		return -1;
	}
	return 1;
}

bool jv_int(struct jv *v, struct json_object *o, const char *key, const char *field,
	    int64_t min, int64_t max, bool optional, int64_t *out)
{
	struct json_object *m;
	int64_t x;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return rc == 0;
	if (!json_object_is_type(m, json_type_int))
		return jv_fail(v, field, "must be a whole number, not %s", type_name(m));
	x = json_object_get_int64(m);
	/* json-c saturates: a value beyond int64 reads as INT64_MAX (or its uint64). */
	if (x == INT64_MAX && json_object_get_uint64(m) != (uint64_t)INT64_MAX)
		return jv_fail(v, field, "is too large (at most %" PRId64 ")", max);
	if (x < min || x > max)
		return jv_fail(v, field, "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", x,
			       min, max);
	*out = x;
	return true;
}

bool jv_u64(struct jv *v, struct json_object *o, const char *key, const char *field,
	    uint64_t max, bool optional, uint64_t *out)
{
	struct json_object *m;
	uint64_t x;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return rc == 0;
	if (!json_object_is_type(m, json_type_int))
		return jv_fail(v, field, "must be a whole number, not %s", type_name(m));
	if (json_object_get_int64(m) < 0)
		return jv_fail(v, field, "must not be negative");
	x = json_object_get_uint64(m);
	if (x > max)
		return jv_fail(v, field, "%" PRIu64 " is out of range (0..%" PRIu64 ")", x, max);
	*out = x;
	return true;
}

bool jv_double(struct jv *v, struct json_object *o, const char *key, const char *field,
	       double min, double max, bool optional, double *out)
{
	struct json_object *m;
	double x;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return rc == 0;
	if (!json_object_is_type(m, json_type_double) && !json_object_is_type(m, json_type_int))
		return jv_fail(v, field, "must be a number, not %s", type_name(m));
	x = json_object_get_double(m);
	if (!isfinite(x))
		return jv_fail(v, field, "must be finite");
	if (x < min || x > max)
		return jv_fail(v, field, "%g is out of range (%g..%g)", x, min, max);
	*out = x;
	return true;
}

bool jv_bool(struct jv *v, struct json_object *o, const char *key, const char *field,
	     bool optional, bool *out)
{
	struct json_object *m;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return rc == 0;
	if (!json_object_is_type(m, json_type_boolean))
		return jv_fail(v, field, "must be true or false, not %s", type_name(m));
	*out = json_object_get_boolean(m);
	return true;
}

bool jv_str(struct jv *v, struct json_object *o, const char *key, const char *field,
	    size_t maxlen, bool optional, const char **out)
{
	struct json_object *m;
	size_t n;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return rc == 0;
	if (!json_object_is_type(m, json_type_string))
		return jv_fail(v, field, "must be a string, not %s", type_name(m));
	n = (size_t)json_object_get_string_len(m);
	if (n > maxlen)
		return jv_fail(v, field, "is longer than %zu bytes", maxlen);
	if (strlen(json_object_get_string(m)) != n)
		return jv_fail(v, field, "contains a NUL character");
	*out = json_object_get_string(m);
	return true;
}

struct json_object *jv_array(struct jv *v, struct json_object *o, const char *key,
			     const char *field, size_t min, size_t max, bool optional)
{
	struct json_object *m;
	size_t n;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return NULL;
	if (!json_object_is_type(m, json_type_array)) {
		jv_fail(v, field, "must be a list, not %s", type_name(m));
		return NULL;
	}
	n = json_object_array_length(m);
	if (n < min || n > max) {
		if (min == max)
			jv_fail(v, field, "must have %zu items, not %zu", min, n);
		else
			jv_fail(v, field, "must have %zu to %zu items, not %zu", min, max, n);
		return NULL;
	}
	return m;
}

struct json_object *jv_object(struct jv *v, struct json_object *o, const char *key,
			      const char *field, bool optional)
{
	struct json_object *m;
	int rc = find(v, o, key, &field, optional, &m);

	if (rc <= 0)
		return NULL;
	if (!json_object_is_type(m, json_type_object)) {
		jv_fail(v, field, "must be an object, not %s", type_name(m));
		return NULL;
	}
	return m;
}

bool jv_known_keys(struct jv *v, struct json_object *o, const char *field,
		   const char *const *keys)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return jv_fail(v, field, "must be an object, not %s", type_name(o));
	json_object_object_foreach(o, k, val)
	{
		size_t i;

		(void)val;
		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return jv_fail(v, field, "unknown field '%s'", k);
	}
	return true;
}

bool jv_u64_array(struct jv *v, struct json_object *o, const char *key, const char *field,
		  uint64_t *out, size_t n)
{
	struct json_object *a = jv_array(v, o, key, field, n, n, false);
	char item[160];
	size_t i;

	if (!a)
		return false;
	if (!field)
		field = key;
	for (i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(a, i);

		snprintf(item, sizeof(item), "%s[%zu]", field, i);
		if (!json_object_is_type(x, json_type_int))
			return jv_fail(v, item, "must be a whole number, not %s", type_name(x));
		if (json_object_get_int64(x) < 0)
			return jv_fail(v, item, "must not be negative");
		out[i] = json_object_get_uint64(x);
	}
	return true;
}

struct json_object *jv_parse(struct jv *v, const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok) {
		jv_fail(v, "(document)", "out of memory");
		return NULL;
	}
	if (len > (size_t)INT32_MAX) {
		json_tokener_free(tok);
		jv_fail(v, "(document)", "too large");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* Whitespace after the value is fine; anything else is not. */
		size_t end = o ? json_tokener_get_parse_end(tok) : 0;

		while (o && end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (!o || end != len) {
			json_object_put(o);
			o = NULL;
			jv_fail(v, "(document)", "not valid JSON");
		}
	}
	json_tokener_free(tok);
	return o;
}
