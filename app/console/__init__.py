"""The console at /admin and the GraphiQL page at GET /graphql, served from the build
committed under static/ (sources in console/, rebuilt with `make console`): no CDN, no
Node at run time. Both are clients of the public GraphQL API only."""
