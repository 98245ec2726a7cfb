"""A strict parser of ArcSight CEF lines ("Implementing ArcSight CEF", rev 25).

    parse_cef(line) -> (header, ext)

header: the 7 header fields, unescaped: [version, device vendor, device
product, device version, signature id, name, severity]; ext: the
extension's key -> unescaped value. ValueError, saying what is wrong and
where, for anything the spec does not allow:

- the line starts with "CEF:" (no syslog prefix: strip it first); one
  trailing "\\n" (the record's end) is allowed, any other CR or LF is not;
- 7 header fields, each ended by an unescaped "|"; in them "\\|" and "\\\\"
  are the only escapes; the version is 0 or 1; the severity 0..10 or
  Unknown, Low, Medium, High, Very-High;
- the extension is key=value pairs split by spaces; a key is
  [A-Za-z0-9_.]+ (custom keys and labels too), a value runs to the space
  before the next key=; in values "\\=", "\\\\", "\\n" and "\\r" are the only
  escapes, an unescaped "=" that starts no key is an error, and so is a key
  given twice. Pipes need no escape in the extension.
"""
import re

_KEY = re.compile(r"([A-Za-z0-9_.]+)=")
_KEYNAME = re.compile(r"[A-Za-z0-9_.]+")
_SEVERITIES = {"Unknown", "Low", "Medium", "High", "Very-High"}
_HEADER = ("version", "device vendor", "device product", "device version",
           "signature id", "name", "severity")
_EXT_ESC = {"=": "=", "\\": "\\", "n": "\n", "r": "\r"}


def _header(s):
    """The 7 fields of s (the line after "CEF:") and where the extension starts."""
    fields, cur, i = [], [], 0
    while len(fields) < 7:
        if i >= len(s):
            raise ValueError(f"CEF header: {len(fields)} fields ended by '|', want 7 "
                             f"(the {_HEADER[len(fields)]} field is not ended)")
        c = s[i]
        if c == "\\":
            if i + 1 < len(s) and s[i + 1] in "|\\":
                cur.append(s[i + 1])
                i += 2
                continue
            nxt = repr(s[i + 1]) if i + 1 < len(s) else "the end"
            raise ValueError(f"CEF header {_HEADER[len(fields)]}: backslash before {nxt} "
                             f"at offset {i + 4} (only \\| and \\\\ are escapes)")
        if c == "|":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    return fields, i


def _unescape(key, raw, at):
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            nxt = raw[i + 1] if i + 1 < len(raw) else None
            if nxt not in _EXT_ESC:
                what = repr(nxt) if nxt is not None else "the end of the value"
                raise ValueError(f"CEF extension {key}: backslash before {what} at offset "
                                 f"{at + i} (only \\= \\\\ \\n \\r are escapes)")
            out.append(_EXT_ESC[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _extension(ext, base):
    """key -> value of the extension text ext (at offset base of the line)."""
    out, pos = {}, 0
    while pos < len(ext):
        m = _KEY.match(ext, pos)
        if not m:
            raise ValueError(f"CEF extension: no key= at offset {base + pos}: "
                             f"{ext[pos:pos + 30]!r}")
        key, start = m.group(1), m.end()
        j, last_space, end = start, -1, None
        while j < len(ext):
            c = ext[j]
            if c == "\\":
                if j + 1 >= len(ext) or ext[j + 1] not in _EXT_ESC:
                    _unescape(key, ext[start:j + 2], base + start)  # raises
                j += 2
                continue
            if c == " ":
                last_space = j
            elif c == "=":
                if last_space >= start and _KEYNAME.fullmatch(ext[last_space + 1:j]):
                    end = last_space
                    break
                raise ValueError(f"CEF extension {key}: unescaped '=' in the value at "
                                 f"offset {base + j} (escape it as \\=)")
            j += 1
        raw = ext[start:end] if end is not None else ext[start:]
        if key in out:
            raise ValueError(f"CEF extension: key {key} given twice")
        out[key] = _unescape(key, raw, base + start)
        pos = end + 1 if end is not None else len(ext)
    return out


def parse_cef(line):
    if not isinstance(line, str):
        raise ValueError("CEF: a line is a str")
    if line.endswith("\n"):
        line = line[:-1]
    for bad, name in (("\n", "LF"), ("\r", "CR")):
        if bad in line:
            raise ValueError(f"CEF: a raw {name} at offset {line.index(bad)} "
                             f"(in values it is \\{'n' if bad == chr(10) else 'r'})")
    if not line.startswith("CEF:"):
        raise ValueError(f"CEF: the line does not start with 'CEF:': {line[:30]!r}")
    header, i = _header(line[4:])
    if header[0] not in ("0", "1"):
        raise ValueError(f"CEF header version: {header[0]!r}, want 0 or 1")
    sev = header[6]
    if not (sev in _SEVERITIES or re.fullmatch(r"[0-9]|10", sev)):
        raise ValueError(f"CEF header severity: {sev!r}, want 0..10 or "
                         f"{', '.join(sorted(_SEVERITIES))}")
    return header, _extension(line[4 + i:], 4 + i)
