"""Retention: what ordergraph forgets, when, and the one runner that does it."""
