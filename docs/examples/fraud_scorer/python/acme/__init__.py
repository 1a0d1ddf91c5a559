"""ACME's in-house models (the example of docs/examples/fraud_scorer)."""
