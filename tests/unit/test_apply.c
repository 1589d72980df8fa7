/* test_apply.c: making the maps match a services file. Idempotence, dry runs, prune,
 * backends kept (draining) while flows still use them, refusals that leave the maps
 * untouched, the port filter and the reply index following every change. Runs the
 * real program so that the data plane's view is checked too; each case starts from an
 * instance of its own, so that it can run alone and no case leans on another's leftovers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpfix.h"

static struct instance in;
/* web on 10.0.0.10:80 (two stable backends, one canary), api on 10.0.0.11:443. */
static struct service_spec s[2];

static int apply(struct service_spec *s, unsigned int n, bool prune, bool dry,
		 struct apply_summary *sum)
{
	struct apply_opts o = {.prune = prune, .dry_run = dry};

	return apply_specs_opts(&in, s, n, &o, sum);
}

static bool backend_present(const char *ep, int proto, struct backend_info *out)
{
	struct canary_endpoint k = {};
	uint16_t port;

	k.family = endpoint_parse(ep, &k.addr, &port);
	k.port = htons(port);
	k.proto = proto;
	return bpf_map_lookup_elem(in.maps.backends, &k, out) == 0;
}

static uint8_t port_kind(int port)
{
	struct port_kinds pk;
	__u32 zero = 0;

	bpf_map_lookup_elem(in.maps.ports, &zero, &pk);
	return pk.kind[htons(port)];
}

/* A SYN from the client through the program; returns the verdict. */
static __u32 syn(const char *vip, int vport, int cport)
{
	return send_tcp(&in, true, "10.0.1.2", cport, vip, vport, TH_SYN, NULL);
}

/* A reply from a backend; returns the verdict. */
static __u32 reply_from(const char *be, int bport, int cport)
{
	return send_tcp(&in, false, be, bport, "10.0.1.2", cport, TH_ACK, NULL);
}

/* A client port whose new flow to vip:vport the data plane sends to backend idx of arm,
 * by the shared decision over its maps; 0 when none of 200 does. */
static int port_to(const char *vip, int vport, int arm, int idx)
{
	struct canary_decision d;
	int port;

	for (port = 30001; port < 30200; port++) {
		struct flow_key k = flow_key_of("10.0.1.2", port, vip, vport, IPPROTO_TCP);

		if (dp_decide(&in, &k, NULL, &d) == 0 && d.arm == arm && d.backend_idx == idx)
			return port;
	}
	return 0;
}

/* A new instance, with web and api applied when `applied`. */
static bool fresh(bool applied)
{
	struct apply_summary sum;

	if (in.skel)
		xdp_canary_bpf__destroy(in.skel);
	if (!ASSERT_EQ(instance_load(&in, 0, 0), 0, "load xdp_canary"))
		return false;
	return !applied || ASSERT_EQ(apply(s, 2, false, false, &sum), 0, "web and api applied");
}

static bool setup(void)
{
	canary_quiet_libs();
	spec_init(&s[0], "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 1000);
	spec_backend(&s[0], 0, "10.0.2.2:8080");
	spec_backend(&s[0], 0, "10.0.2.3:8080");
	spec_backend(&s[0], 1, "10.0.3.2:8080");
	spec_init(&s[1], "api", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:9443");
	return ASSERT_EQ(setup_netns(), 0, "private netns");
}

static void teardown(void)
{
	if (in.skel)
		xdp_canary_bpf__destroy(in.skel);
}

static void dry_run(void)
{
	struct apply_summary sum;
	struct service_state st;

	if (!fresh(false))
		return;
	ASSERT_EQ(apply(s, 2, false, true, &sum), 0, "dry run");
	ASSERT_EQ(sum.created, 2, "reports 2 to create");
	ASSERT_TRUE(service_find(&in.maps, "web", &st) != 0, "web does not exist");
	ASSERT_EQ(port_kind(80), 0, "no port bit set");
}

static void create_then_unchanged(void)
{
	struct apply_summary sum;
	struct backend_info bi;
	struct service_state st;
	uint32_t gen;

	if (!fresh(false))
		return;
	ASSERT_EQ(apply(s, 2, false, false, &sum), 0, "apply");
	ASSERT_EQ(sum.created, 2, "2 created");
	service_find(&in.maps, "web", &st);
	gen = st.cfg.generation;
	ASSERT_EQ(apply(s, 2, false, false, &sum), 0, "apply again");
	ASSERT_EQ(sum.unchanged, 2, "2 unchanged");
	service_find(&in.maps, "web", &st);
	ASSERT_EQ(st.cfg.generation, gen, "no new generation");
	ASSERT_EQ(port_kind(80), CANARY_PORT_SERVICE, "port 80: service");
	ASSERT_EQ(port_kind(8080), CANARY_PORT_BACKEND, "port 8080: backend");
	ASSERT_TRUE(backend_present("10.0.2.3:8080", IPPROTO_TCP, &bi), "reply entry for 10.0.2.3");
	ASSERT_EQ(syn("10.0.0.10", 80, 30000), XDP_REDIRECT, "traffic flows");
}

static void removed_backend_drains(void)
{
	struct service_spec t[2];
	struct apply_summary sum;
	struct backend_info bi;
	struct flow_state f;
	int port, pinned;

	if (!fresh(true))
		return;
	/* Pin a flow to 10.0.2.3 (stable[1]): a client port the decision sends there. */
	pinned = port_to("10.0.0.10", 80, CANARY_ARM_STABLE, 1);
	syn("10.0.0.10", 80, pinned);
	if (!ASSERT_TRUE(pinned && flow_get(&in, "10.0.1.2", pinned, "10.0.0.10", 80,
					    IPPROTO_TCP, &f) &&
				 flow_backend_is(&in, &f, "10.0.2.3", 8080),
			 "a flow pinned to 10.0.2.3"))
		return;
	memcpy(t, s, sizeof(s));
	t[0].nbackends[0] = 1; /* drop 10.0.2.3 */
	ASSERT_EQ(apply(t, 2, false, false, &sum), 0, "apply without it");
	ASSERT_EQ(sum.draining, 1, "reported as draining");
	ASSERT_TRUE(backend_present("10.0.2.3:8080", IPPROTO_TCP, &bi) &&
			    (bi.flags & CANARY_BACKEND_F_DRAINING),
		    "its reply entry stays, marked draining");
	ASSERT_EQ(reply_from("10.0.2.3", 8080, pinned), XDP_REDIRECT,
		  "the pinned flow's replies are still rewritten");
	ASSERT_EQ(send_tcp(&in, true, "10.0.1.2", pinned, "10.0.0.10", 80, TH_ACK, NULL),
		  XDP_REDIRECT, "the pinned flow's packets are still forwarded");
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", pinned, "10.0.0.10", 80, IPPROTO_TCP, &f) &&
			    flow_backend_is(&in, &f, "10.0.2.3", 8080),
		    "to 10.0.2.3, by its reply-index slot");
	/* Once no flow uses it, the next apply drops it. */
	for (port = 30000; port < 30200; port++) {
		struct flow_key k = flow_key_of("10.0.1.2", port, "10.0.0.10", 80, IPPROTO_TCP);

		bpf_map_delete_elem(in.maps.flows, &k);
		bpf_map_delete_elem(in.maps.pending, &k);
	}
	ASSERT_EQ(apply(t, 2, false, false, &sum), 0, "apply again");
	ASSERT_EQ(sum.drained, 1, "drained");
	ASSERT_TRUE(!backend_present("10.0.2.3:8080", IPPROTO_TCP, &bi), "entry gone");
	ASSERT_EQ(reply_from("10.0.2.3", 8080, pinned), XDP_PASS,
		  "its packets are no longer replies");
}

/* Two backend endpoints whose reply-index chains start at the same slot: two ports of
 * 10.0.2.2 (the test net has its neighbour), found by the birthday paradox. */
static bool colliding_backends(char a[64], char b[64])
{
	static __u16 seen[CANARY_BACKEND_SLOTS];
	struct canary_endpoint k = {.proto = IPPROTO_TCP, .family = CANARY_AF_INET};
	__u32 h, port;

	memset(seen, 0, sizeof(seen));
	k.addr.v4 = htonl(0x0a000202);
	for (port = 2000; port < 65536; port++) {
		k.port = htons(port);
		h = canary_backend_slot(&k);
		if (seen[h]) {
			snprintf(a, 64, "10.0.2.2:%u", seen[h]);
			snprintf(b, 64, "10.0.2.2:%u", port);
			return true;
		}
		seen[h] = port;
	}
	return false;
}

static int slot_of(const struct backend_slot *slots, const char *ep)
{
	struct canary_endpoint k = {.proto = IPPROTO_TCP};
	uint16_t port;

	k.family = endpoint_parse(ep, &k.addr, &port);
	k.port = htons(port);
	return backend_index_find(slots, &k);
}

/* Flows name their backend by reply-index slot: every rebuild keeps a backend where it
 * was, and a freed slot on another backend's chain stays a tombstone (the data plane's
 * probe walks past it) until a new backend takes it. */
static void index_slots_stay(void)
{
	static struct backend_slot slots[CANARY_BACKEND_SLOTS];
	struct service_spec t;
	struct apply_summary sum;
	struct flow_state f;
	char ep[2][64], addr[64];
	int pos[2], first, second, port;

	if (!fresh(false) || !ASSERT_TRUE(colliding_backends(ep[0], ep[1]), "two colliding backends"))
		return;
	spec_init(&t, "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&t, 0, ep[0]);
	spec_backend(&t, 0, ep[1]);
	ASSERT_EQ(apply(&t, 1, false, false, &sum), 0, "apply both");
	ASSERT_EQ(backend_index_read(&in.maps, slots), 0, "read the index");
	pos[0] = slot_of(slots, ep[0]);
	pos[1] = slot_of(slots, ep[1]);
	first = pos[0] < pos[1] ? 0 : 1; /* the one at the chain's head */
	second = !first;
	if (!ASSERT_TRUE(pos[0] >= 0 && pos[1] >= 0 &&
				 ((pos[first] + 1) & (CANARY_BACKEND_SLOTS - 1)) == pos[second],
			 "one at the chain's head, the other next to it"))
		return;

	TEST_STEP("the head's backend removed (no flow uses it)");
	spec_init(&t, "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&t, 0, ep[second]);
	ASSERT_EQ(apply(&t, 1, false, false, &sum), 0, "apply without it");
	ASSERT_EQ(sum.drained, 1, "its entry dropped");
	backend_index_read(&in.maps, slots);
	ASSERT_EQ(slots[pos[first]].key.family, CANARY_SLOT_TOMBSTONE, "its slot is a tombstone");
	ASSERT_EQ(slot_of(slots, ep[second]), pos[second], "the other kept its slot");
	snprintf(addr, sizeof(addr), "%s", ep[second]);
	*strrchr(addr, ':') = 0;
	port = atoi(strrchr(ep[second], ':') + 1);
	ASSERT_EQ(syn("10.0.0.10", 80, 31000), XDP_REDIRECT, "a new flow is forwarded");
	ASSERT_TRUE(flow_get(&in, "10.0.1.2", 31000, "10.0.0.10", 80, IPPROTO_TCP, &f) &&
			    flow_backend_is(&in, &f, addr, port),
		    "to the other backend, by its slot");
	ASSERT_EQ(reply_from(addr, port, 31000), XDP_REDIRECT,
		  "its replies are found past the tombstone");

	TEST_STEP("a new backend takes the tombstone");
	spec_backend(&t, 0, ep[first]);
	ASSERT_EQ(apply(&t, 1, false, false, &sum), 0, "apply with it again");
	backend_index_read(&in.maps, slots);
	ASSERT_EQ(slot_of(slots, ep[first]), pos[first], "it takes the freed slot");
	ASSERT_EQ(slot_of(slots, ep[second]), pos[second], "the other still in its own");
}

static void foreign_backend_refused(void)
{
	struct service_spec other;
	struct apply_summary sum;
	struct backend_info bi;
	struct service_state st;
	char before[64], after[64];
	struct reason_stats r;

	if (!fresh(true))
		return;
	spec_init(&other, "other", "10.0.0.12", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&other, 0, "10.0.2.2:9443"); /* api's backend; api not in the file */
	reasons_read(&in.maps, &r);
	snprintf(before, sizeof(before), "%d", service_find(&in.maps, "other", &st));
	ASSERT_EQ(apply(&other, 1, false, false, &sum), -EINVAL, "refused");
	snprintf(after, sizeof(after), "%d", service_find(&in.maps, "other", &st));
	ASSERT_TRUE(!strcmp(before, after), "'other' was not created");
	ASSERT_TRUE(backend_present("10.0.2.2:9443", IPPROTO_TCP, &bi), "api keeps it");
	service_find(&in.maps, "api", &st);
	ASSERT_EQ(bi.svc, st.info.id, "still api's");
}

static void taken_vip_refused(void)
{
	struct service_spec dup;
	struct apply_summary sum;
	struct service_state st;

	if (!fresh(true))
		return;
	spec_init(&dup, "dup", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&dup, 0, "10.0.2.2:9999");
	ASSERT_EQ(apply(&dup, 1, false, false, &sum), -EINVAL, "refused");
	ASSERT_TRUE(service_find(&in.maps, "dup", &st) != 0, "not created");
}

static void prune_takes_over_vip(void)
{
	struct service_spec u[2];
	struct apply_summary sum;
	struct backend_info bi;
	struct service_state st;

	if (!fresh(true))
		return;
	memcpy(&u[0], &s[0], sizeof(s[0]));
	spec_init(&u[1], "api2", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&u[1], 0, "10.0.2.2:9443");
	ASSERT_EQ(apply(u, 2, true, false, &sum), 0, "apply with --prune");
	ASSERT_EQ(sum.removed, 1, "api removed");
	ASSERT_EQ(service_find(&in.maps, "api2", &st), 0, "api2 exists");
	ASSERT_EQ(syn("10.0.0.11", 443, 31500), XDP_REDIRECT, "and serves the VIP");
	ASSERT_TRUE(backend_present("10.0.2.2:9443", IPPROTO_TCP, &bi) && bi.svc == st.info.id,
		    "the backend is api2's now");
	ASSERT_EQ(apply(s, 2, true, false, &sum), 0, "restore web and api");
}

static void kept_unless_prune(void)
{
	struct apply_summary sum;
	struct service_state st;

	if (!fresh(true))
		return;
	ASSERT_EQ(apply(&s[0], 1, false, false, &sum), 0, "apply web only");
	ASSERT_EQ(sum.kept, 1, "api kept");
	ASSERT_EQ(service_find(&in.maps, "api", &st), 0, "api still there");
	ASSERT_EQ(apply(&s[0], 1, true, false, &sum), 0, "apply web only, --prune");
	ASSERT_EQ(sum.removed, 1, "api removed");
	ASSERT_TRUE(service_find(&in.maps, "api", &st) != 0, "api gone");
	ASSERT_EQ(port_kind(443), 0, "its port bit is cleared");
	ASSERT_EQ(syn("10.0.0.11", 443, 31000), XDP_PASS, "its VIP passes untouched");
}

static void changed_vip(void)
{
	struct service_spec t[2];
	struct apply_summary sum;

	if (!fresh(true))
		return;
	memcpy(t, s, sizeof(s));
	addr_parse("10.0.0.20", &t[0].vip);
	ASSERT_EQ(apply(t, 1, false, false, &sum), 0, "apply with the new VIP");
	ASSERT_EQ(sum.changed, 1, "changed");
	ASSERT_EQ(syn("10.0.0.20", 80, 31001), XDP_REDIRECT, "the new VIP is served");
	ASSERT_EQ(syn("10.0.0.10", 80, 31002), XDP_PASS, "the old one no longer");
}

static void trade_places(void)
{
	struct service_spec u[2];
	struct apply_summary sum;
	struct service_state a, b;

	if (!fresh(true))
		return;
	/* web2 takes web's 10.0.0.10:80, web moves to 10.0.0.21; web2 first, so that it
	 * writes the key before web moves off it. */
	spec_init(&u[0], "web2", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&u[0], 0, "10.0.2.2:7070");
	memcpy(&u[1], &s[0], sizeof(s[0]));
	addr_parse("10.0.0.21", &u[1].vip);
	ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "apply");
	ASSERT_EQ(service_find(&in.maps, "web2", &a), 0, "web2 is listed");
	ASSERT_EQ(service_find(&in.maps, "web", &b), 0, "web is listed");
	ASSERT_EQ(syn("10.0.0.10", 80, 32000), XDP_REDIRECT, "the VIP web2 took is served");
	ASSERT_EQ(syn("10.0.0.21", 80, 32001), XDP_REDIRECT, "web's new VIP is served");
	ASSERT_EQ(apply(&u[1], 1, true, false, &sum), 0, "back to web alone");
}

static void id_not_reused(void)
{
	struct service_spec u[2];
	struct apply_summary sum;
	struct service_state gone, fresh_;

	if (!fresh(true))
		return;
	spec_init(&u[0], "old", "10.0.0.30", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&u[0], 0, "10.0.2.2:6060");
	memcpy(&u[1], &s[0], sizeof(s[0]));
	ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "create old");
	service_find(&in.maps, "old", &gone);
	ASSERT_EQ(syn("10.0.0.30", 80, 33000), XDP_REDIRECT, "a flow of old");
	ASSERT_EQ(apply(&u[1], 1, true, false, &sum), 0, "prune old");
	spec_init(&u[0], "new", "10.0.0.31", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&u[0], 0, "10.0.2.2:6061");
	ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "create new");
	service_find(&in.maps, "new", &fresh_);
	ASSERT_TRUE(fresh_.info.id != gone.info.id, "new did not take old's id");
	ASSERT_EQ(apply(&u[1], 1, true, false, &sum), 0, "prune new");
}

static void protocol_change(void)
{
	struct service_spec t[2];
	struct apply_summary sum;
	struct backend_info bi;

	if (!fresh(true))
		return;
	memcpy(&t[0], &s[0], sizeof(s[0]));
	spec_init(&t[1], "proto", "10.0.0.40", 53, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&t[1], 0, "10.0.2.2:5300");
	ASSERT_EQ(apply(t, 2, true, false, &sum), 0, "tcp");
	ASSERT_TRUE(backend_present("10.0.2.2:5300", IPPROTO_TCP, &bi), "tcp entry");
	t[1].proto = IPPROTO_UDP;
	ASSERT_EQ(apply(t, 2, true, false, &sum), 0, "now udp");
	ASSERT_TRUE(backend_present("10.0.2.2:5300", IPPROTO_UDP, &bi), "udp entry");
	ASSERT_TRUE(!backend_present("10.0.2.2:5300", IPPROTO_TCP, &bi),
		    "the tcp entry is gone (no flows used it)");
	ASSERT_EQ(apply(&t[0], 1, true, false, &sum), 0, "back to web alone");
}

static void backend_counters_restart(void)
{
	struct service_spec t;
	struct apply_summary sum;
	struct backend_stats b;
	struct service_state st;
	int port;

	if (!fresh(true))
		return;
	port = port_to("10.0.0.10", 80, CANARY_ARM_STABLE, 0);
	ASSERT_EQ(syn("10.0.0.10", 80, port), XDP_REDIRECT, "a flow to stable[0]");
	service_find(&in.maps, "web", &st);
	backend_stats_read(&in.maps, st.info.id, 0, 0, &b);
	ASSERT_TRUE(b.flows > 0, "stable[0] has counted flows");
	memcpy(&t, &s[0], sizeof(s[0]));
	t.nbackends[0] = 1;
	t.backends[0][0].port = 8088; /* another backend at position 0 */
	ASSERT_EQ(apply(&t, 1, false, false, &sum), 0, "apply");
	backend_stats_read(&in.maps, st.info.id, 0, 0, &b);
	ASSERT_EQ(b.flows, 0, "stable[0] starts from zero");
	ASSERT_EQ(apply(&s[0], 1, false, false, &sum), 0, "back");
}

static void one_generation(void)
{
	struct service_spec t;
	struct apply_summary sum;
	struct service_state st;
	uint32_t gen;

	if (!fresh(true))
		return;
	service_find(&in.maps, "web", &st);
	gen = st.cfg.generation;
	memcpy(&t, &s[0], sizeof(s[0]));
	t.weight_bp = 5000;
	t.salt_set = true;
	t.salt = 7;
	ASSERT_EQ(apply(&t, 1, false, false, &sum), 0, "apply");
	service_find(&in.maps, "web", &st);
	ASSERT_EQ(st.cfg.generation, gen + 1, "one new generation");
	ASSERT_EQ(st.cfg.canary_weight, 5000, "weight");
	ASSERT_EQ(st.cfg.salt, 7, "salt");
}

static const struct test_case cases[] = {
	{"dry run changes nothing", dry_run},
	{"create, then apply again: unchanged", create_then_unchanged},
	{"a removed backend drains while a flow uses it", removed_backend_drains},
	{"backends keep their reply-index slots; a freed one is a tombstone", index_slots_stay},
	{"a backend of a service the file does not name is refused", foreign_backend_refused},
	{"a VIP another service uses is refused", taken_vip_refused},
	{"--prune lets a new service take over a removed one's VIP", prune_takes_over_vip},
	{"services not in the file stay unless --prune", kept_unless_prune},
	{"a changed VIP moves the service key in one apply", changed_vip},
	{"two services trade places in one apply (no --prune)", trade_places},
	{"a removed service's id is not reused while its flows live", id_not_reused},
	{"changing a service's protocol retires its old backend entries", protocol_change},
	{"per-backend counters start again where a position names a new backend",
	 backend_counters_restart},
	{"a service's weight, salt and rings change as one generation", one_generation},
};

TEST_MAIN_SETUP(cases, setup, teardown)
