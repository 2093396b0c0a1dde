import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, gql } from "../api";
import { useConnection } from "../connection";
import { ExportButtons } from "../components/ExportButtons";
import { Highlight } from "../components/Highlight";
import { SearchBox } from "../components/SearchBox";
import { parseSort, Table, type Column } from "../components/Table";
import { subscribe } from "../live";
import { inMoneyRange, place } from "../placement";
import { linkProps, navigate, useUrlState } from "../router";

export const PRODUCT_FIELDS = `id sku name description price stock version createdAt updatedAt`;

const PRODUCTS = (count: boolean) => `
  query Products($first: Int, $after: String, $filter: ProductFilter, $orderBy: ProductSort) {
    products(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      edges { node { ${PRODUCT_FIELDS} } }
      pageInfo { hasNextPage endCursor }
      ${count ? "totalCount" : ""}
    }
  }`;

const SET_STOCK = `
  mutation SetStock($input: UpdateProductInput!) {
    updateProduct(input: $input) { product { ${PRODUCT_FIELDS} } errors { field code message } }
  }`;

const PRODUCT_EVENTS = `
  subscription ProductEvents($after: String) {
    productEvents(after: $after) { cursor type node { ${PRODUCT_FIELDS} } }
  }`;

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

function StockCell({ product, onSave }: { product: Product; onSave: (stock: number) => void }) {
  const [value, setValue] = useState(String(product.stock));
  useEffect(() => setValue(String(product.stock)), [product.stock]);
  const save = () => {
    const stock = Number(value);
    if (Number.isInteger(stock) && stock >= 0 && stock !== product.stock) onSave(stock);
    else setValue(String(product.stock));
  };
  return (
    <input
      className="stock"
      aria-label={`Stock of ${product.sku}`}
      inputMode="numeric"
      size={5}
      value={value}
      onChange={(event) => setValue(event.target.value)}
      onBlur={save}
      onKeyDown={(event) => event.key === "Enter" && save()}
    />
  );
}

export function ProductsPage() {
  const url = useUrlState();
  const sort = parseSort(url.get("sort"), "CREATED_AT:ASC");
  const count = url.get("count") === "1";
  const search = url.get("q");
  const filter = useMemo(() => {
    const f: Record<string, unknown> = {};
    if (search) f.search = search;
    if (url.get("min") || url.get("max"))
      f.price = { min: url.get("min") || null, max: url.get("max") || null };
    if (url.get("stock")) f.inStock = url.get("stock") === "in";
    return Object.keys(f).length ? f : null;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url.params.toString()]);
  const orderBy = { field: sort.field, direction: sort.direction };
  const connection = useConnection<Product>(PRODUCTS(count), "products", { filter, orderBy });
  const { update, refreshTotal } = connection;
  const [notice, setNotice] = useState<string | null>(null);
  const hasNextRef = useRef(connection.hasNextPage);
  hasNextRef.current = connection.hasNextPage;
  // Rows changed from this tab stay in view (with their outcome or notice) until the view changes.
  const held = useRef(new Set<string>());
  // Read at each event, so that counting (or not) does not resubscribe and miss events.
  const refreshRef = useRef(refreshTotal);
  refreshRef.current = refreshTotal;

  // Live: as on the orders page. Full-text search cannot be judged here, so under a
  // search a changed row stays where it is and a new one waits for a reload.
  useEffect(() => {
    held.current = new Set();
    const min = url.get("min");
    const max = url.get("max");
    const stock = url.get("stock");
    const matches = (product: Product) => {
      if (held.current.has(product.id)) return true;
      if (!inMoneyRange(product.price, min, max)) return false;
      if (stock && (product.stock > 0) !== (stock === "in")) return false;
      return search ? null : true;
    };
    const sortKey = (product: Product): string | number => {
      if (sort.field === "PRICE") return Number(product.price);
      if (sort.field === "NAME") return product.name;
      if (sort.field === "SKU") return product.sku;
      return new Date(product.createdAt).getTime();
    };
    return subscribe(PRODUCT_EVENTS, "productEvents", {}, (event) => {
      const product = event.node as Product;
      update((nodes) =>
        place(nodes, product, {
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

  const setStock = async (product: Product, stock: number) => {
    setNotice(null);
    held.current.add(product.id);
    update((nodes) => nodes.map((node) => (node.id === product.id ? { ...node, stock } : node)));
    const rollBack = (text: string) => {
      update((nodes) =>
        nodes.map((node) =>
          node.id === product.id && node.version === product.version ? product : node,
        ),
      );
      setNotice(text);
    };
    try {
      const data = await gql(SET_STOCK, {
        input: { id: product.id, stock, expectedVersion: product.version },
      });
      const payload = data.updateProduct;
      if (payload.errors.length) rollBack(`${product.sku}: ${payload.errors[0].message}`);
      else update((nodes) => nodes.map((node) => (node.id === product.id ? payload.product : node)));
    } catch (exc) {
      const error = exc as ApiError;
      rollBack(
        error.isConflict
          ? `${product.sku} was changed by someone else; its stock is shown as it was. Reload to see the change.`
          : error.message,
      );
    }
  };

  const chips: { key: string; label: string; clear: Record<string, null> }[] = [];
  if (search) chips.push({ key: "q", label: `matches “${search}”`, clear: { q: null } });
  if (url.get("min")) chips.push({ key: "min", label: `price ≥ ${url.get("min")}`, clear: { min: null } });
  if (url.get("max")) chips.push({ key: "max", label: `price ≤ ${url.get("max")}`, clear: { max: null } });
  if (url.get("stock"))
    chips.push({
      key: "stock",
      label: url.get("stock") === "in" ? "in stock" : "sold out",
      clear: { stock: null },
    });

  const columns: Column<Product>[] = [
    { label: "SKU", sort: "SKU", render: (p) => <a {...linkProps(`products/${encodeURIComponent(p.id)}`)}>{p.sku}</a> },
    { label: "Name", sort: "NAME", render: (p) => <Highlight text={p.name} search={search} /> },
    { label: "Price", sort: "PRICE", render: (p) => p.price, className: "num" },
    {
      label: "Stock",
      render: (p) => <StockCell product={p} onSave={(stock) => void setStock(p, stock)} />,
      className: "num",
    },
    { label: "Added", sort: "CREATED_AT", render: (p) => new Date(p.createdAt).toLocaleDateString() },
  ];

  return (
    <section aria-labelledby="products-title">
      <div className="title-row">
        <h1 id="products-title">Products</h1>
        <a className="button" {...linkProps("products/new")}>
          New product
        </a>
      </div>
      <SearchBox
        value={search}
        onSearch={(q) => url.set({ q })}
        onPick={(product) => navigate(`products/${encodeURIComponent(product.id)}`)}
      />
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Price from
          <input inputMode="decimal" size={7} defaultValue={url.get("min")} key={`min${url.get("min")}`}
            onBlur={(e) => url.set({ min: e.target.value })} />
        </label>
        <label>
          to
          <input inputMode="decimal" size={7} defaultValue={url.get("max")} key={`max${url.get("max")}`}
            onBlur={(e) => url.set({ max: e.target.value })} />
        </label>
        <label>
          Availability
          <select value={url.get("stock")} onChange={(e) => url.set({ stock: e.target.value })}>
            <option value="">any</option>
            <option value="in">in stock</option>
            <option value="out">sold out</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={count} onChange={(e) => url.set({ count: e.target.checked ? "1" : null })} />
          Count all
        </label>
      </form>
      {chips.length > 0 && (
        <ul className="chips" aria-label="Active filters">
          {chips.map((chip) => (
            <li key={chip.key}>
              {chip.label}
              <button type="button" aria-label={`Remove filter: ${chip.label}`} onClick={() => url.set(chip.clear)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <ExportButtons kind="PRODUCTS" filter={filter} orderBy={orderBy} />
      {notice && <p role="alert" className="notice conflict">{notice}</p>}
      <Table
        caption="Products"
        columns={columns}
        connection={connection}
        sort={sort}
        onSort={(field, direction) => url.set({ sort: `${field}:${direction}` })}
      />
    </section>
  );
}
