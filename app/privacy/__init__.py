"""A person's data: export it (archive.py, routes.py) and erase it (erasure.py).

Erasure keeps what accounting must keep (orders, items, totals, product references) under
a pseudonym derived from the user's id, stops every way in, and scrubs the person's
identifying values from every other place ordergraph keeps them: the audit trail (through
the one function the database lets rewrite it), the outbox and event log, idempotency
records, and cached values. The ledger `erased_users` lets a restore erase them again.
"""
