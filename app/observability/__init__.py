"""What an operator sees of a running server besides /metrics (app.metrics): one log line
per operation (app.observability.logs), traces (tracing), slow statements with their
plans (slow_queries). `scope` ties them together: the operation a statement belongs to.
"""
