// Apollo Client over HTTP only (HttpLink, Node's fetch), as a React Native app or a
// service behind a proxy that drops WebSocket upgrades would run it. Prints one JSON
// line per thing that happens, for the pytest side to read:
//   {"kind": "connected", "status": 200, "contentType": "..."}   the response began
//   {"kind": "next", "payload": {...}}                          each subscription result
//   {"kind": "error", "error": {...}}                           the operation failed
//   {"kind": "page", "count": n}                                paginate: one page read
//   {"kind": "done", "ids": [...]}                              last line, always
//
// Usage: node apollo_client.mjs '{"mode": "subscribe", "url": "http://.../graphql",
//   "token": "og_...", "query": "subscription ...", "variables": {}, "count": 1}'
//   or '{"mode": "paginate", "url": ..., "token": ..., "pageSize": 7}': every user,
//   page by page with relayStylePagination until hasNextPage is false.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { relayStylePagination } from "@apollo/client/utilities/index.js";

const options = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const link = new HttpLink({
  uri: options.url,
  headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  fetch: async (...args) => {
    const response = await fetch(...args);
    print({
      kind: "connected",
      status: response.status,
      contentType: response.headers.get("content-type"),
    });
    return response;
  },
});
const client = new ApolloClient({
  link,
  cache: new InMemoryCache({
    typePolicies: { Query: { fields: { users: relayStylePagination(["filter", "orderBy"]) } } },
  }),
});

let finished = false;
const finish = (status, ids = []) => {
  if (finished) return;
  finished = true;
  client.stop();
  print({ kind: "done", ids });
  process.exit(status);
};

// An ApolloError, or (for a refused subscription) the link's ServerError itself.
const shown = (error) => {
  const server = error?.networkError ?? error;
  return {
    message: error?.message,
    codes: (error?.graphQLErrors ?? []).map((e) => e.extensions?.code),
    protocolCodes: (error?.protocolErrors ?? []).map((e) => e.extensions?.code),
    statusCode: server?.statusCode ?? null,
    resultCodes: (server?.result?.errors ?? []).map((e) => e.extensions?.code),
  };
};

setTimeout(() => {
  print({ kind: "error", error: { message: "timed out" } });
  finish(1);
}, options.timeoutMs ?? 20000);

if (options.mode === "subscribe") {
  let received = 0;
  client
    .subscribe({
      query: gql(options.query),
      variables: options.variables ?? {},
      fetchPolicy: "no-cache",
    })
    .subscribe({
      next: (payload) => {
        print({ kind: "next", payload });
        received += 1;
        if (received === (options.count ?? 1)) finish(0);
      },
      error: (error) => {
        print({ kind: "error", error: shown(error) });
        finish(1);
      },
      complete: () => finish(0),
    });
} else {
  const USERS = gql`
    query Users($first: Int, $after: String) {
      users(first: $first, after: $after) {
        edges { cursor node { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  `;
  try {
    const watched = client.watchQuery({ query: USERS, variables: { first: options.pageSize } });
    let users = (await watched.result()).data.users;
    print({ kind: "page", count: users.edges.length });
    while (users.pageInfo.hasNextPage) {
      const page = await watched.fetchMore({ variables: { after: users.pageInfo.endCursor } });
      print({ kind: "page", count: page.data.users.edges.length });
      // The merged list relayStylePagination keeps in the cache.
      users = watched.getCurrentResult().data.users;
    }
    finish(0, users.edges.map((edge) => edge.node.id));
  } catch (error) {
    print({ kind: "error", error: shown(error) });
    finish(1);
  }
}
