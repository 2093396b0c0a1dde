// GraphiQL from the package (no CDN), with the explorer plugin, its headers editor
// prefilled with the token this tab's console holds.
import { explorerPlugin } from "@graphiql/plugin-explorer";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "graphql-ws";
import { token } from "./api";
import "graphiql/style.css";
import "@graphiql/plugin-explorer/style.css";

const secret = token.get();
const scheme = location.protocol === "https:" ? "wss" : "ws";
const fetcher = createGraphiQLFetcher({
  url: `${location.origin}/graphql`,
  wsClient: createClient({
    url: `${scheme}://${location.host}/graphql`,
    connectionParams: secret ? { authorization: `Bearer ${secret}` } : {},
    lazy: true,
  }),
});
const headers = secret ? JSON.stringify({ Authorization: `Bearer ${secret}` }, null, 2) : undefined;

createRoot(document.getElementById("graphiql")!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      plugins={[explorerPlugin()]}
      headers={headers}
      defaultHeaders={headers}
      defaultEditorToolsVisibility={headers ? "headers" : undefined}
      shouldPersistHeaders={false}
    />
  </StrictMode>,
);
