/* test_maglev.c: the Maglev slot tables: balance, and how few slots move when a
 * backend is added or removed. */
#include <arpa/inet.h>
#include <string.h>

#include "testlib.h"
#include "base/util.h"
#include "logic/maglev.h"

static uint8_t ring_a[CANARY_RING_SIZE], ring_b[CANARY_RING_SIZE];

static void make_backends(struct canary_backend *b, unsigned int n, unsigned int base)
{
	unsigned int i;
	char s[32];

	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "10.0.%u.%u", (base + i) / 200, (base + i) % 200 + 1);
		addr_parse(s, &b[i].addr);
		b[i].port = htons(8080);
	}
}

static unsigned int moved(const uint8_t *a, const uint8_t *b, const struct canary_backend *ba,
			  const struct canary_backend *bb)
{
	unsigned int i, n = 0;

	/* Compare the backend each slot names, not the index (indexes shift). */
	for (i = 0; i < CANARY_RING_SIZE; i++)
		if (memcmp(&ba[a[i]].addr, &bb[b[i]].addr, sizeof(ba[0].addr)))
			n++;
	return n;
}

static void empty_arm(void)
{
	struct canary_backend b[CANARY_MAX_BACKENDS] = {};
	unsigned int i, n;

	maglev_fill(b, 0, ring_a);
	for (i = 0, n = 0; i < CANARY_RING_SIZE; i++)
		n += ring_a[i] == CANARY_NO_BACKEND;
	ASSERT_EQ(n, CANARY_RING_SIZE, "every slot names no backend");
}

static void one_backend(void)
{
	struct canary_backend b[1];
	unsigned int i, n;

	make_backends(b, 1, 0);
	maglev_fill(b, 1, ring_a);
	for (i = 0, n = 0; i < CANARY_RING_SIZE; i++)
		n += ring_a[i] == 0;
	ASSERT_EQ(n, CANARY_RING_SIZE, "every slot names backend 0");
}

static void balance(void)
{
	struct canary_backend b[CANARY_MAX_BACKENDS];
	unsigned int counts[CANARY_MAX_BACKENDS], i, nb, lo, hi;
	static char step[64];

	for (nb = 2; nb <= CANARY_MAX_BACKENDS; nb *= 2) {
		snprintf(step, sizeof(step), "%u backends", nb);
		TEST_STEP(step);
		make_backends(b, nb, 0);
		maglev_fill(b, nb, ring_a);
		memset(counts, 0, sizeof(counts));
		for (i = 0; i < CANARY_RING_SIZE; i++)
			if (ring_a[i] < nb)
				counts[ring_a[i]]++;
		lo = CANARY_RING_SIZE;
		hi = 0;
		for (i = 0; i < nb; i++) {
			lo = counts[i] < lo ? counts[i] : lo;
			hi = counts[i] > hi ? counts[i] : hi;
		}
		ASSERT_TRUE(lo >= CANARY_RING_SIZE / nb - 1 && hi <= CANARY_RING_SIZE / nb + 1,
			    "every backend holds M/n slots, +-1");
	}
	TEST_STEP(NULL);
}

static void remove_one_of_10(void)
{
	struct canary_backend b[CANARY_MAX_BACKENDS] = {}, c[CANARY_MAX_BACKENDS] = {};
	unsigned int n;

	make_backends(b, 10, 0);
	maglev_fill(b, 10, ring_a);
	memcpy(c, b, sizeof(b));
	memmove(&c[3], &c[4], 6 * sizeof(c[0])); /* drop backend 3 */
	maglev_fill(c, 9, ring_b);
	n = moved(ring_a, ring_b, b, c);
	printf("# %u of %u slots moved (the removed backend held %u)\n", n, CANARY_RING_SIZE,
	       CANARY_RING_SIZE / 10);
	ASSERT_TRUE(n >= CANARY_RING_SIZE / 10 - 1, "at least the removed backend's slots moved");
	ASSERT_TRUE(n <= CANARY_RING_SIZE * 15 / 100, "at most 15% of slots moved (ideal: 10%)");
}

static void add_an_11th(void)
{
	struct canary_backend b[CANARY_MAX_BACKENDS] = {}, c[CANARY_MAX_BACKENDS] = {};
	unsigned int n;

	make_backends(b, 10, 0);
	maglev_fill(b, 10, ring_a);
	make_backends(c, 11, 0);
	maglev_fill(c, 11, ring_b);
	n = moved(ring_a, ring_b, b, c);
	printf("# %u of %u slots moved (the new backend takes %u)\n", n, CANARY_RING_SIZE,
	       CANARY_RING_SIZE / 11);
	ASSERT_TRUE(n <= CANARY_RING_SIZE * 14 / 100, "at most 14% of slots moved (ideal: 9%)");
}

static void order_does_not_matter(void)
{
	struct canary_backend b[CANARY_MAX_BACKENDS] = {}, c[CANARY_MAX_BACKENDS] = {};
	unsigned int i, n;

	make_backends(b, 5, 0);
	maglev_fill(b, 5, ring_a);
	for (i = 0; i < 5; i++)
		c[i] = b[4 - i];
	maglev_fill(c, 5, ring_b);
	n = moved(ring_a, ring_b, b, c);
	ASSERT_TRUE(n <= CANARY_RING_SIZE * 5 / 100, "a reversed list moves at most 5% of slots");
}

static const struct test_case cases[] = {
	{"empty arm", empty_arm},
	{"one backend", one_backend},
	{"balance", balance},
	{"removing one of 10 backends", remove_one_of_10},
	{"adding an 11th backend", add_an_11th},
	{"order of the list does not matter for the slot owners", order_does_not_matter},
};

TEST_MAIN(cases)
