/* promquery.c: business metrics from Prometheus' HTTP API (see promquery.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "http/promquery.h"
#include "base/jsonv.h"
#include "http/httpc.h"

/* A sample value as Prometheus writes it: a decimal string. "NaN", "+Inf" and
 * anything that is not a whole finite number in range are refused. */
static int sample_value(struct json_object *s, double *out, char *err, size_t len)
{
	const char *v, *p;
	char *end;
	double x;

	if (!json_object_is_type(s, json_type_string)) {
		snprintf(err, len, "a sample value is %s, not a string",
			 json_type_to_name(json_object_get_type(s)));
		return -1;
	}
	v = json_object_get_string(s);
	for (p = v; *p && (isdigit((unsigned char)*p) || strchr(".eE+-", *p)); p++)
		;
	errno = 0;
	x = *p || !*v || !isdigit((unsigned char)v[0]) ? NAN : strtod(v, &end);
	if (isnan(x) || errno || *end) {
		snprintf(err, len, "a sample value '%.40s' is not a number", v);
		return -1;
	}
	if (!isfinite(x) || x < 0 || x > PROM_MAX_COUNT) {
		snprintf(err, len, "a sample value %g is not a count (0..2^53)", x);
		return -1;
	}
	*out = x;
	return 0;
}

/* [timestamp, "value"] */
static int sample(struct json_object *pair, double *out, char *err, size_t len)
{
	if (!pair || !json_object_is_type(pair, json_type_array) ||
	    json_object_array_length(pair) != 2) {
		snprintf(err, len, "a sample is not [time, \"value\"]");
		return -1;
	}
	if (!json_object_is_type(json_object_array_get_idx(pair, 0), json_type_double) &&
	    !json_object_is_type(json_object_array_get_idx(pair, 0), json_type_int)) {
		snprintf(err, len, "a sample's time is not a number");
		return -1;
	}
	return sample_value(json_object_array_get_idx(pair, 1), out, err, len);
}

/* The answer's status, which must be "success", and its data with the resultType
 * (*type NULL when it names none). Returns 0, or -1 with a sentence in err. */
static int answer_data(struct json_object *j, struct jv *v, struct json_object **data,
		       const char **type, char *err, size_t errlen)
{
	const char *status;

	if (!jv_str(v, j, "status", NULL, 32, false, &status)) {
		snprintf(err, errlen, "the answer is not a Prometheus answer (%s)", v->err);
		return -1;
	}
	if (strcmp(status, "success")) {
		const char *e = NULL;
		struct jv v2 = {};

		jv_str(&v2, j, "error", NULL, 200, true, &e);
		snprintf(err, errlen, "Prometheus answered %.20s%s%.160s", status, e ? ": " : "",
			 e ? e : "");
		return -1;
	}
	*data = jv_object(v, j, "data", NULL, false);
	if (*data)
		jv_str(v, *data, "resultType", "data.resultType", 32, true, type);
	if (!*data || v->failed) {
		snprintf(err, errlen, "the answer has no usable data (%s)", v->err);
		return -1;
	}
	return 0;
}

/* A scalar result: [time, "value"]. */
static int answer_scalar(struct json_object *data, struct jv *v, double *out, char *err,
			 size_t errlen)
{
	struct json_object *res;

	if (!jv_array(v, data, "result", "data.result", 2, 2, false) ||
	    !json_object_object_get_ex(data, "result", &res)) {
		snprintf(err, errlen, "the scalar answer is malformed (%s)", v->err);
		return -1;
	}
	return sample(res, out, err, errlen);
}

/* An instant vector (type "vector", or none given): the sum of its samples. */
static int answer_vector(struct json_object *data, const char *type, struct jv *v, double *sum,
			 char *err, size_t errlen)
{
	struct json_object *res;
	size_t i, n;
	double x;

	if (type && strcmp(type, "vector")) {
		snprintf(err, errlen, "the query gave a %.20s, not an instant vector", type);
		return -1;
	}
	res = jv_array(v, data, "result", "data.result", 0, PROM_MAX_SERIES, false);
	if (!res) {
		snprintf(err, errlen, "the answer's result is unusable (%s)", v->err);
		return -1;
	}
	n = json_object_array_length(res);
	if (!n) {
		snprintf(err, errlen,
			 "the query returned no data (add 'or vector(0)' where "
			 "no events is a valid answer)");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(res, i), *pair = NULL;

		if (!json_object_is_type(s, json_type_object) ||
		    !json_object_object_get_ex(s, "value", &pair)) {
			snprintf(err, errlen, "a result has no value (not an instant vector)");
			return -1;
		}
		if (sample(pair, &x, err, errlen))
			return -1;
		*sum += x;
	}
	return 0;
}

int prom_answer_parse(const char *body, size_t len, uint64_t *out, char *err, size_t errlen)
{
	struct json_object *j, *data;
	const char *type = NULL;
	struct jv v = {};
	double sum = 0;
	int rc = -1, bad;

	j = jv_parse(&v, body, len);
	if (!j) {
		snprintf(err, errlen, "the answer is not JSON");
		return -1;
	}
	if (answer_data(j, &v, &data, &type, err, errlen))
		goto out;
	if (type && !strcmp(type, "scalar"))
		bad = answer_scalar(data, &v, &sum, err, errlen);
	else
		bad = answer_vector(data, type, &v, &sum, err, errlen);
	if (bad)
		goto out;
	if (!isfinite(sum) || sum > PROM_MAX_COUNT) {
		snprintf(err, errlen, "the sum %g is not a count (0..2^53)", sum);
		goto out;
	}
	*out = (uint64_t)llround(sum);
	rc = 0;
out:
	json_object_put(j);
	return rc;
}

int prom_query(const char *base, const char *query, uint64_t *out, char *err, size_t errlen)
{
	struct httpc_body b = {.max = PROM_MAX_BODY};
	char url[2048], perr[200];
	CURL *c = curl_easy_init();
	CURLcode cc;
	char *q;
	long code = 0;
	int rc = -1;

	if (!c) {
		snprintf(err, errlen, "curl init failed");
		return -1;
	}
	q = curl_easy_escape(c, query, 0);
	snprintf(url, sizeof(url), "%s/api/v1/query?query=%s", base, q ? q : "");
	curl_free(q);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PROM_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, httpc_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(c);
	if (cc == CURLE_WRITE_ERROR) {
		snprintf(err, errlen, "query '%.200s': the answer is larger than %d bytes", query,
			 PROM_MAX_BODY);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "query '%.200s': no answer from %s within %d ms", query, base,
			 PROM_TIMEOUT_MS);
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "cannot query %s: %s", base, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 && code < 400) {
		snprintf(err, errlen, "query '%.200s': redirected (HTTP %ld); give the final URL",
			 query, code);
		goto out;
	}
	if (code != 200) {
		snprintf(err, errlen, "query '%.200s' failed (HTTP %ld)", query, code);
		goto out;
	}
	if (prom_answer_parse(b.buf ? b.buf : "", b.len, out, perr, sizeof(perr))) {
		snprintf(err, errlen, "query '%.200s': %s", query, perr);
		goto out;
	}
	rc = 0;
out:
	free(b.buf);
	curl_easy_cleanup(c);
	return rc;
}
