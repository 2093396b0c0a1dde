"""The read side: SQL that builds plain records. No GraphQL here, no ORM entities."""
