"""The GraphQL API: schema assembly, context, Relay helpers, one package per domain."""
