"""The rules: every write, every transaction, every audit record. No GraphQL here."""
