// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "json.h"

#include <string.h>

size_t ts_json_escape(char *out, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char *o = out;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
			i++;
		} else {
			size_t len = ts_utf8_seq(s + i, n - i);

			if (len) {
				memcpy(o, s + i, len);
				o += len;
				i += len;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
				o += 3;
				i++;
			}
		}
	}
	return (size_t)(o - out);
}
