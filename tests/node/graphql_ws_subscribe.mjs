// One subscription through the reference graphql-ws client, as a browser app or a
// Node service would run it. Prints one JSON line per thing that happens, for the
// pytest side to read:
//   {"kind": "connected"}                 connection_ack received, subscribe sent
//   {"kind": "frame", "binary": false}    every frame the server sent (ws's isBinary)
//   {"kind": "next", "payload": {...}}    each result
//   {"kind": "error", "error": ...}       the subscription or the connection failed
//   {"kind": "closed", "code": 4403, "reason": "..."}
//   {"kind": "done", "frames": n, "binary": m}   last line, always
//
// Usage: node graphql_ws_subscribe.mjs '{"url": "ws://...", "token": "og_...",
//   "query": "subscription ...", "variables": {}, "count": 1, "lingerMs": 0}'
// It ends after `count` results (and `lingerMs` more), on an error, or on close.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const options = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

let frames = 0;
let binary = 0;

// The ws library says on each 'message' event whether the frame was binary; the
// client itself only sees the data.
class CheckedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on("message", (_data, isBinary) => {
      frames += 1;
      if (isBinary) binary += 1;
      print({ kind: "frame", binary: isBinary });
    });
  }
}

const client = createClient({
  url: options.url,
  webSocketImpl: CheckedWebSocket,
  connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
  retryAttempts: 0,
  lazy: false,
  on: {
    connected: () => print({ kind: "connected" }),
    closed: (event) => print({ kind: "closed", code: event.code, reason: event.reason }),
  },
});

let finished = false;
const finish = async (status) => {
  if (finished) return;
  finished = true;
  await client.dispose();
  print({ kind: "done", frames, binary });
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
    error: (error) => {
      // A CloseEvent, an Error, or the GraphQL errors of a refused operation.
      const shown =
        error instanceof Error
          ? error.message
          : error && typeof error === "object" && "code" in error
            ? { code: error.code, reason: error.reason }
            : error;
      print({ kind: "error", error: shown });
      finish(1);
    },
    complete: () => finish(0),
  },
);
