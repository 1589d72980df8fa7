/* status.c: what `canaryctl status` and `explain` show, as text and as JSON (json-c).
 * The per-second rates of an arm and json_percent are exported for canaryd's HTTP API
 * too, so both tools report the same numbers under the same names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "present/status.h"
#include "canary_decide.h"
#include "base/util.h"
#include "logic/analysis.h"
#include "maps/bindex.h"
#include "maps/service.h"
#include "maps/stats.h"

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static double bp_percent(unsigned int bp)
{
	return bp / 100.0;
}

struct json_object *json_percent(unsigned int bp)
{
	char buf[16];

	return json_object_new_double_s(bp_percent(bp), bp_str(bp, buf, sizeof(buf)));
}

static void backend_name(const struct canary_endpoint *vip, const struct canary_backend *b,
			 char *buf, size_t len)
{
	endpoint_str(vip->family, &b->addr, ntohs(b->port), buf, len);
}

/* A ratio with its Wilson 95% interval, for people to read. */
static struct json_object *json_ratio(__u64 x, __u64 n)
{
	struct json_object *j = json_object_new_object(), *ci = json_object_new_array();
	struct av_interval w = av_wilson(x, n, 1.96);

	json_object_object_add(j, "events", json_object_new_int64(x));
	json_object_object_add(j, "of", json_object_new_int64(n));
	json_object_object_add(j, "ratio", json_object_new_double(n ? (double)x / n : 0));
	json_object_array_add(ci, json_object_new_double(w.lo));
	json_object_array_add(ci, json_object_new_double(w.hi));
	json_object_object_add(j, "wilson95", ci);
	return j;
}

/* p50/p90/p99 and mean in milliseconds from a log2-us histogram. */
static struct json_object *json_latency(const __u64 *hist, __u64 count, __u64 sum_us)
{
	struct json_object *j = json_object_new_object();
	static const double qs[] = {0.5, 0.9, 0.99};
	static const char *names[] = {"p50", "p90", "p99"};
	unsigned int i;

	json_object_object_add(j, "count", json_object_new_int64(count));
	json_object_object_add(j, "mean", count ? json_object_new_double(sum_us / 1000.0 / count)
						: NULL);
	for (i = 0; i < 3; i++) {
		double us = hist_quantile_us(hist, CANARY_HIST_BUCKETS, qs[i]);

		json_object_object_add(j, names[i], us < 0 ? NULL : json_object_new_double(us / 1000.0));
	}
	return j;
}

/* An arm's health signals: counts, ratios with Wilson 95% intervals, latency quantiles. */
static struct json_object *status_signals_json(const struct arm_stats *a)
{
	struct json_object *j = json_object_new_object(), *http = json_object_new_object();
	struct json_object *r = json_object_new_object();
	static const char *cls[] = {"unparsed", "1xx", "2xx", "3xx", "4xx", "5xx"};
	unsigned int i;

	json_object_object_add(j, "backend_resets", json_object_new_int64(a->backend_resets));
	json_object_object_add(j, "reset_flows", json_object_new_int64(a->reset_flows));
	json_object_object_add(j, "syn_retransmits", json_object_new_int64(a->syn_retransmits));
	json_object_object_add(j, "syn_retx_flows", json_object_new_int64(a->syn_retx_flows));
	json_object_object_add(j, "syn_unanswered", json_object_new_int64(a->syn_unanswered));
	json_object_object_add(j, "icmp_errors", json_object_new_int64(a->icmp_errors));
	json_object_object_add(j, "errored_flows", json_object_new_int64(a->errored_flows));
	json_object_object_add(j, "midstream_flows", json_object_new_int64(a->midstream_flows));
	json_object_object_add(j, "midstream_errors", json_object_new_int64(a->midstream_errors));
	json_object_object_add(j, "requests", json_object_new_int64(a->requests));
	json_object_object_add(http, "responses", json_object_new_int64(a->http_responses));
	for (i = 0; i < CANARY_HTTP_CLASSES; i++)
		json_object_object_add(http, cls[i], json_object_new_int64(a->http_class[i]));
	json_object_object_add(j, "http", http);
	json_object_object_add(r, "errored_flows", json_ratio(a->errored_flows, a->flows));
	json_object_object_add(r, "reset_flows", json_ratio(a->reset_flows, a->flows));
	json_object_object_add(r, "syn_retx_flows", json_ratio(a->syn_retx_flows, a->flows));
	json_object_object_add(r, "syn_unanswered", json_ratio(a->syn_unanswered, a->flows));
	json_object_object_add(r, "http_5xx", json_ratio(a->http_class[5], a->http_responses));
	json_object_object_add(j, "ratios", r);
	json_object_object_add(j, "ttfb_ms", json_latency(a->ttfb_hist, a->requests, a->ttfb_sum_us));
	json_object_object_add(j, "handshake_ms", json_latency(a->handshake_hist, a->handshake_count,
							       a->handshake_sum_us));
	return j;
}

/* "10.0.1.128/25" for an override's key. */
static const char *override_prefix(const struct override_entry *e, char *buf, size_t len)
{
	char a[CANARY_ADDRSTRLEN];
	union canary_addr addr;
	int family, plen;

	override_key_parse(&e->key, &family, &addr, &plen);
	snprintf(buf, len, "%s/%d", addr_str(family, &addr, a, sizeof(a)), plen);
	return buf;
}

/* One backend's counters (canaryctl status --json). */
static struct json_object *backend_json(struct canary_maps *m, const struct service_state *s,
					int arm, unsigned int i)
{
	struct json_object *jbe = json_object_new_object();
	struct backend_stats b;
	char ep[80];

	backend_stats_read(m, s->info.id, arm, i, &b);
	backend_name(&s->key, &s->cfg.backends[arm][i], ep, sizeof(ep));
	json_object_object_add(jbe, "address", json_object_new_string(ep));
	json_object_object_add(jbe, "flows", json_object_new_int64(b.flows));
	json_object_object_add(jbe, "packets", json_object_new_int64(b.fwd_packets));
	json_object_object_add(jbe, "bytes", json_object_new_int64(b.fwd_bytes));
	json_object_object_add(jbe, "errored_flows", json_object_new_int64(b.errored_flows));
	json_object_object_add(jbe, "backend_resets", json_object_new_int64(b.backend_resets));
	json_object_object_add(jbe, "syn_retransmits", json_object_new_int64(b.syn_retransmits));
	json_object_object_add(jbe, "syn_unanswered", json_object_new_int64(b.syn_unanswered));
	json_object_object_add(jbe, "icmp_errors", json_object_new_int64(b.icmp_errors));
	json_object_object_add(jbe, "http_responses", json_object_new_int64(b.http_responses));
	json_object_object_add(jbe, "http_5xx", json_object_new_int64(b.http_5xx));
	return jbe;
}

/* One arm's counters, signals and backends. */
static struct json_object *arm_json(struct canary_maps *m, const struct service_state *s, int arm)
{
	struct json_object *ja = json_object_new_object(), *jb = json_object_new_array();
	struct arm_stats a;
	unsigned int i;

	arm_stats_read(m, s->info.id, arm, &a);
	json_object_object_add(ja, "packets", json_object_new_int64(a.fwd_packets + a.rev_packets));
	json_object_object_add(ja, "bytes", json_object_new_int64(a.fwd_bytes + a.rev_bytes));
	json_object_object_add(ja, "flows", json_object_new_int64(a.flows));
	json_object_object_add(ja, "fwd_packets", json_object_new_int64(a.fwd_packets));
	json_object_object_add(ja, "fwd_bytes", json_object_new_int64(a.fwd_bytes));
	json_object_object_add(ja, "rev_packets", json_object_new_int64(a.rev_packets));
	json_object_object_add(ja, "rev_bytes", json_object_new_int64(a.rev_bytes));
	json_object_object_add(ja, "signals", status_signals_json(&a));
	for (i = 0; i < s->cfg.nbackends[arm]; i++)
		json_object_array_add(jb, backend_json(m, s, arm, i));
	json_object_object_add(ja, "backends", jb);
	return ja;
}

/* The service's overrides as [{prefix, arm}]. */
static struct json_object *overrides_json(struct canary_maps *m, const struct service_state *s)
{
	struct json_object *jov = json_object_new_array();
	struct override_entry *ov = NULL;
	unsigned int nov = 0, i;

	service_overrides(m, s->info.id, &ov, &nov);
	for (i = 0; i < nov; i++) {
		struct json_object *jo = json_object_new_object();
		char p[CANARY_ADDRSTRLEN + 8];

		json_object_object_add(
		    jo, "prefix", json_object_new_string(override_prefix(&ov[i], p, sizeof(p))));
		json_object_object_add(jo, "arm", json_object_new_string(arm_name(ov[i].val.arm)));
		json_object_array_add(jov, jo);
	}
	free(ov);
	return jov;
}

/* One service with per-arm and per-backend counters (canaryctl status --json). */
static struct json_object *status_service_json(struct canary_maps *m,
					       const struct service_state *s)
{
	struct json_object *j = json_object_new_object(), *arms = json_object_new_object();
	char buf[CANARY_ADDRSTRLEN];
	int arm;

	json_object_object_add(j, "name", json_object_new_string(s->info.name));
	json_object_object_add(j, "id", json_object_new_int(s->info.id));
	json_object_object_add(j, "vip", json_object_new_string(addr_str(
						    s->key.family, &s->key.addr, buf, sizeof(buf))));
	json_object_object_add(j, "port", json_object_new_int(ntohs(s->key.port)));
	json_object_object_add(j, "protocol", json_object_new_string(proto_name(s->key.proto)));
	json_object_object_add(j, "hash", json_object_new_string(s->cfg.hash_mode ==
									 CANARY_HASH_CLIENT
								 ? "client"
								 : "flow"));
	json_object_object_add(j, "canary_weight", json_percent(s->cfg.canary_weight));
	json_object_object_add(j, "generation", json_object_new_int64(s->cfg.generation));
	json_object_object_add(j, "http",
			       json_object_new_boolean(s->cfg.flags & CANARY_SVC_F_HTTP));
	for (arm = 0; arm < CANARY_ARMS; arm++)
		json_object_object_add(arms, arm_name(arm), arm_json(m, s, arm));
	json_object_object_add(j, "arms", arms);
	json_object_object_add(j, "overrides", overrides_json(m, s));
	return j;
}

/* The global reason counters as an object of name -> count. */
static struct json_object *status_reasons_json(struct canary_maps *m)
{
	struct json_object *j = json_object_new_object();
	struct reason_stats r;
	unsigned int i;

	reasons_read(m, &r);
	for (i = 0; i < reason_field_count; i++)
		json_object_object_add(
			j, reason_fields[i].name,
			json_object_new_int64(*(__u64 *)((char *)&r + reason_fields[i].offset)));
	return j;
}

static void print_ratio(const char *name, __u64 x, __u64 n, FILE *f)
{
	struct av_interval w = av_wilson(x, n, 1.96);

	if (!n) {
		fprintf(f, " %-28s", "-");
		return;
	}
	fprintf(f, " %5.2f%% [%5.2f, %5.2f] %-7s", 100.0 * x / n, 100 * w.lo, 100 * w.hi, name);
}

static void print_latency(const __u64 *hist, __u64 count, FILE *f)
{
	double p[3];
	static const double qs[] = {0.5, 0.9, 0.99};
	int i;

	if (!count) {
		fprintf(f, " %-26s", "-");
		return;
	}
	for (i = 0; i < 3; i++)
		p[i] = hist_quantile_us(hist, CANARY_HIST_BUCKETS, qs[i]) / 1000.0;
	fprintf(f, " %7.2f %7.2f %8.2f  ", p[0], p[1], p[2]);
}

/* Health per arm: error ratios with Wilson 95% intervals, TTFB quantiles. */
static void print_signals(const struct arm_stats *a, bool http, FILE *f)
{
	int arm;

	fprintf(f, "  %-7s %28s %28s %8s %8s %6s\n", "health", "errored flows [95% CI]",
		"backend-reset flows", "resets", "syn-retx", "icmp");
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		fprintf(f, "  %-7s", arm_name(arm));
		print_ratio("", a[arm].errored_flows, a[arm].flows, f);
		print_ratio("", a[arm].reset_flows, a[arm].flows, f);
		fprintf(f, " %8llu %8llu %6llu\n", (unsigned long long)a[arm].backend_resets,
			(unsigned long long)a[arm].syn_retransmits,
			(unsigned long long)a[arm].icmp_errors);
	}
	fprintf(f, "  %-7s %28s %-26s %-26s\n", "", http ? "http 5xx [95% CI]" : "",
		"ttfb ms p50 p90 p99", "handshake ms p50 p90 p99");
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		fprintf(f, "  %-7s", arm_name(arm));
		if (http)
			print_ratio("", a[arm].http_class[5], a[arm].http_responses, f);
		else
			fprintf(f, " %28s", "");
		print_latency(a[arm].ttfb_hist, a[arm].requests, f);
		print_latency(a[arm].handshake_hist, a[arm].handshake_count, f);
		fprintf(f, "\n");
	}
	if (a[0].syn_unanswered + a[1].syn_unanswered)
		fprintf(f, "  unanswered SYN flows: stable %llu, canary %llu\n",
			(unsigned long long)a[0].syn_unanswered,
			(unsigned long long)a[1].syn_unanswered);
	if (a[0].midstream_flows + a[1].midstream_flows)
		fprintf(f, "  picked up mid-stream (no handshake seen; not in the figures above): "
			   "stable %llu flows, %llu with errors; canary %llu, %llu\n",
			(unsigned long long)a[0].midstream_flows,
			(unsigned long long)a[0].midstream_errors,
			(unsigned long long)a[1].midstream_flows,
			(unsigned long long)a[1].midstream_errors);
}

static void print_service(struct canary_maps *m, const struct service_state *s, FILE *f)
{
	char vip[80], w[16];
	struct arm_stats a[CANARY_ARMS];
	struct override_entry *ov = NULL;
	unsigned int nov = 0, i;
	__u64 total;
	int arm;

	endpoint_str(s->key.family, &s->key.addr, ntohs(s->key.port), vip, sizeof(vip));
	fprintf(f, "%s  %s/%s  hash %s", s->info.name, vip, proto_name(s->key.proto),
		s->cfg.hash_mode == CANARY_HASH_CLIENT ? "client" : "flow");
	fprintf(f, "  canary weight %s%%  (generation %u%s)\n",
		bp_str(s->cfg.canary_weight, w, sizeof(w)), s->cfg.generation,
		s->cfg.flags & CANARY_SVC_F_HTTP ? ", http" : "");
	for (arm = 0; arm < CANARY_ARMS; arm++)
		arm_stats_read(m, s->info.id, arm, &a[arm]);
	total = a[0].flows + a[1].flows;
	fprintf(f, "  %-7s %8s %10s %14s %14s %16s %16s\n", "arm", "backends", "flows",
		"packets in", "packets out", "bytes in", "bytes out");
	for (arm = 0; arm < CANARY_ARMS; arm++)
		fprintf(f, "  %-7s %8u %10llu %14llu %14llu %16llu %16llu\n", arm_name(arm),
			s->cfg.nbackends[arm], (unsigned long long)a[arm].flows,
			(unsigned long long)a[arm].fwd_packets,
			(unsigned long long)a[arm].rev_packets,
			(unsigned long long)a[arm].fwd_bytes,
			(unsigned long long)a[arm].rev_bytes);
	if (total)
		fprintf(f, "  measured canary share of flows: %.2f%% (%llu of %llu)\n",
			100.0 * a[1].flows / total, (unsigned long long)a[1].flows,
			(unsigned long long)total);
	print_signals(a, s->cfg.flags & CANARY_SVC_F_HTTP, f);
	for (arm = 0; arm < CANARY_ARMS; arm++) {
		for (i = 0; i < s->cfg.nbackends[arm]; i++) {
			struct backend_stats b;
			char ep[80];

			backend_stats_read(m, s->info.id, arm, i, &b);
			backend_name(&s->key, &s->cfg.backends[arm][i], ep, sizeof(ep));
			fprintf(f, "    %s[%u] %-28s flows %-10llu packets %-12llu bytes %llu\n",
				arm_name(arm), i, ep, (unsigned long long)b.flows,
				(unsigned long long)b.fwd_packets,
				(unsigned long long)b.fwd_bytes);
		}
	}
	service_overrides(m, s->info.id, &ov, &nov);
	for (i = 0; i < nov; i++) {
		char p[CANARY_ADDRSTRLEN + 8];

		fprintf(f, "    override %s -> %s\n", override_prefix(&ov[i], p, sizeof(p)),
			arm_name(ov[i].val.arm));
	}
	free(ov);
}

/* Per-second rates of an arm between two readings, for text and JSON alike. */
struct arm_rates {
	double packets, bytes, flows, requests, errored_flows, http_5xx, backend_resets,
		syn_retransmits;
};

static void arm_rates_of(const struct arm_stats *now, const struct arm_stats *prev,
			 double seconds, struct arm_rates *r)
{
	double dt = seconds > 0 ? seconds : 1;

#define RATE(field, delta) r->field = (double)(delta) / dt
	RATE(packets, now->fwd_packets + now->rev_packets - prev->fwd_packets - prev->rev_packets);
	RATE(bytes, now->fwd_bytes + now->rev_bytes - prev->fwd_bytes - prev->rev_bytes);
	RATE(flows, now->flows - prev->flows);
	RATE(requests, now->requests - prev->requests);
	RATE(errored_flows, now->errored_flows - prev->errored_flows);
	RATE(http_5xx, now->http_class[5] - prev->http_class[5]);
	RATE(backend_resets, now->backend_resets - prev->backend_resets);
	RATE(syn_retransmits, now->syn_retransmits - prev->syn_retransmits);
#undef RATE
}

struct json_object *status_rates_json(const struct arm_stats *now, const struct arm_stats *prev,
				      double seconds)
{
	struct json_object *j = json_object_new_object();
	struct arm_rates r;

	arm_rates_of(now, prev, seconds, &r);
#define ADD(name, field) json_object_object_add(j, name, json_object_new_double(r.field))
	ADD("packets_per_s", packets);
	ADD("bytes_per_s", bytes);
	ADD("flows_per_s", flows);
	ADD("requests_per_s", requests);
	ADD("errored_flows_per_s", errored_flows);
	ADD("http_5xx_per_s", http_5xx);
	ADD("backend_resets_per_s", backend_resets);
	ADD("syn_retransmits_per_s", syn_retransmits);
#undef ADD
	return j;
}

/* status --json: every service of list (with rates when before holds a first reading
 * taken dt seconds ago), and the reason counters. */
static void show_json(struct canary_maps *m, const struct service_state *list, unsigned int n,
		      struct arm_stats (*before)[CANARY_ARMS], double dt, FILE *f)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	unsigned int i;
	int arm;

	for (i = 0; i < n; i++) {
		struct json_object *js = status_service_json(m, &list[i]), *arms;

		if (before && json_object_object_get_ex(js, "arms", &arms)) {
			for (arm = 0; arm < CANARY_ARMS; arm++) {
				struct json_object *ja;
				struct arm_stats now;

				arm_stats_read(m, list[i].info.id, arm, &now);
				if (json_object_object_get_ex(arms, arm_name(arm), &ja))
					json_object_object_add(
					    ja, "rates",
					    status_rates_json(&now, &before[i][arm], dt));
			}
		}
		json_object_array_add(arr, js);
	}
	if (before)
		json_object_object_add(root, "rate_window_s", json_object_new_double(dt));
	json_object_object_add(root, "services", arr);
	json_object_object_add(root, "reasons", status_reasons_json(m));
	fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
}

/* One line of rates per arm since the first reading, dt seconds ago. */
static void print_rates(struct canary_maps *m, const struct service_state *s,
			const struct arm_stats *before, double dt, FILE *f)
{
	int arm;

	for (arm = 0; arm < CANARY_ARMS; arm++) {
		struct arm_stats now;
		struct arm_rates r;

		arm_stats_read(m, s->info.id, arm, &now);
		arm_rates_of(&now, &before[arm], dt, &r);
		fprintf(f,
			"  rates   %-7s %9.1f pkt/s %8.1f flows/s %8.1f req/s %7.1f "
			"errored flows/s %7.1f 5xx/s  (over %.1f s)\n",
			arm_name(arm), r.packets, r.flows, r.requests, r.errored_flows, r.http_5xx,
			dt);
	}
}

/* The reason counters that are not zero, on one line. */
static void print_reasons(struct canary_maps *m, FILE *f)
{
	struct reason_stats r;
	bool any = false;
	unsigned int i;

	reasons_read(m, &r);
	for (i = 0; i < reason_field_count; i++) {
		__u64 v = *(__u64 *)((char *)&r + reason_fields[i].offset);

		if (!v)
			continue;
		fprintf(f, "%s%s %llu", any ? ", " : "\nreasons: ", reason_fields[i].name,
			(unsigned long long)v);
		any = true;
	}
	if (any)
		fputc('\n', f);
}

/* status as text: every service of list (all = it is every service: the reasons
 * follow). */
static void show_text(struct canary_maps *m, const struct service_state *list, unsigned int n,
		      bool all, struct arm_stats (*before)[CANARY_ARMS], double dt, FILE *f)
{
	unsigned int i;

	if (!n)
		fprintf(f, "no services configured; apply a file with 'canaryctl apply -f FILE'\n");
	for (i = 0; i < n; i++) {
		print_service(m, &list[i], f);
		if (before)
			print_rates(m, &list[i], before[i], dt, f);
		if (i + 1 < n)
			fputc('\n', f);
	}
	if (all)
		print_reasons(m, f);
}

int status_show(struct canary_maps *m, const char *name, bool json, double rate_window_s,
		FILE *f)
{
	struct service_state *list, one;
	struct arm_stats(*before)[CANARY_ARMS] = NULL;
	unsigned int n, i;
	uint64_t t0 = 0;
	double dt = 0;
	int err, arm;

	if (name) {
		err = service_find(m, name, &one);
		if (err)
			return err;
		list = &one;
		n = 1;
	} else {
		err = service_list(m, &list, &n);
		if (err)
			return err;
	}
	/* Rates need two readings: take one now, the second while printing. */
	if (rate_window_s > 0) {
		before = calloc(n ? n : 1, sizeof(*before));
		if (!before) {
			if (!name)
				free(list);
			return -ENOMEM;
		}
		for (i = 0; i < n; i++)
			for (arm = 0; arm < CANARY_ARMS; arm++)
				arm_stats_read(m, list[i].info.id, arm, &before[i][arm]);
		t0 = now_ns();
		usleep((useconds_t)(rate_window_s * 1e6));
		dt = (now_ns() - t0) / 1e9;
	}
	if (json)
		show_json(m, list, n, before, dt, f);
	else
		show_text(m, list, n, !name, before, dt, f);
	if (!name)
		free(list);
	free(before);
	return 0;
}

int status_print_overrides(struct canary_maps *m, const char *name)
{
	struct service_state *list, one;
	unsigned int n, i, j, nov;
	int err = 0;

	if (name) {
		if (service_find(m, name, &one))
			return -ENOENT;
		list = &one;
		n = 1;
	} else if (service_list(m, &list, &n)) {
		return -EIO;
	}
	for (i = 0; i < n && !err; i++) {
		struct override_entry *ov = NULL;
		char p[CANARY_ADDRSTRLEN + 8];

		err = service_overrides(m, list[i].info.id, &ov, &nov);
		for (j = 0; !err && j < nov; j++)
			printf("%s %s %s\n", list[i].info.name, override_prefix(&ov[j], p, sizeof(p)),
			       arm_name(ov[j].val.arm));
		free(ov);
	}
	if (err)
		log_error("cannot read the overrides: %s", strerror(-err));
	if (!name)
		free(list);
	return err;
}

/* What explain works out: the flow it was asked about, the decision and the entry the
 * flow tables may already hold for it. */
struct explain {
	const char *name;
	struct service_state s;
	struct flow_key k;
	int fam;
	uint16_t sport;
	int oarm; /* the override's arm, or -1 */
	struct canary_decision d;
	const struct canary_backend *be; /* NULL: no backend */
	bool existing;
	struct flow_state st; /* when existing */
	char vip[80], cli[80], bep[80];
	char fep[80]; /* the existing flow's backend (from its reply-index slot) */
};

static const char *flow_state_name(__u8 state)
{
	static const char *names[] = {"udp",	     "syn_sent", "syn_recv",
				      "established", "closing",	 "closed"};

	return state < ARRAY_SIZE(names) ? names[state] : "?";
}

/* The service and the flow from src to it. Returns 0, or explain's exit code after
 * saying why. */
static int explain_flow(struct canary_maps *m, const char *name, const char *src, int proto,
			struct explain *x)
{
	x->name = name;
	if (service_find(m, name, &x->s))
		return 1;
	x->fam = endpoint_parse(src, &x->k.client, &x->sport);
	if (!x->fam) {
		log_error("--src '%s' is not ADDR:PORT (IPv6 as [addr]:port)", src);
		return 2;
	}
	if (x->fam != x->s.key.family) {
		log_error("--src %s is not in the address family of %s's VIP", src, name);
		return 2;
	}
	if (proto && proto != x->s.key.proto) {
		log_error("%s is a %s service; --proto %s never reaches it", name,
			  proto_name(x->s.key.proto), proto_name(proto));
		return 2;
	}
	x->k.svc = x->s.key;
	x->k.client_port = htons(x->sport);
	return 0;
}

/* The data plane's own decision (canary_decide.h), on the data plane's maps. */
static void explain_decide(struct canary_maps *m, struct explain *x)
{
	const struct svc_config *cfg = &x->s.cfg;
	struct override_key ok;
	struct override_value ov;

	x->oarm = -1;
	if (cfg->flags & CANARY_SVC_F_OVERRIDES) {
		override_key_make(x->s.info.id, x->fam, &x->k.client,
				  x->fam == CANARY_AF_INET ? 32 : 128, &ok);
		if (bpf_map_lookup_elem(m->overrides, &ok, &ov) == 0)
			x->oarm = ov.arm & 1;
	}
	x->be = NULL;
	if (canary_decide(cfg, &x->k, x->oarm, &x->d) == 0)
		x->be = &cfg->backends[x->d.arm][x->d.backend_idx];
	x->existing = bpf_map_lookup_elem(m->flows, &x->k, &x->st) == 0 ||
		      bpf_map_lookup_elem(m->pending, &x->k, &x->st) == 0;

	endpoint_str(x->s.key.family, &x->s.key.addr, ntohs(x->s.key.port), x->vip, sizeof(x->vip));
	endpoint_str(x->fam, &x->k.client, x->sport, x->cli, sizeof(x->cli));
	if (x->existing) {
		struct backend_slot bs;

		if (backend_index_slot(m, x->st.backend, &bs) == 0)
			endpoint_str(x->fam, &bs.key.addr, ntohs(bs.key.port), x->fep,
				     sizeof(x->fep));
		else
			snprintf(x->fep, sizeof(x->fep), "(reply-index slot %u, empty)",
				 x->st.backend);
	}
	if (x->be)
		backend_name(&x->s.key, x->be, x->bep, sizeof(x->bep));
}

static void explain_json(const struct explain *x, FILE *f)
{
	static const char *reason_names[] = {"weight", "override", "fallback", "no_backend"};
	const struct canary_decision *d = &x->d;
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "service", json_object_new_string(x->name));
	json_object_object_add(j, "client", json_object_new_string(x->cli));
	json_object_object_add(j, "hash", json_object_new_int64(d->hash));
	json_object_object_add(j, "bucket", json_object_new_int(d->bucket));
	json_object_object_add(j, "canary_weight", json_percent(x->s.cfg.canary_weight));
	json_object_object_add(j, "override",
			       x->oarm >= 0 ? json_object_new_string(arm_name(x->oarm)) : NULL);
	json_object_object_add(j, "reason", json_object_new_string(reason_names[d->reason & 3]));
	json_object_object_add(j, "arm", x->be ? json_object_new_string(arm_name(d->arm)) : NULL);
	json_object_object_add(j, "fallback",
			       json_object_new_boolean(d->reason == CANARY_DECIDE_FALLBACK));
	json_object_object_add(j, "backend", x->be ? json_object_new_string(x->bep) : NULL);
	json_object_object_add(j, "backend_index",
			       json_object_new_int(x->be ? d->backend_idx : -1));
	if (x->existing) {
		struct json_object *je = json_object_new_object();

		json_object_object_add(je, "arm", json_object_new_string(arm_name(x->st.arm)));
		json_object_object_add(je, "backend", json_object_new_string(x->fep));
		json_object_object_add(je, "state",
				       json_object_new_string(flow_state_name(x->st.state)));
		json_object_object_add(
		    je, "verified",
		    json_object_new_boolean(!(x->st.flags & CANARY_FLOW_F_PENDING)));
		json_object_object_add(
		    je, "replies_elsewhere",
		    json_object_new_boolean(x->st.flags & CANARY_FLOW_F_ONEWAY));
		json_object_object_add(j, "existing_flow", je);
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
	json_object_put(j);
}

/* The hash, the bucket against the weight, and the override, as explain prints them. */
static void explain_text_inputs(const struct explain *x, FILE *f)
{
	const struct svc_config *cfg = &x->s.cfg;
	char w[16];

	fprintf(f, "%s: a new %s flow from %s to %s\n", x->name, proto_name(x->s.key.proto), x->cli,
		x->vip);
	if (cfg->hash_mode == CANARY_HASH_CLIENT)
		fprintf(f,
			"  hash     client mode (source /%d for IPv4, /%d for IPv6), salt 0x%08x: "
			"0x%08x\n",
			__builtin_popcount(cfg->client_mask_v4),
			__builtin_popcount(cfg->client_mask_v6[0]) +
			    __builtin_popcount(cfg->client_mask_v6[1]) +
			    __builtin_popcount(cfg->client_mask_v6[2]) +
			    __builtin_popcount(cfg->client_mask_v6[3]),
			cfg->salt, x->d.hash);
	else
		fprintf(f, "  hash     flow mode (5-tuple), salt 0x%08x: 0x%08x\n", cfg->salt,
			x->d.hash);
	fprintf(f, "  bucket   %u of %u; canary takes buckets below %u (weight %s%%)\n",
		x->d.bucket, CANARY_WEIGHT_SCALE, cfg->canary_weight,
		bp_str(cfg->canary_weight, w, sizeof(w)));
	if (x->oarm >= 0)
		fprintf(f, "  override the client is in an override prefix: %s\n",
			arm_name(x->oarm));
	else
		fprintf(f, "  override none\n");
}

/* The arm, the backend, and the flow-table entry that takes precedence, as text. */
static void explain_text_outcome(const struct explain *x, FILE *f)
{
	const struct canary_decision *d = &x->d;

	switch (d->reason) {
	case CANARY_DECIDE_NO_BACKEND:
		fprintf(f, "  arm      none: neither arm has a backend, so the flow is dropped\n");
		break;
	case CANARY_DECIDE_FALLBACK:
		fprintf(f,
			"  arm      %s (%s was chosen but has no backends; the other arm takes "
			"it)\n",
			arm_name(d->arm), arm_name(d->chosen_arm));
		break;
	default:
		fprintf(f, "  arm      %s\n", arm_name(d->arm));
	}
	if (x->be)
		fprintf(f, "  backend  %s (%s[%d], ring slot %u of %u)\n", x->bep, arm_name(d->arm),
			d->backend_idx, d->slot, CANARY_RING_SIZE);
	if (x->existing) {
		fprintf(f,
			"  note     this tuple is already in the %s (%s, %s): its packets keep "
			"going to %s %s\n",
			x->st.flags & CANARY_FLOW_F_PENDING ? "pending table (not yet verified)"
							    : "flow table",
			flow_state_name(x->st.state),
			x->st.flags & CANARY_FLOW_F_MIDSTREAM ? "picked up mid-stream"
							      : "since its SYN",
			arm_name(x->st.arm), x->fep);
		if (x->st.flags & CANARY_FLOW_F_ONEWAY)
			fprintf(f, "  note     its SYN-ACK came back through another node: its "
				   "replies are rewritten there\n");
	}
}

int status_explain(struct canary_maps *m, const char *name, const char *src, int proto, bool json,
		   FILE *f)
{
	struct explain x = {};
	int rc;

	rc = explain_flow(m, name, src, proto, &x);
	if (rc)
		return rc;
	explain_decide(m, &x);
	if (json) {
		explain_json(&x, f);
		return 0;
	}
	explain_text_inputs(&x, f);
	explain_text_outcome(&x, f);
	return 0;
}
