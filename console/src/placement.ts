// Where a row changed by a live event belongs in a filtered, sorted view of loaded pages.
// The filter is the server's, checked here on the new values, so a row that an edit
// elsewhere moves out of the view leaves it, and one it moves in takes its place.

export interface View<N> {
  /** Whether the view's filter takes the row: null when it cannot be told here (search). */
  matches: (node: N) => boolean | null;
  /** The value the view is sorted by, and which way. */
  sortKey: (node: N) => string | number;
  descending: boolean;
  /** Pages not loaded yet: a row sorting after every loaded one belongs to them. */
  more: boolean;
}

export function place<N extends { id: string; version: number }>(
  nodes: N[],
  node: N,
  view: View<N>,
): N[] {
  const at = nodes.findIndex((other) => other.id === node.id);
  if (at !== -1 && nodes[at].version > node.version) return nodes; // a late, older event
  const matches = view.matches(node);
  const rest = at === -1 ? nodes : [...nodes.slice(0, at), ...nodes.slice(at + 1)];
  if (matches === false) return rest;
  if (at !== -1 && (matches === null || view.sortKey(nodes[at]) === view.sortKey(node)))
    return nodes.map((other, i) => (i === at ? node : other));
  if (matches === null) return nodes;
  const key = view.sortKey(node);
  const before = (other: N) => (view.descending ? key > view.sortKey(other) : key < view.sortKey(other));
  const to = rest.findIndex(before);
  if (to === -1) return view.more ? rest : [...rest, node];
  return [...rest.slice(0, to), node, ...rest.slice(to)];
}

/** A decimal string within an inclusive range (the server's MoneyRange). */
export function inMoneyRange(value: string, min: string, max: string): boolean {
  const amount = Number(value);
  return (!min || amount >= Number(min)) && (!max || amount <= Number(max));
}
