#!/usr/bin/env python3
"""Runs the adversarial corpus (make_adversarial.py) through the `milo` tool and the Python
adapter, and checks that every file is refused or classified and that nothing ran.

Usage: adversarial_test.py BUILD_DIR CORPUS_DIR CANARY [--plugin PATH] [--no-memory-limit]
                           [--only TEXT]

For each file of CORPUS_DIR/manifest.json:
  * `BUILD_DIR/bin/milo scan FILE` and `milo convert FILE out.json` in subprocesses, 10 s timeout,
    1 GiB address-space limit: no signal, no timeout; exit codes (sdk/tools/milo/cli_runtime.hpp)
    3 invalid or 5 unsupported for "error" files, with the message on stderr naming a byte offset
    (the exact one when the manifest gives it) or a document path ("no transporter recognises
    it" only where the manifest allows it: zip archives); 4 for "dangerous" files;
    every offender classified at least at its level in the scan report (or, when the plugin
    refuses to decode dangerous content, named in the message) and in the trust list of the
    converted document when convert succeeds (names compare with "pkg.mod:A.B" = "pkg.mod.A.B");
    a report that passes (exit 0) must still list something untrusted or unlisted;
  * the Python adapter (adapters/python, when it has milo.load): milo.load(FILE) and milo.load of
    the converted document must raise; milo.scan(FILE), when present, must raise for "error"
    files and list the dangerous offenders otherwise. Run in a subprocess with the same memory
    limit and 10 s per operation;
  * the canary must not exist afterwards.
One line per file, then "N files in F families: all refused/classified"; exit 1 on any failure,
77 when --plugin names a plugin that was not built.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ADAPTER_DIR = os.path.join(REPO, "adapters", "python")
TIMEOUT = 10
MEMORY_LIMIT = 1 << 30
RANK = {"trusted": 0, "untrusted": 1, "dangerous": 2}
EXIT_INVALID, EXIT_DANGEROUS, EXIT_UNSUPPORTED = 3, 4, 5
REPORT_LINE = re.compile(r"^\s+(trusted|untrusted|dangerous|unlisted)\s+(\S+)", re.M)
LOCATION = re.compile(r"\bbyte \d+|\boffset \d+|/root\b")
NO_TRANSPORTER = "no transporter recognises it"  # load_input's message (cli_runtime.cpp)


def limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class Run:
    """One subprocess, bounded in time and memory."""

    def __init__(self, argv, memory_limit, cwd, env=None, operations=1):
        self.argv = argv
        self.timeout = TIMEOUT * operations
        self.timed_out = False
        try:
            p = subprocess.run(argv, capture_output=True, timeout=self.timeout, cwd=cwd,
                               env=env, preexec_fn=limit_memory if memory_limit else None)
            self.rc, self.out, self.err = p.returncode, p.stdout.decode(errors="replace"), \
                p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.rc, self.out, self.err, self.timed_out = None, "", "", True

    def problem(self, what):
        """Why this run is broken in any case (timeout, signal), or None."""
        if self.timed_out:
            return "%s timed out after %d s" % (what, self.timeout)
        if self.rc < 0:
            return "%s killed by signal %d; stderr: %s" % (what, -self.rc, self.err.strip()[-300:])
        return None


def canonical(name):
    """Names compare as module.qualname: the plugin writes a dotted qualname "pkg.mod:A.B"."""
    return name.replace(":", ".")


def levels_in_report(text):
    """{name: highest level} of the lines of a `milo scan` report ("unlisted" ranks -1)."""
    out = {}
    for level, name in REPORT_LINE.findall(text):
        name = canonical(name)
        out[name] = max(out.get(name, -1), RANK.get(level, -1))
    return out


def levels_in_document(path):
    """{name: highest level} of the trust list of a converted JSON document."""
    with open(path, "rb") as fh:
        doc = json.load(fh)
    out = {}
    for t in doc.get("milo", {}).get("trust", []):
        name = canonical(t["name"])
        out[name] = max(out.get(name, -1), RANK.get(t.get("level"), 2))
    return out


def check_offenders(levels, offenders, where, fallback_text=None):
    """Problems with the offenders' classification in `levels`; a name missing from `levels`
    passes when it appears in `fallback_text` (the message of a refused decode)."""
    problems = []
    for name, level in offenders.items():
        got = levels.get(name)
        if got is None and fallback_text is not None and name in canonical(fallback_text):
            continue
        if got is None or got < RANK[level]:
            state = "missing" if got is None else ("unclassified" if got < 0 else
                                                  [k for k, v in RANK.items() if v == got][0])
            problems.append("%s: %s is %s, expected at least %s" % (where, name, state, level))
    return problems


def check_file(e, args, tmp):
    """Problems with one corpus file (empty: passed) and a short outcome label."""
    path = os.path.join(args.corpus, e["file"])
    accepted = {e["expectation"]} | set(e.get("also_accept", []))
    offenders = e.get("offenders", {})
    milo = os.path.join(args.build, "bin", "milo")
    mem = not args.no_memory_limit
    problems = []

    scan = Run([milo, "scan", path], mem, tmp)
    broken = scan.problem("scan")
    if broken:
        return [broken], "crash"
    report = levels_in_report(scan.out)
    outcome = None
    unrecognised = scan.rc == EXIT_UNSUPPORTED and NO_TRANSPORTER in scan.err
    if unrecognised:
        outcome = "unsupported"
        if not e.get("unsupported_ok"):
            problems.append("no transporter recognises it: %s" % scan.err.strip()[-300:])
    elif scan.rc in (EXIT_INVALID, EXIT_UNSUPPORTED):
        outcome = "error"
        if "error" not in accepted:
            problems.append("scan refused it (exit %d: %s), expected %s" %
                            (scan.rc, scan.err.strip()[-300:], e["expectation"]))
        elif not scan.err.strip():
            problems.append("scan exit %d with nothing on stderr" % scan.rc)
        elif e.get("error_offset") is not None:
            if not re.search(r"\bbyte %d\b" % e["error_offset"], scan.err):
                problems.append("scan error does not name byte %d: %s" %
                                (e["error_offset"], scan.err.strip()[-300:]))
        elif e.get("needs_location", True) and not LOCATION.search(scan.err):
            problems.append("scan error names no byte offset or document path: %s" %
                            scan.err.strip()[-300:])
    elif scan.rc == EXIT_DANGEROUS:
        outcome = "dangerous"
        if not accepted & {"dangerous", "untrusted"}:
            problems.append("scan exit 4 (dangerous), expected an error; stderr: %s" %
                            scan.err.strip()[-200:])
        else:
            problems += check_offenders(report, offenders, "scan", scan.err)
    elif scan.rc == 0:
        outcome = "classified"
        if "untrusted" not in accepted:
            problems.append("scan exit 0, expected %s" % " or ".join(sorted(accepted)))
        problems += check_offenders(report, offenders, "scan")
        # "unlisted" (named in the tree, not in the trust list) counts as not trusted here, as
        # in milo.scan's report
        if not any(level >= RANK["untrusted"] or level < 0 for level in report.values()):
            problems.append("scan reports nothing untrusted, dangerous or unlisted")
    else:
        problems.append("scan exit %d (not a refusal code); stderr: %s" %
                        (scan.rc, scan.err.strip()[-300:]))

    doc = os.path.join(tmp, "out.json")
    if os.path.exists(doc):
        os.remove(doc)
    conv = Run([milo, "convert", path, doc], mem, tmp)
    broken = conv.problem("convert")
    if broken:
        problems.append(broken)
    elif conv.rc == 0:
        if outcome in ("error", "unsupported"):
            problems.append("convert succeeded where scan refused the file")
        elif not os.path.exists(doc):
            problems.append("convert exit 0 but wrote no document")
        else:
            try:
                problems += check_offenders(levels_in_document(doc), offenders, "convert")
            except (ValueError, KeyError, TypeError) as x:
                problems.append("converted document unreadable: %s" % x)
    elif conv.rc in (EXIT_INVALID, EXIT_UNSUPPORTED, EXIT_DANGEROUS):
        if outcome in ("dangerous", "classified") and conv.rc != EXIT_DANGEROUS:
            problems.append("convert exit %d where scan decoded the file: %s" %
                            (conv.rc, conv.err.strip()[-200:]))
        if not conv.err.strip():
            problems.append("convert exit %d with nothing on stderr" % conv.rc)
    else:
        problems.append("convert exit %d: %s" % (conv.rc, conv.err.strip()[-300:]))

    if args.adapter:
        have_doc = conv.rc == 0 and os.path.exists(doc)
        argv = [sys.executable, os.path.abspath(__file__), "--adapter-child", path,
                doc if have_doc else "-"]
        # 10 s for each of milo.load(file), milo.load(doc) and milo.scan(file)
        child = Run(argv, mem, tmp, env=args.adapter_env, operations=2 + have_doc)
        broken = child.problem("python adapter")
        if broken:
            problems.append(broken)
        elif child.rc != 0:
            problems.append("python adapter check failed: %s" % child.err.strip()[-300:])
        else:
            res = json.loads(child.out.strip().splitlines()[-1])
            for key in ("load", "load_doc"):
                if res.get(key) == "returned":
                    problems.append("milo.%s returned an object" %
                                    ("load(file)" if key == "load" else "load(converted doc)"))
            scan_res = res.get("scan")
            if scan_res is not None:
                if outcome == "error" and "error" not in scan_res:
                    problems.append("milo.scan returned a report for a file milo refuses")
                elif outcome == "dangerous" and "error" not in scan_res:
                    want = {n: l for n, l in offenders.items() if l == "dangerous"}
                    levels = {canonical(n): RANK["dangerous"]
                              for n in scan_res.get("dangerous", [])}
                    problems += check_offenders(levels, want, "milo.scan")
    if os.path.exists(args.canary):
        problems.append("THE CANARY EXISTS: a payload ran")
        os.remove(args.canary)
    return problems, outcome


def adapter_child(path, doc):
    """Subprocess body: milo.load / milo.scan on one file; prints one JSON line."""
    sys.path.insert(0, ADAPTER_DIR)
    import milo

    def attempt(fn):
        try:
            fn()
            return "returned"
        except Exception as x:  # any exception is a refusal
            return "raised %s: %s" % (type(x).__name__, str(x)[:200])

    res = {"load": attempt(lambda: milo.load(path))}
    if doc != "-":
        res["load_doc"] = attempt(lambda: milo.load(doc))
    if hasattr(milo, "scan"):
        try:
            report = milo.scan(path)
            res["scan"] = {lvl: [getattr(x, "name", x) for x in getattr(report, lvl, [])]
                           for lvl in ("dangerous", "untrusted", "trusted")}
        except Exception as x:
            res["scan"] = {"error": "%s: %s" % (type(x).__name__, str(x)[:200])}
    print(json.dumps(res))
    return 0


def adapter_env(build):
    env = dict(os.environ)
    env["MILO_LIBRARY"] = os.path.join(build, "lib", "libmilo.so")
    env["PYTHONPATH"] = ADAPTER_DIR + os.pathsep + env.get("PYTHONPATH", "")
    return env


def adapter_available(env):
    """True when the adapter imports and has milo.load; prints why not otherwise."""
    probe = subprocess.run([sys.executable, "-c",
                            "import milo; print(hasattr(milo, 'load'), hasattr(milo, 'scan'))"],
                           capture_output=True, env=env, timeout=60)
    if probe.returncode != 0:
        print("note: the Python adapter does not import (%s): milo.load checks skipped" %
              probe.stderr.decode(errors="replace").strip().splitlines()[-1:])
        return False
    has_load, has_scan = probe.stdout.decode().split()
    if has_load != "True":
        print("note: the Python adapter has no milo.load yet: milo.load checks skipped")
        return False
    if has_scan != "True":
        print("note: the Python adapter has no milo.scan yet: milo.scan checks skipped")
    return True


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--adapter-child":
        return adapter_child(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("corpus")
    ap.add_argument("canary")
    ap.add_argument("--plugin", help="skip (exit 77) when this plugin file does not exist")
    ap.add_argument("--no-memory-limit", action="store_true",
                    help="no RLIMIT_AS (sanitizer builds reserve huge address ranges)")
    ap.add_argument("--only", help="only files whose path contains TEXT")
    args = ap.parse_args()
    args.build, args.corpus = os.path.abspath(args.build), os.path.abspath(args.corpus)
    args.canary = os.path.abspath(args.canary)
    if args.plugin and not os.path.exists(args.plugin):
        print("SKIPPED: sklearn plugin not built (%s)" % args.plugin)
        return 77
    milo = os.path.join(args.build, "bin", "milo")
    if not os.access(milo, os.X_OK):
        print("FAIL: no milo tool at %s" % milo)
        return 1
    with open(os.path.join(args.corpus, "manifest.json")) as fh:
        manifest = json.load(fh)
    if os.path.abspath(manifest["canary"]) != args.canary:
        print("FAIL: the corpus was made for canary %s, not %s" % (manifest["canary"], args.canary))
        return 1
    if os.path.exists(args.canary):
        print("note: removing a canary left by an earlier run: %s" % args.canary)
        os.remove(args.canary)
    args.adapter_env = adapter_env(args.build)
    args.adapter = adapter_available(args.adapter_env)

    files = [e for e in manifest["files"] if not args.only or args.only in e["file"]]
    failed, outcomes = [], {}
    tmp = tempfile.mkdtemp(prefix="milo-adversarial-test-")
    try:
        for e in files:
            problems, outcome = check_file(e, args, tmp)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if problems:
                failed.append(e["file"])
                print("FAIL %s [%s, expected %s]" % (e["file"], outcome, e["expectation"]))
                for p in problems:
                    print("       " + p)
            else:
                print("ok   %s [%s]" % (e["file"], outcome))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    families = {e["family"] for e in files}
    if os.path.exists(args.canary):
        failed.append("(canary)")
        print("FAIL: the canary %s exists at the end" % args.canary)
    summary = ", ".join("%d %s" % (n, k) for k, n in sorted(outcomes.items(), key=str))
    if failed:
        print("%d files in %d families: %d FAILED (%s)" % (len(files), len(families),
                                                           len(failed), summary))
        return 1
    print("%d files in %d families: all refused/classified (%s)" % (len(files), len(families),
                                                                      summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
