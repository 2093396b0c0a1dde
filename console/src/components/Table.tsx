// A table over a connection: sortable headers, infinite scroll (and a button for the
// keyboard), the total when asked for.
import { useEffect, useRef, type ReactNode } from "react";
import type { Connection } from "../connection";

export interface Column<N> {
  label: string;
  /** The orderBy field this column sorts by, if any. */
  sort?: string;
  render: (node: N) => ReactNode;
  className?: string;
}

interface Props<N> {
  caption: string;
  columns: Column<N>[];
  connection: Connection<N>;
  sort: { field: string; direction: "ASC" | "DESC" };
  onSort: (field: string, direction: "ASC" | "DESC") => void;
  rowClass?: (node: N) => string;
}

export function Table<N extends { id: string }>(props: Props<N>) {
  const { columns, connection, sort, onSort } = props;
  const sentinel = useRef<HTMLDivElement>(null);
  const { loadMore } = connection;

  useEffect(() => {
    const target = sentinel.current;
    if (!target) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore();
    });
    observer.observe(target);
    return () => observer.disconnect();
  }, [loadMore]);

  return (
    <div className="table-wrap">
      <table>
        <caption>
          {props.caption}
          {connection.totalCount !== null && (
            <span className="total" data-testid="total">
              {" "}
              · {connection.totalCount} in all
            </span>
          )}
        </caption>
        <thead>
          <tr>
            {columns.map((column) => {
              const active = column.sort && column.sort === sort.field;
              return (
                <th
                  key={column.label}
                  scope="col"
                  className={column.className}
                  aria-sort={
                    active ? (sort.direction === "ASC" ? "ascending" : "descending") : undefined
                  }
                >
                  {column.sort ? (
                    <button
                      type="button"
                      className="sort"
                      onClick={() =>
                        onSort(
                          column.sort!,
                          active && sort.direction === "ASC" ? "DESC" : "ASC",
                        )
                      }
                    >
                      {column.label}
                      <span aria-hidden="true">
                        {active ? (sort.direction === "ASC" ? " ▲" : " ▼") : " ↕"}
                      </span>
                    </button>
                  ) : (
                    column.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {connection.nodes.map((node) => (
            <tr key={node.id} data-id={node.id} className={props.rowClass?.(node)}>
              {columns.map((column) => (
                <td key={column.label} className={column.className}>
                  {column.render(node)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {connection.error && (
        <p role="alert" className="error">
          {connection.error}
        </p>
      )}
      {!connection.loading && connection.nodes.length === 0 && !connection.error && (
        <p className="empty">Nothing matches.</p>
      )}
      <div ref={sentinel} className="sentinel" />
      <p className="more" aria-live="polite">
        {connection.loading ? (
          "Loading…"
        ) : connection.hasNextPage ? (
          <button type="button" onClick={loadMore}>
            Load more
          </button>
        ) : connection.nodes.length ? (
          `All ${connection.nodes.length} shown.`
        ) : null}
      </p>
    </div>
  );
}

/** "FIELD_DIR" in the URL <-> the connection's orderBy. */
export function parseSort(value: string, fallback: string): {
  field: string;
  direction: "ASC" | "DESC";
} {
  const [field, direction] = (value || fallback).split(":");
  return { field, direction: direction === "ASC" ? "ASC" : "DESC" };
}
