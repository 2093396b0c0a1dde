"""What the HTTP routes beside /graphql share: how a request is read (requests: its id,
who asks, its parameters) and how a failure is answered (errors: one body, one status
map, the same shape /graphql uses)."""
