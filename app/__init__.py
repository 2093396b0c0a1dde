"""ordergraph: a GraphQL API for users, products, orders and order items over PostgreSQL."""
