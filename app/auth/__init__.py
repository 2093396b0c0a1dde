"""Who is asking: API tokens, JWTs, the viewer, and the rules of who may see what."""
