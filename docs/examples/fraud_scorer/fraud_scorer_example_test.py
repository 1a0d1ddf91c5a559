#!/usr/bin/env python3
"""The loop of README.md, run by CTest (fraud_scorer_example_test[_venv]) on one Python stack.

    fraud_scorer_example_test.py --milo MILO --plugin milo_acme_fraud.so --library libmilo.so
                                 --adapter adapters/python --work DIR

make_model.py fits and saves the pipeline; the `milo` tool converts it with and without the
plugin; Python loads the results through milo.load in child processes (with the plugin on
MILO_PLUGIN_PATH, or without it). Exit 0: every check passed; 1: a check failed (the first is
printed); 77: this Python lacks numpy, scikit-learn or joblib.
"""

import argparse
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))  # the acme package, for plain pickle.load
TYPE = "acme.models.FraudScorer"
SCORER_PATH = "/root/state/steps/1/1"  # Pipeline state → steps → ("score", scorer) → scorer


class Failed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failed(what)


def milo_tool(args, cmd, plugin=True, code=0):
    """Runs the milo tool (with the example plugin unless plugin=False); returns its output."""
    argv = [args.milo] + (["--plugin", args.plugin] if plugin else []) + cmd
    r = subprocess.run(argv, capture_output=True, text=True)
    expect(r.returncode == code, "%s: exit %d, expected %d\n%s%s" % (
        " ".join(argv), r.returncode, code, r.stdout, r.stderr))
    return r.stdout + r.stderr


def python_env(args, plugin_dir):
    env = dict(os.environ)
    env.update(MILO_LIBRARY=args.library, MILO_PLUGIN_PATH=plugin_dir or "", PYTHONNOUSERSITE="1",
               PYTHONPATH=os.pathsep.join([args.adapter, os.path.join(HERE, "python")]))
    return env


def child_load(args, path, plugin_dir, refuse=False):
    """milo.load(path) in a new process: it must equal the original (or be refused)."""
    argv = [sys.executable, os.path.abspath(__file__), "--child-load", path,
            "--work", args.work] + (["--refuse"] if refuse else [])
    r = subprocess.run(argv, capture_output=True, text=True, env=python_env(args, plugin_dir))
    expect(r.returncode == 0, "milo.load(%s) with MILO_PLUGIN_PATH=%r:\n%s%s" % (
        path, plugin_dir or "", r.stdout, r.stderr))
    return r.stdout


def bits(x):
    return struct.pack("<d", x)


def same_scorer(a, b):
    """Attribute by attribute: same names in the same order, arrays and floats bit-identical."""
    expect(type(a) is type(b), "class %r vs %r" % (type(a), type(b)))
    expect(list(vars(a)) == list(vars(b)), "attributes %s vs %s" % (list(vars(a)), list(vars(b))))
    for k, va in vars(a).items():
        vb = vars(b)[k]
        if hasattr(va, "dtype"):
            expect(va.dtype == vb.dtype and va.shape == vb.shape and va.tobytes() == vb.tobytes(),
                   "%s differs" % k)
        elif isinstance(va, float):
            expect(type(vb) is float and bits(va) == bits(vb), "%s: %r vs %r" % (k, va, vb))
        else:
            expect(type(va) is type(vb) and va == vb, "%s: %r vs %r" % (k, va, vb))


def child(path, work, refuse):
    """In the child process: load, compare with the original, print a line."""
    import numpy as np
    import milo
    if refuse:
        try:
            milo.load(path)
        except milo.UntrustedTypesError as e:
            expect(TYPE in str(e), "refusal does not name %s: %s" % (TYPE, e))
            print("refused: %s" % e)
            return
        raise Failed("milo.load(%s) loaded a model with an untrusted class" % path)
    model = milo.load(path)
    with open(os.path.join(work, "model", "model.pkl"), "rb") as f:
        original = pickle.load(f)  # our own file: plain pickle is fine here
    expect(type(model).__name__ == "Pipeline", "loaded a %r" % type(model))
    same_scorer(model.named_steps["score"], original.named_steps["score"])
    with open(os.path.join(work, "model", "scorer.pkl"), "rb") as f:
        expect(pickle.dumps(model.named_steps["score"], protocol=4) == f.read(),
               "the FraudScorer pickles to other bytes than the fitted original")
    expected = np.load(os.path.join(work, "model", "expected.npz"))
    X = expected["X"]
    for method in ("predict", "predict_proba", "decision_function"):
        got, want = getattr(model, method)(X), expected[method]
        expect(got.dtype == want.dtype and got.tobytes() == want.tobytes(),
               "%s differs on the held-out rows" % method)
    print("loaded %s: %d predictions identical" % (path, X.shape[0]))


def state_of(doc, path):
    """The value at a document path ("/root/state/steps/1/1") of a JSON document."""
    node = doc["root"]
    for part in path.split("/")[2:]:
        if isinstance(node, dict) and "$tuple" in node:
            node = node["$tuple"]
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def trust_of(doc, name):
    return [t for t in doc["milo"]["trust"] if t["name"] == name]


def run(args):
    work, model = args.work, os.path.join(args.work, "model")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(model)
    subprocess.run([sys.executable, os.path.join(HERE, "make_model.py"), model], check=True,
                   env=python_env(args, None))
    # MILO_PLUGIN_PATH for Python: a folder with only this plugin (its build folder has others).
    plugin_dir = os.path.join(work, "plugins")
    os.makedirs(plugin_dir)
    os.symlink(args.plugin, os.path.join(plugin_dir, os.path.basename(args.plugin)))
    pkl, jl = os.path.join(model, "model.pkl"), os.path.join(model, "model.joblib")
    w = lambda name: os.path.join(work, name)  # noqa: E731

    with open(pkl, "rb") as f:
        original = pickle.load(f).named_steps["score"]

    # With the plugin: the FraudScorer is the plugin's readable object, trusted via the plugin.
    for ext in ("json", "yaml", "pb"):
        milo_tool(args, ["convert", pkl, w("with.milo." + ext)])
        milo_tool(args, ["convert", w("with.milo." + ext), w("with_%s.pkl" % ext)])
    milo_tool(args, ["diff", w("with.milo.json"), w("with.milo.yaml")])
    milo_tool(args, ["diff", w("with.milo.json"), w("with.milo.pb")])
    with open(w("with.milo.json")) as f:
        doc = json.load(f)
    scorer = state_of(doc, SCORER_PATH)
    expect(scorer["$object"] == TYPE, "not a FraudScorer at %s" % SCORER_PATH)
    hyper, fitted = scorer["state"]["hyperparameters"], scorer["state"]["fitted"]
    expect(list(scorer["state"]) == ["hyperparameters", "fitted"], "plugin form: %s" % scorer)
    expect(hyper["threshold"] == 0.35 and hyper["feature_names"][0] == "amount", str(hyper))
    weights = fitted["weights"]["$tensor"]
    expect(weights["dtype"] == "float64" and weights["shape"] == [6], str(weights))
    expect([bits(x) for x in weights["data"]] == [bits(x) for x in original.coef_],
           "weights are not the fitted coef_ bit for bit")
    expect(bits(fitted["bias"]) == bits(original.intercept_), "bias differs")
    expect(trust_of(doc, TYPE) == [{"name": TYPE, "usage": "instantiate, delegated:acme.fraud",
                                    "level": "trusted"}], "trust: %s" % trust_of(doc, TYPE))
    out = milo_tool(args, ["scan", pkl])
    expect("trusted    %s (instantiate, delegated:acme.fraud)" % TYPE in out, out)

    # Without the plugin: the pickle-level object, untrusted; scan still exits 0 (nothing
    # dangerous), milo.load refuses and names the class.
    milo_tool(args, ["convert", pkl, w("without.milo.json")], plugin=False)
    milo_tool(args, ["convert", w("without.milo.json"), w("without.pkl")], plugin=False)
    with open(w("without.milo.json")) as f:
        plain = json.load(f)
    expect("coef_" in state_of(plain, SCORER_PATH)["state"], "not the pickle-level form")
    expect(trust_of(plain, TYPE) == [{"name": TYPE, "usage": "instantiate",
                                      "level": "untrusted"}], "trust: %s" % trust_of(plain, TYPE))
    out = milo_tool(args, ["scan", pkl], plugin=False)
    expect("untrusted  %s (instantiate)" % TYPE in out, out)
    child_load(args, w("without.milo.json"), None, refuse=True)
    child_load(args, pkl, None, refuse=True)
    # The plugin's form cannot be written without the plugin (it would unpickle wrongly).
    out = milo_tool(args, ["convert", w("with.milo.json"), w("x.pkl")], plugin=False, code=5)
    expect(SCORER_PATH in out and 'transporter "acme.fraud", which is not loaded' in out, out)

    # The pickles written back are one and the same, with or without the plugin, from every
    # format, and again after a second round trip: the plugin's form loses nothing.
    ref = open(w("without.pkl"), "rb").read()
    for ext in ("json", "yaml", "pb"):
        expect(open(w("with_%s.pkl" % ext), "rb").read() == ref, "with_%s.pkl differs" % ext)
    milo_tool(args, ["convert", w("with_json.pkl"), w("again.milo.json")])
    milo_tool(args, ["convert", w("again.milo.json"), w("again.pkl")])
    expect(open(w("again.pkl"), "rb").read() == ref, "second round trip differs")
    # A document of the pickle-level form is checked and written by the plugin just the same.
    milo_tool(args, ["convert", w("without.milo.json"), w("plain_with.pkl")])
    expect(open(w("plain_with.pkl"), "rb").read() == ref, "plain_with.pkl differs")

    # Python: with the plugin on MILO_PLUGIN_PATH, milo.load admits the class.
    for path in (w("with_json.pkl"), w("with.milo.json"), w("with.milo.pb"), pkl, jl):
        print(child_load(args, path, plugin_dir).strip())

    # joblib (zlib) input: the same document root.
    milo_tool(args, ["convert", jl, w("joblib.milo.json")])
    with open(w("joblib.milo.json")) as f:
        expect(json.load(f)["root"] == doc["root"], "joblib gives another document")
    milo_tool(args, ["convert", w("joblib.milo.json"), w("joblib.pkl")])
    print(child_load(args, w("joblib.pkl"), plugin_dir).strip())

    # Corrupted state: precise errors with the document path, on both sides.
    fitted["weights"]["$tensor"]["data"].pop()
    fitted["weights"]["$tensor"]["shape"] = [5]
    with open(w("bad.milo.json"), "w") as f:
        json.dump(doc, f)
    out = milo_tool(args, ["convert", w("bad.milo.json"), w("bad.pkl")], code=3)
    expect("pickle writer: %s: transporter \"acme.fraud\": state/fitted/weights: 5 weights, but "
           "state/fitted/n_features is 6" % SCORER_PATH in out, out)
    expect(not os.path.exists(w("bad.pkl")), "a failed conversion left a file")
    bad = pickle.load(open(pkl, "rb"))
    bad.named_steps["score"].threshold = 1.5
    with open(w("bad_threshold.pkl"), "wb") as f:
        pickle.dump(bad, f, protocol=4)
    out = milo_tool(args, ["convert", w("bad_threshold.pkl"), w("bad.milo.json")], code=3)
    expect("bad_threshold.pkl: %s: transporter \"acme.fraud\": state/threshold: not in [0, 1]"
           % SCORER_PATH in out, out)
    print("fraud scorer example: json/yaml/pb/joblib, with and without the plugin: all checks "
          "passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--milo")
    ap.add_argument("--plugin")
    ap.add_argument("--library")
    ap.add_argument("--adapter")
    ap.add_argument("--work", required=True)
    ap.add_argument("--child-load")
    ap.add_argument("--refuse", action="store_true")
    args = ap.parse_args()
    try:
        if args.child_load:
            child(args.child_load, args.work, args.refuse)
            return 0
        try:
            import joblib  # noqa: F401
            import numpy  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError as e:
            print("SKIPPED: %s has no %s" % (sys.executable, e.name))
            return 77
        args.plugin = os.path.abspath(args.plugin)
        run(args)
        return 0
    except Failed as e:
        print("FAILED: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
