"""The layout DESIGN.md draws: imports one way, files and functions a
reader can hold in mind. No root needed: it reads the sources."""
import os
import re

from tslib import ROOT

SRC_DIRS = ("bpf", "shipper", "outputs")
MAX_FILE_LINES = 900
MAX_FUNCTION_LINES = 120


def sources(*dirs, exts=(".c", ".h")):
    for d in dirs:
        for top, _, files in os.walk(os.path.join(ROOT, d)):
            for f in sorted(files):
                if f.endswith(exts):
                    yield os.path.join(top, f)


def rel(path):
    return os.path.relpath(path, ROOT)


def functions(path):
    """(name, first line, length) of each function defined at the top level:
    the kernel style these files keep, a body's braces in column 0."""
    lines = open(path, errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{":
            start = i - 1
            while start > 0 and "(" not in lines[start]:
                start -= 1
            m = re.search(r"(\w+)\s*\(", lines[start])
            end = i + 1
            while end < len(lines) and lines[end] != "}":
                end += 1
            yield (m.group(1) if m else "?", start + 1, end - start + 1)
            i = end
        i += 1


def test_no_source_file_over_900_lines():
    big = [(rel(p), n) for p in sources(*SRC_DIRS)
           if (n := sum(1 for _ in open(p, errors="replace"))) > MAX_FILE_LINES]
    assert not big, f"files over {MAX_FILE_LINES} lines: {big}"


def test_no_function_over_120_lines():
    seen = 0
    long_ones = []
    for p in sources(*SRC_DIRS, exts=(".c",)):
        for name, line, n in functions(p):
            seen += 1
            if n > MAX_FUNCTION_LINES:
                long_ones.append(f"{rel(p)}:{line} {name} ({n} lines)")
    assert seen > 100, f"found only {seen} functions: the finder is broken"
    assert not long_ones, "functions over 120 lines:\n" + "\n".join(long_ones)


def test_the_core_includes_nothing_of_outputs():
    """An include in shipper/ resolves inside shipper/ (or the build and
    bpf/ folders the core may use), never in outputs/ (the build leaves
    outputs/ off the core's include path too)."""
    bad, seen = [], 0
    for p in sources("shipper"):
        for n, line in enumerate(open(p), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            seen += 1
            name = m.group(1)
            here = [os.path.join(os.path.dirname(p), name), os.path.join(ROOT, "shipper", name),
                    os.path.join(ROOT, "bpf", name)]
            if name.endswith(".skel.h"):
                continue        # made by the build from bpf/
            if not any(os.path.exists(c) for c in here):
                bad.append(f"{rel(p)}:{n}: {line.strip()}")
    assert seen > 30, seen
    assert not bad, "shipper/ includes headers from outside the core:\n" + "\n".join(bad)


def test_sinks_know_nothing_of_bpf():
    bad = [f"{rel(p)}:{n}: {line.strip()}"
           for p in sources("outputs") for n, line in enumerate(open(p), 1)
           if re.match(r'\s*#\s*include\s+[<"](tcpship\.h|bpf/|.*skel\.h)', line)]
    assert not bad, "sinks include the kernel's contract:\n" + "\n".join(bad)
