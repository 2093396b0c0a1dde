// Subscriptions over graphql-ws. When the socket drops, each subscription starts again
// with `after` set to the last cursor it saw, so nothing in between is missed.
import { createClient, type Client } from "graphql-ws";
import { useEffect, useState } from "react";
import { token } from "./api";

let client: Client | null = null;
const listeners = new Set<(status: LiveStatus) => void>();
export type LiveStatus = "connecting" | "live" | "reconnecting";
let status: LiveStatus = "connecting";

function setStatus(next: LiveStatus) {
  status = next;
  listeners.forEach((listener) => listener(next));
}

function getClient(): Client {
  if (!client) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    client = createClient({
      url: `${scheme}://${location.host}/graphql`,
      connectionParams: () => {
        const secret = token.get();
        return secret ? { authorization: `Bearer ${secret}` } : {};
      },
      // Reconnecting is ours (below), so that it can resume with `after`.
      retryAttempts: 0,
      lazy: true,
      on: {
        connected: () => setStatus("live"),
        closed: () => setStatus("reconnecting"),
      },
    });
  }
  return client;
}

export interface LiveEvent {
  cursor: string;
  type: string;
  occurredAt: string;
  changedFields: string[];
  node: any;
}

/** Subscribes `query` (which takes $after and has the event at data[field]); returns stop. */
export function subscribe(
  query: string,
  field: string,
  variables: Record<string, unknown>,
  onEvent: (event: LiveEvent) => void,
): () => void {
  let after: string | null = null;
  let stopped = false;
  let dispose = () => {};
  let delay = 500;
  const start = () => {
    if (stopped) return;
    dispose = getClient().subscribe<Record<string, LiveEvent>>(
      { query, variables: { ...variables, after } },
      {
        next: (result) => {
          const event = result.data?.[field];
          if (!event) return;
          delay = 500;
          after = event.cursor;
          onEvent(event);
        },
        error: () => retry(),
        complete: () => retry(),
      },
    );
  };
  const retry = () => {
    if (stopped) return;
    setStatus("reconnecting");
    setTimeout(start, delay);
    delay = Math.min(delay * 2, 10_000);
  };
  start();
  return () => {
    stopped = true;
    dispose();
  };
}

export function useLiveStatus(): LiveStatus {
  const [value, setValue] = useState(status);
  useEffect(() => {
    listeners.add(setValue);
    return () => {
      listeners.delete(setValue);
    };
  }, []);
  return value;
}
