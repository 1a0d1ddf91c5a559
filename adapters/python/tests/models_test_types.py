"""A class of the tests' own that no allowlist knows: test_models.py dumps instances of it and
loads them back only when the caller trusts "models_test_types.Gadget" explicitly."""


class Gadget:
    def __init__(self, label, weights):
        self.label = label
        self.weights = weights

    def __eq__(self, other):
        return (type(other) is Gadget and self.label == other.label
                and list(self.weights) == list(other.weights))

    __hash__ = None
