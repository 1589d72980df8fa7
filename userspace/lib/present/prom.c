/* prom.c: Prometheus text exposition (see prom.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "present/prom.h"
#include "maps/stats.h"

#define P "xdp_canary_"

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP " P "%s %s\n# TYPE " P "%s %s\n", name, help, name, type);
}

/* One counter per service and arm, read from the arm_stats field at off. */
static void per_arm(FILE *f, const struct prom_service *s, unsigned int n, const char *name,
		    const char *extra, size_t off)
{
	unsigned int i;
	int arm;

	for (i = 0; i < n; i++)
		for (arm = 0; arm < CANARY_ARMS; arm++)
			fprintf(f, P "%s{service=\"%s\",arm=\"%s\"%s} %llu\n", name,
				s[i].svc->info.name, arm_name(arm), extra,
				*(unsigned long long *)((const char *)&s[i].arm[arm] + off));
}

/* One counter per service with a rollout, business metric and arm: its successes, or
 * its trials. */
static void per_metric(FILE *f, const struct prom_service *s, unsigned int n, const char *name,
		       bool trials)
{
	unsigned int i, k;
	int arm;

	for (i = 0; i < n; i++) {
		for (k = 0; s[i].rollout && k < s[i].rollout->plan.nmetrics; k++) {
			const struct metric_state *m = &s[i].rollout->metrics[k];

			for (arm = 0; arm < CANARY_ARMS; arm++)
				fprintf(f, P "%s{service=\"%s\",arm=\"%s\",metric=\"%s\"} %llu\n",
					name, s[i].svc->info.name, arm_name(arm),
					s[i].rollout->plan.metrics[k].name,
					(unsigned long long)(trials ? m->trials[arm]
								    : m->successes[arm]));
		}
	}
}

static void histogram(FILE *f, const struct prom_service *s, unsigned int n, const char *name,
		      const char *help, size_t hist_off, size_t sum_off, size_t count_off)
{
	unsigned int i, b;
	int arm;

	head(f, name, "histogram", help);
	for (i = 0; i < n; i++) {
		for (arm = 0; arm < CANARY_ARMS; arm++) {
			const char *a = (const char *)&s[i].arm[arm];
			const __u64 *hist = (const __u64 *)(a + hist_off);
			unsigned long long cum = 0;

			for (b = 0; b < CANARY_HIST_BUCKETS; b++) {
				cum += hist[b];
				/* Bucket b ends at 2^(b+1) us. */
				fprintf(f, P "%s_bucket{service=\"%s\",arm=\"%s\",le=\"%g\"} %llu\n",
					name, s[i].svc->info.name, arm_name(arm),
					ldexp(1.0, (int)b + 1) / 1e6, cum);
			}
			fprintf(f, P "%s_bucket{service=\"%s\",arm=\"%s\",le=\"+Inf\"} %llu\n", name,
				s[i].svc->info.name, arm_name(arm), cum);
			fprintf(f, P "%s_sum{service=\"%s\",arm=\"%s\"} %g\n", name,
				s[i].svc->info.name, arm_name(arm),
				*(const __u64 *)(a + sum_off) / 1e6);
			fprintf(f, P "%s_count{service=\"%s\",arm=\"%s\"} %llu\n", name,
				s[i].svc->info.name, arm_name(arm),
				(unsigned long long)*(const __u64 *)(a + count_off));
		}
	}
}

/* The data plane's counters of each service and arm: traffic, flows, health events,
 * HTTP classes, and the TTFB and handshake histograms. */
static void write_arms(FILE *f, const struct prom_service *s, unsigned int n)
{
	static const char *cls[CANARY_HTTP_CLASSES] = {"unparsed", "1xx", "2xx", "3xx", "4xx",
						       "5xx"};
	static const struct {
		const char *kind;
		size_t off;
	} errs[] = {
		{"backend_reset", offsetof(struct arm_stats, backend_resets)},
		{"reset_flow", offsetof(struct arm_stats, reset_flows)},
		{"syn_retransmit", offsetof(struct arm_stats, syn_retransmits)},
		{"syn_retransmit_flow", offsetof(struct arm_stats, syn_retx_flows)},
		{"syn_unanswered", offsetof(struct arm_stats, syn_unanswered)},
		{"icmp_error", offsetof(struct arm_stats, icmp_errors)},
		{"http_5xx", offsetof(struct arm_stats, http_class[5])},
		{"errored_flow", offsetof(struct arm_stats, errored_flows)},
	};
	unsigned int k;

	head(f, "packets_total", "counter", "Packets through the splitter, by arm and direction.");
	per_arm(f, s, n, "packets_total", ",direction=\"to_backend\"",
		offsetof(struct arm_stats, fwd_packets));
	per_arm(f, s, n, "packets_total", ",direction=\"to_client\"",
		offsetof(struct arm_stats, rev_packets));
	head(f, "bytes_total", "counter", "Frame bytes through the splitter, by arm and direction.");
	per_arm(f, s, n, "bytes_total", ",direction=\"to_backend\"",
		offsetof(struct arm_stats, fwd_bytes));
	per_arm(f, s, n, "bytes_total", ",direction=\"to_client\"",
		offsetof(struct arm_stats, rev_bytes));
	head(f, "flows_total", "counter", "New flows placed on each arm.");
	per_arm(f, s, n, "flows_total", "", offsetof(struct arm_stats, flows));
	head(f, "midstream_flows_total", "counter",
	     "Flows picked up mid-stream (no handshake seen): no exposure, no health signal.");
	per_arm(f, s, n, "midstream_flows_total", "", offsetof(struct arm_stats, midstream_flows));
	head(f, "midstream_errors_total", "counter",
	     "Mid-stream flows that saw an error (a backend RST): not counted as errored flows.");
	per_arm(f, s, n, "midstream_errors_total", "", offsetof(struct arm_stats, midstream_errors));
	head(f, "requests_total", "counter", "Request/response exchanges seen (TTFB samples).");
	per_arm(f, s, n, "requests_total", "", offsetof(struct arm_stats, requests));
	head(f, "errors_total", "counter",
	     "Health events per arm: kind is backend_reset (RST segments), reset_flow, "
	     "syn_retransmit, syn_retransmit_flow, syn_unanswered, icmp_error, http_5xx, "
	     "errored_flow.");
	for (k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
		char extra[64];

		snprintf(extra, sizeof(extra), ",kind=\"%s\"", errs[k].kind);
		per_arm(f, s, n, "errors_total", extra, errs[k].off);
	}
	head(f, "http_responses_total", "counter", "HTTP status lines by class (http services).");
	for (k = 0; k < CANARY_HTTP_CLASSES; k++) {
		char extra[64];

		snprintf(extra, sizeof(extra), ",class=\"%s\"", cls[k]);
		per_arm(f, s, n, "http_responses_total", extra,
			offsetof(struct arm_stats, http_class) + k * sizeof(__u64));
	}
	histogram(f, s, n, "ttfb_seconds", "Time from a request's first byte to the reply's first byte.",
		  offsetof(struct arm_stats, ttfb_hist), offsetof(struct arm_stats, ttfb_sum_us),
		  offsetof(struct arm_stats, requests));
	histogram(f, s, n, "handshake_seconds", "Time from the SYN to the backend's SYN-ACK.",
		  offsetof(struct arm_stats, handshake_hist),
		  offsetof(struct arm_stats, handshake_sum_us),
		  offsetof(struct arm_stats, handshake_count));
}

/* Each service's weight as set, and its canary share as measured. */
static void write_weights(FILE *f, const struct prom_service *s, unsigned int n)
{
	unsigned int i;

	head(f, "canary_weight_ratio", "gauge", "Canary weight set in the data plane (0..1).");
	for (i = 0; i < n; i++)
		fprintf(f, P "canary_weight_ratio{service=\"%s\"} %g\n", s[i].svc->info.name,
			s[i].svc->cfg.canary_weight / 10000.0);
	head(f, "canary_share_ratio", "gauge",
	     "Measured canary share of new flows over the last poll interval (NaN: no flows).");
	for (i = 0; i < n; i++) {
		fprintf(f, P "canary_share_ratio{service=\"%s\"} ", s[i].svc->info.name);
		if (s[i].share < 0)
			fputs("NaN\n", f);
		else
			fprintf(f, "%.6g\n", s[i].share);
	}
}

/* The SRM tests, in the order of their unit names. */
static const char *const srm_units[] = {"flows", "responses", "clients"};

static const struct av_srm_state *srm_test(const struct rollout *r, int u)
{
	bool on = u == 0 ? r->srm.flows_off == SRM_ON : u == 1 ? r->srm.http : r->srm.clients_on;

	if (!on)
		return NULL;
	return u == 0 ? &r->srm.flows : u == 1 ? &r->srm.responses : &r->srm.clients;
}

static void gauge_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN\n", f);
	else
		fprintf(f, "%g\n", v);
}

/* One line of an SRM gauge for each test that runs: flows, responses, clients. */
static void srm_lines(FILE *f, const struct prom_service *s, unsigned int n, const char *name,
		      int what)
{
	unsigned int i;
	int u;

	for (i = 0; i < n; i++) {
		const struct rollout *r = s[i].rollout;

		for (u = 0; r && u < 3; u++) {
			const struct av_srm_state *t = srm_test(r, u);

			if (!t)
				continue;
			fprintf(f, P "%s{service=\"%s\",unit=\"%s\"} ", name, s[i].svc->info.name,
				srm_units[u]);
			gauge_value(f, what == 0   ? av_srm_observed(t)
				       : what == 1 ? av_srm_expected(t)
				       : what == 2 ? av_evalue(&t->seq)
						   : av_srm_rejected(t));
		}
	}
}

/* Client mode: the flow share against the client share (a warning, never an SRM). */
static void write_gap(FILE *f, const struct prom_service *s, unsigned int n)
{
	unsigned int i;

	head(f, "srm_flow_client_gap", "gauge",
	     "Client mode: canary share of flows minus its share of distinct clients, at this "
	     "weight (NaN: too few yet).");
	for (i = 0; i < n; i++)
		if (s[i].rollout && s[i].rollout->srm.clients_on) {
			fprintf(f, P "srm_flow_client_gap{service=\"%s\"} ", s[i].svc->info.name);
			gauge_value(f, s[i].rollout->srm.gap);
		}
	head(f, "srm_flow_client_warning", "gauge",
	     "1 while the flow share is far from the client share (heavy clients): a warning, "
	     "not an SRM.");
	for (i = 0; i < n; i++)
		if (s[i].rollout && s[i].rollout->srm.clients_on)
			fprintf(f, P "srm_flow_client_warning{service=\"%s\"} %d\n",
				s[i].svc->info.name, s[i].rollout->srm.gap_warning);
}

/* The sample-ratio mismatch guard's shares and evidence. */
static void write_srm(FILE *f, const struct prom_service *s, unsigned int n)
{
	head(f, "srm_observed_share_ratio", "gauge",
	     "Canary share of the SRM test's units over the rollout (NaN: none yet).");
	srm_lines(f, s, n, "srm_observed_share_ratio", 0);
	head(f, "srm_expected_share_ratio", "gauge",
	     "Canary share of the SRM test's units the split predicts (the weight for flows "
	     "and clients).");
	srm_lines(f, s, n, "srm_expected_share_ratio", 1);
	head(f, "srm_evalue", "gauge", "Evidence of a sample-ratio mismatch (e-value).");
	srm_lines(f, s, n, "srm_evalue", 2);
	head(f, "srm_mismatch", "gauge",
	     "1 while a sample-ratio mismatch stands: the rollout holds, rollbacks still apply.");
	srm_lines(f, s, n, "srm_mismatch", 3);
	write_gap(f, s, n);
}

/* The rollouts: phase, step, evidence, business metrics, weight changes, and the
 * services whose saved state is invalid. */
static void write_rollouts(FILE *f, const struct prom_service *s, unsigned int n,
			   const struct prom_agent *agent)
{
	unsigned int i, k;
	int ph;

	head(f, "rollout_phase", "gauge", "1 for the rollout's current phase.");
	for (i = 0; i < n; i++) {
		if (!s[i].rollout)
			continue;
		for (ph = 0; ph < PHASE_COUNT; ph++)
			fprintf(f, P "rollout_phase{service=\"%s\",phase=\"%s\"} %d\n",
				s[i].svc->info.name, rollout_phase_names[ph],
				s[i].rollout->phase == ph);
	}
	head(f, "rollout_state_error", "gauge",
	     "1 for a service whose saved rollout state is invalid: its canary keeps its weight "
	     "and no rollout watches it until it is aborted or promoted.");
	for (i = 0; i < agent->nstate_errors; i++)
		fprintf(f, P "rollout_state_error{service=\"%s\"} 1\n", agent->state_errors[i]);
	head(f, "rollout_step", "gauge", "Current step of the rollout (1-based).");
	for (i = 0; i < n; i++)
		if (s[i].rollout)
			fprintf(f, P "rollout_step{service=\"%s\"} %u\n", s[i].svc->info.name,
				s[i].rollout->step + 1);
	head(f, "rollout_steps", "gauge", "Number of steps in the rollout's plan.");
	for (i = 0; i < n; i++)
		if (s[i].rollout)
			fprintf(f, P "rollout_steps{service=\"%s\"} %u\n", s[i].svc->info.name,
				s[i].rollout->plan.nsteps);
	head(f, "evalue", "gauge", "Evidence against the canary (e-value) per signal.");
	for (i = 0; i < n; i++)
		for (k = 0; s[i].rollout && k < s[i].rollout->nchecks; k++)
			fprintf(f, P "evalue{service=\"%s\",signal=\"%s\"} %g\n", s[i].svc->info.name,
				s[i].rollout->checks[k].name,
				av_evalue(&s[i].rollout->checks[k].st.rollback));
	head(f, "evalue_threshold", "gauge", "The e-value at which the rollout rolls back (1/alpha).");
	for (i = 0; i < n; i++)
		for (k = 0; s[i].rollout && k < s[i].rollout->nchecks; k++)
			fprintf(f, P "evalue_threshold{service=\"%s\",signal=\"%s\"} %g\n",
				s[i].svc->info.name, s[i].rollout->checks[k].name,
				1 / s[i].rollout->checks[k].cfg.rollback.alpha);
	write_srm(f, s, n);
	head(f, "metric_successes_total", "counter", "Business-metric successes per arm.");
	per_metric(f, s, n, "metric_successes_total", false);
	head(f, "metric_trials_total", "counter", "Business-metric trials per arm.");
	per_metric(f, s, n, "metric_trials_total", true);
	head(f, "weight_changes_total", "counter",
	     "Weight changes seen by the agent, by reason (since it started).");
	for (i = 0; i < n; i++)
		for (k = 0; s[i].weight_changes && k < WREASON_COUNT; k++)
			fprintf(f, P "weight_changes_total{service=\"%s\",reason=\"%s\"} %llu\n",
				s[i].svc->info.name, weight_reason_names[k],
				(unsigned long long)s[i].weight_changes[k]);
}

/* The fast path's reason counters and canaryd's own. */
static void write_agent(FILE *f, const struct reason_stats *reasons, const struct prom_agent *agent)
{
	unsigned int k;

	head(f, "reason_packets_total", "counter",
	     "Packets the fast path did not forward itself, and forwarding verdicts, by reason.");
	for (k = 0; k < reason_field_count; k++)
		fprintf(f, P "reason_packets_total{reason=\"%s\"} %llu\n", reason_fields[k].name,
			*(unsigned long long *)((const char *)reasons + reason_fields[k].offset));
	head(f, "agent_polls_total", "counter", "Counter polls made by canaryd.");
	fprintf(f, P "agent_polls_total %llu\n", (unsigned long long)agent->polls);
	head(f, "agent_poll_duration_seconds", "gauge", "How long the last poll took.");
	fprintf(f, P "agent_poll_duration_seconds %g\n", agent->poll_seconds);
	head(f, "agent_sweeps_total", "counter", "Flow-table sweeps made by canaryd.");
	fprintf(f, P "agent_sweeps_total %llu\n", (unsigned long long)agent->sweeps);
	head(f, "agent_expired_flows_total", "counter", "Expired flows removed by the sweeper.");
	fprintf(f, P "agent_expired_flows_total %llu\n", (unsigned long long)agent->swept_flows);
	if (agent->node) { /* fleet mode: canaryd labels every series with the node */
		head(f, "fleet_leader", "gauge",
		     "1 on the node whose agent leads the fleet's rollouts (its rollout series are "
		     "the fleet's; the other nodes export none), 0 elsewhere.");
		fprintf(f, P "fleet_leader %d\n", agent->leader);
		head(f, "fleet_store_up", "gauge", "1 when the store answered the agent's last round.");
		fprintf(f, P "fleet_store_up %d\n", agent->store_up);
	}
}

void prom_write(FILE *f, const struct prom_service *s, unsigned int n,
		const struct reason_stats *reasons, const struct prom_agent *agent)
{
	write_arms(f, s, n);
	write_weights(f, s, n);
	write_rollouts(f, s, n, agent);
	write_agent(f, reasons, agent);
}

char *prom_add_label(const char *in, const char *name, const char *value)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *line = in;

	if (!f)
		return NULL;
	while (*line) {
		const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
		size_t n = strcspn(line, "{ \n");

		if (line[0] == '#' || line == end)
			fwrite(line, 1, (size_t)(end - line), f);
		else if (line[n] == '{')
			fprintf(f, "%.*s{%s=\"%s\",%.*s", (int)n, line, name, value,
				(int)(end - line - n - 1), line + n + 1);
		else
			fprintf(f, "%.*s{%s=\"%s\"}%.*s", (int)n, line, name, value,
				(int)(end - line - n), line + n);
		if (nl)
			fputc('\n', f);
		line = nl ? nl + 1 : end;
	}
	fclose(f);
	return out;
}
