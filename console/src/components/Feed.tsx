// The activity feed: every order and product change as it happens.
import { useEffect, useState } from "react";
import { subscribe, useLiveStatus, type LiveEvent } from "../live";

const ORDER_FEED = `
  subscription OrderFeed($after: String) {
    orderEvents(after: $after) {
      cursor type occurredAt changedFields
      node { id status total version user { email } }
    }
  }`;
const PRODUCT_FEED = `
  subscription ProductFeed($after: String) {
    productEvents(after: $after) {
      cursor type occurredAt changedFields
      node { id sku name stock price version }
    }
  }`;

interface Item {
  key: string;
  at: string;
  text: string;
}

const KEEP = 50;

function describeOrder(event: LiveEvent): string {
  const order = event.node;
  if (event.type === "CREATED") return `New order from ${order.user.email}: ${order.total}`;
  if (event.type === "STATUS_CHANGED") return `Order of ${order.user.email} is now ${order.status}`;
  return `Order of ${order.user.email} changed (${event.changedFields.join(", ")})`;
}

function describeProduct(event: LiveEvent): string {
  const product = event.node;
  if (event.type === "CREATED") return `New product ${product.sku}: ${product.name}`;
  if (event.type === "DELETED") return `Product ${product.sku} deleted`;
  return `${product.sku} changed: ${event.changedFields.join(", ")} (stock ${product.stock}, ${product.price})`;
}

export function Feed() {
  const [items, setItems] = useState<Item[]>([]);
  const status = useLiveStatus();
  useEffect(() => {
    const add = (kind: string, describe: (event: LiveEvent) => string) => (event: LiveEvent) =>
      setItems((old) =>
        [{ key: kind + event.cursor, at: event.occurredAt, text: describe(event) }, ...old].slice(0, KEEP),
      );
    const stops = [
      subscribe(ORDER_FEED, "orderEvents", {}, add("order", describeOrder)),
      subscribe(PRODUCT_FEED, "productEvents", {}, add("product", describeProduct)),
    ];
    return () => stops.forEach((stop) => stop());
  }, []);
  return (
    <aside className="feed" aria-labelledby="feed-title">
      <h2 id="feed-title">
        Activity <span className={`live live-${status}`}>{status}</span>
      </h2>
      {items.length === 0 && <p className="empty">Changes appear here as they happen.</p>}
      <ol aria-live="polite" aria-relevant="additions">
        {items.map((item) => (
          <li key={item.key}>
            <time dateTime={item.at}>{new Date(item.at).toLocaleTimeString()}</time> {item.text}
          </li>
        ))}
      </ol>
    </aside>
  );
}
