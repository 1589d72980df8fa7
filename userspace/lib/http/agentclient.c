/* agentclient.c: canaryctl's side of canaryd's HTTP API (libcurl + json-c). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "http/agentclient.h"
#include "http/httpc.h"

int agent_read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok, *last = NULL, *save;

		line[strcspn(line, "\r\n")] = 0;
		for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
			last = tok;
		if (!last || line[0] == '#')
			continue;
		fclose(f);
		if (strlen(last) >= outlen) {
			snprintf(err, errlen, "the token in %s is too long", path);
			return -1;
		}
		snprintf(out, outlen, "%s", last);
		return 0;
	}
	fclose(f);
	snprintf(err, errlen, "the token file %s holds no token", path);
	return -1;
}

/* Set c up for one request: the URL of path at the target, the method, limits, the
 * reply sink b, TLS, the bearer token (over TCP) and the JSON body. *hdr gets the
 * header list, for the caller to free. Returns 0, or -1 with a sentence in err. */
static int call_setup(CURL *c, const struct agent_target *t, bool via_socket, const char *where,
		      const char *method, const char *path, struct json_object *body,
		      struct httpc_body *b, struct curl_slist **hdr, char *err, size_t len)
{
	char url[1024], token[512], auth[600];

	if (via_socket) {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, t->socket);
	} else if (!strncmp(where, "https://", 8) || !strncmp(where, "http://", 7)) {
		snprintf(url, sizeof(url), "%s%s", where, path);
	} else {
		snprintf(url, sizeof(url), "http://%s%s", where, path);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, httpc_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (t->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, t->cacert);
	if (!via_socket && t->token_file) {
		if (agent_read_token(t->token_file, token, sizeof(token), err, len))
			return -1;
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		*hdr = curl_slist_append(*hdr, auth);
	}
	if (body) {
		*hdr = curl_slist_append(*hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
				 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	if (*hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
	return 0;
}

/* A request that got no answer (rc): why, as one sentence in err, and in
 * *connect_errno the errno when the connection itself failed. */
static void call_failed(CURL *c, CURLcode rc, const struct agent_target *t, bool via_socket,
			const char *where, int *connect_errno, char *err, size_t len)
{
	long oserr = 0;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT)
		*connect_errno = oserr ? (int)oserr : ECONNREFUSED;
	if (via_socket)
		snprintf(err, len,
			 "cannot reach canaryd at its socket %s: %s; is it running, and may "
			 "you use it (root or the socket's group)? Or pass --agent "
			 "ADDR:PORT with --token-file",
			 t->socket, oserr ? strerror((int)oserr) : curl_easy_strerror(rc));
	else
		snprintf(err, len,
			 "canaryd is not reachable at %s (%s); is it running? start it with "
			 "'canaryd' or pass --agent ADDR:PORT",
			 where, curl_easy_strerror(rc));
}

/* One request to one place; *connect_errno is set when the connection itself failed. */
static int call_once(const struct agent_target *t, bool via_socket, const char *method,
		     const char *path, struct json_object *body, long *code,
		     struct json_object **reply, int *connect_errno, char *err, size_t len)
{
	struct curl_slist *hdr = NULL;
	struct httpc_body b = {.max = AGENT_MAX_REPLY};
	const char *where = via_socket ? t->socket : t->tcp ? t->tcp : CANARY_DEFAULT_LISTEN;
	CURL *c;
	CURLcode rc;
	int ret = -1;

	*reply = NULL;
	*code = 0;
	*connect_errno = 0;
	c = curl_easy_init();
	if (!c) {
		snprintf(err, len, "cannot initialise libcurl");
		return -1;
	}
	if (call_setup(c, t, via_socket, where, method, path, body, &b, &hdr, err, len))
		goto out;
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		call_failed(c, rc, t, via_socket, where, connect_errno, err, len);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	if (b.buf)
		*reply = json_tokener_parse(b.buf);
	/* A success must carry its JSON; an error reply may come without (agent_error). */
	if (*code >= 200 && *code < 300 && !*reply) {
		snprintf(err, len, "canaryd at %s answered %s %s with HTTP %ld but no JSON", where,
			 method, path, *code);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(b.buf);
	return ret;
}

int agent_call(const struct agent_target *t, const char *method, const char *path,
	       struct json_object *body, long *code, struct json_object **reply, char *err,
	       size_t len)
{
	char err2[512];
	int cerr, cerr2;

	if (t->tcp)
		return call_once(t, false, method, path, body, code, reply, &cerr, err, len);
	if (!call_once(t, true, method, path, body, code, reply, &cerr, err, len))
		return 0;
	/* Reading is open: a read that cannot use the socket asks the TCP listener. */
	if (strcmp(method, "GET") || !cerr)
		return -1;
	if (!call_once(t, false, method, path, body, code, reply, &cerr2, err2, sizeof(err2)))
		return 0;
	return -1;
}

const char *agent_error(struct json_object *reply, const char *fallback)
{
	struct json_object *e;

	if (reply && json_object_object_get_ex(reply, "error", &e))
		return json_object_get_string(e);
	return fallback;
}
