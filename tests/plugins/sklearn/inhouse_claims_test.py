#!/usr/bin/env python3
"""The sklearn transporter never hands a dangerous or allowlisted class to another plugin.

    inhouse_claims_test.py MILO CLAIMS_PLUGIN WORKDIR

CLAIMS_PLUGIN (tests/test_plugins/sklearn_claims_plugin.cpp) registers the in-house extension
for os.system, posix.system, builtins.eval, scikit-learn's LogisticRegression and
acme.evil.Widget, and replaces whatever it is given by a marker. A pickle using all of them is
converted with it, both ways: only the Widget may carry the marker or be trusted through the
plugin; the others keep their pickle-level form and classification, and `milo scan` still
exits 4. Python's json and pickle-free byte strings only: no numpy needed, nothing unpickled.
"""

import json
import os
import shutil
import subprocess
import sys

TYPES = ("os.system", "builtins.eval", "posix.system",  # in the order danger_pickle uses them
         "sklearn.linear_model._logistic.LogisticRegression", "acme.evil.Widget")


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s):
    b = s.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def danger_pickle():
    """[os.system("echo pwned"), builtins.eval("1+1"), posix.system NEWOBJ, LogisticRegression
    NEWOBJ + BUILD {}, acme.evil.Widget NEWOBJ + BUILD {"x": 1}] in protocol-2 opcodes."""
    p = b"\x80\x02]("
    p += glob("os", "system") + b"(" + text("echo pwned") + b"tR"
    p += glob("builtins", "eval") + b"(" + text("1+1") + b"tR"
    p += glob("posix", "system") + b")\x81"
    p += glob("sklearn.linear_model._logistic", "LogisticRegression") + b")\x81}b"
    p += glob("acme.evil", "Widget") + b")\x81}(" + text("x") + b"K\x01ub"
    return p + b"e."


def run(argv, code=0):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != code:
        sys.exit("FAILED: %s: exit %d, expected %d\n%s%s" % (" ".join(argv), r.returncode, code,
                                                              r.stdout, r.stderr))
    return r.stdout


def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)


def main():
    milo, plugin, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src = os.path.join(work, "danger.pkl")
    with open(src, "wb") as f:
        f.write(danger_pickle())
    w = lambda n: os.path.join(work, n)  # noqa: E731
    with_plugin = [milo, "--plugin", plugin]
    run(with_plugin + ["plugins"])  # the plugin loads

    # Import: only the Widget is handed over.
    run(with_plugin + ["convert", src, w("doc.json")])
    with open(w("doc.json")) as f:
        doc = json.load(f)
    items = doc["root"]
    check([i["$object"] for i in items] == list(TYPES), "root: %s" % items)
    for item in items[:4]:
        check(item.get("state") != "CLAIMED-ON-IMPORT", "handed over: %s" % item)
    check(items[0]["args"] == {"$tuple": ["echo pwned"]}, "os.system args: %s" % items[0])
    check(items[3]["state"] == {}, "LogisticRegression state: %s" % items[3])
    check(items[4]["state"] == "CLAIMED-ON-IMPORT", "Widget not handed over: %s" % items[4])
    trust = {(t["name"], t["usage"]): t["level"] for t in doc["milo"]["trust"]}
    want = {("os.system", "call"): "dangerous", ("builtins.eval", "call"): "dangerous",
            ("posix.system", "instantiate"): "dangerous",
            ("sklearn.linear_model._logistic.LogisticRegression", "instantiate"): "trusted",
            ("acme.evil.Widget", "instantiate, delegated:test.claims"): "trusted"}
    check(trust == want, "trust: %s" % trust)
    out = run(with_plugin + ["scan", src], code=4)
    check("dangerous  os.system (call)" in out, out)

    # Export: a document holding the same names in pickle-level form (converted without the
    # plugin) is written with the plugin loaded; only the Widget goes through it.
    run([milo, "convert", src, w("plain.json")])
    run(with_plugin + ["convert", w("plain.json"), w("out.pkl")])
    run([milo, "convert", w("out.pkl"), w("back.json")])
    with open(w("back.json")) as f:
        back = json.load(f)["root"]
    with open(w("plain.json")) as f:
        plain = json.load(f)["root"]
    check(back[:4] == plain[:4], "dangerous or allowlisted objects changed on export: %s" % back)
    check(back[4]["state"] == "CLAIMED-ON-EXPORT", "Widget not exported by the plugin: %s" % back)
    with open(w("out.pkl"), "rb") as f:
        check(f.read().count(b"CLAIMED") == 1, "marker count in out.pkl")
    print("sklearn in-house claims: os.system, posix.system, builtins.eval, LogisticRegression "
          "never handed over (import and export); acme.evil.Widget handed over both ways")


if __name__ == "__main__":
    main()
