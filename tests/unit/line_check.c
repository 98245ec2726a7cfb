// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Line checker for the encoder tests: syntax with json-c in strict mode,
 * UTF-8 and control bytes with our own code, and the contract with a
 * small JSON Schema evaluator that reads schemas/event.schema.json itself
 * (so the tests follow the schema instead of a copy of it). The evaluator
 * knows only the keywords that file uses and fails on any other, so a new
 * keyword in the schema cannot be silently ignored here.
 */
#include "line_check.h"

#include <json-c/json.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

bool utf8_valid(const void *s, size_t n)
{
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	const unsigned char *p = s;

	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;	/* a continuation byte or 0xf8.. */
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* decode first, then judge the value: overlongs, surrogates, range */
		if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

size_t utf8_count(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t cps = 0;

	for (size_t i = 0; i < n; i++)
		cps += (p[i] & 0xc0) != 0x80;
	return cps;
}

const char *lc_get_string(struct json_object *obj, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* ---- the schema ---- */

static struct json_object *schema;

static struct json_object *load_schema(char *why, size_t cap)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	const char *env = getenv("TS_SCHEMA");
	ssize_t n;

	if (schema)
		return schema;
	/* the binary lives in .output/: find the schema from there, so the
	 * tests do not depend on the current directory */
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			char *slash;

			exe[n] = 0;
			slash = strrchr(exe, '/');
			if (slash)
				*slash = 0;
			snprintf(path, sizeof(path), "%s/../schemas/event.schema.json", exe);
		} else {
			snprintf(path, sizeof(path), "schemas/event.schema.json");
		}
	}
	schema = json_object_from_file(path);
	/* a cut message is still a message */
	if (!schema && snprintf(why, cap, "cannot load the schema %s: %s", path,
				json_util_get_last_err()) >= (int)cap)
		why[cap - 1] = 0;
	return schema;
}

struct vctx {
	int quiet;		/* inside oneOf/if: failures are expected */
	char why[512];
};

static bool vfail(struct vctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool vfail(struct vctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->quiet || c->why[0])
		return false;
	n = snprintf(c->why, sizeof(c->why), "schema: %s: ", *path ? path : "(line)");
	if (n < 0 || (size_t)n >= sizeof(c->why))
		return false;
	va_start(ap, fmt);
	vsnprintf(c->why + n, sizeof(c->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static struct json_object *resolve(struct json_object *ref)
{
	const char *r = json_object_get_string(ref);

	if (strncmp(r, "#/$defs/", 8))
		return NULL;
	return get(get(schema, "$defs"), r + 8);
}

/* -1, 0, 1 for two json-c integers, which may be int64 or uint64 */
static int int_cmp(struct json_object *a, struct json_object *b)
{
	int64_t ia = json_object_get_int64(a), ib = json_object_get_int64(b);

	if (ia < 0 || ib < 0)
		return ia < ib ? -1 : ia > ib;
	uint64_t ua = json_object_get_uint64(a), ub = json_object_get_uint64(b);

	return ua < ub ? -1 : ua > ub;
}

static bool type_is(struct json_object *inst, const char *t)
{
	if (!strcmp(t, "object"))
		return json_object_is_type(inst, json_type_object);
	if (!strcmp(t, "string"))
		return json_object_is_type(inst, json_type_string);
	if (!strcmp(t, "integer"))
		return json_object_is_type(inst, json_type_int);
	if (!strcmp(t, "boolean"))
		return json_object_is_type(inst, json_type_boolean);
	return false;
}

static bool validate(struct vctx *c, struct json_object *inst, struct json_object *s,
		     const char *path);

static bool v_pattern(struct vctx *c, struct json_object *inst, const char *pat,
		      const char *path)
{
	regex_t re;
	bool ok;

	if (!json_object_is_type(inst, json_type_string))
		return true;	/* pattern applies to strings only */
	if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB))
		return vfail(c, path, "pattern %s does not compile as POSIX ERE", pat);
	ok = !regexec(&re, json_object_get_string(inst), 0, NULL, 0);
	regfree(&re);
	return ok ? true : vfail(c, path, "'%s' does not match %s", json_object_get_string(inst), pat);
}

static bool v_object(struct vctx *c, struct json_object *inst, const char *kw,
		     struct json_object *arg, const char *path)
{
	char sub[256];

	if (!json_object_is_type(inst, json_type_object))
		return true;
	if (!strcmp(kw, "required")) {
		for (size_t i = 0; i < json_object_array_length(arg); i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(arg, i));

			if (!get(inst, k))
				return vfail(c, path, "required key \"%s\" is missing", k);
		}
		return true;
	}
	if (!strcmp(kw, "properties")) {
		json_object_object_foreach(arg, name, sch) {
			struct json_object *v = get(inst, name);

			snprintf(sub, sizeof(sub), "%s/%s", path, name);
			if (v && !validate(c, v, sch, sub))
				return false;
		}
		return true;
	}
	if (!strcmp(kw, "dependentRequired")) {
		json_object_object_foreach(arg, name, deps) {
			if (!get(inst, name))
				continue;
			for (size_t i = 0; i < json_object_array_length(deps); i++) {
				const char *k = json_object_get_string(json_object_array_get_idx(deps, i));

				if (!get(inst, k))
					return vfail(c, path, "\"%s\" present without \"%s\"", name, k);
			}
		}
		return true;
	}
	/* propertyNames */
	json_object_object_foreach(inst, key, val) {
		struct json_object *ks = json_object_new_string(key);
		bool ok;

		(void)val;
		snprintf(sub, sizeof(sub), "%s/%s", path, key);
		ok = validate(c, ks, arg, sub);
		json_object_put(ks);
		if (!ok)
			return vfail(c, path, "key \"%s\" is not allowed for this type", key);
	}
	return true;
}

static bool validate(struct vctx *c, struct json_object *inst, struct json_object *s,
		     const char *path)
{
	json_object_object_foreach(s, kw, arg) {
		bool ok = true;

		if (!strcmp(kw, "$schema") || !strcmp(kw, "$id") || !strcmp(kw, "title") ||
		    !strcmp(kw, "description") || !strcmp(kw, "$defs") || !strcmp(kw, "then") ||
		    !strcmp(kw, "else")) {
			continue;	/* annotations; then/else go with "if" */
		} else if (!strcmp(kw, "$ref")) {
			struct json_object *target = resolve(arg);

			if (!target)
				return vfail(c, path, "unresolvable $ref %s", json_object_get_string(arg));
			ok = validate(c, inst, target, path);
		} else if (!strcmp(kw, "allOf")) {
			for (size_t i = 0; ok && i < json_object_array_length(arg); i++)
				ok = validate(c, inst, json_object_array_get_idx(arg, i), path);
		} else if (!strcmp(kw, "oneOf")) {
			size_t matched = 0;

			c->quiet++;
			for (size_t i = 0; i < json_object_array_length(arg); i++)
				matched += validate(c, inst, json_object_array_get_idx(arg, i), path);
			c->quiet--;
			if (matched != 1)
				ok = vfail(c, path, "matches %zu branches of oneOf, want 1", matched);
		} else if (!strcmp(kw, "if")) {
			struct json_object *branch;
			bool cond;

			c->quiet++;
			cond = validate(c, inst, arg, path);
			c->quiet--;
			branch = get(s, cond ? "then" : "else");
			if (branch)
				ok = validate(c, inst, branch, path);
		} else if (!strcmp(kw, "type")) {
			if (!type_is(inst, json_object_get_string(arg)))
				ok = vfail(c, path, "%s is not of type %s",
					   json_object_to_json_string(inst), json_object_get_string(arg));
		} else if (!strcmp(kw, "const")) {
			if (!json_object_equal(inst, arg))
				ok = vfail(c, path, "%s is not %s", json_object_to_json_string(inst),
					   json_object_to_json_string(arg));
		} else if (!strcmp(kw, "enum")) {
			bool any = false;

			for (size_t i = 0; !any && i < json_object_array_length(arg); i++)
				any = json_object_equal(inst, json_object_array_get_idx(arg, i));
			if (!any)
				ok = vfail(c, path, "%s is not in the enum",
					   json_object_to_json_string(inst));
		} else if (!strcmp(kw, "pattern")) {
			ok = v_pattern(c, inst, json_object_get_string(arg), path);
		} else if (!strcmp(kw, "minimum") || !strcmp(kw, "maximum")) {
			if (json_object_is_type(inst, json_type_int)) {
				int r = int_cmp(inst, arg);

				if (kw[1] == 'i' ? r < 0 : r > 0)
					ok = vfail(c, path, "%s is beyond %s %s",
						   json_object_to_json_string(inst), kw,
						   json_object_to_json_string(arg));
			}
		} else if (!strcmp(kw, "minLength") || !strcmp(kw, "maxLength")) {
			if (json_object_is_type(inst, json_type_string)) {
				size_t n = utf8_count(json_object_get_string(inst),
						      (size_t)json_object_get_string_len(inst));
				size_t lim = (size_t)json_object_get_int64(arg);

				if (kw[1] == 'i' ? n < lim : n > lim)
					ok = vfail(c, path, "length %zu is beyond %s %zu", n, kw, lim);
			}
		} else if (!strcmp(kw, "required") || !strcmp(kw, "properties") ||
			   !strcmp(kw, "dependentRequired") || !strcmp(kw, "propertyNames")) {
			ok = v_object(c, inst, kw, arg, path);
		} else {
			return vfail(c, path, "keyword \"%s\" is unknown to the test evaluator", kw);
		}
		if (!ok)
			return false;
	}
	return true;
}

/* "Keys appear in the order listed under each type": the propertyNames
 * enum of the type's definition (following $ref, as send/recv do). */
static bool check_key_order(struct vctx *c, struct json_object *obj)
{
	const char *type = lc_get_string(obj, "type", NULL);
	struct json_object *def = type ? get(get(schema, "$defs"), type) : NULL;
	struct json_object *order = NULL;
	size_t last = 0;
	const char *last_key = "";
	bool first = true;

	for (int hops = 0; def && hops < 4 && !order; hops++) {
		order = get(get(def, "propertyNames"), "enum");
		if (!order)
			def = get(def, "$ref") ? resolve(get(def, "$ref")) : NULL;
	}
	if (!order)
		return vfail(c, "", "no key order in the schema for type %s", type ? type : "?");
	json_object_object_foreach(obj, key, val) {
		size_t i;

		(void)val;
		for (i = 0; i < json_object_array_length(order); i++)
			if (!strcmp(key, json_object_get_string(json_object_array_get_idx(order, i))))
				break;
		if (i == json_object_array_length(order))
			return vfail(c, "", "key \"%s\" not listed for %s", key, type);
		if (!first && i <= last)
			return vfail(c, "", "key \"%s\" comes after \"%s\", the schema orders it before",
				     key, last_key);
		first = false;
		last = i;
		last_key = key;
	}
	return true;
}

static bool schema_check(struct json_object *obj, char *why, size_t cap)
{
	struct vctx c = { 0 };
	const char *type;
	struct json_object *def;

	if (!load_schema(c.why, sizeof(c.why)))
		goto fail;
	/* the type's own definition first: its failure messages are precise,
	 * while the top-level oneOf can only say that nothing matched */
	type = lc_get_string(obj, "type", NULL);
	def = type ? get(get(schema, "$defs"), type) : NULL;
	if (def && !validate(&c, obj, def, ""))
		goto fail;
	if (!validate(&c, obj, schema, "") || !check_key_order(&c, obj))
		goto fail;
	return true;
fail:
	if (snprintf(why, cap, "%s", c.why) >= (int)cap)
		why[cap - 1] = 0;
	return false;
}

static bool why_set(char *why, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool why_set(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return false;
}

bool line_ok(const char *buf, size_t len, unsigned flags, struct json_object **out, char *why,
	     size_t cap)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	if (out)
		*out = NULL;
	if (len < 3 || buf[len - 1] != '\n')
		return why_set(why, cap, "line does not end in \\n");
	if (memchr(buf, '\n', len - 1))
		return why_set(why, cap, "line has a \\n before its end");
	for (size_t i = 0; i < len - 1; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch < 0x20 || ch == 0x7f)
			return why_set(why, cap, "raw control byte 0x%02x at %zu", ch, i);
	}
	if (!utf8_valid(buf, len))
		return why_set(why, cap, "line is not valid UTF-8");
	if (len > INT_MAX)
		return why_set(why, cap, "line of %zu bytes", len);
	tok = json_tokener_new();
	if (!tok)
		return why_set(why, cap, "json_tokener_new failed");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		return why_set(why, cap, "json-c (strict) refuses the line at byte %zu: %s", end,
			       json_tokener_error_desc(jerr));
	}
	if (end != len) {
		json_object_put(obj);
		return why_set(why, cap, "json-c stopped at byte %zu of %zu", end, len);
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return why_set(why, cap, "line is not a JSON object");
	}
	if (!(flags & LC_NO_SCHEMA) && !schema_check(obj, why, cap)) {
		json_object_put(obj);
		return false;
	}
	if (out)
		*out = obj;
	else
		json_object_put(obj);
	return true;
}

struct json_object *line_check(const char *file, int line, const char *buf, size_t len,
			       unsigned flags)
{
	struct json_object *obj;
	char why[600], q[700];

	if (line_ok(buf, len, flags, &obj, why, sizeof(why)))
		return obj;
	ts_test_quote(q, sizeof(q), buf, len);
	ts_test_fail(file, line, "%s: \"%s\"", why, q);
	return NULL;
}
