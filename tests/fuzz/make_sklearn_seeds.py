#!/usr/bin/env python3
"""Seeds for fuzz_sklearn (tests/fuzz/fuzz_sklearn.cpp): the first byte picks the reader.

  make_sklearn_seeds.py OUT_DIR [PYMILO_FIXTURES_DIR]

Writes small fitted scikit-learn estimators as pickles (protocols 2 and 5) and joblib files
(uncompressed, zlib) with the prefix byte 0x00, and every PyMilo JSON file up to 64 KB found in
PYMILO_FIXTURES_DIR (read in place) with the prefix byte 0x01. Needs Debian's Python
(/usr/bin/python3: scikit-learn, joblib)."""
import io
import os
import pickle
import sys

import joblib
import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    models = {
        "linear": LinearRegression().fit(X, X[:, 1]),
        "tree": DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y),
        "pipeline": Pipeline([("s", StandardScaler()), ("c", LogisticRegression())]).fit(X, y),
        "kmeans": KMeans(n_clusters=2, n_init=1, random_state=0).fit(X),
        "onehot": OneHotEncoder().fit([["a", 1], ["b", 2]]),
    }
    count = 0
    for name, model in models.items():
        for protocol in (2, 5):
            with open(os.path.join(out, f"{name}.p{protocol}"), "wb") as f:
                f.write(b"\x00" + pickle.dumps(model, protocol=protocol))
            count += 1
        for compress in (0, 3):
            buffer = io.BytesIO()
            joblib.dump(model, buffer, compress=compress)
            with open(os.path.join(out, f"{name}.joblib{compress}"), "wb") as f:
                f.write(b"\x00" + buffer.getvalue())
            count += 1
    if len(sys.argv) > 2 and os.path.isdir(sys.argv[2]):
        for folder, _, files in os.walk(sys.argv[2]):
            for file in sorted(files):
                path = os.path.join(folder, file)
                if file.endswith(".json") and os.path.getsize(path) <= 65536:
                    with open(path, "rb") as f:
                        data = f.read()
                    with open(os.path.join(out, "pymilo_" + file), "wb") as f:
                        f.write(b"\x01" + data)
                    count += 1
    print(f"{count} seeds in {out}")


if __name__ == "__main__":
    main()
