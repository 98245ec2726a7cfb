#!/usr/bin/python3
"""tcpship's test runner.

Runs the C unit tests (.output/unit-tests) and every test_* function of
tests/*/test_*.py, prints one line per test and ends with the summary line
`N passed, N failed[, N skipped]`. Exit status 1 if anything failed.

    tests/run.py                 everything
    tests/run.py unit            only names containing "unit"
    tests/run.py dns refused     names containing any of the words
"""
import importlib.util
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

import tslib  # noqa: E402


def wanted(name, filters):
    return not filters or any(f in name for f in filters)


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def record(self, status, name, detail="", secs=None):
        t = f" ({secs:.1f}s)" if secs is not None else ""
        if status == "PASS":
            self.passed += 1
            print(f"PASS {name}{t}", flush=True)
        elif status == "SKIP":
            self.skipped += 1
            print(f"SKIP {name}: {detail}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}: {detail}{t}", flush=True)


def run_unit(res, filters):
    binary = os.path.join(ROOT, ".output", "unit-tests")
    if not os.path.exists(binary):
        res.record("FAIL", "unit/build", f"{binary} missing: run make")
        return
    p = subprocess.run([binary], capture_output=True, text=True, timeout=300)
    seen = 0
    for line in p.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.partition(": ")
        if status not in ("PASS", "FAIL", "SKIP") or not wanted(name, filters):
            continue
        seen += 1
        res.record(status, name, detail)
    any_fail = any(l.startswith("FAIL ") for l in p.stdout.splitlines())
    if p.returncode not in (0, 1) or (p.returncode == 1 and not any_fail):
        res.record("FAIL", "unit/harness", f"exit {p.returncode}: {p.stderr[-300:]}")
    if not seen and not filters:
        res.record("FAIL", "unit/harness", "no unit tests ran")


def load_modules():
    mods = []
    for sub in sorted(os.listdir(HERE)):
        d = os.path.join(HERE, sub)
        if not os.path.isdir(d) or sub in ("lib", "trig", "unit", "bench"):
            continue
        for f in sorted(os.listdir(d)):
            if f.startswith("test_") and f.endswith(".py"):
                path = os.path.join(d, f)
                spec = importlib.util.spec_from_file_location(f"{sub}.{f[:-3]}", path)
                m = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(m)
                mods.append((sub, f[:-3], m))
    return mods


def main():
    filters = sys.argv[1:]
    res = Results()
    os.chdir(ROOT)
    run_unit(res, filters)
    for sub, modname, m in load_modules():
        tests = [(n, getattr(m, n)) for n in dir(m) if n.startswith("test_")]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        for name, fn in tests:
            full = f"{sub}/{modname[5:]}/{name[5:]}"
            if not wanted(full, filters):
                continue
            t0 = time.monotonic()
            try:
                fn()
                res.record("PASS", full, secs=time.monotonic() - t0)
            except tslib.Skip as e:
                res.record("SKIP", full, str(e))
            except Exception as e:  # noqa: BLE001 - every failure is reported
                detail = f"{type(e).__name__}: {e}".replace("\n", " | ")
                res.record("FAIL", full, detail[:2000], time.monotonic() - t0)
                if os.environ.get("TS_TRACEBACK"):
                    traceback.print_exc()
            finally:
                tslib.cleanup()
    summary = f"{res.passed} passed, {res.failed} failed"
    if res.skipped:
        summary += f", {res.skipped} skipped"
    if res.failures:
        print("failed: " + " ".join(res.failures))
    print(summary)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
