/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* health.h: per-arm health signals measured on the packet path, from both directions
 * of each flow: backend resets, SYNs repeated before any SYN-ACK, handshake time,
 * time to first byte and (for HTTP services) the class of each response's status. */
#ifndef CANARY_HEALTH_H
#define CANARY_HEALTH_H

#include "parsing.h"
#include "maps.h"

/* For `make bench` only: treat every reply payload as the first answer to a request, so
 * that BPF_PROG_TEST_RUN's repeat times the HTTP-sniffing path on every iteration.
 * False in production, where the verifier drops the branch as dead code. */
const volatile bool bench_every_reply_answers = false;

/* floor(log2(us)), clamped to the histogram: bucket i holds [2^i, 2^(i+1)) us, and
 * bucket 0 also holds anything below 1 us. */
static __always_inline __u32 hist_bucket(__u64 us)
{
	__u32 v, b = 0;

	if (us >> 32)
		return CANARY_HIST_BUCKETS - 1;
	v = (__u32)us;
	if (v >> 16) {
		b += 16;
		v >>= 16;
	}
	if (v >> 8) {
		b += 8;
		v >>= 8;
	}
	if (v >> 4) {
		b += 4;
		v >>= 4;
	}
	if (v >> 2) {
		b += 2;
		v >>= 2;
	}
	if (v >> 1)
		b += 1;
	return b < CANARY_HIST_BUCKETS ? b : CANARY_HIST_BUCKETS - 1;
}

/* The precise clock in the unit of flow_state.mark_us: microseconds, low 32 bits (an
 * interval is their difference, right up to 71 minutes). */
static __always_inline __u32 precise_us(void)
{
	return (__u32)(bpf_ktime_get_ns() / 1000);
}

/* Whether a flow's health counts: a flow picked up mid-stream (no handshake seen) moves
 * no health signal, or a client could make an arm look sick with bare ACKs its backend
 * answers with RSTs; its errors are counted apart (midstream_errors). */
static __always_inline bool flow_counts(const struct flow_state *f)
{
	return !(f->flags & CANARY_FLOW_F_MIDSTREAM);
}

/* Mark the flow with an error; count it as an errored flow the first time (a mid-stream
 * one as a midstream error). Returns the flags the flow had before. */
static __always_inline __u32 flow_error(struct flow_state *f, __u32 err, struct arm_stats *as,
					struct backend_stats *bs)
{
	__u32 old = __sync_fetch_and_or(&f->err_flags, err | CANARY_ERR_COUNTED);

	if (!(old & CANARY_ERR_COUNTED)) {
		if (!flow_counts(f)) {
			if (as)
				as->midstream_errors++;
			return old;
		}
		if (as)
			as->errored_flows++;
		if (bs)
			bs->errored_flows++;
	}
	return old;
}

/* A client payload packet: the start of a request unless one is already waiting for
 * its first reply byte. A status line left incomplete by the previous response is
 * counted as unparseable now. */
static __always_inline void health_request(struct pkt *p, struct flow_state *f,
					   struct arm_stats *as)
{
	if (!p->payload_len || f->http_state == CANARY_HTTP_REQUEST || !flow_counts(f))
		return;
	if (f->http_state == CANARY_HTTP_STATUS && as) {
		as->http_responses++;
		as->http_class[0]++;
	}
	f->http_state = CANARY_HTTP_REQUEST;
	f->mark_us = precise_us();
}

/* Client -> backend, on an existing flow. syn_retx: a SYN repeated before any SYN-ACK. */
static __always_inline void health_forward(struct pkt *p, struct flow_state *f, bool syn_retx,
					   struct arm_stats *as, struct backend_stats *bs)
{
	if (!flow_counts(f))
		return;
	if (syn_retx) {
		if (as)
			as->syn_retransmits++;
		if (bs)
			bs->syn_retransmits++;
		if (!(flow_error(f, CANARY_ERR_SYN_RETX, as, bs) & CANARY_ERR_SYN_RETX)) {
			if (as)
				as->syn_retx_flows++;
			if (bs)
				bs->syn_retx_flows++;
		}
	}
	health_request(p, f, as);
}

/* Byte pos of "HTTP/1." (a switch rather than a string table, so no .rodata). */
static __always_inline __u8 http_prefix(__u32 pos)
{
	switch (pos) {
	case 0:
		return 'H';
	case 1:
	case 2:
		return 'T';
	case 3:
		return 'P';
	case 4:
		return '/';
	case 5:
		return '1';
	default:
		return '.';
	}
}

/* Feed the reply's payload to the status-line matcher "HTTP/1.x NNN". It keeps its
 * position in the flow, so a status line split across segments completes on the next
 * one. Reads at most 12 bytes. Returns the class (1..5), 0 for an unparseable line, or
 * -1 while the line is still incomplete. */
static __always_inline int http_status(struct xdp_md *ctx, struct pkt *p, struct flow_state *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 pos = f->http_pos, code = f->http_code, i, off = p->payload_off;
	__u8 *pl;

	/* The verifier only tracks packet offsets below 64 KiB; an XDP frame without
	 * fragments is far shorter, so a tighter bound loses nothing. */
	if (off > 0x3fff)
		return 0;
	pl = data + off;

#pragma unroll
	for (i = 0; i < 12; i++) {
		__u8 c;

		if (pos >= 12 || i >= p->payload_len)
			break;
		if ((void *)(pl + i + 1) > data_end)
			break;
		c = pl[i];
		if (pos < 7) {
			if (c != http_prefix(pos))
				return 0;
		} else if (pos == 7) {
			if (c != '0' && c != '1')
				return 0;
		} else if (pos == 8) {
			if (c != ' ')
				return 0;
		} else {
			if (c < '0' || c > '9')
				return 0;
			code = code * 10 + (c - '0');
		}
		pos++;
	}
	f->http_pos = pos;
	f->http_code = code;
	if (pos < 12)
		return -1;
	/* Comparisons, not code / 100: the verifier then knows the class is 0..5. */
	if (code >= 600 || code < 100)
		return 0;
	return code >= 500 ? 5 : code >= 400 ? 4 : code >= 300 ? 3 : code >= 200 ? 2 : 1;
}

/* Backend -> client, on an existing flow. */
/* Backend -> client, the segment's flags: handshake time (SYN-ACK) and resets. The
 * only reply health a flow in `pending` can have (its backend has sent no data yet). */
static __always_inline void health_reply_flags(struct pkt *p, struct flow_state *f,
					       struct arm_stats *as, struct backend_stats *bs)
{
	__u8 fl = p->tcp_flags;
	__u64 us;

	if (p->key.svc.proto != IPPROTO_TCP)
		return;
	if (!flow_counts(f)) {
		if (fl & TCPF_RST)
			flow_error(f, CANARY_ERR_RESET, as, bs);
		return;
	}
	if ((fl & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) && f->state == CANARY_FLOW_SYN_SENT) {
		/* mark_us holds the first SYN's time (a SYN's payload, TCP Fast Open, is
		 * the only request that can start before the SYN-ACK, and at the same
		 * time). */
		us = (__u32)(precise_us() - f->mark_us);
		if (as) {
			as->handshake_count++;
			as->handshake_sum_us += us;
			as->handshake_hist[hist_bucket(us)]++;
		}
	}
	if (fl & TCPF_RST) {
		if (as)
			as->backend_resets++;
		if (bs)
			bs->backend_resets++;
		if (!(flow_error(f, CANARY_ERR_RESET, as, bs) & CANARY_ERR_RESET)) {
			if (as)
				as->reset_flows++;
			if (bs)
				bs->reset_flows++;
		}
	}
}

/* Backend -> client, a flow in the flow table: the flags, then the payload: time to
 * first byte and, on HTTP services, the status line. */
static __always_inline void health_reply(struct xdp_md *ctx, struct pkt *p, struct flow_state *f,
					 struct arm_stats *as, struct backend_stats *bs)
{
	__u64 us;
	int cls;

	health_reply_flags(p, f, as, bs);
	if (!p->payload_len || !flow_counts(f))
		return;
	if (bench_every_reply_answers)
		f->http_state = CANARY_HTTP_REQUEST;

	switch (f->http_state) {
	case CANARY_HTTP_REQUEST:
		us = (__u32)(precise_us() - f->mark_us);
		if (as) {
			as->requests++;
			as->ttfb_sum_us += us;
			as->ttfb_hist[hist_bucket(us)]++;
		}
		if (!(f->flags & CANARY_FLOW_F_HTTP)) {
			f->http_state = CANARY_HTTP_RESPONSE;
			return;
		}
		f->http_pos = 0;
		f->http_code = 0;
		break;
	case CANARY_HTTP_STATUS:
		break;
	case CANARY_HTTP_IDLE:
		/* The backend spoke first (a banner): the next client payload is a request. */
		f->http_state = CANARY_HTTP_RESPONSE;
		return;
	default:
		return;
	}

	cls = http_status(ctx, p, f);
	if (cls < 0) {
		f->http_state = CANARY_HTTP_STATUS;
		return;
	}
	f->http_state = CANARY_HTTP_RESPONSE;
	if (as && cls < CANARY_HTTP_CLASSES) {
		as->http_responses++;
		as->http_class[cls]++;
	}
	if (bs)
		bs->http_responses++;
	if (cls == 5) {
		if (bs)
			bs->http_5xx++;
		flow_error(f, CANARY_ERR_HTTP_5XX, as, bs);
	}
}

#endif /* CANARY_HEALTH_H */
