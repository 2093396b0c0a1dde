import { StrictMode, useEffect, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { gql, token } from "./api";
import { Feed } from "./components/Feed";
import { AuditPage } from "./pages/Audit";
import { ImportPage } from "./pages/Import";
import { OrdersPage } from "./pages/Orders";
import { ProductForm } from "./pages/ProductForm";
import { ProductsPage } from "./pages/Products";
import { UserPage } from "./pages/UserPage";
import { UsersPage } from "./pages/Users";
import { linkProps, navigate, useLocation } from "./router";
import "./styles.css";

const VIEWER = `query Viewer { viewer { id email name role } }`;

interface Viewer {
  id: string;
  email: string;
  name: string;
  role: string;
}

function SignIn({ onSignedIn }: { onSignedIn: (viewer: Viewer) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    token.set(value.trim());
    try {
      const data = await gql(VIEWER);
      if (!data.viewer) throw new Error("That token signs nobody in.");
      onSignedIn(data.viewer);
    } catch (exc) {
      token.clear();
      setError((exc as Error).message);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={(event) => void submit(event)} className="form">
        <h1>ordergraph console</h1>
        <p>
          Sign in with an API token. <code>make token</code> prints one for the demo admin.
          It is kept for this tab only.
        </p>
        <div className={error ? "field invalid" : "field"}>
          <label htmlFor="token">API token</label>
          <input id="token" type="password" autoComplete="off" required value={value}
            aria-invalid={error ? true : undefined} aria-describedby={error ? "token-error" : undefined}
            onChange={(event) => setValue(event.target.value)} autoFocus />
          {error && <small id="token-error" className="field-error" role="alert">{error}</small>}
        </div>
        <button type="submit" className="primary">Sign in</button>
      </form>
    </main>
  );
}

const NAV = [
  ["orders", "Orders"],
  ["products", "Products"],
  ["users", "Users"],
  ["audit", "Audit trail"],
  ["import", "Import"],
] as const;

function Page({ path }: { path: string }) {
  const [section, id] = path.split("/");
  const decoded = id ? decodeURIComponent(id) : null;
  switch (section) {
    case "products":
      return decoded ? <ProductForm key={decoded} id={decoded === "new" ? null : decoded} /> : <ProductsPage />;
    case "users":
      return decoded ? <UserPage key={decoded} id={decoded === "new" ? null : decoded} /> : <UsersPage />;
    case "audit":
      return <AuditPage />;
    case "import":
      return <ImportPage />;
    default:
      return <OrdersPage />;
  }
}

function App() {
  const { path } = useLocation();
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    if (!token.get()) return setChecked(true);
    gql(VIEWER)
      .then((data) => setViewer(data.viewer))
      .catch(() => token.clear())
      .finally(() => setChecked(true));
  }, []);
  if (!checked) return null;
  if (!viewer) return <SignIn onSignedIn={setViewer} />;
  const section = path.split("/")[0] || "orders";
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header>
        <span className="brand">ordergraph</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([to, label]) => (
              <li key={to}>
                <a {...linkProps(to)} aria-current={section === to ? "page" : undefined}>{label}</a>
              </li>
            ))}
            <li>
              <a href="/graphql">GraphiQL</a>
            </li>
          </ul>
        </nav>
        <span className="who">
          {viewer.email}{viewer.role !== "ADMIN" && " (not an admin: you see your own data only)"}
          <button type="button" className="link" onClick={() => {
            token.clear();
            setViewer(null);
            navigate("orders");
          }}>Sign out</button>
        </span>
      </header>
      <div className="body">
        <main id="main" tabIndex={-1}>
          <Page path={path} />
        </main>
        <Feed />
      </div>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
