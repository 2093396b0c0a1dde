import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, gql } from "../api";
import { useConnection } from "../connection";
import { download, ExportButtons } from "../components/ExportButtons";
import { parseSort, Table, type Column } from "../components/Table";
import { subscribe } from "../live";
import { inMoneyRange, place } from "../placement";
import { linkProps, useUrlState } from "../router";

export const STATUSES = ["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"] as const;
// The server's rules (updateOrderStatus), so the menu offers only moves it may accept.
const NEXT: Record<string, string[]> = {
  PENDING: ["PAID", "CANCELLED"],
  PAID: ["SHIPPED", "CANCELLED"],
  SHIPPED: ["DELIVERED"],
  DELIVERED: [],
  CANCELLED: [],
};

const ORDER_FIELDS = `id status total createdAt updatedAt version itemCount user { id email name }`;

const ORDERS = (count: boolean) => `
  query Orders($first: Int, $after: String, $filter: OrderFilter, $orderBy: OrderSort) {
    orders(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      edges { node { ${ORDER_FIELDS} } }
      pageInfo { hasNextPage endCursor }
      ${count ? "totalCount" : ""}
    }
  }`;

const UPDATE_STATUS = `
  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {
    updateOrderStatus(input: $input) {
      order { ${ORDER_FIELDS} }
      errors { field code message }
    }
  }`;

const INVOICE = `
  mutation Invoice($input: CreateInvoiceLinkInput!) {
    createInvoiceLink(input: $input) { url errors { message } }
  }`;

const ORDER_EVENTS = `
  subscription OrderEvents($after: String) {
    orderEvents(after: $after) {
      cursor type occurredAt changedFields
      node { ${ORDER_FIELDS} }
    }
  }`;

export interface Order {
  id: string;
  status: string;
  total: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  itemCount: number;
  user: { id: string; email: string; name: string };
}

interface Notice {
  id: string;
  text: string;
  conflict: boolean;
}

export function when(value: string): string {
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function OrdersPage() {
  const url = useUrlState();
  const sort = parseSort(url.get("sort"), "CREATED_AT:DESC");
  const statuses = url.get("status") ? url.get("status").split(",") : [];
  const count = url.get("count") === "1";
  const filter = useMemo(() => {
    const f: Record<string, unknown> = {};
    if (statuses.length) f.status = statuses;
    const min = url.get("min");
    const max = url.get("max");
    if (min || max) f.total = { min: min || null, max: max || null };
    const from = url.get("from");
    const to = url.get("to");
    if (from || to) {
      f.createdAt = {
        from: from ? new Date(from).toISOString() : null,
        to: to ? new Date(to).toISOString() : null,
      };
    }
    return Object.keys(f).length ? f : null;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url.params.toString()]);
  const orderBy = { field: sort.field, direction: sort.direction };
  const connection = useConnection<Order>(ORDERS(count), "orders", { filter, orderBy });
  const [notice, setNotice] = useState<Notice | null>(null);
  const [pending, setPending] = useState<Set<string>>(new Set());
  const { update, refreshTotal } = connection;
  const hasNextRef = useRef(connection.hasNextPage);
  hasNextRef.current = connection.hasNextPage;
  // Rows changed from this tab stay in view (with their outcome or notice) until the view changes.
  const held = useRef(new Set<string>());
  // Read at each event, so that counting (or not) does not resubscribe and miss events.
  const refreshRef = useRef(refreshTotal);
  refreshRef.current = refreshTotal;

  // Live: a row another client changes changes in place, or leaves the view when it no
  // longer matches its filter; a new or newly matching order takes its place in the order.
  useEffect(() => {
    held.current = new Set();
    const min = url.get("min");
    const max = url.get("max");
    const from = url.get("from") ? new Date(url.get("from")).toISOString() : "";
    const to = url.get("to") ? new Date(url.get("to")).toISOString() : "";
    const matches = (order: Order) =>
      held.current.has(order.id) ||
      ((!statuses.length || statuses.includes(order.status)) &&
      inMoneyRange(order.total, min, max) &&
      (!from || new Date(order.createdAt).toISOString() >= from) &&
      (!to || new Date(order.createdAt).toISOString() < to));
    const sortKey = (order: Order) =>
      sort.field === "TOTAL" ? Number(order.total) : new Date(order.createdAt).getTime();
    return subscribe(ORDER_EVENTS, "orderEvents", {}, (event) => {
      const order = event.node as Order;
      update((nodes) =>
        place(nodes, order, {
          matches: event.type === "DELETED" ? () => false : matches,
          sortKey,
          descending: sort.direction === "DESC",
          more: hasNextRef.current,
        }),
      );
      refreshRef.current();
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [update, url.params.toString()]);

  const changeStatus = async (order: Order, status: string) => {
    setNotice(null);
    held.current.add(order.id);
    // Optimistic: the row shows the new status at once, and goes back if refused.
    update((nodes) => nodes.map((node) => (node.id === order.id ? { ...node, status } : node)));
    setPending((old) => new Set(old).add(order.id));
    const rollBack = (text: string, conflict: boolean) => {
      // Back to what was read, unless a live event has brought a newer version meanwhile.
      update((nodes) =>
        nodes.map((node) => (node.id === order.id && node.version === order.version ? order : node)),
      );
      setNotice({ id: order.id, text, conflict });
    };
    try {
      const data = await gql(UPDATE_STATUS, {
        input: { id: order.id, status, expectedVersion: order.version },
      });
      const payload = data.updateOrderStatus;
      if (payload.errors.length) rollBack(payload.errors[0].message, false);
      else
        update((nodes) =>
          nodes.map((node) => (node.id === order.id ? payload.order : node)),
        );
    } catch (exc) {
      const error = exc as ApiError;
      rollBack(
        error.isConflict
          ? `The order of ${order.user.email} placed ${when(order.createdAt)} was changed by someone else. Reload it to see the change, then try again.`
          : error.message,
        error.isConflict,
      );
    } finally {
      setPending((old) => {
        const next = new Set(old);
        next.delete(order.id);
        return next;
      });
    }
  };

  const reloadOrder = async (id: string) => {
    const data = await gql(`query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id });
    update((nodes) => nodes.map((node) => (node.id === id ? data.order : node)));
    setNotice(null);
  };

  const invoice = async (order: Order) => {
    const data = await gql(INVOICE, { input: { orderId: order.id } });
    const payload = data.createInvoiceLink;
    if (payload.url) download(payload.url);
    else setNotice({ id: order.id, text: payload.errors[0].message, conflict: false });
  };

  const columns: Column<Order>[] = [
    { label: "Placed", sort: "CREATED_AT", render: (o) => when(o.createdAt) },
    {
      label: "Customer",
      render: (o) => <a {...linkProps(`users/${encodeURIComponent(o.user.id)}`)}>{o.user.email}</a>,
    },
    { label: "Items", render: (o) => o.itemCount, className: "num" },
    { label: "Total", sort: "TOTAL", render: (o) => o.total, className: "num" },
    {
      label: "Status",
      render: (o) => (
        <select
          aria-label={`Status of the order placed ${when(o.createdAt)} by ${o.user.email}`}
          value={o.status}
          disabled={pending.has(o.id) || !NEXT[o.status].length}
          className={`status status-${o.status.toLowerCase()}`}
          onChange={(event) => void changeStatus(o, event.target.value)}
        >
          <option value={o.status}>{o.status}</option>
          {NEXT[o.status].map((status) => (
            <option key={status} value={status}>
              → {status}
            </option>
          ))}
        </select>
      ),
    },
    {
      label: "Invoice",
      render: (o) => (
        <button type="button" className="small" onClick={() => void invoice(o)}>
          PDF
        </button>
      ),
    },
  ];

  const toggleStatus = (status: string) => {
    const next = statuses.includes(status)
      ? statuses.filter((s) => s !== status)
      : [...statuses, status];
    url.set({ status: next.join(",") });
  };

  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Orders</h1>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((status) => (
            <label key={status} className="check">
              <input
                type="checkbox"
                checked={statuses.includes(status)}
                onChange={() => toggleStatus(status)}
              />
              {status.toLowerCase()}
            </label>
          ))}
        </fieldset>
        <label>
          Total from
          <input
            inputMode="decimal"
            size={7}
            defaultValue={url.get("min")}
            onBlur={(e) => url.set({ min: e.target.value })}
          />
        </label>
        <label>
          to
          <input
            inputMode="decimal"
            size={7}
            defaultValue={url.get("max")}
            onBlur={(e) => url.set({ max: e.target.value })}
          />
        </label>
        <label>
          Placed from
          <input type="date" value={url.get("from")} onChange={(e) => url.set({ from: e.target.value })} />
        </label>
        <label>
          before
          <input type="date" value={url.get("to")} onChange={(e) => url.set({ to: e.target.value })} />
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={count}
            onChange={(e) => url.set({ count: e.target.checked ? "1" : null })}
          />
          Count all
        </label>
      </form>
      <ExportButtons kind="ORDERS" filter={filter} orderBy={orderBy} formats={["CSV", "JSON", "PDF"]} />
      {notice && (
        <div role="alert" className={notice.conflict ? "notice conflict" : "notice"}>
          {notice.text}{" "}
          {notice.conflict && (
            <button type="button" onClick={() => void reloadOrder(notice.id)}>
              Reload order
            </button>
          )}
          <button type="button" className="link" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      <Table
        caption="Orders"
        columns={columns}
        connection={connection}
        sort={sort}
        onSort={(field, direction) => url.set({ sort: `${field}:${direction}` })}
        rowClass={(o) => (pending.has(o.id) ? "pending" : notice?.id === o.id ? "refused" : "")}
      />
    </section>
  );
}
