import { useMemo } from "react";
import { useConnection } from "../connection";
import { parseSort, Table, type Column } from "../components/Table";
import { useUrlState } from "../router";
import { when } from "./Orders";

const AUDIT = (count: boolean) => `
  query Audit($first: Int, $after: String, $filter: AuditEventFilter, $orderBy: AuditEventSort) {
    auditEvents(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      edges { node { id occurredAt action actorKind entityType entityId changes actor { email } requestId } }
      pageInfo { hasNextPage endCursor }
      ${count ? "totalCount" : ""}
    }
  }`;

interface AuditEvent {
  id: string;
  occurredAt: string;
  action: string;
  actorKind: string;
  entityType: string;
  entityId: string;
  changes: Record<string, { before: unknown; after: unknown }>;
  actor: { email: string } | null;
  requestId: string | null;
}

function Changes({ changes }: { changes: AuditEvent["changes"] }) {
  const entries = Object.entries(changes ?? {});
  if (!entries.length) return null;
  return (
    <ul className="changes">
      {entries.slice(0, 6).map(([field, change]) => (
        <li key={field}>
          <code>{field}</code>: {JSON.stringify(change?.before ?? null)} → {JSON.stringify(change?.after ?? null)}
        </li>
      ))}
    </ul>
  );
}

export function AuditPage() {
  const url = useUrlState();
  const sort = parseSort(url.get("sort"), "OCCURRED_AT:DESC");
  const count = url.get("count") === "1";
  const filter = useMemo(() => {
    const f: Record<string, unknown> = {};
    if (url.get("action")) f.action = url.get("action");
    if (url.get("entity")) f.entityId = url.get("entity");
    return Object.keys(f).length ? f : null;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url.params.toString()]);
  const connection = useConnection<AuditEvent>(AUDIT(count), "auditEvents", {
    filter,
    orderBy: { field: sort.field, direction: sort.direction },
  });
  const columns: Column<AuditEvent>[] = [
    { label: "When", sort: "OCCURRED_AT", render: (e) => when(e.occurredAt) },
    { label: "Action", render: (e) => <code>{e.action}</code> },
    { label: "By", render: (e) => e.actor?.email ?? e.actorKind },
    {
      label: "Object",
      render: (e) => (
        <button type="button" className="link" title="Show only this object's changes"
          onClick={() => url.set({ entity: e.entityId })}>
          {e.entityType}
        </button>
      ),
    },
    { label: "Changes", render: (e) => <Changes changes={e.changes} /> },
  ];
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit trail</h1>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Action
          <input list="audit-actions" defaultValue={url.get("action")} key={url.get("action")}
            onBlur={(e) => url.set({ action: e.target.value })}
            onKeyDown={(e) => e.key === "Enter" && url.set({ action: e.currentTarget.value })} />
          <datalist id="audit-actions">
            {["order.placed", "order.status_changed", "product.created", "product.updated", "user.created",
              "user.updated", "user.erased"].map((action) => <option key={action} value={action} />)}
          </datalist>
        </label>
        {url.get("entity") && (
          <ul className="chips" aria-label="Active filters">
            <li>
              one object
              <button type="button" aria-label="Remove filter: one object" onClick={() => url.set({ entity: null })}>×</button>
            </li>
          </ul>
        )}
        <label className="check">
          <input type="checkbox" checked={count} onChange={(e) => url.set({ count: e.target.checked ? "1" : null })} />
          Count all
        </label>
      </form>
      <Table caption="Recorded changes" columns={columns} connection={connection} sort={sort}
        onSort={(field, direction) => url.set({ sort: `${field}:${direction}` })} />
    </section>
  );
}
