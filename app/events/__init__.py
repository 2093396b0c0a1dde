"""Change events: the relay (outbox -> event log -> bus), the bus, and the broker that
hands events to this process's subscribers."""
