#!/usr/bin/env python3
"""Proves the ABI pins catch layout changes: for every member of every ABI struct in the public
headers, compile tests/abi/abi_pins.hpp against a copy of the headers with that member removed,
and with it swapped with the next member. Every such mutant must fail to compile; the
unmutated (but re-assembled) headers must compile.

usage: abi_mutation_test.py CXX SDK_INCLUDE_DIR PINS_DIR [JOBS]"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HEADERS = ["error.h", "registry.h", "plugin.h"]
STRUCT = re.compile(r"(?:typedef\s+)?struct\s+(milo_\w+)\s*\{(.*?)\n\}", re.S)
# What a pin says when it fires: a static_assert, or offsetof() of a member that is gone.
PIN_ERROR = re.compile(r"static assertion failed|has no member named")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def structs(text):
    """(name, body_start, body_end, members) for each struct definition in `text`."""
    out = []
    for m in STRUCT.finditer(text):
        body = COMMENT.sub("", m.group(2))
        members = [d.strip() + ";" for d in body.split(";") if d.strip()]
        out.append((m.group(1), m.start(2), m.end(2), members))
    return out


def assemble(text, start, end, members):
    return text[:start] + "\n    " + "\n    ".join(members) + text[end:]


def compile_ok(cxx, include_root, pins_dir):
    tu = os.path.join(include_root, "tu.cpp")
    with open(tu, "w") as f:
        f.write('#include <milo/milo.h>\n#include "abi_pins.hpp"\n')
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-I", include_root, "-I", pins_dir,
                        tu], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def run(job):
    cxx, sdk_include, pins_dir, header, text, label = job
    root = tempfile.mkdtemp(prefix="milo-abi-mutant-")
    try:
        shutil.copytree(os.path.join(sdk_include, "milo"), os.path.join(root, "milo"))
        with open(os.path.join(root, "milo", header), "w") as f:
            f.write(text)
        ok, err = compile_ok(cxx, root, pins_dir)
        return label, ok, err
    finally:
        shutil.rmtree(root)


def main():
    cxx, sdk_include, pins_dir = sys.argv[1:4]
    jobs_n = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    baseline, mutants = [], []
    for header in HEADERS:
        text = open(os.path.join(sdk_include, "milo", header)).read()
        for name, start, end, members in structs(text):
            baseline.append((cxx, sdk_include, pins_dir, header,
                             assemble(text, start, end, members), f"{name} (unchanged)"))
            for i, member in enumerate(members):
                short = " ".join(member.split())[:60]
                removed = members[:i] + members[i + 1:]
                mutants.append((cxx, sdk_include, pins_dir, header,
                                assemble(text, start, end, removed),
                                f"{name}: remove '{short}'"))
                if i + 1 < len(members):
                    swapped = list(members)
                    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
                    mutants.append((cxx, sdk_include, pins_dir, header,
                                    assemble(text, start, end, swapped),
                                    f"{name}: swap '{short}' with the next member"))
    names = sorted({b[5].split(" ")[0] for b in baseline})
    expected = {"milo_error", "milo_save_options", "milo_load_options", "milo_api",
                "milo_plugin_info", "milo_decode_context", "milo_encode_context",
                "milo_transporter", "milo_format", "milo_host"}
    if set(names) != expected:
        print(f"FAIL: found structs {names}, expected {sorted(expected)}")
        return 1
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(jobs_n) as pool:
        for label, ok, err in pool.map(run, baseline):
            if not ok:
                print(f"FAIL: re-assembled header does not compile: {label}\n{err[:2000]}")
                failures += 1
        caught = 0
        for label, ok, err in pool.map(run, mutants):
            if ok:
                print(f"FAIL: mutant compiled, the pins missed it: {label}")
                failures += 1
            elif not PIN_ERROR.search(err):
                print(f"FAIL: mutant rejected, but not by a pin: {label}\n{err[:2000]}")
                failures += 1
            else:
                caught += 1
    print(f"abi mutation test: {len(names)} ABI structs, {len(mutants)} mutants "
          f"(each member removed, each adjacent pair swapped), {caught} rejected by the pins")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
