// A subscriber that survives a server going away, the way an app would write it with
// the reference graphql-ws client: when the socket closes with 1001 (going away), it
// connects to the next URL and subscribes again with `after` set to the last cursor it
// received. Prints one JSON line per thing that happens:
//   {"kind": "connected", "url": "ws://..."}
//   {"kind": "next", "payload": {...}}
//   {"kind": "closed", "code": 1001, "reason": "..."}
//   {"kind": "resubscribed", "url": "ws://...", "after": "..."}
//   {"kind": "error", "error": ...}
//   {"kind": "done", "received": n}            last line, always
//
// Usage: node graphql_ws_resume.mjs '{"urls": ["ws://a", "ws://b"], "token": "og_...",
//   "query": "subscription($after: String ...) { x(after: $after) { cursor ... } }",
//   "field": "productEvents", "variables": {}, "count": 6}'
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const options = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

let received = 0;
let lastCursor = options.variables?.after ?? null;
let finished = false;
let client = null;

const finish = async (status) => {
  if (finished) return;
  finished = true;
  if (client) await client.dispose();
  print({ kind: "done", received });
  process.exit(status);
};

setTimeout(() => {
  print({ kind: "error", error: "timed out" });
  finish(1);
}, options.timeoutMs ?? 60000);

const subscribe = (index) => {
  const url = options.urls[index];
  let closedWith = null;
  client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
    retryAttempts: 0,
    lazy: false,
    on: {
      connected: () => print({ kind: "connected", url }),
      closed: (event) => {
        closedWith = event.code;
        print({ kind: "closed", code: event.code, reason: event.reason });
      },
    },
  });
  const variables = { ...(options.variables ?? {}), after: lastCursor };
  if (index > 0) print({ kind: "resubscribed", url, after: lastCursor });
  client.subscribe(
    { query: options.query, variables },
    {
      next: (payload) => {
        print({ kind: "next", payload });
        const event = payload.data?.[options.field];
        if (event?.cursor) lastCursor = event.cursor;
        received += 1;
        if (received === options.count) finish(0);
      },
      error: (error) => {
        const code = closedWith ?? (error && typeof error === "object" ? error.code : null);
        if (code === 1001 && index + 1 < options.urls.length) {
          client.dispose();
          subscribe(index + 1);
          return;
        }
        const shown =
          error instanceof Error
            ? error.message
            : error && typeof error === "object" && "code" in error
              ? { code: error.code, reason: error.reason }
              : error;
        print({ kind: "error", error: shown });
        finish(1);
      },
      complete: () => {
        print({ kind: "error", error: "completed by the server" });
        finish(1);
      },
    },
  );
};

subscribe(0);
