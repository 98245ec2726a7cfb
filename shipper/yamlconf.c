// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * YAML config -> json-c tree, from libyaml's events (one pass, no libyaml
 * document: its composer neither bounds aliases nor gives the lines we want).
 *
 * Scalars resolve by YAML 1.2's core schema, not 1.1's: a plain `yes` is
 * the string "yes" (the "Norway problem": `country: no`), `0777` is 777,
 * `1_000` is a string. A quoted or block scalar is always a string.
 *
 * An alias is the anchored node again: the same json_object, one more
 * reference. A tree of shared nodes can stand for an exponential one, and
 * whoever walks it walks the expansion, so every node counts once per place
 * it appears and the file is refused past TS_YAML_MAX_NODES.
 */
#include "yamlconf.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

#define CORE "tag:yaml.org,2002:"

/* the userdata of a mapping or sequence: the line of each member, in the
 * order json-c iterates them (insertion order; keys are never repeated) */
struct member_lines {
	size_t n, cap;
	int *line;
};

struct anchor {
	char *name;
	struct json_object *node;	/* a reference of ours */
	size_t size;			/* nodes, aliases inside expanded */
	int height;			/* levels of mappings/sequences */
};

struct yctx {
	yaml_parser_t p;
	const char *text;
	size_t len;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int node(struct yctx *c, yaml_event_t *ev, int depth, struct json_object **out,
		int *height);

static int line_of(const yaml_event_t *ev)
{
	return (int)ev->start_mark.line + 1;
}

/* libyaml's own message, one line */
static int syntax_error(struct yctx *c)
{
	const yaml_parser_t *p = &c->p;
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return ts_err(c->err, c->errlen, -ENOMEM, "out of memory reading YAML");
	if (p->error == YAML_READER_ERROR) {
		/* the reader gives a byte offset, no mark */
		line = col = 1;
		for (size_t i = 0; i < p->problem_offset && i < c->len; i++) {
			if (c->text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	return ts_errf(c->err, c->errlen, "line %zu, column %zu: invalid YAML: %s%s%s%s", line,
		       col, p->problem ? p->problem : "cannot parse", p->context ? " (" : "",
		       p->context ? p->context : "", p->context ? ")" : "");
}

static int next(struct yctx *c, yaml_event_t *ev)
{
	return yaml_parser_parse(&c->p, ev) ? 0 : syntax_error(c);
}

static void lines_free(struct json_object *o, void *ud)
{
	struct member_lines *l = ud;

	free(l->line);
	free(l);
}

static int lines_add(struct json_object *o, int line)
{
	struct member_lines *l = json_object_get_userdata(o);

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		int *p = realloc(l->line, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->line = p;
		l->cap = cap;
	}
	l->line[l->n++] = line;
	return 0;
}

/* the line of member i of a mapping or sequence; 0 if not known */
static int member_line(struct json_object *o, size_t i)
{
	struct member_lines *l = json_object_get_userdata(o);

	return l && i < l->n ? l->line[i] : 0;
}

/* an empty mapping or sequence that can carry its members' lines */
static struct json_object *container(bool map)
{
	struct json_object *o = map ? json_object_new_object() : json_object_new_array();
	struct member_lines *l = calloc(1, sizeof(*l));

	if (!o || !l) {
		json_object_put(o);
		free(l);
		return NULL;
	}
	json_object_set_userdata(o, l, lines_free);
	return o;
}

static int count(struct yctx *c, size_t n, int line)
{
	c->nodes += n;
	if (c->nodes > TS_YAML_MAX_NODES)
		return ts_errf(c->err, c->errlen, "line %d: more than %d nodes, aliases expanded: "
			       "too large for a config", line, TS_YAML_MAX_NODES);
	return 0;
}

static int too_deep(struct yctx *c, int line)
{
	return ts_errf(c->err, c->errlen, "line %d: nested deeper than %d levels", line,
		       TS_YAML_MAX_DEPTH);
}

/* "!!int" for YAML's own tags, else the tag as given */
static int bad_tag(struct yctx *c, const char *tag, int line, const char *what)
{
	bool core = !strncmp(tag, CORE, strlen(CORE));

	if (what)
		return ts_errf(c->err, c->errlen, "line %d: %s%s is not for %s", line,
			       core ? "!!" : "", core ? tag + strlen(CORE) : tag, what);
	return ts_errf(c->err, c->errlen, "line %d: unknown tag %s%s (YAML's core tags only: "
		       "!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)", line,
		       core ? "!!" : "", core ? tag + strlen(CORE) : tag);
}

/* ---- scalars: the core schema ---- */

enum kind { K_STR, K_NULL, K_TRUE, K_FALSE, K_INT, K_FLOAT, K_NAN };

static bool all_of(const char *s, const char *set)
{
	return *s && s[strspn(s, set)] == 0;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
	size_t n;

	s += *s == '-' || *s == '+';
	n = strspn(s, "0123456789");
	s += n;
	if (*s == '.') {
		size_t f = strspn(s + 1, "0123456789");

		if (!n && !f)
			return false;
		s += 1 + f;
	} else if (!n) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		s += *s == '-' || *s == '+';
		return all_of(s, "0123456789");
	}
	return !*s;
}

static enum kind resolve(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
					    "-.inf", "-.Inf", "-.INF", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	const char *d = s + (*s == '-' || *s == '+');

	if (one_of(s, nulls))
		return K_NULL;
	if (one_of(s, trues))
		return K_TRUE;
	if (one_of(s, falses))
		return K_FALSE;
	if (all_of(d, "0123456789") ||
	    (!strncmp(s, "0x", 2) && all_of(s + 2, "0123456789abcdefABCDEF")) ||
	    (!strncmp(s, "0o", 2) && all_of(s + 2, "01234567")))
		return K_INT;
	if (is_float(s) || one_of(s, infs))
		return K_FLOAT;
	if (one_of(s, nans))
		return K_NAN;
	return K_STR;
}

/* An integer as json-c makes one from JSON, so that a huge one is what it
 * would be there (saturated). */
static struct json_object *new_int(const char *s)
{
	char dec[32];

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		unsigned long long v;

		errno = 0;
		v = strtoull(s + 2, NULL, s[1] == 'x' ? 16 : 8);
		if (errno)
			snprintf(dec, sizeof(dec), "99999999999999999999");
		else
			snprintf(dec, sizeof(dec), "%llu", v);
	} else {
		bool neg = *s == '-';

		s += *s == '-' || *s == '+';
		s += strspn(s, "0");
		if (strlen(s) > 20)	/* beyond any 64-bit integer: json-c saturates */
			s = "99999999999999999999";
		snprintf(dec, sizeof(dec), "%s%s", neg && *s ? "-" : "", *s ? s : "0");
	}
	return json_tokener_parse(dec);
}

static struct json_object *new_float(const char *s)
{
	const char *m = s + (*s == '-' || *s == '+');

	if (*m == '.' && (m[1] == 'i' || m[1] == 'I'))
		return json_object_new_double(*s == '-' ? -INFINITY : INFINITY);
	return json_object_new_double(strtod(s, NULL));
}

/* What the tag wants of a scalar: a K_ kind, or -1 for "resolve it". */
static int scalar_want(struct yctx *c, const yaml_event_t *ev)
{
	static const char *const names[] = { "str", "null", "bool", "int", "float", NULL };
	static const int kinds[] = { K_STR, K_NULL, K_TRUE, K_INT, K_FLOAT };
	const char *tag = (const char *)ev->data.scalar.tag;

	if (!tag)
		return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? -1 : K_STR;
	if (!strcmp(tag, "!"))		/* the non-specific tag: a string */
		return K_STR;
	if (!strncmp(tag, CORE, strlen(CORE)))
		for (int i = 0; names[i]; i++)
			if (!strcmp(tag + strlen(CORE), names[i]))
				return kinds[i];
	if (!strcmp(tag, CORE "map") || !strcmp(tag, CORE "seq"))
		return bad_tag(c, tag, line_of(ev), "a scalar");
	return bad_tag(c, tag, line_of(ev), NULL);
}

static int scalar(struct yctx *c, const yaml_event_t *ev, struct json_object **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int want = scalar_want(c, ev), line = line_of(ev);
	enum kind k;

	*out = NULL;
	if (want < -1)
		return want;
	if (want == K_STR) {
		*out = json_object_new_string_len(s, (int)len);
		return *out ? 0 : -ENOMEM;
	}
	k = strlen(s) == len ? resolve(s) : K_STR;
	if (k == K_NAN)
		return ts_errf(c->err, c->errlen, "line %d: %s: not a number JSON can hold, so "
			       "not one a config can", line, s);
	if (want == K_TRUE && k == K_FALSE)
		want = K_FALSE;
	if (want == K_FLOAT && k == K_INT)
		k = K_FLOAT;
	if (want >= 0 && want != (int)k)
		return ts_errf(c->err, c->errlen, "line %d: '%s' is not %s", line, s,
			       want == K_NULL ? "null" : want == K_INT ? "an integer" :
			       want == K_FLOAT ? "a number" : "true or false");
	switch (k) {
	case K_NULL:
		return 0;
	case K_TRUE:
	case K_FALSE:
		*out = json_object_new_boolean(k == K_TRUE);
		break;
	case K_INT:
		*out = new_int(s);
		break;
	case K_FLOAT:
		*out = new_float(s);
		break;
	default:
		*out = json_object_new_string_len(s, (int)len);
	}
	return *out ? 0 : -ENOMEM;
}

/* ---- anchors and aliases ---- */

static int anchor_add(struct yctx *c, const char *name, struct json_object *o, size_t size,
		      int height)
{
	struct anchor *a;

	if (c->n_anchors == c->cap_anchors) {
		size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 8;

		a = realloc(c->anchors, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		c->anchors = a;
		c->cap_anchors = cap;
	}
	a = &c->anchors[c->n_anchors];
	a->name = strdup(name);
	if (!a->name)
		return -ENOMEM;
	a->node = json_object_get(o);
	a->size = size;
	a->height = height;
	c->n_anchors++;
	return 0;
}

/* the anchor of that name defined last before here (YAML allows a name
 * again), or NULL with the error in err */
static const struct anchor *anchor_find(struct yctx *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;

	for (size_t i = c->n_anchors; i-- > 0;)
		if (!strcmp(c->anchors[i].name, name))
			return &c->anchors[i];
	ts_errf(c->err, c->errlen, "line %d: alias *%s names no anchor defined before it",
		line_of(ev), name);
	return NULL;
}

static int alias(struct yctx *c, const yaml_event_t *ev, int depth, struct json_object **out,
		 int *height)
{
	const struct anchor *a = anchor_find(c, ev);
	int rc;

	if (!a)
		return -EINVAL;
	if (a->height && depth + a->height - 1 > TS_YAML_MAX_DEPTH)
		return too_deep(c, line_of(ev));
	if ((rc = count(c, a->size, line_of(ev))))
		return rc;
	*out = json_object_get(a->node);
	*height = a->height;
	return 0;
}

/* ---- mappings and sequences ---- */

/* A mapping's key: the text of a scalar (an alias to a string will do). */
static int map_key(struct yctx *c, yaml_event_t *ev, char **key)
{
	struct json_object *k = NULL;
	int rc = 0, h;

	if (ev->type == YAML_SCALAR_EVENT || ev->type == YAML_ALIAS_EVENT)
		rc = node(c, ev, 1, &k, &h);
	else
		return ts_errf(c->err, c->errlen, "line %d: a mapping's key must be a scalar (a "
			       "string), not a %s", line_of(ev),
			       ev->type == YAML_MAPPING_START_EVENT ? "mapping" : "sequence");
	if (!rc && ev->type == YAML_SCALAR_EVENT) {
		/* the text as written: `80: x` is the key "80" */
		if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
			rc = ts_errf(c->err, c->errlen, "line %d: a key must not contain NUL bytes",
				     line_of(ev));
		else if (!(*key = strdup((const char *)ev->data.scalar.value)))
			rc = -ENOMEM;
	} else if (!rc) {
		if (!json_object_is_type(k, json_type_string) ||
		    strlen(json_object_get_string(k)) != (size_t)json_object_get_string_len(k))
			rc = ts_errf(c->err, c->errlen, "line %d: a key that is an alias must name "
				     "a string", line_of(ev));
		else if (!(*key = strdup(json_object_get_string(k))))
			rc = -ENOMEM;
	}
	json_object_put(k);
	return rc;
}

static int duplicate(struct yctx *c, struct json_object *map, const char *key, int line)
{
	size_t i = 0;

	json_object_object_foreach(map, k, v) {
		(void)v;
		if (!strcmp(k, key))
			break;
		i++;
	}
	return ts_errf(c->err, c->errlen, "line %d: duplicate key '%s' (first at line %d)", line,
		       key, member_line(map, i));
}

/* The next member's first event into ev; 1 at the end of the container. */
static int next_member(struct yctx *c, yaml_event_t *ev, yaml_event_type_t end)
{
	int rc = next(c, ev);

	if (!rc && ev->type == end) {
		yaml_event_delete(ev);
		return 1;
	}
	return rc;
}

/* v into o, under key in a mapping, with its line; v is o's or freed */
static int add_member(struct json_object *o, const char *key, struct json_object *v, int line)
{
	if (key ? json_object_object_add(o, key, v) : json_object_array_add(o, v)) {
		json_object_put(v);	/* json-c did not take it */
		return -ENOMEM;
	}
	return lines_add(o, line);
}

static int mapping(struct yctx *c, int depth, struct json_object **out, int *height)
{
	struct json_object *map = container(true);
	int rc = map ? 0 : -ENOMEM;

	*height = 1;
	while (!rc) {
		struct json_object *v = NULL;
		yaml_event_t ev;
		char *key = NULL;
		int h = 0, line;

		if ((rc = next_member(c, &ev, YAML_MAPPING_END_EVENT)))
			break;
		line = line_of(&ev);
		rc = map_key(c, &ev, &key);
		yaml_event_delete(&ev);
		if (!rc && json_object_object_get_ex(map, key, NULL))
			rc = duplicate(c, map, key, line);
		if (!rc && !(rc = next(c, &ev))) {
			rc = node(c, &ev, depth + 1, &v, &h);
			yaml_event_delete(&ev);
		}
		rc = rc ?: add_member(map, key, v, line);
		if (h + 1 > *height)
			*height = h + 1;
		free(key);
	}
	if (rc != 1)
		json_object_put(map);
	else
		*out = map;
	return rc == 1 ? 0 : rc;
}

static int sequence(struct yctx *c, int depth, struct json_object **out, int *height)
{
	struct json_object *seq = container(false);
	int rc = seq ? 0 : -ENOMEM;

	*height = 1;
	while (!rc) {
		struct json_object *v = NULL;
		yaml_event_t ev;
		int h = 0, line;

		if ((rc = next_member(c, &ev, YAML_SEQUENCE_END_EVENT)))
			break;
		line = line_of(&ev);
		rc = node(c, &ev, depth + 1, &v, &h);
		yaml_event_delete(&ev);
		rc = rc ?: add_member(seq, NULL, v, line);
		if (h + 1 > *height)
			*height = h + 1;
	}
	if (rc != 1)
		json_object_put(seq);
	else
		*out = seq;
	return rc == 1 ? 0 : rc;
}

/* Is the tag of a mapping or sequence one we take? 0 or the error. */
static int container_tag(struct yctx *c, const yaml_event_t *ev, bool map)
{
	static const char *const scalar_tags[] = { CORE "str", CORE "int", CORE "float",
						   CORE "bool", CORE "null", NULL };
	const char *tag = (const char *)(map ? ev->data.mapping_start.tag :
					      ev->data.sequence_start.tag);

	if (!tag || !strcmp(tag, "!") || !strcmp(tag, map ? CORE "map" : CORE "seq"))
		return 0;
	if (!strcmp(tag, map ? CORE "seq" : CORE "map") || one_of(tag, scalar_tags))
		return bad_tag(c, tag, line_of(ev), map ? "a mapping" : "a sequence");
	return bad_tag(c, tag, line_of(ev), NULL);
}

/* One node from its first event (ev stays the caller's); depth is the level
 * a mapping or sequence here would be at (the top level's is 1). */
static int node(struct yctx *c, yaml_event_t *ev, int depth, struct json_object **out,
		int *height)
{
	size_t before = c->nodes;
	const char *anchor = NULL;
	int rc, line = line_of(ev);

	*out = NULL;
	*height = 0;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return alias(c, ev, depth, out, height);
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		rc = count(c, 1, line) ?: scalar(c, ev, out);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;

		anchor = (const char *)(map ? ev->data.mapping_start.anchor :
					   ev->data.sequence_start.anchor);
		if (depth > TS_YAML_MAX_DEPTH)
			return too_deep(c, line);
		rc = count(c, 1, line) ?: container_tag(c, ev, map);
		if (!rc)
			rc = map ? mapping(c, depth, out, height) : sequence(c, depth, out, height);
		break;
	}
	default:
		return ts_errf(c->err, c->errlen, "line %d: unexpected YAML event %d", line,
			       (int)ev->type);
	}
	if (!rc && anchor)
		rc = anchor_add(c, anchor, *out, c->nodes - before, *height);
	if (rc) {
		json_object_put(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- the document ---- */

static const char *yaml_word(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double:
	case json_type_int: return "a number";
	case json_type_object: return "a mapping";
	case json_type_array: return "a sequence";
	case json_type_string: return "a string";
	}
	return "something else";
}

/* Events are read until the one of type want; anything else is what
 * stands where a document's end was expected: an error. */
static int expect(struct yctx *c, yaml_event_type_t want, yaml_event_t *ev)
{
	int rc = next(c, ev);

	if (rc || ev->type == want)
		return rc;
	rc = ev->type == YAML_DOCUMENT_START_EVENT ?
		ts_errf(c->err, c->errlen, "line %d: a second YAML document (a config is one "
			"document: no second '---')", line_of(ev)) :
		ts_errf(c->err, c->errlen, "line %d: unexpected YAML event %d", line_of(ev),
			(int)ev->type);
	yaml_event_delete(ev);
	return rc;
}

static int document(struct yctx *c, struct json_object **root)
{
	yaml_event_t ev;
	int rc, h;

	if ((rc = expect(c, YAML_STREAM_START_EVENT, &ev)))
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next(c, &ev)))
		return rc;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		return ts_errf(c->err, c->errlen, "no YAML document: the top level must be a "
			       "mapping");
	}
	yaml_event_delete(&ev);
	if ((rc = next(c, &ev)))
		return rc;
	rc = node(c, &ev, 1, root, &h);
	if (!rc && !json_object_is_type(*root, json_type_object))
		rc = ts_errf(c->err, c->errlen, "line %d: the top level must be a mapping, not %s",
			     line_of(&ev), yaml_word(*root));
	yaml_event_delete(&ev);
	if (!rc && !(rc = expect(c, YAML_DOCUMENT_END_EVENT, &ev)))
		yaml_event_delete(&ev);
	if (!rc && !(rc = expect(c, YAML_STREAM_END_EVENT, &ev)))
		yaml_event_delete(&ev);
	return rc;
}

struct json_object *ts_yaml_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct yctx c = { .text = text, .len = len, .err = err, .errlen = errlen };
	struct json_object *root = NULL;
	int rc;

	if (errlen)
		err[0] = 0;
	if (!yaml_parser_initialize(&c.p)) {
		ts_err(err, errlen, -ENOMEM, "out of memory reading YAML");
		return NULL;
	}
	yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
	rc = document(&c, &root);
	if (rc == -ENOMEM && !strstr(err, "memory"))
		ts_err(err, errlen, -ENOMEM, "out of memory reading YAML");
	for (size_t i = 0; i < c.n_anchors; i++) {
		free(c.anchors[i].name);
		json_object_put(c.anchors[i].node);
	}
	free(c.anchors);
	yaml_parser_delete(&c.p);
	if (rc) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* ---- a message's key path -> its line ---- */

/* the member of map whose key is s[0..n), and its position */
static struct json_object *member(struct json_object *map, const char *s, size_t n, size_t *pos,
				  bool *found)
{
	size_t i = 0;

	*found = false;
	json_object_object_foreach(map, k, v) {
		if (strlen(k) == n && !memcmp(k, s, n)) {
			*pos = i;
			*found = true;
			return v;
		}
		i++;
	}
	return NULL;
}

/* Walk the path s[0..end) down from *at, keeping the line of each member
 * found; true if the whole path was found. A key may hold dots itself
 * (Kafka's "linger.ms"): the shortest key that is there wins. */
static bool walk(struct json_object **at, const char *s, const char *end, int *line)
{
	while (s < end) {
		struct json_object *next = NULL;
		bool found = false;
		size_t pos = 0;

		if (*s == '[') {
			char *e;
			unsigned long i = strtoul(s + 1, &e, 10);

			if (e >= end || *e != ']' || !json_object_is_type(*at, json_type_array) ||
			    i >= json_object_array_length(*at))
				return false;
			next = json_object_array_get_idx(*at, i);
			pos = i;
			s = e + 1;
		} else {
			const char *k = s + (*s == '.'), *q = k;

			if (!json_object_is_type(*at, json_type_object))
				return false;
			while (!found && q < end) {
				q += strcspn(q + 1, ".[") + 1;
				if (q > end)
					q = end;
				next = member(*at, k, (size_t)(q - k), &pos, &found);
			}
			if (!found)
				return false;
			s = q;
		}
		if (member_line(*at, pos))
			*line = member_line(*at, pos);
		*at = next;
	}
	return true;
}

int ts_yaml_msg_line(struct json_object *root, const char *msg)
{
	const char *end = strstr(msg, ": ");
	struct json_object *at = root;
	int line = 0;

	if (!root || !end)
		return 0;
	/* "outputs[0]: properties.acks: ...": a sink's own path goes on */
	if (walk(&at, msg, end, &line)) {
		const char *s = end + 2, *e = strstr(s, ": "), *sp = strchr(s, ' ');

		if (e && sp && sp < e)
			e = sp;
		if (e)
			walk(&at, s, e, &line);
	}
	return line;
}
