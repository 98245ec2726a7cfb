// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Community ID v1 against the spec's own vectors (tests/ref/community_id.json,
 * made by tests/ref/extract.py from the spec's baseline files). */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "community_id.h"
#include "test.h"

/* tests/ref/community_id.json, found from the binary in .output/ */
static struct json_object *load_vectors(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(path, sizeof(path), "%s/../tests/ref/community_id.json", exe);
	return json_object_from_file(path);
}

static const char *str_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int int_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) : -1;
}

TEST(community_id_spec_vectors)
{
	struct json_object *root = load_vectors(), *vs;
	struct ts_cid *c = ts_cid_new();
	size_t n, v4 = 0, v6 = 0, hex = 0, seeded = 0;

	CHECKF(root, "tests/ref/community_id.json missing or not JSON (run tests/ref/extract.py)");
	CHECK(c);
	CHECK(json_object_object_get_ex(root, "vectors", &vs));
	n = json_object_array_length(vs);
	CHECKF(n >= 20, "only %zu vectors", n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vs, i);
		const char *sa = str_of(v, "saddr"), *da = str_of(v, "daddr");
		uint8_t s[16], d[16];
		char got[TS_COMMUNITY_ID_LEN];
		int fam = strchr(sa, ':') ? AF_INET6 : AF_INET;
		struct json_object *b;
		bool b64 = !json_object_object_get_ex(v, "base64", &b) || json_object_get_boolean(b);

		CHECK(inet_pton(fam, sa, s) == 1 && inet_pton(fam, da, d) == 1);
		CHECK(!ts_community_id(c, fam, s, d, (uint16_t)int_of(v, "sport"),
				       (uint16_t)int_of(v, "dport"), (uint8_t)int_of(v, "proto"),
				       (uint16_t)int_of(v, "seed"), b64, got, sizeof(got)));
		CHECKF(!strcmp(got, str_of(v, "id")), "vector %zu (%s %s:%d -> %s:%d proto %d): got "
		       "%s, want %s", i, b64 ? "base64" : "hex", sa, int_of(v, "sport"), da,
		       int_of(v, "dport"), int_of(v, "proto"), got, str_of(v, "id"));
		v4 += fam == AF_INET;
		v6 += fam == AF_INET6;
		hex += !b64;
		seeded += int_of(v, "seed") != 0;
	}
	/* the extract covers what the encoder meets */
	CHECK(v4 && v6 && hex && seeded);
	ts_cid_free(c);
	json_object_put(root);
}

/* Both directions of a flow get one id; a changed port gets another. */
TEST(community_id_direction_free)
{
	struct ts_cid *c = ts_cid_new();
	uint8_t a[4] = { 127, 0, 0, 1 }, b[4] = { 127, 0, 0, 1 };
	char x[TS_COMMUNITY_ID_LEN], y[TS_COMMUNITY_ID_LEN], z[TS_COMMUNITY_ID_LEN];

	CHECK(c);
	/* equal addresses: the ports decide the order */
	CHECK(!ts_community_id(c, AF_INET, a, b, 40000, 8080, 6, 0, true, x, sizeof(x)));
	CHECK(!ts_community_id(c, AF_INET, b, a, 8080, 40000, 6, 0, true, y, sizeof(y)));
	CHECK(!ts_community_id(c, AF_INET, a, b, 40001, 8080, 6, 0, true, z, sizeof(z)));
	CHECK_STR(x, y);
	CHECK(strcmp(x, z));
	CHECK(strlen(x) == 30 && !strncmp(x, "1:", 2) && x[29] == '=');
	/* no room, bad family */
	CHECK(ts_community_id(c, AF_INET, a, b, 1, 2, 6, 0, true, x, 20) == -1);
	CHECK(ts_community_id(c, 99, a, b, 1, 2, 6, 0, true, x, sizeof(x)) == -1);
	ts_cid_free(c);
}
