// Pages of a Relay connection, loaded with `first`/`after` (cursors, never offsets).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, gql, type Vars } from "./api";

export const PAGE_SIZE = 25;

export interface Connection<N> {
  nodes: N[];
  totalCount: number | null;
  hasNextPage: boolean;
  loading: boolean;
  error: string | null;
  loadMore: () => void;
  reload: () => void;
  /** Changes rows in place (optimistic updates, live events); add puts new ones first. */
  update: (change: (nodes: N[]) => N[]) => void;
  /** Asks the server for totalCount again (when shown): live events move rows in and out. */
  refreshTotal: () => void;
}

/** `query` takes $first and $after and has the connection at data[field]. */
export function useConnection<N extends { id: string }>(
  query: string,
  field: string,
  variables: Vars,
): Connection<N> {
  const key = query + JSON.stringify(variables);
  const [nodes, setNodes] = useState<N[]>([]);
  const [totalCount, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasNextPage, setHasNext] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const busy = useRef(false);

  const fetchPage = useCallback(
    async (after: string | null, gen: number) => {
      busy.current = true;
      setLoading(true);
      try {
        const data = await gql(query, { ...variables, first: PAGE_SIZE, after });
        if (gen !== generation.current) return;
        const connection = data[field];
        const page: N[] = connection.edges.map((edge: { node: N }) => edge.node);
        // A row that moved between pages (a live insert) is shown once.
        setNodes((old) => {
          const seen = new Set(old.map((node) => node.id));
          return [...old, ...page.filter((node) => !seen.has(node.id))];
        });
        if (typeof connection.totalCount === "number") setTotal(connection.totalCount);
        setCursor(connection.pageInfo.endCursor);
        setHasNext(connection.pageInfo.hasNextPage);
        setError(null);
      } catch (exc) {
        if (gen === generation.current) setError((exc as ApiError).message);
      } finally {
        if (gen === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  const reload = useCallback(() => {
    generation.current += 1;
    setNodes([]);
    setTotal(null);
    setCursor(null);
    setHasNext(false);
    void fetchPage(null, generation.current);
  }, [fetchPage]);

  useEffect(reload, [reload]);

  const loadMore = useCallback(() => {
    if (!busy.current && hasNextPage) void fetchPage(cursor, generation.current);
  }, [fetchPage, cursor, hasNextPage]);

  const counted = totalCount !== null;
  const refreshTotal = useCallback(() => {
    if (!counted) return;
    const gen = generation.current;
    gql(query, { ...variables, first: 1, after: null })
      .then((data) => {
        const total = data[field].totalCount;
        if (gen === generation.current && typeof total === "number") setTotal(total);
      })
      .catch(() => {}); // the count shown stays; the next event or reload tries again
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, counted]);

  return {
    nodes,
    totalCount,
    hasNextPage,
    loading,
    error,
    loadMore,
    reload,
    update: setNodes,
    refreshTotal,
  };
}
