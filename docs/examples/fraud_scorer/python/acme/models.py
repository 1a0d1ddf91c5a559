"""FraudScorer: ACME's in-house fraud classifier, a plain scikit-learn estimator.

A logistic scorer fitted by full-batch gradient descent with an L2 penalty: deterministic (no
random state), pure numpy, no pickle customisation. Its pickle is what BaseEstimator writes:
the class, then its __dict__ — the hyperparameters in __init__'s order, then the fitted
attributes in the order fit sets them (the Milo plugin milo_acme_fraud.so writes them back in
that order).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y


# ClassifierMixin first: scikit-learn's own convention (its tags must come before
# BaseEstimator's in the method resolution order; recent releases warn otherwise).
class FraudScorer(ClassifierMixin, BaseEstimator):
    """Scores transactions: P(fraud) = sigmoid(X @ coef_ + intercept_); flags P >= threshold."""

    def __init__(self, threshold=0.5, l2=1e-3, learning_rate=0.5, max_iter=300,
                 feature_names=None):
        self.threshold = threshold
        self.l2 = l2
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.feature_names = feature_names

    def fit(self, X, y):
        X, y = check_X_y(X, y, dtype=np.float64)
        classes = np.unique(y)
        if classes.shape[0] != 2:
            raise ValueError("FraudScorer needs exactly two classes, got %d" % classes.shape[0])
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise ValueError("feature_names has %d names for %d features"
                             % (len(self.feature_names), X.shape[1]))
        target = (y == classes[1]).astype(np.float64)
        n = X.shape[0]
        w = np.zeros(X.shape[1])
        b = 0.0
        for _ in range(self.max_iter):
            p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
            w -= self.learning_rate * (X.T @ (p - target) / n + self.l2 * w)
            b -= self.learning_rate * float(np.mean(p - target))
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.coef_ = w
        self.intercept_ = float(b)
        return self

    def decision_function(self, X):
        check_is_fitted(self, "coef_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError("X has %d features, FraudScorer was fitted with %d"
                             % (X.shape[1], self.n_features_in_))
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= self.threshold).astype(np.intp)]
