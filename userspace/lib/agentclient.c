/* agentclient.c: canaryctl's side of canaryd's HTTP API (libcurl + json-c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "agentclient.h"

struct buf {
	char *p;
	size_t len;
};

static size_t sink(char *d, size_t sz, size_t n, void *ctx)
{
	struct buf *b = ctx;
	char *np = realloc(b->p, b->len + sz * n + 1);

	if (!np)
		return 0;
	memcpy(np + b->len, d, sz * n);
	b->p = np;
	b->len += sz * n;
	b->p[b->len] = 0;
	return sz * n;
}

int agent_call(const char *agent, const char *method, const char *path, struct json_object *body,
	       long *code, struct json_object **reply, char *err, size_t len)
{
	struct curl_slist *hdr = NULL;
	struct buf b = {};
	char url[512];
	CURL *c;
	CURLcode rc;

	*reply = NULL;
	*code = 0;
	c = curl_easy_init();
	if (!c) {
		snprintf(err, len, "cannot initialise libcurl");
		return -1;
	}
	snprintf(url, sizeof(url), "http://%s%s", agent, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
				 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, len,
			 "canaryd is not reachable at %s (%s); is it running? start it with "
			 "'canaryd' or pass --agent ADDR:PORT",
			 agent, curl_easy_strerror(rc));
		curl_slist_free_all(hdr);
		curl_easy_cleanup(c);
		free(b.p);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	if (b.p)
		*reply = json_tokener_parse(b.p);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(b.p);
	/* A success must carry its JSON; an error reply may come without (agent_error). */
	if (*code >= 200 && *code < 300 && !*reply) {
		snprintf(err, len, "canaryd at %s answered %s %s with HTTP %ld but no JSON", agent,
			 method, path, *code);
		return -1;
	}
	return 0;
}

const char *agent_error(struct json_object *reply, const char *fallback)
{
	struct json_object *e;

	if (reply && json_object_object_get_ex(reply, "error", &e))
		return json_object_get_string(e);
	return fallback;
}
