"""Rate limits by cost per minute: GCRA in Redis, shared by every instance, with each
process's own memory deciding when Redis is down."""
