import { useMemo } from "react";
import { useConnection } from "../connection";
import { ExportButtons } from "../components/ExportButtons";
import { parseSort, Table, type Column } from "../components/Table";
import { linkProps, useUrlState } from "../router";
import { when } from "./Orders";

export const USER_FIELDS = `id email name role createdAt updatedAt version`;

const USERS = (count: boolean) => `
  query Users($first: Int, $after: String, $filter: UserFilter, $orderBy: UserSort) {
    users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      edges { node { ${USER_FIELDS} orderStats { count totalSpent } } }
      pageInfo { hasNextPage endCursor }
      ${count ? "totalCount" : ""}
    }
  }`;

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  orderStats?: { count: number; totalSpent: string };
}

export function UsersPage() {
  const url = useUrlState();
  const sort = parseSort(url.get("sort"), "CREATED_AT:ASC");
  const count = url.get("count") === "1";
  const filter = useMemo(() => {
    const f: Record<string, unknown> = {};
    if (url.get("email")) f.email = url.get("email");
    if (url.get("name")) f.name = url.get("name");
    if (url.get("role")) f.role = url.get("role");
    return Object.keys(f).length ? f : null;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url.params.toString()]);
  const orderBy = { field: sort.field, direction: sort.direction };
  const connection = useConnection<User>(USERS(count), "users", { filter, orderBy });

  const columns: Column<User>[] = [
    {
      label: "Email",
      sort: "EMAIL",
      render: (u) => <a {...linkProps(`users/${encodeURIComponent(u.id)}`)}>{u.email}</a>,
    },
    { label: "Name", sort: "NAME", render: (u) => u.name },
    { label: "Role", render: (u) => u.role.toLowerCase() },
    { label: "Orders", render: (u) => u.orderStats?.count ?? "", className: "num" },
    { label: "Spent", render: (u) => u.orderStats?.totalSpent ?? "", className: "num" },
    { label: "Joined", sort: "CREATED_AT", render: (u) => when(u.createdAt) },
  ];

  return (
    <section aria-labelledby="users-title">
      <div className="title-row">
        <h1 id="users-title">Users</h1>
        <a className="button" {...linkProps("users/new")}>
          New user
        </a>
      </div>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Email contains
          <input type="search" defaultValue={url.get("email")} onBlur={(e) => url.set({ email: e.target.value })}
            onKeyDown={(e) => e.key === "Enter" && url.set({ email: e.currentTarget.value })} />
        </label>
        <label>
          Name contains
          <input type="search" defaultValue={url.get("name")} onBlur={(e) => url.set({ name: e.target.value })}
            onKeyDown={(e) => e.key === "Enter" && url.set({ name: e.currentTarget.value })} />
        </label>
        <label>
          Role
          <select value={url.get("role")} onChange={(e) => url.set({ role: e.target.value })}>
            <option value="">any</option>
            <option value="USER">user</option>
            <option value="ADMIN">admin</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={count} onChange={(e) => url.set({ count: e.target.checked ? "1" : null })} />
          Count all
        </label>
      </form>
      <ExportButtons kind="USERS" filter={filter} orderBy={orderBy} />
      <Table
        caption="Users"
        columns={columns}
        connection={connection}
        sort={sort}
        onSort={(field, direction) => url.set({ sort: `${field}:${direction}` })}
      />
    </section>
  );
}
