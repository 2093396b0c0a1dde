// A small history router: the path picks the page, the query string holds its state
// (filters, sort, search), so a view can be shared and reloaded.
import { useEffect, useState } from "react";

export const BASE = "/admin";

export function navigate(to: string, { replace = false } = {}): void {
  const url = to.startsWith("/") ? to : `${BASE}/${to}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useLocation(): { path: string; params: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const onPop = () => setTick((n) => n + 1);
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const path = location.pathname.replace(/^\/admin\/?/, "").replace(/\/$/, "");
  return { path, params: new URLSearchParams(location.search) };
}

/** The page's state in the URL: read with get, change with set (replaces history). */
export function useUrlState() {
  const { params } = useLocation();
  const set = (changes: Record<string, string | null | undefined>) => {
    const next = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined || value === "") next.delete(key);
      else next.set(key, value);
    }
    const query = next.toString();
    navigate(location.pathname + (query ? `?${query}` : ""), { replace: true });
  };
  return { params, get: (key: string) => params.get(key) ?? "", set };
}

export function linkProps(to: string) {
  return {
    href: `${BASE}/${to}`,
    onClick: (event: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean }) => {
      if (event.metaKey || event.ctrlKey) return;
      event.preventDefault();
      navigate(to);
    },
  };
}
