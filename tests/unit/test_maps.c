/* test_maps.c: the maps are listed once (CANARY_MAPS in xdp_canary.h). bpf/maps.h checks
 * at compile time that every listed map is defined with its value type; this checks the
 * other way round, on the object itself, that it defines no map the list lacks, and that
 * userspace's descriptor table and struct canary_maps follow the list. Opens the object
 * without loading it: no root needed. */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "testlib.h"
#include "maps/pins.h"
#include "xdp_canary.skel.h"

/* The list as the test reads it: name, whether it is an array of maps, value size. */
struct listed {
	const char *name;
	bool outer;
	size_t value_size;
};
#define LISTED(map, kind, type, about) {#map, CANARY_MAP_KIND_##kind, sizeof(type)},
#define CANARY_MAP_KIND_PLAIN	       false
#define CANARY_MAP_KIND_OUTER	       true
static const struct listed listed[] = {CANARY_MAPS(LISTED)};
#undef LISTED

static const struct listed *listed_find(const struct listed *l, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	return NULL;
}

/* The object's own maps (not .rodata, .bss) that are not among the first n listed;
 * their names go into out, comma-separated. Returns how many. */
static int unlisted(struct bpf_object *obj, unsigned int n, char *out, size_t len)
{
	struct bpf_map *map;
	int count = 0;

	out[0] = 0;
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map) || listed_find(listed, n, bpf_map__name(map)))
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%s", count ? "," : "",
			 bpf_map__name(map));
		count++;
	}
	return count;
}

static struct xdp_canary_bpf *skel;

static void object_against_list(void)
{
	struct bpf_map *map;
	unsigned int i, own = 0;
	char names[512];

	ASSERT_EQ(unlisted(skel->obj, CANARY_MAP_COUNT, names, sizeof(names)), 0,
		  "every map of the object is in CANARY_MAPS");
	if (names[0])
		printf("# not in CANARY_MAPS: %s\n", names);
	bpf_object__for_each_map(map, skel->obj)
	{
		own += !bpf_map__is_internal(map);
	}
	ASSERT_EQ(own, CANARY_MAP_COUNT, "the object has as many maps as the list");
	for (i = 0; i < CANARY_MAP_COUNT; i++) {
		const struct listed *l = &listed[i];
		struct bpf_map *inner;

		map = bpf_object__find_map_by_name(skel->obj, l->name);
		if (!TL_REPORT(map, "%s: in the object", l->name))
			continue;
		if (!l->outer) {
			ASSERT_EQ(bpf_map__value_size(map), l->value_size, l->name);
			continue;
		}
		inner = bpf_map__inner_map(map);
		TL_REPORT(bpf_map__type(map) == BPF_MAP_TYPE_ARRAY_OF_MAPS && inner &&
			      bpf_map__value_size(inner) == l->value_size,
			  "%s: an array of maps whose inner value has the listed size", l->name);
	}
	/* The skeleton names its maps as the list does. */
#define SKEL_MAP(map, kind, type, about)                                                           \
	TL_REPORT(skel->maps.map == bpf_object__find_map_by_name(skel->obj, #map),                 \
		  "skeleton member %s", #map);
	CANARY_MAPS(SKEL_MAP)
#undef SKEL_MAP
}

/* With the last listed map left out of the list, the check names it. */
static void control(void)
{
	char names[512];

	ASSERT_EQ(unlisted(skel->obj, CANARY_MAP_COUNT - 1, names, sizeof(names)), 1,
		  "a map missing from the list is found");
	ASSERT_TRUE(!strcmp(names, listed[CANARY_MAP_COUNT - 1].name),
		    "and named (the last listed)");
}

static void userspace_descriptors(void)
{
	struct canary_maps m;
	unsigned int i, j;

	ASSERT_EQ(canary_map_count, CANARY_MAP_COUNT, "one descriptor per listed map");
	for (i = 0; i < canary_map_count; i++) {
		const struct canary_map_desc *d = &canary_map_descs[i];

		TL_REPORT(!strcmp(d->name, listed[i].name) &&
			      d->value_size == (listed[i].outer ? 0 : listed[i].value_size) &&
			      d->about && d->about[0],
			  "descriptor %u is %s, with its value size and a description", i,
			  listed[i].name);
		for (j = 0; j < i; j++)
			if (canary_map_descs[j].offset == d->offset)
				break;
		TL_REPORT(j == i && d->offset + sizeof(int) <= sizeof(m),
			  "%s: a field of its own in struct canary_maps", d->name);
	}
	ASSERT_TRUE(canary_map_fd(&m, &canary_map_descs[CANARY_MAP_ID_pending]) == &m.pending,
		    "CANARY_MAP_ID_pending's descriptor points at canary_maps.pending");
	ASSERT_TRUE(!strcmp(CANARY_MAP_NAME(meta), "meta"), "CANARY_MAP_NAME(meta) is \"meta\"");
}

static bool setup(void)
{
	libbpf_set_print(NULL);
	skel = xdp_canary_bpf__open();
	return ASSERT_TRUE(skel, "the object opens");
}

static void teardown(void)
{
	xdp_canary_bpf__destroy(skel);
}

static const struct test_case cases[] = {
	{"object against the list", object_against_list},
	{"control", control},
	{"userspace descriptors", userspace_descriptors},
};

TEST_MAIN_SETUP(cases, setup, teardown)
