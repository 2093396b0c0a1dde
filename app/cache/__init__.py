"""The field cache: keys, stores (Redis or in-process), versioned tags, invalidation."""
