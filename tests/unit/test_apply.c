/* test_apply.c: making the maps match a services file. Idempotence, dry runs, prune,
 * backends kept (draining) while flows still use them, refusals that leave the maps
 * untouched, the port filter and the reply index following every change. Runs the
 * real program (a private instance) so that the data plane's view is checked too. */
#include <stdio.h>
#include <string.h>

#include "dpfix.h"

static struct instance in;

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

int main(void)
{
	struct service_spec s[3], t[3];
	struct apply_summary sum;
	struct backend_info bi;
	struct service_state st;
	uint32_t gen;

	canary_quiet_libs();
	TEST_CASE("setup");
	if (!ASSERT_EQ(setup_netns(), 0, "private netns") ||
	    !ASSERT_EQ(instance_load(&in, 0, 0), 0, "load xdp_canary"))
		return test_summary();

	spec_init(&s[0], "web", "10.0.0.10", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 1000);
	spec_backend(&s[0], 0, "10.0.2.2:8080");
	spec_backend(&s[0], 0, "10.0.2.3:8080");
	spec_backend(&s[0], 1, "10.0.3.2:8080");
	spec_init(&s[1], "api", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&s[1], 0, "10.0.2.2:9443");

	TEST_CASE("dry run changes nothing");
	ASSERT_EQ(apply(s, 2, false, true, &sum), 0, "dry run");
	ASSERT_EQ(sum.created, 2, "reports 2 to create");
	ASSERT_TRUE(service_find(&in.maps, "web", &st) != 0, "web does not exist");
	ASSERT_EQ(port_kind(80), 0, "no port bit set");

	TEST_CASE("create, then apply again: unchanged");
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

	TEST_CASE("a removed backend drains while a flow uses it");
	/* Pin a flow to 10.0.2.3 by picking client ports until one lands there. */
	{
		struct flow_state f;
		int port, pinned = 0;

		for (port = 30001; port < 30200 && !pinned; port++) {
			syn("10.0.0.10", 80, port);
			if (flow_get(&in, "10.0.1.2", port, "10.0.0.10", 80, IPPROTO_TCP, &f) &&
			    f.backend.v4 == htonl(0x0a000203))
				pinned = port;
		}
		if (!ASSERT_TRUE(pinned, "a flow pinned to 10.0.2.3"))
			return test_summary();
		memcpy(t, s, sizeof(s));
		t[0].nbackends[0] = 1; /* drop 10.0.2.3 */
		ASSERT_EQ(apply(t, 2, false, false, &sum), 0, "apply without it");
		ASSERT_EQ(sum.draining, 1, "reported as draining");
		ASSERT_TRUE(backend_present("10.0.2.3:8080", IPPROTO_TCP, &bi) &&
				    (bi.flags & CANARY_BACKEND_F_DRAINING),
			    "its reply entry stays, marked draining");
		ASSERT_EQ(reply_from("10.0.2.3", 8080, pinned), XDP_REDIRECT,
			  "the pinned flow's replies are still rewritten");
		/* Once no flow uses it, the next apply drops it. */
		{
			struct flow_key k = {};

			k.svc.family = CANARY_AF_INET;
			addr_parse("10.0.0.10", &k.svc.addr);
			k.svc.port = htons(80);
			k.svc.proto = IPPROTO_TCP;
			addr_parse("10.0.1.2", &k.client);
			for (port = 30000; port < 30200; port++) {
				k.client_port = htons(port);
				bpf_map_delete_elem(in.maps.flows, &k);
				bpf_map_delete_elem(in.maps.pending, &k);
			}
		}
		ASSERT_EQ(apply(t, 2, false, false, &sum), 0, "apply again");
		ASSERT_EQ(sum.drained, 1, "drained");
		ASSERT_TRUE(!backend_present("10.0.2.3:8080", IPPROTO_TCP, &bi), "entry gone");
		ASSERT_EQ(reply_from("10.0.2.3", 8080, pinned), XDP_PASS,
			  "its packets are no longer replies");
	}

	TEST_CASE("a backend of a service the file does not name is refused");
	spec_init(&t[2], "other", "10.0.0.12", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&t[2], 0, "10.0.2.2:9443"); /* api's backend; api not in the file */
	{
		char before[64], after[64];
		struct reason_stats r;

		reasons_read(&in.maps, &r);
		snprintf(before, sizeof(before), "%d", service_find(&in.maps, "other", &st));
		ASSERT_EQ(apply(&t[2], 1, false, false, &sum), -EINVAL, "refused");
		snprintf(after, sizeof(after), "%d", service_find(&in.maps, "other", &st));
		ASSERT_TRUE(!strcmp(before, after), "'other' was not created");
		ASSERT_TRUE(backend_present("10.0.2.2:9443", IPPROTO_TCP, &bi), "api keeps it");
		service_find(&in.maps, "api", &st);
		ASSERT_EQ(bi.svc, st.info.id, "still api's");
	}

	TEST_CASE("a VIP another service uses is refused");
	spec_init(&t[2], "dup", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
	spec_backend(&t[2], 0, "10.0.2.2:9999");
	ASSERT_EQ(apply(&t[2], 1, false, false, &sum), -EINVAL, "refused");
	ASSERT_TRUE(service_find(&in.maps, "dup", &st) != 0, "not created");

	TEST_CASE("--prune lets a new service take over a removed one's VIP");
	{
		struct service_spec u[2];

		memcpy(&u[0], &s[0], sizeof(s[0]));
		spec_init(&u[1], "api2", "10.0.0.11", 443, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
		spec_backend(&u[1], 0, "10.0.2.2:9443");
		ASSERT_EQ(apply(u, 2, true, false, &sum), 0, "apply with --prune");
		ASSERT_EQ(sum.removed, 1, "api removed");
		ASSERT_EQ(service_find(&in.maps, "api2", &st), 0, "api2 exists");
		ASSERT_EQ(syn("10.0.0.11", 443, 31500), XDP_REDIRECT, "and serves the VIP");
		ASSERT_TRUE(backend_present("10.0.2.2:9443", IPPROTO_TCP, &bi) && bi.svc == st.info.id,
			    "the backend is api2's now");
		/* Back to the original two services for the next cases. */
		ASSERT_EQ(apply(s, 2, true, false, &sum), 0, "restore web and api");
	}

	TEST_CASE("services not in the file stay unless --prune");
	ASSERT_EQ(apply(&s[0], 1, false, false, &sum), 0, "apply web only");
	ASSERT_EQ(sum.kept, 1, "api kept");
	ASSERT_EQ(service_find(&in.maps, "api", &st), 0, "api still there");
	ASSERT_EQ(apply(&s[0], 1, true, false, &sum), 0, "apply web only, --prune");
	ASSERT_EQ(sum.removed, 1, "api removed");
	ASSERT_TRUE(service_find(&in.maps, "api", &st) != 0, "api gone");
	ASSERT_EQ(port_kind(443), 0, "its port bit is cleared");
	ASSERT_EQ(syn("10.0.0.11", 443, 31000), XDP_PASS, "its VIP passes untouched");

	TEST_CASE("a changed VIP moves the service key in one apply");
	memcpy(t, s, sizeof(s));
	addr_parse("10.0.0.20", &t[0].vip);
	ASSERT_EQ(apply(t, 1, false, false, &sum), 0, "apply with the new VIP");
	ASSERT_EQ(sum.changed, 1, "changed");
	ASSERT_EQ(syn("10.0.0.20", 80, 31001), XDP_REDIRECT, "the new VIP is served");
	ASSERT_EQ(syn("10.0.0.10", 80, 31002), XDP_PASS, "the old one no longer");

	TEST_CASE("two services trade places in one apply (no --prune)");
	{
		struct service_spec u[2];
		struct service_state a, b;

		/* web is on 10.0.0.20:80 now; web2 takes it, web moves to 10.0.0.21. */
		memcpy(&u[0], &t[0], sizeof(t[0]));
		addr_parse("10.0.0.21", &u[0].vip);
		spec_init(&u[1], "web2", "10.0.0.20", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
		spec_backend(&u[1], 0, "10.0.2.2:7070");
		/* web2 first, so it writes the key before web moves off it. */
		memcpy(&t[2], &u[0], sizeof(u[0]));
		memcpy(&u[0], &u[1], sizeof(u[1]));
		memcpy(&u[1], &t[2], sizeof(t[2]));
		ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "apply");
		ASSERT_EQ(service_find(&in.maps, "web2", &a), 0, "web2 is listed");
		ASSERT_EQ(service_find(&in.maps, "web", &b), 0, "web is listed");
		ASSERT_EQ(syn("10.0.0.20", 80, 32000), XDP_REDIRECT, "the VIP web2 took is served");
		ASSERT_EQ(syn("10.0.0.21", 80, 32001), XDP_REDIRECT, "web's new VIP is served");
		memcpy(&t[0], &u[1], sizeof(u[1]));
		ASSERT_EQ(apply(t, 1, true, false, &sum), 0, "back to web alone");
	}

	TEST_CASE("a removed service's id is not reused while its flows live");
	{
		struct service_spec u[2];
		struct service_state gone, fresh;

		spec_init(&u[0], "old", "10.0.0.30", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
		spec_backend(&u[0], 0, "10.0.2.2:6060");
		memcpy(&u[1], &t[0], sizeof(t[0]));
		ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "create old");
		service_find(&in.maps, "old", &gone);
		ASSERT_EQ(syn("10.0.0.30", 80, 33000), XDP_REDIRECT, "a flow of old");
		ASSERT_EQ(apply(&u[1], 1, true, false, &sum), 0, "prune old");
		spec_init(&u[0], "new", "10.0.0.31", 80, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
		spec_backend(&u[0], 0, "10.0.2.2:6061");
		ASSERT_EQ(apply(u, 2, false, false, &sum), 0, "create new");
		service_find(&in.maps, "new", &fresh);
		ASSERT_TRUE(fresh.info.id != gone.info.id, "new did not take old's id");
		ASSERT_EQ(apply(&u[1], 1, true, false, &sum), 0, "prune new");
	}

	TEST_CASE("changing a service's protocol retires its old backend entries");
	{
		struct service_spec u;

		spec_init(&u, "proto", "10.0.0.40", 53, IPPROTO_TCP, CANARY_HASH_FLOW, 0);
		spec_backend(&u, 0, "10.0.2.2:5300");
		memcpy(&t[2], &u, sizeof(u));
		memcpy(&t[1], &t[0], sizeof(t[0]));
		ASSERT_EQ(apply(&t[1], 2, true, false, &sum), 0, "tcp");
		ASSERT_TRUE(backend_present("10.0.2.2:5300", IPPROTO_TCP, &bi), "tcp entry");
		t[2].proto = IPPROTO_UDP;
		ASSERT_EQ(apply(&t[1], 2, true, false, &sum), 0, "now udp");
		ASSERT_TRUE(backend_present("10.0.2.2:5300", IPPROTO_UDP, &bi), "udp entry");
		ASSERT_TRUE(!backend_present("10.0.2.2:5300", IPPROTO_TCP, &bi),
			    "the tcp entry is gone (no flows used it)");
		ASSERT_EQ(apply(&t[0], 1, true, false, &sum), 0, "back to web alone");
	}

	TEST_CASE("per-backend counters start again where a position names a new backend");
	{
		struct backend_stats b;

		/* The service's salt is random: send flows until one lands on stable[0]. */
		service_find(&in.maps, "web", &st);
		memset(&b, 0, sizeof(b));
		for (int port = 34000; port < 34064 && b.flows == 0; port++) {
			syn("10.0.0.20", 80, port);
			backend_stats_read(&in.maps, st.info.id, 0, 0, &b);
		}
		ASSERT_TRUE(b.flows > 0, "stable[0] has counted flows");
		memcpy(&t[1], &t[0], sizeof(t[0]));
		t[1].nbackends[0] = 1;
		t[1].backends[0][0].port = 8088; /* another backend at position 0 */
		ASSERT_EQ(apply(&t[1], 1, false, false, &sum), 0, "apply");
		backend_stats_read(&in.maps, st.info.id, 0, 0, &b);
		ASSERT_EQ(b.flows, 0, "stable[0] starts from zero");
		ASSERT_EQ(apply(&t[0], 1, false, false, &sum), 0, "back");
	}

	TEST_CASE("a service's weight, salt and rings change as one generation");
	service_find(&in.maps, "web", &st);
	gen = st.cfg.generation;
	t[0].weight_bp = 5000;
	t[0].salt_set = true;
	t[0].salt = 7;
	ASSERT_EQ(apply(t, 1, false, false, &sum), 0, "apply");
	service_find(&in.maps, "web", &st);
	ASSERT_EQ(st.cfg.generation, gen + 1, "one new generation");
	ASSERT_EQ(st.cfg.canary_weight, 5000, "weight");
	ASSERT_EQ(st.cfg.salt, 7, "salt");
	return test_summary();
}
