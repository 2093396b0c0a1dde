"""Webhooks: committed changes from the event log, signed and delivered to endpoints."""
