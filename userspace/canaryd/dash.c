/* dash.c: the web dashboard canaryd serves on its TCP listener: the page, its script and
 * its style (userspace/canaryd/web/, embedded at build time by scripts/embed-web.sh),
 * GET /api/v1/services (every service with its arms, set and measured share and rates,
 * which the page reads beside the rollouts), and the refusal of CORS preflights. The
 * page acts only with a bearer token the operator pastes into it; a page of another
 * origin cannot, since a request with that header needs a preflight and none is
 * granted (docs/SECURITY.md). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/util.h"
#include "canaryd.h"
#include "present/status.h"
#include "web.h"

/* The page loads nothing but its own script and style and talks only to its own
 * origin; no inline script, no framing, no forms posted anywhere. */
#define DASH_CSP                                                                                   \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "            \
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *dash_find(const char *url)
{
	unsigned int i;

	if (!strcmp(url, "/"))
		url = "/index.html";
	for (i = 0; i < web_nassets; i++)
		if (!strcmp(url + 1, web_assets[i].name))
			return &web_assets[i];
	return NULL;
}

bool dash_asset(const char *url)
{
	return dash_find(url) != NULL;
}

enum MHD_Result dash_reply(struct MHD_Connection *c, const char *url)
{
	const struct web_asset *a = dash_find(url);
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!a)
		return reply_error(c, 404, "no such page");
	r = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", a->type);
	MHD_add_response_header(r, "Content-Security-Policy", DASH_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* The assets change only with the binary; the answers of the API are never kept. */
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* OPTIONS: canaryd grants no cross-origin request, so a preflight (the browser asking
 * whether another origin's page may send a bearer header or a JSON body) is refused,
 * with no Access-Control-Allow-* header; any other OPTIONS is not a method it serves. */
enum MHD_Result dash_options(struct MHD_Connection *c)
{
	const char *m =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method");
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");

	if (m || h)
		return reply_error(c, 403,
				   "cross-origin requests are refused: canaryd grants no "
				   "preflight, so only its own page may act, with a token");
	return reply_error(c, 405, "OPTIONS is not served");
}

/* One arm of a service: its backends, weight, and rates over the last poll. */
static struct json_object *service_arm_json(const struct service_state *s,
					    const struct svc_config *cfg, int arm)
{
	struct json_object *o = json_object_new_object();
	struct arm_stats a, p;

	json_object_object_add(o, "backends", json_object_new_int(cfg->nbackends[arm]));
	json_object_object_add(
	    o, "weight",
	    json_percent(arm ? cfg->canary_weight : CANARY_WEIGHT_SCALE - cfg->canary_weight));
	arm_stats_total(A.snap, s->info.id, arm, &a);
	json_object_object_add(o, "flows", json_object_new_int64((int64_t)a.flows));
	json_object_object_add(o, "errored_flows", json_object_new_int64((int64_t)a.errored_flows));
	json_object_object_add(o, "http_5xx", json_object_new_int64((int64_t)a.http_class[5]));
	if (A.have_prev) {
		arm_stats_total(A.prev, s->info.id, arm, &p);
		json_object_object_add(o, "rates", status_rates_json(&a, &p, A.dt));
	}
	return o;
}

/* The canary's share of the new flows over the last poll, in percent, or NULL. */
static struct json_object *service_share_json(const struct service_state *s)
{
	struct arm_stats a[2], p[2];
	uint64_t c, t;
	int arm;

	if (!A.have_prev)
		return NULL;
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		arm_stats_total(A.snap, s->info.id, arm, &a[arm]);
		arm_stats_total(A.prev, s->info.id, arm, &p[arm]);
	}
	c = a[1].flows - p[1].flows;
	t = c + a[0].flows - p[0].flows;
	return t ? json_object_new_double(100.0 * c / t) : NULL;
}

/* GET /api/v1/services: every service in the maps, whether or not a rollout runs.
 * Called with A.lock held. */
struct json_object *services_json(void)
{
	struct json_object *j = json_object_new_object(), *arr = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < A.nsvcs; i++) {
		const struct service_state *s = &A.svcs[i];
		struct json_object *o = json_object_new_object(), *arms = json_object_new_object();
		char ep[CANARY_ADDRSTRLEN + 16];
		struct svc_config cfg = s->cfg;

		/* The weight as published now: a rollback since the last poll shows at once. */
		svc_config_read(&A.maps, s->info.id, &cfg);

		endpoint_str(s->key.family, &s->key.addr, ntohs(s->key.port), ep, sizeof(ep));
		json_object_object_add(o, "name", json_object_new_string(s->info.name));
		json_object_object_add(o, "vip", json_object_new_string(ep));
		json_object_object_add(
		    o, "protocol",
		    json_object_new_string(s->key.proto == IPPROTO_UDP ? "udp" : "tcp"));
		json_object_object_add(o, "canary_weight", json_percent(cfg.canary_weight));
		json_object_object_add(o, "measured_share", service_share_json(s));
		json_object_object_add(
		    o, "rollout",
		    json_object_new_boolean(find_rollout(s->info.name) || find_bad(s->info.name)));
		for (arm = 0; arm < CANARY_ARMS; arm++)
			json_object_object_add(arms, arm_name(arm), service_arm_json(s, &cfg, arm));
		json_object_object_add(o, "arms", arms);
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "services", arr);
	json_object_object_add(j, "poll_interval_s", json_object_new_double(A.interval));
	/* Whether this listener takes changes with a token: the page offers its token box
	 * only then. */
	json_object_object_add(j, "tcp_changes", json_object_new_boolean(tcp_takes_changes()));
	return j;
}
