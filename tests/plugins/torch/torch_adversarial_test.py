#!/usr/bin/python3
"""The sklearn adversarial corpus (tests/plugins/sklearn/make_adversarial.py, run as is) through
the .pt path: every single-stream pickle payload wrapped as archive/data.pkl of a torch.save-like
zip, then `milo scan` and `milo convert`. Nothing may run (canary), nothing may crash (exit codes
0, 3, 4 or 5 only), and payloads the corpus calls dangerous must not scan clean.

Usage: torch_adversarial_test.py MILO_CLI MAKE_ADVERSARIAL OUT_DIR [--no-memory-limit]
(sanitizer builds reserve terabytes of address space: no RLIMIT_AS there)
"""
import json
import os
import resource
import subprocess
import sys
import zipfile

MILO, MAKE, OUT = sys.argv[1:4]
MEMORY_LIMIT = "--no-memory-limit" not in sys.argv[4:]
ALLOWED = {0, 3, 4, 5}


def limited():
    if MEMORY_LIMIT:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run(*args):
    p = subprocess.run([MILO] + list(args), capture_output=True, text=True, timeout=120,
                       preexec_fn=limited)
    return p.returncode, p.stdout + p.stderr


def main():
    canary = os.path.join(OUT, "canary")
    corpus = os.path.join(OUT, "corpus")
    subprocess.run([sys.executable, MAKE, canary, corpus], check=True, capture_output=True)
    with open(os.path.join(corpus, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    wrapped = os.path.join(OUT, "wrapped")
    os.makedirs(wrapped, exist_ok=True)
    failures, count = [], 0
    for e in manifest["files"]:
        if e.get("protocol") is None:
            continue  # not one pickle stream (joblib, zips, concatenations)
        count += 1
        with open(os.path.join(corpus, e["file"]), "rb") as f:
            payload = f.read()
        pt = os.path.join(wrapped, e["file"].replace("/", "_") + ".pt")
        with zipfile.ZipFile(pt, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", payload)
            z.writestr("archive/version", "3\n")
        scan_rc, scan_out = run("scan", pt)
        conv_rc, conv_out = run("convert", pt, pt + ".json")
        for what, rc, out in (("scan", scan_rc, scan_out), ("convert", conv_rc, conv_out)):
            if rc not in ALLOWED:
                failures.append("%s: %s exit %d: %s" % (e["file"], what, rc, out.strip()[:300]))
        if e["expectation"] == "dangerous" and scan_rc == 0:
            failures.append("%s: dangerous payload scans clean: %s" % (e["file"], scan_out[:300]))
    if os.path.exists(canary):
        failures.append("the canary exists: a payload ran")
    for f in failures:
        print("FAIL:", f)
    print("torch adversarial: %d payloads wrapped as archive/data.pkl; %d failures" %
          (count, len(failures)))
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
