/* salts.c: each service's secret hash salt, kept beside the state (see salts.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "logic/salts.h"
#include "base/jsonv.h"
#include "base/util.h"

void salts_default_path(const char *pin_root, char *out, size_t len)
{
	char name[256];
	size_t i;

	snprintf(name, sizeof(name), "%s", pin_root);
	for (i = 0; name[i]; i++)
		if (name[i] == '/')
			name[i] = '_';
	snprintf(out, len, "%s/salts%s.json", CANARY_SALT_DIR, name);
}

int salts_load(const char *path, struct salt_table *t, char *why, size_t len)
{
	struct json_object *j, *list;
	struct jv v = {};
	char *text;
	size_t n, i;
	int err;

	memset(t, 0, sizeof(*t));
	err = file_read_all(path, 1 << 20, &text, &n);
	if (err == -ENOENT)
		return 0;
	if (err) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(-err));
		return err;
	}
	j = jv_parse(&v, text, n);
	free(text);
	list = j ? jv_array(&v, j, "salts", NULL, 0, SALTS_MAX, false) : NULL;
	for (i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name;
		char f[32];
		int64_t salt;

		snprintf(f, sizeof(f), "salts[%zu]", i);
		if (!jv_str(&v, e, "service", f, CANARY_NAME_LEN - 1, false, &name) ||
		    !jv_int(&v, e, "salt", f, 0, UINT32_MAX, false, &salt))
			break;
		if (!service_name_valid(name)) {
			jv_fail(&v, f, "'%s' is not a service name", name);
			break;
		}
		salts_set(t, name, (uint32_t)salt);
	}
	json_object_put(j);
	if (v.failed) {
		snprintf(why, len, "%s is not a valid salts file (%s); fix it, or remove it to draw "
				   "new salts (clients of services not in the maps may change arms)",
			 path, v.err);
		memset(t, 0, sizeof(*t));
		return -EINVAL;
	}
	return 0;
}

int salts_save(const char *path, const struct salt_table *t)
{
	struct json_object *j = json_object_new_object(), *list = json_object_new_array();
	char dir[4096], *slash;
	unsigned int i;
	const char *text;
	int err;

	for (i = 0; i < t->n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "service", json_object_new_string(t->e[i].name));
		json_object_object_add(e, "salt", json_object_new_int64(t->e[i].salt));
		json_object_array_add(list, e);
	}
	json_object_object_add(j, "salts", list);
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (slash && mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		json_object_put(j);
		return err;
	}
	err = write_atomic(slash ? dir : ".", slash ? slash + 1 : path, text, strlen(text));
	json_object_put(j);
	return err;
}

bool salts_get(const struct salt_table *t, const char *name, uint32_t *salt)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name)) {
			*salt = t->e[i].salt;
			return true;
		}
	return false;
}

bool salts_set(struct salt_table *t, const char *name, uint32_t salt)
{
	unsigned int i;

	for (i = 0; i < t->n && strcmp(t->e[i].name, name); i++)
		;
	if (i == SALTS_MAX)
		return false;
	if (i == t->n) {
		snprintf(t->e[i].name, sizeof(t->e[i].name), "%s", name);
		t->n++;
	}
	t->e[i].salt = salt;
	return true;
}

uint32_t salt_random(void)
{
	uint32_t s = 0;

	/* getrandom() of 4 bytes does not fail short once the pool is ready; the loop
	 * covers EINTR. */
	while (getrandom(&s, sizeof(s), 0) != sizeof(s))
		;
	return s;
}
