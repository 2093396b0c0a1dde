import { resolve } from "node:path";
import { defineConfig } from "vite";

// Two pages from one build: the console (index.html, served at /admin) and GraphiQL
// (graphiql.html, served at GET /graphql). Both load their assets from /admin/assets,
// so nothing comes from a CDN.
export default defineConfig({
  base: "/admin/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: resolve(__dirname, "../app/console/static"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      // Radix and framer-motion (inside GraphiQL) mark modules "use client", which means
      // nothing outside React Server Components.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
      input: {
        index: resolve(__dirname, "index.html"),
        graphiql: resolve(__dirname, "graphiql.html"),
      },
    },
  },
});
