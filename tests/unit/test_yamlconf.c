// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ts_yaml_parse(): YAML 1.2 core-schema scalars, the same json-c tree as the
 * JSON of the same config, the errors (one line each, with the line), the
 * bounds on aliases and nesting, the lines a key path finds; and random or
 * truncated input, which must never crash.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "options.h"
#include "test.h"
#include "yamlconf.h"

static struct json_object *parse(const char *yaml, char *err, size_t errlen)
{
	return ts_yaml_parse(yaml, strlen(yaml), err, errlen);
}

/* "v: <yaml>" gives the value that the JSON text want is */
static bool scalar_is(const char *file, int line, const char *yaml, const char *want)
{
	char doc[256], err[512] = "";
	struct json_object *root, *v = NULL, *w = json_tokener_parse(want);
	bool ok;

	snprintf(doc, sizeof(doc), "v: %s\n", yaml);
	root = parse(doc, err, sizeof(err));
	if (!root)
		ok = ts_test_fail(file, line, "v: %s: %s", yaml, err);
	else if (!json_object_object_get_ex(root, "v", &v) || !json_object_equal(v, w))
		ok = ts_test_fail(file, line, "v: %s gave %s, want %s", yaml,
				  json_object_to_json_string(v), want);
	else
		ok = true;
	json_object_put(root);
	json_object_put(w);
	return ok;
}

#define SCALAR(yaml, want)							\
	do {									\
		if (!scalar_is(__FILE__, __LINE__, (yaml), (want)))		\
			return;							\
	} while (0)

/* parse fails with a message holding every one of the words, on one line */
static bool refused(const char *file, int line, const char *yaml, const char *const *words)
{
	char err[512] = "";
	struct json_object *root = parse(yaml, err, sizeof(err));

	if (root) {
		json_object_put(root);
		return ts_test_fail(file, line, "accepted: %s", yaml);
	}
	if (!*err || strchr(err, '\n'))
		return ts_test_fail(file, line, "not one line: '%s' for %s", err, yaml);
	for (; *words; words++)
		if (!strstr(err, *words))
			return ts_test_fail(file, line, "'%s' lacks '%s' (for %s)", err, *words,
					    yaml);
	return true;
}

#define REFUSED(yaml, ...)							\
	do {									\
		if (!refused(__FILE__, __LINE__, (yaml),			\
			     (const char *const[]){ __VA_ARGS__, NULL }))	\
			return;							\
	} while (0)

TEST(yaml_scalars_core_schema)
{
	/* YAML 1.1's booleans are strings in 1.2: the Norway problem */
	SCALAR("yes", "\"yes\"");
	SCALAR("no", "\"no\"");
	SCALAR("No", "\"No\"");
	SCALAR("on", "\"on\"");
	SCALAR("off", "\"off\"");
	SCALAR("y", "\"y\"");
	SCALAR("true", "true");
	SCALAR("True", "true");
	SCALAR("TRUE", "true");
	SCALAR("false", "false");
	SCALAR("FALSE", "false");
	SCALAR("tRUE", "\"tRUE\"");
	SCALAR("null", "null");
	SCALAR("Null", "null");
	SCALAR("~", "null");
	SCALAR("", "null");
	SCALAR("nil", "\"nil\"");
	/* quoted or block: always a string */
	SCALAR("\"123\"", "\"123\"");
	SCALAR("'1.5'", "\"1.5\"");
	SCALAR("\"true\"", "\"true\"");
	SCALAR("''", "\"\"");
	SCALAR("\"~\"", "\"~\"");
	SCALAR("|\n  42\n", "\"42\\n\"");
	/* integers: decimal, 0x, 0o; no 1.1 forms */
	SCALAR("0", "0");
	SCALAR("42", "42");
	SCALAR("-17", "-17");
	SCALAR("+5", "5");
	SCALAR("007", "7");
	SCALAR("012", "12");
	SCALAR("0x1F", "31");
	SCALAR("0o17", "15");
	SCALAR("9223372036854775807", "9223372036854775807");
	SCALAR("99999999999999999999", "99999999999999999999");
	SCALAR("1_000", "\"1_000\"");
	SCALAR("0b101", "\"0b101\"");
	SCALAR("1:30", "\"1:30\"");
	SCALAR("0x", "\"0x\"");
	SCALAR("0o8", "\"0o8\"");
	/* floats */
	SCALAR("1.5", "1.5");
	SCALAR(".5", "0.5");
	SCALAR("1.", "1.0");
	SCALAR("1e3", "1000.0");
	SCALAR("-2.5E-1", "-0.25");
	SCALAR("1e999", "1e999");
	SCALAR(".", "\".\"");
	SCALAR("1.2.3", "\"1.2.3\"");
	SCALAR("e3", "\"e3\"");
	/* what tcpship's keys hold: strings anyway */
	SCALAR("30s", "\"30s\"");
	SCALAR("100MiB", "\"100MiB\"");
	SCALAR("127.0.0.1:514", "\"127.0.0.1:514\"");
	SCALAR("syslog+tcp://127.0.0.1:514", "\"syslog+tcp://127.0.0.1:514\"");
	/* the core tags */
	SCALAR("!!str 123", "\"123\"");
	SCALAR("!!str true", "\"true\"");
	SCALAR("!!str", "\"\"");
	SCALAR("! 12", "\"12\"");
	SCALAR("!!int \"42\"", "42");
	SCALAR("!!float 1", "1.0");
	SCALAR("!!float '2.5'", "2.5");
	SCALAR("!!bool \"false\"", "false");
	SCALAR("!!null ''", "null");
	SCALAR("!<tag:yaml.org,2002:int> 3", "3");
	SCALAR("!!map {a: 1}", "{\"a\": 1}");
	SCALAR("!!seq [1]", "[1]");
}

TEST(yaml_infinity_is_json_cs)
{
	char err[256];
	struct json_object *root = parse("a: .inf\nb: -.Inf\n", err, sizeof(err)), *v;

	CHECKF(root, "%s", err);
	CHECK(json_object_object_get_ex(root, "a", &v) && isinf(json_object_get_double(v)) &&
	      json_object_get_double(v) > 0);
	CHECK(json_object_object_get_ex(root, "b", &v) && isinf(json_object_get_double(v)) &&
	      json_object_get_double(v) < 0);
	json_object_put(root);
}

TEST(yaml_tags_refused)
{
	REFUSED("a: !foo x", "line 1: ", "unknown tag !foo");
	REFUSED("a: 1\nb: !!binary aGk=", "line 2: ", "unknown tag !!binary");
	REFUSED("a: !!timestamp 2001-12-14", "unknown tag !!timestamp");
	REFUSED("a:\n  - !!set {x: 1}", "line 2: ", "unknown tag !!set");
	REFUSED("a: !!int abc", "line 1: ", "'abc' is not an integer");
	REFUSED("a: !!int 1.5", "not an integer");
	REFUSED("a: !!bool yes", "'yes' is not true or false");
	REFUSED("a: !!null 0", "'0' is not null");
	REFUSED("a: !!float x", "'x' is not a number");
	REFUSED("a: !!map x", "!!map is not for a scalar");
	REFUSED("a: !!str [1]", "!!str is not for a sequence");
	REFUSED("a: !!seq {b: 1}", "!!seq is not for a mapping");
	REFUSED("a: !<tag:example.com,2000:app> x", "unknown tag tag:example.com,2000:app");
	REFUSED("a: .nan", "not a number JSON can hold");
}

static bool tree_is(const char *file, int line, const char *yaml, const char *json)
{
	char err[512] = "";
	struct json_object *y = parse(yaml, err, sizeof(err)), *j = json_tokener_parse(json);
	bool ok = true;

	if (!j)
		ok = ts_test_fail(file, line, "the test's JSON does not parse: %s", json);
	else if (!y)
		ok = ts_test_fail(file, line, "%s", err);
	else if (!json_object_equal(y, j))
		ok = ts_test_fail(file, line, "YAML gave %s, JSON %s",
				  json_object_to_json_string(y), json_object_to_json_string(j));
	json_object_put(y);
	json_object_put(j);
	return ok;
}

#define TREE(yaml, json)							\
	do {									\
		if (!tree_is(__FILE__, __LINE__, (yaml), (json)))		\
			return;							\
	} while (0)

TEST(yaml_tree_equals_json)
{
	TREE("# a comment\n"
	     "events: [connect, accept, close]   # flow\n"
	     "filters: {}\n"
	     "min_latency: 10ms\n"
	     "queue:\n"
	     "  max_events: 65536\n"
	     "outputs:\n"
	     "  - type: stdout\n"
	     "  - type: file\n"
	     "    path: /var/log/tcpship/events.jsonl\n"
	     "    max_size: 100MiB\n"
	     "    max_files: 5\n"
	     "    queue: {max_events: 100000, when_full: block}\n"
	     "  -\n"
	     "    type: syslog\n"
	     "    headers:\n"
	     "      \"X-Scope\": 'a: b'\n"
	     "    empty:\n"
	     "    list:\n"
	     "    - 1\n"
	     "    - [2, [3, {}]]\n"
	     "    - []\n",
	     "{\"events\": [\"connect\", \"accept\", \"close\"], \"filters\": {},"
	     " \"min_latency\": \"10ms\", \"queue\": {\"max_events\": 65536},"
	     " \"outputs\": [{\"type\": \"stdout\"},"
	     " {\"type\": \"file\", \"path\": \"/var/log/tcpship/events.jsonl\","
	     "  \"max_size\": \"100MiB\", \"max_files\": 5,"
	     "  \"queue\": {\"max_events\": 100000, \"when_full\": \"block\"}},"
	     " {\"type\": \"syslog\", \"headers\": {\"X-Scope\": \"a: b\"}, \"empty\": null,"
	     "  \"list\": [1, [2, [3, {}]], []]}]}");
	/* JSON is YAML too: the same tree */
	TREE("{\"a\": [1, 2.5, \"x\", true, null, {\"b\": {}}]}",
	     "{\"a\": [1, 2.5, \"x\", true, null, {\"b\": {}}]}");
	/* an explicit document, keys as written */
	TREE("%YAML 1.1\n---\n80: http\n\"yes\": 1\n? complex\n: 2\n...\n",
	     "{\"80\": \"http\", \"yes\": 1, \"complex\": 2}");
	TREE("s: \"tab\\there \\u00e9 \\x41\"\nf: >\n  folded\n  text\n",
	     "{\"s\": \"tab\\there \\u00e9 A\", \"f\": \"folded text\\n\"}");
	/* a NUL in a string stays (the option tables refuse it, as for JSON) */
	TREE("s: \"a\\0b\"\n", "{\"s\": \"a\\u0000b\"}");
}

TEST(yaml_anchors_and_aliases)
{
	TREE("base: &q {max_events: 10, when_full: drop}\n"
	     "outputs:\n"
	     "  - {type: stdout, queue: *q}\n"
	     "  - {type: file, path: &p /tmp/x, queue: *q, name: *p}\n"
	     "again: &q 2\n"
	     "last: *q\n"
	     "&k key: *k\n",
	     "{\"base\": {\"max_events\": 10, \"when_full\": \"drop\"},"
	     " \"outputs\": [{\"type\": \"stdout\", \"queue\": {\"max_events\": 10,"
	     " \"when_full\": \"drop\"}}, {\"type\": \"file\", \"path\": \"/tmp/x\","
	     " \"queue\": {\"max_events\": 10, \"when_full\": \"drop\"}, \"name\": \"/tmp/x\"}],"
	     " \"again\": 2, \"last\": 2, \"key\": \"key\"}");
	REFUSED("a: *nothing\n", "line 1: ", "alias *nothing names no anchor");
	REFUSED("a: 1\nb: [x, *a]\n", "line 2: ", "*a names no anchor");
	/* a node cannot hold itself: its anchor is not defined until its end */
	REFUSED("a: &a [1, *a]\n", "*a names no anchor");
	REFUSED("a: &a {b: *a}\n", "*a names no anchor");
	REFUSED("x: &n [1]\n*n : 2\n", "line 2: ", "a key that is an alias must name a string");
}

TEST(yaml_alias_bomb_refused)
{
	/* "billion laughs": 9 levels of 9 aliases each, 9^9 nodes expanded */
	char doc[2048];
	size_t n = 0;

	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a0: &a0 [lol]\n");
	for (int i = 1; i <= 9; i++) {
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a%d: &a%d [", i, i);
		for (int j = 0; j < 9; j++)
			n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s*a%d", j ? ", " : "",
					      i - 1);
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]\n");
	}
	CHECK(n < sizeof(doc) - 1);
	REFUSED(doc, "more than 100000 nodes", "aliases expanded");
	/* four levels (9^4 nodes expanded) are fine */
	n = 0;
	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a0: &a0 [lol]\n");
	for (int i = 1; i <= 4; i++) {
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a%d: &a%d [", i, i);
		for (int j = 0; j < 9; j++)
			n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s*a%d", j ? ", " : "",
					      i - 1);
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]\n");
	}
	{
		char err[256];
		struct json_object *root = parse(doc, err, sizeof(err));

		CHECKF(root, "%s", err);
		json_object_put(root);
	}
	/* the plain count too, without aliases */
	{
		size_t len = 3 + (TS_YAML_MAX_NODES + 1) * 3;
		char *big = malloc(len + 2);

		CHECK(big);
		memcpy(big, "a: ", 3);
		n = 3;
		big[n++] = '[';
		for (int i = 0; i <= TS_YAML_MAX_NODES; i++)
			n += (size_t)sprintf(big + n, "%s1", i ? "," : "");
		big[n++] = ']';
		big[n] = 0;
		REFUSED(big, "more than 100000 nodes");
		free(big);
	}
}

TEST(yaml_nesting_bounded)
{
	char doc[256];
	int n;

	/* the top-level mapping is level 1: 31 sequences more are 32 */
	n = snprintf(doc, sizeof(doc), "a: ");
	for (int i = 0; i < 31; i++)
		doc[n++] = '[';
	for (int i = 0; i < 31; i++)
		doc[n++] = ']';
	doc[n] = 0;
	{
		char err[256];
		struct json_object *root = parse(doc, err, sizeof(err));

		CHECKF(root, "%s", err);
		json_object_put(root);
	}
	n = snprintf(doc, sizeof(doc), "a: ");
	for (int i = 0; i < 32; i++)
		doc[n++] = '[';
	for (int i = 0; i < 32; i++)
		doc[n++] = ']';
	doc[n] = 0;
	REFUSED(doc, "line 1: ", "nested deeper than 32 levels");
	/* nor by an alias of a deep node placed deeper */
	n = snprintf(doc, sizeof(doc), "a: &d ");
	for (int i = 0; i < 30; i++)
		doc[n++] = '[';
	for (int i = 0; i < 30; i++)
		doc[n++] = ']';
	n += snprintf(doc + n, sizeof(doc) - (size_t)n, "\nb: [[*d]]\n");
	REFUSED(doc, "line 2: ", "nested deeper than 32 levels");
}

TEST(yaml_structure_errors)
{
	REFUSED("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a' (first at line 1)");
	REFUSED("outputs:\n  - type: file\n    path: /x\n\n    path: /y\n",
		"line 5: duplicate key 'path' (first at line 3)");
	REFUSED("{a: 1, a: 1}", "duplicate key 'a'");
	REFUSED("a: 1\n---\nb: 2\n", "line 2: a second YAML document");
	REFUSED("---\na: 1\n...\n---\n", "line 4: a second YAML document");
	REFUSED("? [1, 2]\n: x\n", "line 1: a mapping's key must be a scalar", "not a sequence");
	REFUSED("{{a: 1}: x}", "a mapping's key must be a scalar", "not a mapping");
	REFUSED("\"a\\0b\": 1\n", "a key must not contain NUL bytes");
	REFUSED("- a\n- b\n", "line 1: the top level must be a mapping, not a sequence");
	REFUSED("just text\n", "the top level must be a mapping, not a string");
	REFUSED("---\n", "the top level must be a mapping, not null");
	REFUSED("", "no YAML document");
	REFUSED("# only a comment\n", "no YAML document");
}

TEST(yaml_syntax_errors_one_line)
{
	static const char *const bad[] = {
		"a: [1, 2\nb: 3\n", "a: {b: 1\n", "a: 'open\n", "a:\n\t- tab\n", "a: b: c\n",
		"- a\nb: 1\n", "a: &\n", "a: *\n", "a: @x\n", "a: `x\n", "%FOO\n%YAML 1.1\n%YAML 1.1\n---\na: 1\n",
		"a: \"\\q\"\n", "a: 1\n b: 2\n", "a: !<> x\n",
		"a: \x01\n", "a: \"\xc3\x28\"\n",
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char err[512] = "";
		struct json_object *root = parse(bad[i], err, sizeof(err));
		unsigned line, col;

		json_object_put(root);
		CHECKF(!root, "accepted: %s", bad[i]);
		CHECKF(!strchr(err, '\n'), "two lines: %s", err);
		CHECKF(sscanf(err, "line %u, column %u: invalid YAML: ", &line, &col) == 2 &&
		       line >= 1 && col >= 1 && strstr(err, ": invalid YAML: "),
		       "not 'line L, column C: invalid YAML: ...': '%s' for %s", err, bad[i]);
	}
	/* where the problem is, and the context in parentheses */
	REFUSED("a: 1\nb: [1, 2\nc: 3\n", "line 3, column 2: invalid YAML: did not find expected "
		"',' or ']' (while parsing a flow sequence)");
	REFUSED("a: x\n\tb: y\n", "line 2, column 1: invalid YAML: found a tab character that "
		"violates indentation (while scanning a plain scalar)");
	REFUSED("a: 1\nb: \x01\n", "line 2, column 4: invalid YAML: control characters are not "
		"allowed");
}

/* The lines of the members a message's key path names. */
TEST(yaml_lines_of_key_paths)
{
	static const char doc[] =
		"events: [connect,\n"				/* 1 */
		"   close]\n"					/* 2 */
		"filters:\n"					/* 3 */
		"  port: [443]\n"				/* 4 */
		"outputs:\n"					/* 5 */
		"  - type: stdout\n"				/* 6 */
		"  -\n"						/* 7 */
		"    type: kafka\n"				/* 8: the item starts */
		"    properties:\n"				/* 9 */
		"      linger.ms: x\n"				/* 10 */
		"      acks: x\n"				/* 11 */
		"    queue: &q\n"				/* 12 */
		"      max_size: 100Mb\n"			/* 13 */
		"  - {type: file, queue: *q,\n"			/* 14 */
		"     empty: }\n"				/* 15 */
		"queue.dir: /x\n";				/* 16 */
	static const struct { const char *msg; int line; } cases[] = {
		{ "events: must be ...", 1 },
		{ "events[1]: 'clos' is not an event", 2 },
		{ "filters.ports: unknown key (known here: pid, ...)", 3 },
		{ "filters.port[0]: must be a number", 4 },
		{ "filters: must be an object", 3 },
		{ "outputs: at most 16 outputs", 5 },
		{ "outputs[0].type: unknown output type", 6 },
		{ "outputs[1]: must be an object", 8 },
		{ "outputs[1].type: missing", 8 },
		{ "outputs[1].nothing: unknown key", 8 },
		{ "outputs[1]: properties.acks: Invalid value for configuration property", 11 },
		{ "outputs[1]: properties.linger.ms: Invalid value", 10 },
		{ "outputs[1].properties.linger.ms: must be a string, not a number", 10 },
		{ "outputs[1]: brokers: missing (kafka://HOST:PORT[,HOST:PORT]/TOPIC)", 8 },
		{ "outputs[1].queue.max_size: '100Mb' is not a size", 13 },
		/* the alias is the anchored node: its members' lines are the anchor's */
		{ "outputs[2].queue.max_size: '100Mb' is not a size", 13 },
		{ "outputs[2].queue: path, max_size, ... are for disk queues", 14 },
		{ "outputs[2].empty: must be a string, not null", 15 },
		{ "outputs[9].type: missing", 5 },
		{ "queue.dir: a key with a dot", 16 },
		{ "nothing: unknown key", 0 },
		{ "no path here", 0 },
		{ "", 0 },
	};
	char err[256];
	struct json_object *root = parse(doc, err, sizeof(err)), *json;

	CHECKF(root, "%s", err);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int got = ts_yaml_msg_line(root, cases[i].msg);

		CHECKF(got == cases[i].line, "line %d for '%s', want %d", got, cases[i].msg,
		       cases[i].line);
	}
	/* a tree from JSON knows no lines */
	json = json_tokener_parse("{\"outputs\": [{\"type\": \"x\"}]}");
	CHECK_INT(ts_yaml_msg_line(json, "outputs[0].type: unknown"), 0);
	CHECK_INT(ts_yaml_msg_line(NULL, "outputs[0].type: unknown"), 0);
	json_object_put(json);
	json_object_put(root);
}

static unsigned long long rnd_state = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(void)
{
	/* xorshift64*: the same bytes every run, so a crash can be replayed */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (unsigned)((rnd_state * 2685821657736338717ULL) >> 32);
}

/* Whatever comes back is a mapping (1), or NULL and one line of error (0);
 * else -1. */
static int sane(const char *buf, size_t len)
{
	char err[512] = "";
	struct json_object *root = ts_yaml_parse(buf, len, err, sizeof(err));
	int ok = root ? (json_object_is_type(root, json_type_object) ? 1 : -1) :
			(*err && !strchr(err, '\n') ? 0 : -1);

	json_object_put(root);
	return ok;
}

TEST(yaml_random_and_truncated_input_never_crash)
{
	static const char valid[] =
		"%YAML 1.1\n---\n"
		"events: [connect, accept, \"close\"]\n"
		"filters: {port: [443, 0x1bb], comm: 'curl'}\n"
		"base: &b\n  when_full: drop\n  max_events: !!int \"10\"\n"
		"outputs:\n"
		"  - type: file   # the file\n"
		"    path: >-\n      /var/log/x\n"
		"    queue: *b\n"
		"  - ? type\n    : syslog\n"
		"    url: |\n      syslog://h\n"
		"...\n";
	static const char alphabet[] = "{}[]:,-?&*!|>'\"#%@` \n\n\n  \t\\.~0x1eE+ab:yesno\x00\xff\xc3\xa9";
	char buf[512];
	int parsed = 0;

	CHECK(sane(valid, sizeof(valid) - 1) == 1);
	/* every prefix of a valid config, and each with one byte changed */
	for (size_t n = 0; n <= sizeof(valid) - 1; n++) {
		CHECKF(sane(valid, n) >= 0, "prefix of %zu bytes", n);
		memcpy(buf, valid, sizeof(valid));
		buf[n] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		CHECKF(sane(buf, sizeof(valid) - 1) >= 0, "byte %zu changed", n);
	}
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rnd() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = iter % 4 ? alphabet[rnd() % (sizeof(alphabet) - 1)] :
					(char)rnd();
		int r = sane(buf, len);

		if (r < 0) {
			char q[1200];

			FAIL("not a mapping nor one line of error for %s",
			     ts_test_quote(q, sizeof(q), buf, len));
			return;
		}
		parsed += r;
	}
	/* the alphabet makes some documents that parse, not only errors */
	CHECKF(parsed > 0, "none of the random documents parsed");
}

/* The file's name, else its first byte, picks the parser. */
static int load(const char *name, const char *text, char *err, size_t errlen)
{
	char path[256];
	struct ts_options o;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/tmp/tcpship-unit-%d-%s", (int)getpid(), name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	ts_options_init(&o);
	err[0] = 0;
	rc = ts_config_load(path, &o, err, errlen);
	if (!rc)
		ts_config_release(&o);
	unlink(path);
	return rc;
}

TEST(yaml_or_json_by_name_then_first_byte)
{
	char err[512];

	/* JSON's parser is strict: YAML's flow style is not JSON */
	CHECK(load("a.json", "{events: [connect]}", err, sizeof(err)) != 0);
	CHECKF(strstr(err, "invalid JSON"), "%s", err);
	CHECKF(load("a.yaml", "{events: [connect]}", err, sizeof(err)) == 0, "%s", err);
	CHECKF(load("a.yml", "events: [connect]", err, sizeof(err)) == 0, "%s", err);
	CHECK(load("a.conf", " \n\t{events: [connect]}", err, sizeof(err)) != 0);
	CHECKF(strstr(err, "invalid JSON"), "%s", err);
	CHECKF(load("a.conf", "events: [connect]\n", err, sizeof(err)) == 0, "%s", err);
	CHECKF(load("a", "# YAML\n{events: [connect]}\n", err, sizeof(err)) == 0, "%s", err);
	/* the same mistake: the same message, with the line in YAML */
	CHECK(load("b.json", "{\n\"filters\": {\n\"ports\": [1]}}", err, sizeof(err)) != 0);
	CHECKF(strstr(err, "b.json: filters.ports: unknown key (known here: "), "%s", err);
	CHECK(load("b.yaml", "filters:\n  ports: [1]\n", err, sizeof(err)) != 0);
	CHECKF(strstr(err, "b.yaml: line 2: filters.ports: unknown key (known here: "), "%s", err);
	CHECK(load("c.yaml", "a: [\n", err, sizeof(err)) != 0);
	CHECKF(strstr(err, "c.yaml: line 2, column 1: invalid YAML: "), "%s", err);
}

/* the repo's file at rel (the binary is ROOT/.output/unit-tests) */
static char *repo_file(const char *rel, size_t *len)
{
	char exe[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash, *text = NULL;
	FILE *f;

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	for (int i = 0; i < 2 && (slash = strrchr(exe, '/')); i++)
		*slash = 0;
	snprintf(path, sizeof(path), "%s/%s", exe, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	text = calloc(1, 1 << 20);
	*len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	return text;
}

/* The package's YAML config says what its JSON one says, to the value. */
TEST(yaml_packaged_config_equals_json)
{
	size_t ylen = 0, jlen = 0;
	char *yaml = repo_file("packaging/tcpship.yaml", &ylen);
	char *json = repo_file("packaging/tcpship.json", &jlen);
	struct json_object *y = NULL, *j = NULL;
	char err[512] = "";
	bool same;

	if (!yaml || !json) {
		free(yaml);
		free(json);
		SKIP("packaging/tcpship.{yaml,json} not beside the binary's folder");
	}
	y = ts_yaml_parse(yaml, ylen, err, sizeof(err));
	j = json_tokener_parse(json);
	same = y && j && json_object_equal(y, j);
	if (!same)
		FAIL("tcpship.yaml (%s) differs from tcpship.json: %s vs %s", err,
		     y ? json_object_to_json_string(y) : "-", j ? json_object_to_json_string(j) : "-");
	json_object_put(y);
	json_object_put(j);
	free(yaml);
	free(json);
}
