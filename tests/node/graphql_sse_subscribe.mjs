// One operation through the reference graphql-sse client, in distinct connections mode
// or (with "singleConnection": true) single connection mode, as a browser app or a Node
// service would run it. Prints one JSON line per thing that happens, for the pytest
// side to read:
//   {"kind": "connected", "method": "POST", "status": 200, "contentType": "..."}
//                                         a response began (single connection mode
//                                         makes several: PUT, GET, POST, DELETE);
//                                         with "body" when the status is an error
//   {"kind": "next", "payload": {...}}    each result
//   {"kind": "error", "error": "...", "status": 401, "body": {...}}   the request failed
//   {"kind": "complete"}                  the server ended the stream
//   {"kind": "done"}                      last line, always
//
// Usage: node graphql_sse_subscribe.mjs '{"url": "http://...", "token": "og_...",
//   "query": "subscription ...", "variables": {}, "count": 1, "lingerMs": 0,
//   "singleConnection": false}'
// It ends after `count` results (and `lingerMs` more), on an error, or on complete.
import { createClient, NetworkError } from "graphql-sse";

const options = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

// The client says nothing when the stream opens; the fetch it makes does.
const fetchFn = async (url, init) => {
  const response = await fetch(url, init);
  const line = {
    kind: "connected",
    method: init?.method ?? "GET",
    status: response.status,
    contentType: response.headers.get("content-type"),
  };
  if (!response.ok) {
    // Read from a copy now: in single connection mode the client aborts the request
    // (and with it the body) before it reports the error.
    line.body = await response.clone().json().catch(() => null);
  }
  print(line);
  return response;
};

const client = createClient({
  url: options.url,
  headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  retryAttempts: 0,
  singleConnection: options.singleConnection ?? false,
  fetchFn,
});

let finished = false;
const finish = (status) => {
  if (finished) return;
  finished = true;
  client.dispose();
  print({ kind: "done" });
  process.exit(status);
};

setTimeout(() => {
  print({ kind: "error", error: "timed out" });
  finish(1);
}, options.timeoutMs ?? 20000);

let received = 0;
client.subscribe(
  { query: options.query, variables: options.variables ?? {} },
  {
    next: (payload) => {
      print({ kind: "next", payload });
      received += 1;
      if (received === (options.count ?? 1)) {
        setTimeout(() => finish(0), options.lingerMs ?? 0);
      }
    },
    error: async (error) => {
      const line = { kind: "error", error: error instanceof Error ? error.message : error };
      if (error instanceof NetworkError && error.response) {
        line.status = error.response.status;
        try {
          line.body = await error.response.json();
        } catch {
          line.body = null;
        }
      }
      print(line);
      finish(1);
    },
    complete: () => {
      print({ kind: "complete" });
      finish(0);
    },
  },
);
