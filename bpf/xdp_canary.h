/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xdp_canary.h: the one header shared by the XDP data plane and userspace.
 * Every limit, map name and map value layout lives here, in fixed-width types. */
#ifndef XDP_CANARY_H
#define XDP_CANARY_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_timer */

/* Bumped whenever a map layout below changes. The loader migrates pins of the ABI
 * before (their flows and counters, see userspace/lib/maps/migrate.c) and refuses any other
 * instead of misreading it. ABI 2: the pending table, backend_info.ifindex,
 * midstream counters, reasons pass_wrong_iface and flow_verified, meta.pending_capacity.
 * ABI 3: flow_state shrank from 112 to 24 bytes (the backend by its reply-index slot, no
 * next hops, 32-bit stamps, health state packed); backend_slot gained the forward
 * deltas and the backend's next hop; the client_hops cache. */
#define CANARY_ABI_VERSION 3

/* ---- limits ---------------------------------------------------------------------------- */
#define CANARY_MAX_SERVICES	 256
#define CANARY_MAX_BACKENDS	 64 /* per arm */
#define CANARY_MAX_BACKEND_KEYS	 (2 * CANARY_MAX_SERVICES * CANARY_MAX_BACKENDS)
#define CANARY_MAX_OVERRIDES	 16384 /* client-group prefixes, all services together */
#define CANARY_RING_SIZE	 4093	   /* Maglev slots per arm; prime, >> MAX_BACKENDS */
#define CANARY_NAME_LEN		 32	   /* service name incl. NUL: at most 31 characters */
#define CANARY_WEIGHT_SCALE	 10000	   /* canary weight is in basis points */
#define CANARY_DEFAULT_FLOWS	 1048576   /* flow-table entries unless --flows says otherwise */
#define CANARY_DEFAULT_PENDING	 131072	   /* pending-table entries unless --pending says so */
#define CANARY_MAX_IPV6_EXT	 4	   /* extension headers walked before giving up */
#define CANARY_HIST_BUCKETS	 24	   /* log2 microsecond buckets: [2^i, 2^(i+1)) us */
#define CANARY_HTTP_CLASSES	 6	   /* index 1..5 = 1xx..5xx, 0 = unparseable status */
#define CANARY_NO_BACKEND	 0xff	   /* ring slot that names no backend */
#define CANARY_BACKEND_SLOTS	 131072	   /* reply index slots (power of 2, >= 4x keys) */
#define CANARY_BACKEND_PROBES	 16	   /* linear probes before a reply lookup gives up */

/* Default timeouts (seconds); the loader can override them at attach time. */
#define CANARY_DEF_SYN_TIMEOUT	   30	/* SYN seen, handshake not finished */
#define CANARY_DEF_TCP_IDLE	   3600 /* established TCP with no packets */
#define CANARY_DEF_TCP_CLOSING	   10	/* after FIN or RST: long enough to close */
#define CANARY_DEF_UDP_IDLE	   30
/* How often a cached next hop (a backend's, a client's) is re-resolved with
 * bpf_fib_lookup (ns). */
#define CANARY_NEXTHOP_TTL_NS	   1000000000ULL
/* Period of the coarse clock that the fast path reads instead of calling a clock
 * helper on every packet (ns). */
#define CANARY_CLOCK_TICK_NS	   100000000ULL
/* Flow stamps are 32-bit, in units of 2^CANARY_STAMP_SHIFT ns (16.8 ms): they wrap after
 * 2.3 years, and an age is read as a signed difference (timeouts below 1.1 years). */
#define CANARY_STAMP_SHIFT	   24
/* Entries of the per-CPU reply next-hop cache (client_hops), direct-mapped by client
 * address: a power of 2. */
#define CANARY_CLIENT_HOPS	   16384

/* ---- names ------------------------------------------------------------------------------
 * The maps themselves are listed once, in CANARY_MAPS at the end of this file. */
#define CANARY_PROG_NAME	   xdp_canary

#define CANARY__STR(x)		   #x
#define CANARY_STR(x)		   CANARY__STR(x)
#define CANARY_DEFAULT_PIN_ROOT	   "/sys/fs/bpf/xdp-canary"

/* Address families as the kernel numbers them (AF_INET, AF_INET6); the BPF side has
 * no <sys/socket.h>. */
#define CANARY_AF_INET		   2
#define CANARY_AF_INET6		   10

/* ---- enums ------------------------------------------------------------------------------ */
enum canary_arm {
	CANARY_ARM_STABLE = 0,
	CANARY_ARM_CANARY = 1,
	CANARY_ARMS = 2,
};

enum canary_hash_mode {
	CANARY_HASH_FLOW = 0,	/* 5-tuple: each connection decided on its own */
	CANARY_HASH_CLIENT = 1, /* masked source address: one client, one arm */
};

/* svc_config.flags */
#define CANARY_SVC_F_OVERRIDES (1U << 0) /* the service has client-group overrides */
#define CANARY_SVC_F_HTTP      (1U << 1) /* count HTTP status classes on replies */

/* backend_info.flags */
#define CANARY_BACKEND_F_DRAINING (1U << 0) /* removed from its arm; kept for replies */

enum canary_flow_state {
	CANARY_FLOW_UDP = 0,
	CANARY_FLOW_SYN_SENT,	 /* client SYN forwarded, no SYN-ACK yet */
	CANARY_FLOW_SYN_RECV,	 /* backend SYN-ACK seen, client ACK not yet */
	CANARY_FLOW_ESTABLISHED, /* handshake complete (or picked up mid-stream) */
	CANARY_FLOW_CLOSING,	 /* FIN seen in either direction */
	CANARY_FLOW_CLOSED,	 /* RST seen in either direction */
};

/* flow_state.flags */
#define CANARY_FLOW_F_MIDSTREAM	 (1U << 0) /* first packet seen was not a SYN: not exposure */
#define CANARY_FLOW_F_OVERRIDE	 (1U << 1) /* arm came from a client-group override */
#define CANARY_FLOW_F_FALLBACK	 (1U << 2) /* chosen arm was empty, other arm used */
#define CANARY_FLOW_F_HTTP	 (1U << 3) /* the service counts HTTP status lines */
#define CANARY_FLOW_F_PENDING	 (1U << 4) /* the entry is in `pending`, not yet verified */
/* The client completed the handshake, but its SYN-ACK came back through another node (an
 * asymmetric return path behind ECMP): established, never verified here, and the
 * reply-side signals of the flow are not this node's to measure (docs/FLEET.md). */
#define CANARY_FLOW_F_ONEWAY	 (1U << 5)

/* ---- keys and values ------------------------------------------------------------------- */

/* An IPv4 address sits in v4 (== v6[0]) with the other words zero. Network byte order. */
union canary_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* One side of a connection: address, port, L4 protocol (IPPROTO_TCP/UDP) and
 * family (AF_INET/AF_INET6). Used as the key of `services` and of `backends`. */
struct canary_endpoint {
	union canary_addr addr;
	__be16 port;
	__u8 proto;
	__u8 family;
};

/* Value of `services`: which slot of svc_configs/arm_stats belongs to this VIP. */
struct svc_info {
	__u32 id; /* 0 .. CANARY_MAX_SERVICES-1 */
	char name[CANARY_NAME_LEN];
};

/* A backend as the forward path needs it. csum_* are the ones'-complement deltas
 * (RFC 1624) that turn the VIP:port checksums into backend:port ones, computed
 * once in userspace so the fast path does one add per checksum. */
struct canary_backend {
	union canary_addr addr;
	__be16 port;
	__u16 csum_ip; /* the address alone: VIP -> backend (IPv4 header, ICMP quotes) */
	__u16 csum_l4; /* address and port: TCP/UDP checksums */
	__u16 pad;
};

/* The whole run-time state of one service, swapped in as one unit: userspace builds
 * a fresh single-entry inner map and replaces svc_configs[id] with one update, so a
 * packet sees either the old split or the new one, never a mix. */
struct svc_config {
	__u32 generation;    /* bumped by every change; shown by status */
	__u32 salt;	     /* per-service hash salt */
	__u16 canary_weight; /* basis points, 0..10000 */
	__u8 hash_mode;	     /* enum canary_hash_mode */
	__u8 flags;	     /* CANARY_SVC_F_* */
	__be32 client_mask_v4;	  /* source mask for CANARY_HASH_CLIENT */
	__be32 client_mask_v6[4];
	__u16 nbackends[CANARY_ARMS];
	struct canary_backend backends[CANARY_ARMS][CANARY_MAX_BACKENDS];
	/* Maglev slot tables: ring[arm][hash % RING_SIZE] = backend index. */
	__u8 ring[CANARY_ARMS][CANARY_RING_SIZE];
};

/* Value of `backends` (keyed by backend endpoint): lets the reply path restore the
 * VIP statelessly and attribute the reply to its arm. */
struct backend_info {
	struct canary_endpoint vip;
	__u16 csum_ip; /* deltas backend -> VIP (the forward deltas negated) */
	__u16 csum_l4;
	__u16 svc;
	__u8 arm;
	__u8 index; /* position in the arm's backend list */
	__u32 flags; /* CANARY_BACKEND_F_* */
	/* The interface that routes to this backend, resolved by userspace when the backend
	 * is applied: its replies are taken only when they arrive there, so a packet forged
	 * on the client side with a backend's source is passed untouched. 0: any. */
	__u32 ifindex;
};

/* Cached next hop (refreshed every NEXTHOP_TTL). */
struct canary_nexthop {
	__u32 ifindex; /* 0 = not resolved */
	__u8 dmac[6];
	__u8 smac[6];
};

/* One slot of the reply index: an open-addressing table (linear probing from
 * canary_backend_slot()) holding every entry of `backends`. The reply path reads it
 * instead of the `backends` hash map: an array read costs a fraction of a hash-map
 * lookup (docs/BENCHMARKS.md). Userspace rebuilds it whole and swaps it in with one
 * update of `backend_index`; `backends` stays the readable source of truth.
 * A flow names its backend by slot (flow_state.backend), so a backend keeps its slot
 * for as long as it is in `backends` (userspace places it where it was). An empty slot
 * has key.family == 0; CANARY_SLOT_TOMBSTONE marks a freed slot that a probe walks on
 * past. The data plane writes nh and nh_ns (the backend's next hop, resolved at most
 * once per NEXTHOP_TTL for all its flows); a fresh index starts them unresolved. */
#define CANARY_SLOT_TOMBSTONE 0xff
struct backend_slot {
	struct canary_endpoint key;
	struct backend_info info;
	__u16 csum_ip; /* forward deltas VIP -> backend (info has backend -> VIP) */
	__u16 csum_l4;
	struct canary_nexthop nh; /* towards the backend */
	__u64 nh_ns;		  /* when nh was resolved (coarse clock) */
};

/* One entry of client_hops (per CPU): the next hop towards a client, for replies. The
 * entry of a client is at canary_client_hop_slot(); another client may take it. */
struct client_hop {
	union canary_addr addr; /* the client (family 0: empty) */
	__u8 family;
	__u8 pad[3];
	struct canary_nexthop nh;
	__u64 nh_ns;
};

/* Key of `overrides` (LPM trie). IPv4 prefixes are stored v4-mapped (::ffff:a.b.c.d),
 * so prefixlen = 32 (service id) + 96 + v4 prefix, or 32 + v6 prefix. */
struct override_key {
	__u32 prefixlen;
	__be32 svc; /* service id, always matched in full */
	__u8 addr[16];
};

struct override_value {
	__u32 arm; /* enum canary_arm */
};

/* Key of `flows`: the client's view of a connection. svc comes first so that the
 * same bytes serve as the `services` lookup key. */
struct flow_key {
	struct canary_endpoint svc; /* VIP, service port, proto, family */
	union canary_addr client;
	__be16 client_port;
	__u16 pad;
};

/* Value of `flows` and `pending`: where the flow goes, its TCP state, and per-flow
 * health state, in 24 bytes (docs/BENCHMARKS.md, "Memory per flow"). A flow starts in
 * `pending` (a TCP handshake not yet completed by the client, a datagram not yet answered,
 * a flow picked up mid-stream and not yet answered by its backend) and moves to `flows`
 * once verified, so a flood of spoofed SYNs or ACKs can only evict other unverified
 * entries, never an established connection.
 * The backend's address, checksum deltas and next hop live in its reply-index slot; the
 * next hop towards the client in client_hops. err_flags is changed with atomic or; the
 * other three bytes of its word are plain stores of their own. */
struct flow_state {
	__u32 backend;	   /* slot of the backend in the reply index (backend_slot) */
	__u8 svc;	   /* service id (< CANARY_MAX_SERVICES) */
	__u8 arm;
	__u8 backend_idx;  /* position in the arm's list when placed (per-backend counters) */
	__u8 syn_count;	   /* SYNs forwarded for this handshake */
	union {
		__u32 err_flags; /* CANARY_ERR_* seen on this flow (atomic or) */
		struct {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			__u8 err_byte; /* the bits of CANARY_ERR_* */
			__u8 state;    /* enum canary_flow_state */
			__u8 flags;    /* CANARY_FLOW_F_* */
			__u8 http_state; /* enum canary_http_state */
#else
			__u8 http_state;
			__u8 flags;
			__u8 state;
			__u8 err_byte;
#endif
		};
	};
	__u8 http_pos;	   /* bytes of "HTTP/1.x NNN" matched so far */
	__u8 pad;
	__u16 http_code;   /* status digits gathered so far */
	__u32 seen;	   /* last packet, either way: coarse clock >> CANARY_STAMP_SHIFT */
	/* precise clock (bpf_ktime_get_ns() / 1000, low 32 bits): the first SYN until the
	 * SYN-ACK, then the start of the client request awaiting its first reply byte */
	__u32 mark_us;
};
_Static_assert(sizeof(struct flow_state) == 24, "flow_state is 24 bytes (see docs/BENCHMARKS.md)");

/* Request/response tracking per flow: a client payload after the backend answered (or
 * the first one) starts a request; the backend's first payload after it ends it (TTFB),
 * and on HTTP services its status line is parsed. */
enum canary_http_state {
	CANARY_HTTP_IDLE = 0, /* no request yet */
	CANARY_HTTP_REQUEST,  /* client sent payload, no reply byte yet */
	CANARY_HTTP_STATUS,   /* reply started, status line incomplete (split segment) */
	CANARY_HTTP_RESPONSE, /* reply under way; the next client payload is a new request */
};

/* flow_state.err_flags: which errors this flow saw (for "errored flows"). They sit in
 * err_byte, the word's least significant byte on either byte order (the struct above
 * lists the bytes in reverse on big-endian machines), so the bits need no shift. */
#define CANARY_ERR_SHIFT 0
#define CANARY_ERR_RESET      (1U << (CANARY_ERR_SHIFT + 0)) /* backend sent RST */
#define CANARY_ERR_SYN_RETX   (1U << (CANARY_ERR_SHIFT + 1)) /* SYN repeated before SYN-ACK */
#define CANARY_ERR_ICMP	      (1U << (CANARY_ERR_SHIFT + 2)) /* ICMP error quoting this flow */
#define CANARY_ERR_HTTP_5XX   (1U << (CANARY_ERR_SHIFT + 3)) /* backend answered 5xx */
#define CANARY_ERR_UNANSWERED (1U << (CANARY_ERR_SHIFT + 4)) /* left with its SYN unanswered */
#define CANARY_ERR_COUNTED    (1U << (CANARY_ERR_SHIFT + 7)) /* errored_flows counted */

/* Per-arm counters, in a per-CPU array. Slot CANARY_ARM_SLOT(svc, arm) is written by
 * the data plane; slot CANARY_SWEEP_SLOT(svc, arm) by the userspace flow sweeper
 * (the only writer that sees flows leave the table). Readers add both. "fwd" is
 * client -> backend, "rev" is backend -> client. */
#define CANARY_ARM_SLOT(svc, arm)   ((svc) * CANARY_ARMS + (arm))
#define CANARY_SWEEP_SLOT(svc, arm) (CANARY_MAX_SERVICES * CANARY_ARMS + CANARY_ARM_SLOT(svc, arm))
/* Slots of the arm_stats map: the data plane's, then the sweeper's. */
#define CANARY_ARM_STATS_SLOTS (2 * CANARY_MAX_SERVICES * CANARY_ARMS)
struct arm_stats {
	__u64 fwd_packets;
	__u64 fwd_bytes;
	__u64 rev_packets;
	__u64 rev_bytes;
	__u64 flows; /* new flows assigned to this arm (exposure: never mid-stream ones) */
	/* health signals */
	__u64 backend_resets;  /* RST segments sent by backends */
	__u64 reset_flows;     /* flows ended by a backend RST */
	__u64 syn_retransmits; /* SYNs repeated before any SYN-ACK */
	__u64 syn_retx_flows;  /* flows with at least one such repeated SYN */
	__u64 syn_unanswered;  /* flows that left the table with SYN unanswered (sweeper) */
	__u64 icmp_errors;     /* ICMP errors mapped to a flow of this arm */
	__u64 errored_flows;   /* flows that saw at least one error above or a 5xx */
	__u64 requests;	       /* request/response exchanges seen (TTFB samples) */
	__u64 http_responses;  /* status lines counted (HTTP services) */
	__u64 http_class[CANARY_HTTP_CLASSES]; /* [1..5] = 1xx..5xx, [0] = unparseable */
	__u64 ttfb_sum_us;
	__u64 ttfb_hist[CANARY_HIST_BUCKETS];
	__u64 handshake_count; /* SYN -> SYN-ACK samples */
	__u64 handshake_sum_us;
	__u64 handshake_hist[CANARY_HIST_BUCKETS];
	/* Flows picked up mid-stream (no handshake seen) are no exposure and their errors
	 * move no health signal: a client could otherwise make an arm look sick (or hide a
	 * sick one) with bare ACKs that its backend answers with RSTs. Counted apart. */
	__u64 midstream_flows;
	__u64 midstream_errors; /* such flows that saw a backend RST or another error */
};

/* Per-backend counters (per-CPU array). Slot CANARY_BACKEND_SLOT(svc, arm, index) is the
 * data plane's, CANARY_BACKEND_SWEEP_SLOT the sweeper's, as for arm_stats. */
#define CANARY_BACKEND_SLOT(svc, arm, idx)                                                      \
	(CANARY_ARM_SLOT(svc, arm) * CANARY_MAX_BACKENDS + (idx))
#define CANARY_BACKEND_SWEEP_SLOT(svc, arm, idx)                                                \
	(CANARY_MAX_SERVICES * CANARY_ARMS * CANARY_MAX_BACKENDS + CANARY_BACKEND_SLOT(svc, arm, idx))
/* Slots of the backend_stats map, in the same two halves. */
#define CANARY_BACKEND_STATS_SLOTS (2 * CANARY_MAX_SERVICES * CANARY_ARMS * CANARY_MAX_BACKENDS)
struct backend_stats {
	__u64 fwd_packets;
	__u64 fwd_bytes;
	__u64 flows;
	__u64 backend_resets;
	__u64 reset_flows;
	__u64 syn_retransmits;
	__u64 syn_retx_flows;
	__u64 syn_unanswered;
	__u64 icmp_errors;
	__u64 http_responses;
	__u64 http_5xx;
	__u64 errored_flows;
};

/* Global reason counters (per-CPU array with one entry). Each packet that is not
 * forwarded by the fast path lands in exactly one pass_* or drop_* field. */
struct reason_stats {
	__u64 pass_not_ip;	/* not IPv4/IPv6 (ARP, LLDP, ...) */
	__u64 pass_not_service; /* IP traffic to no service and from no backend */
	__u64 pass_vlan;	/* 802.1Q / 802.1ad tagged: not parsed */
	__u64 pass_fragment;	/* IPv4 or IPv6 fragment: ports unknown */
	__u64 pass_malformed;	/* truncated or inconsistent L2/L3/L4 header */
	__u64 pass_ipv6_ext;	/* IPv6 extension chain unsupported or too long */
	__u64 pass_no_neigh;	/* rewritten, next hop unresolved: kernel resolves */
	__u64 drop_no_backend;	/* service has no backend in either arm */
	__u64 drop_fib;		/* no route to the backend or the client */
	__u64 pass_wrong_iface;	/* from a backend's address, on an interface not facing it */
	__u64 fwd_redirect;	/* forwarded with XDP_REDIRECT */
	__u64 fwd_tx;		/* forwarded with XDP_TX (same interface) */
	__u64 flow_new;		/* flows created by a SYN or first UDP datagram */
	__u64 flow_midstream;	/* TCP non-SYN with no entry: decided afresh */
	__u64 flow_reused;	/* SYN on a closed/expired entry: decided afresh */
	__u64 flow_verified;	/* pending flows moved to the flow table (verified) */
	__u64 flow_insert_fail; /* flow table update failed */
	__u64 reply_no_flow;	/* reply with no flow entry: rewritten statelessly */
	__u64 override_hits;	/* new flows placed by a client-group override */
	__u64 arm_fallback;	/* chosen arm had no backend; the other was used */
	__u64 icmp_mapped;	/* ICMP errors matched to a flow and translated */
	__u64 icmp_unmatched;	/* ICMP errors that quote no known flow: passed */
};

/* Value of `ports` (a single entry), indexed by port in network byte order: which
 * ports have a service and which have a backend, so unrelated traffic is passed
 * after one array read instead of hash lookups. A set bit may be stale (it only
 * costs a lookup); a missing one would hide a service, so userspace sets bits first
 * and clears them last. */
#define CANARY_PORT_SERVICE (1U << 0)
#define CANARY_PORT_BACKEND (1U << 1)
struct port_kinds {
	__u8 kind[65536];
};

/* Value of `clock` (a single entry): a coarse monotonic clock advanced by a BPF timer
 * every CANARY_CLOCK_TICK_NS, read by the fast path for ageing and next-hop
 * refresh. now_ns is in the bpf_ktime_get_ns() timebase. */
struct canary_clock {
	struct bpf_timer timer;
	__u64 now_ns;
	__u32 armed;
	__u32 pad;
};

/* Value of `meta`: what the pinned maps were created with. */
struct canary_meta {
	__u32 abi_version;
	__u32 flow_capacity;
	__u32 syn_timeout_s;
	__u32 tcp_idle_s;
	__u32 tcp_closing_s;
	__u32 udp_idle_s;
	__u32 pending_capacity;
	__u32 pad;
};

/* ---- the maps ----------------------------------------------------------------------------
 * Every map of the data plane, once. X(name, kind, value, about):
 *   name   the map's identifier in the BPF program (bpf/maps.h), its field in userspace's
 *          struct canary_maps and its pin file name under the pin root: part of the ABI
 *          (`bpftool map dump pinned`, the upgrade from the ABI before), never renamed;
 *   kind   PLAIN, or OUTER for an array of maps whose inner maps hold the values;
 *   value  the value type (of the inner map for OUTER); userspace refuses a pinned PLAIN
 *          map whose value size differs (an OUTER map's values are inner map ids);
 *   about  one line on what it holds.
 * A new map is one line here and its body in bpf/maps.h, which checks that each map
 * listed here is defined there with this value type; tests/unit/test_maps.c checks that
 * the object holds no map that is not listed. */
/* clang-format off */
#define CANARY_MAPS(X)                                                                           \
	X(meta,          PLAIN, struct canary_meta,     "what the pins were made with")          \
	X(services,      PLAIN, struct svc_info,        "VIP endpoint -> service id, name")      \
	X(svc_configs,   OUTER, struct svc_config,      "service id -> inner array: svc_config") \
	X(backends,      PLAIN, struct backend_info,    "backend endpoint -> VIP, arm, deltas")  \
	X(backend_index, OUTER, struct backend_slot,    "[0] -> inner array: the reply index")   \
	X(overrides,     PLAIN, struct override_value,  "(service id, client prefix) -> arm")    \
	X(flows,         PLAIN, struct flow_state,      "verified flows (shared LRU)")           \
	X(pending,       PLAIN, struct flow_state,      "flows not yet verified (shared LRU)")   \
	X(arm_stats,     PLAIN, struct arm_stats,       "per-CPU counters of each arm slot")     \
	X(backend_stats, PLAIN, struct backend_stats,   "per-CPU counters of each backend slot") \
	X(reasons,       PLAIN, struct reason_stats,    "per-CPU counters of the fast path")     \
	X(ports,         PLAIN, struct port_kinds,      "service and backend bits of each port") \
	X(clock,         PLAIN, struct canary_clock,    "BPF timer and coarse clock")            \
	X(client_hops,   PLAIN, struct client_hop,      "per-CPU next hops towards clients")
/* clang-format on */

/* CANARY_MAP_ID_<name>: a map's position in the list (userspace's descriptor table). */
#define CANARY__MAP_ID(name, kind, value, about) CANARY_MAP_ID_##name,
/* clang-format off */
enum canary_map_id {
	CANARY_MAPS(CANARY__MAP_ID)
	CANARY_MAP_COUNT
};
/* clang-format on */
#undef CANARY__MAP_ID

#endif /* XDP_CANARY_H */
