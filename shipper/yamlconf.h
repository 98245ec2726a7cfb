/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A YAML config file (libyaml) made into the json-c tree a JSON file gives,
 * so that one set of checks (conf.c, options.c, each sink's table) serves
 * both formats with the same key paths. Scalars follow YAML 1.2's core
 * schema: `yes`, `no`, `on`, `off` are strings (not YAML 1.1's booleans).
 *
 * Each mapping and sequence of the tree carries the lines of its members
 * (the key's line, or the item's) as json-c userdata, so that a mistake
 * found later by key path can name its line: ts_yaml_msg_line().
 */
#ifndef TS_YAMLCONF_H
#define TS_YAMLCONF_H

#include <stddef.h>

struct json_object;

/* a config has no more nodes than this, aliases expanded ("billion laughs") */
#define TS_YAML_MAX_NODES 100000
/* nor deeper nesting: json-c's default depth for a JSON file */
#define TS_YAML_MAX_DEPTH 32

/* The tree of the one YAML document in text[0..len) (a mapping at the top
 * level), or NULL with one line in err ("line 3, column 7: invalid YAML:
 * ...", "line 9: duplicate key 'port' (first at line 4)"; no file name). */
struct json_object *ts_yaml_parse(const char *text, size_t len, char *err, size_t errlen);

/* The line of the member that a message starting with a key path is about
 * ("outputs[1].queue.max_size: ...", or "outputs[0]: properties.acks: ..."):
 * that of the deepest node along the path that root holds and whose line is
 * known; 0 when none is (a tree from JSON). */
int ts_yaml_msg_line(struct json_object *root, const char *msg);

#endif
