#!/usr/bin/env python3
"""Fits ACME's fraud pipeline on synthetic transactions and saves it as a data scientist would.

    make_model.py OUTDIR

Writes OUTDIR/model.pkl (pickle protocol 4), OUTDIR/model.joblib (joblib, zlib level 3),
OUTDIR/scorer.pkl (the fitted FraudScorer alone, protocol 4) and OUTDIR/expected.npz: 40
held-out rows X and the pipeline's predict, predict_proba and decision_function on them, to
compare with a model that went through Milo. Deterministic:
the same stack writes the same bytes every time. Needs numpy, scikit-learn and joblib, and
python/ (the acme package) on the path, which this script adds itself.
"""

import os
import pickle
import sys

import joblib
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
from acme.models import FraudScorer  # noqa: E402

FEATURES = ["amount", "hour", "merchant_risk", "distance_km", "card_age_days", "velocity_1h"]


def transactions(rng, n):
    """Synthetic transactions; fraud is likelier for large, late, risky, far, new and fast."""
    X = np.column_stack([
        rng.lognormal(3.5, 1.0, n),     # amount
        rng.randint(0, 24, n),          # hour
        rng.beta(2.0, 5.0, n),          # merchant_risk
        rng.exponential(20.0, n),       # distance_km
        rng.randint(1, 2000, n),        # card_age_days
        rng.poisson(1.5, n),            # velocity_1h
    ]).astype(np.float64)
    z = (0.02 * (X[:, 0] - 40) + 0.15 * (X[:, 1] > 21) + 4.0 * (X[:, 2] - 0.3)
         + 0.03 * (X[:, 3] - 20) - 0.002 * (X[:, 4] - 1000) + 0.5 * (X[:, 5] - 1.5))
    y = (z + rng.logistic(0.0, 1.0, n) > 1.0).astype(np.int64)
    return X, y


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(7)
    X, y = transactions(rng, 640)
    X_train, y_train, X_test = X[:600], y[:600], X[600:]
    model = Pipeline([
        ("scale", StandardScaler()),
        ("score", FraudScorer(threshold=0.35, feature_names=list(FEATURES))),
    ]).fit(X_train, y_train)
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=4)
    joblib.dump(model, os.path.join(out, "model.joblib"), compress=("zlib", 3))
    with open(os.path.join(out, "scorer.pkl"), "wb") as f:
        pickle.dump(model.named_steps["score"], f, protocol=4)
    np.savez(os.path.join(out, "expected.npz"), X=X_test, predict=model.predict(X_test),
             predict_proba=model.predict_proba(X_test),
             decision_function=model.decision_function(X_test))
    flagged = int(model.predict(X_test).sum())
    print("fraud pipeline: %d features, %d of %d held-out rows flagged" %
          (model.n_features_in_, flagged, X_test.shape[0]))


if __name__ == "__main__":
    main()
