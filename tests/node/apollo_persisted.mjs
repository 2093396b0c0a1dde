// Apollo Client with its automatic persisted queries link, as an app would set it up:
// createPersistedQueryLink({ sha256, useGETForHashedQueries: true }) before an HttpLink
// on Node's fetch. Runs `query` `times` times (network-only) and prints one JSON line
// per HTTP exchange and per result, for the pytest side to read:
//   {"kind": "http", "method": "GET", "sentQuery": false, "hash": "...", "status": 200,
//    "codes": ["PERSISTED_QUERY_NOT_FOUND"]}
//   {"kind": "result", "data": {...}}          or {"kind": "error", "message": "..."}
//
// Usage: node apollo_persisted.mjs '{"url": "http://.../graphql", "token": "og_...",
//   "query": "query ...", "variables": {}, "times": 2}'
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";

const options = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const http = new HttpLink({
  uri: options.url,
  headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  fetch: async (url, init) => {
    const method = init?.method ?? "GET";
    const asked = new URL(url);
    const sent = method === "GET" ? Object.fromEntries(asked.searchParams) : JSON.parse(init.body);
    const extensions =
      typeof sent.extensions === "string" ? JSON.parse(sent.extensions) : sent.extensions;
    const response = await fetch(url, init);
    const body = await response.clone().json();
    print({
      kind: "http",
      method,
      sentQuery: Boolean(sent.query),
      hash: extensions?.persistedQuery?.sha256Hash ?? null,
      status: response.status,
      codes: (body.errors ?? []).map((e) => e.extensions?.code),
    });
    return response;
  },
});
const link = createPersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: true,
}).concat(http);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

let status = 0;
for (let i = 0; i < (options.times ?? 1); i++) {
  try {
    const result = await client.query({
      query: gql(options.query),
      variables: options.variables ?? {},
      fetchPolicy: "network-only",
    });
    print({ kind: "result", data: result.data });
  } catch (error) {
    print({ kind: "error", message: error.message });
    status = 1;
  }
}
client.stop();
process.exit(status);
