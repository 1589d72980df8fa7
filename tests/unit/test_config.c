/* test_config.c: the services file parser. A good file loads with every field right;
 * each bad file is refused with "FILE:LINE: field: problem" for the right line and field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "testlib.h"
#include "base/util.h"
#include "logic/config.h"

static char path[64];
static char errbuf[8192];

/* Write yaml to a temp file, load it with stderr captured into errbuf. */
static int load(const char *yaml, struct canary_config *cfg)
{
	int fd, saved, rc;
	FILE *f;
	char errpath[] = "/tmp/canary-test-err-XXXXXX";
	ssize_t n;

	snprintf(path, sizeof(path), "/tmp/canary-test-cfg-XXXXXX");
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs(yaml, f);
	fclose(f);

	fd = mkstemp(errpath);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rc = config_load(path, cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, errbuf, sizeof(errbuf) - 1);
	errbuf[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(errpath);
	unlink(path);
	return rc;
}

static const char *good = "services:\n"
			  "  - name: web\n"
			  "    vip: 10.0.0.10\n"
			  "    port: 80\n"
			  "    protocol: tcp\n"
			  "    hash: client\n"
			  "    client_prefix_v4: 24\n"
			  "    canary_weight: 10.25\n"
			  "    stable: [\"10.0.2.2:8080\", \"10.0.2.3:8080\"]\n"
			  "    canary: [\"10.0.3.2:8080\"]\n"
			  "    overrides:\n"
			  "      - { prefix: 10.0.1.200/25, arm: canary }\n"
			  "  - name: dns6\n"
			  "    vip: \"fd00::10\"\n"
			  "    port: 53\n"
			  "    protocol: udp\n"
			  "    hash: flow\n"
			  "    salt: 42\n"
			  "    http: false\n"
			  "    stable: [\"[fd00:2::2]:5353\"]\n"
			  "    canary: []\n";

/* A services file that must be refused, with a message naming FILE:LINE and the field,
 * saying what is wrong, and that nothing was changed. */
struct refusal {
	const char *name, *yaml;
	int line;	   /* FILE:LINE the message must name */
	const char *field; /* and the field */
	const char *what;  /* and what it must say */
};

static const struct refusal refusals[] = {
	{"yaml syntax error", "services:\n  - name: web\n    vip: [10.0.0.1\n", 4, "",
	 "YAML syntax error"},
	{"weight with three decimals",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    canary_weight: 10.125\n    stable: [\"10.0.2.2:80\"]\n    canary: [\"10.0.3.2:80\"]\n",
	 5, "services[0].canary_weight", "more than two decimals"},
	{"weight above 100",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    canary_weight: 101\n    stable: [\"10.0.2.2:80\"]\n    canary: [\"10.0.3.2:80\"]\n",
	 5, "services[0].canary_weight", "is above 100"},
	{"misspelt field",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    canary_wieght: 10\n    stable: [\"10.0.2.2:80\"]\n",
	 5, "services[0]", "did you mean 'canary_weight'"},
	{"bad vip",
	 "services:\n  - name: web\n    vip: 10.0.0.300\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n",
	 3, "services[0].vip", "not an IPv4 or IPv6 address"},
	{"port out of range",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 70000\n    stable: [\"10.0.2.2:80\"]\n",
	 4, "services[0].port", "'70000' must be a whole number from 1 to 65535"},
	{"missing port",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    stable: [\"10.0.2.2:80\"]\n", 2,
	 "services[0].port", "missing"},
	{"bad protocol",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    protocol: sctp\n"
	 "    stable: [\"10.0.2.2:80\"]\n",
	 5, "services[0].protocol", "must be tcp or udp"},
	{"bad name",
	 "services:\n  - name: Web!\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n",
	 2, "services[0].name", "a-z, 0-9"},
	{"backend not address:port",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    stable:\n      - \"10.0.2.2\"\n",
	 6, "services[0].stable[0]", "is not \"address:port\""},
	{"backend family differs from vip",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    stable: [\"[fd00::2]:80\"]\n",
	 5, "services[0].stable[0]", "the VIP is IPv4"},
	{"canary weight without canary backends",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    canary_weight: 5\n"
	 "    stable: [\"10.0.2.2:80\"]\n",
	 5, "services[0].canary_weight", "canary has no backends"},
	{"backend in both arms",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n"
	 "    stable: [\"10.0.2.2:80\"]\n    canary: [\"10.0.2.2:80\"]\n",
	 6, "services[0]", "is listed twice"},
	{"two services with one name",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n"
	 "  - name: web\n    vip: 10.0.0.11\n    port: 80\n    stable: [\"10.0.2.3:80\"]\n",
	 6, "services[1].name", "already used by services[0]"},
	{"two services on one vip and port",
	 "services:\n  - name: a\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n"
	 "  - name: b\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.3:80\"]\n",
	 7, "services[1].vip", "the same as services[0]"},
	{"backend shared by two services",
	 "services:\n  - name: a\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n"
	 "  - name: b\n    vip: 10.0.0.11\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n",
	 9, "services[1]", "already a backend of service 'a'"},
	{"backend is a vip",
	 "services:\n  - name: a\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.0.10:80\"]\n",
	 5, "services[0]", "traffic would loop"},
	{"override with a bad arm",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n"
	 "    canary: [\"10.0.3.2:80\"]\n    overrides:\n      - { prefix: 10.0.1.0/24, arm: blue }\n",
	 8, "services[0].overrides[0].arm", "must be stable or canary"},
	{"override to an empty arm",
	 "services:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    stable: [\"10.0.2.2:80\"]\n"
	 "    overrides:\n      - { prefix: 10.0.1.0/24, arm: canary }\n",
	 7, "services[0]", "which has no backends"},
	{"services is not a list", "services:\n  name: web\n", 2, "services",
	 "must be a list"},
	{"top-level typo", "service:\n  - name: web\n", 1, "(top level)",
	 "did you mean 'services'"},

};

static void refuse(const struct refusal *r)
{
	struct canary_config cfg;
	char loc[128];

	ASSERT_TRUE(load(r->yaml, &cfg) != 0, "refused");
	snprintf(loc, sizeof(loc), "%s:%d: %s", path, r->line, r->field);
	if (!ASSERT_TRUE(strstr(errbuf, loc) != NULL, "message names file:line: field") ||
	    !ASSERT_TRUE(strstr(errbuf, r->what) != NULL, "message says what is wrong"))
		printf("#   wanted '%s' ... '%s'; got:\n#   %s", loc, r->what, errbuf);
	ASSERT_TRUE(strstr(errbuf, "nothing was changed") != NULL, "says nothing was changed");
}

TEST_FIXTURE_TABLE(refused_files, refusal_name, refusals, name, refuse)

static void good_file(void)
{
	struct canary_config cfg;
	struct service_spec *s;
	char buf[64];

	if (ASSERT_EQ(load(good, &cfg), 0, "loads") && ASSERT_EQ(cfg.nservices, 2, "2 services")) {
		s = &cfg.services[0];
		ASSERT_TRUE(!strcmp(s->name, "web"), "name");
		ASSERT_EQ(s->family, CANARY_AF_INET, "IPv4 VIP");
		ASSERT_EQ(s->port, 80, "port");
		ASSERT_EQ(s->proto, IPPROTO_TCP, "tcp");
		ASSERT_EQ(s->hash_mode, CANARY_HASH_CLIENT, "client hash");
		ASSERT_EQ(s->prefix_v4, 24, "client_prefix_v4");
		ASSERT_EQ(s->prefix_v6, 64, "client_prefix_v6 default /64");
		ASSERT_EQ(s->weight_bp, 1025, "10.25% = 1025 basis points");
		ASSERT_EQ(s->nbackends[0], 2, "2 stable backends");
		ASSERT_EQ(s->nbackends[1], 1, "1 canary backend");
		ASSERT_EQ(s->backends[0][1].port, 8080, "backend port");
		ASSERT_EQ(s->backends[0][1].line, 9, "backend line recorded");
		ASSERT_EQ(s->noverrides, 1, "1 override");
		ASSERT_TRUE(!strcmp(addr_str(CANARY_AF_INET, &s->overrides[0].addr, buf, sizeof(buf)),
				    "10.0.1.128"),
			    "override prefix masked to 10.0.1.128/25");
		ASSERT_EQ(s->overrides[0].arm, CANARY_ARM_CANARY, "override arm");
		s = &cfg.services[1];
		ASSERT_EQ(s->family, CANARY_AF_INET6, "IPv6 VIP");
		ASSERT_EQ(s->proto, IPPROTO_UDP, "udp");
		ASSERT_EQ(s->hash_mode, CANARY_HASH_FLOW, "flow hash");
		ASSERT_TRUE(s->salt_set && s->salt == 42, "salt");
		ASSERT_EQ(s->nbackends[1], 0, "empty canary list");
		ASSERT_EQ(s->weight_bp, 0, "weight defaults to 0");
		config_free(&cfg);
	}
}

static void every_problem(void)
{
	struct canary_config cfg;

	ASSERT_TRUE(load("services:\n  - name: web\n    vip: nope\n    port: 0\n"
			 "    stable: [\"10.0.2.2:80\"]\n",
			 &cfg) != 0,
		    "refused");
	ASSERT_TRUE(strstr(errbuf, ":3: services[0].vip") && strstr(errbuf, ":4: services[0].port") &&
			    strstr(errbuf, "2 problems"),
		    "both the vip and the port are reported, with a count");
}

static const struct test_case cases[] = {
	{"good file", good_file},
	{"refused files", refused_files, refusal_name},
	{"every problem is reported, not just the first", every_problem},
};

TEST_MAIN(cases)
