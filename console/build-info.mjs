// Writes app/console/static/build.json: a hash of everything the build reads, so a
// test (tests/console/test_build.py) can tell when the committed build is stale.
// Keep the file list in step with tests/console/build_hash.py.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL(".", import.meta.url).pathname;
const FILES = ["package.json", "package-lock.json", "index.html", "graphiql.html",
  "vite.config.ts", "tsconfig.json", "build-info.mjs"];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [relative(root, path)];
  });
}

const files = [...FILES, ...walk(join(root, "src"))].sort();
const hash = createHash("sha256");
for (const file of files) {
  hash.update(file + "\0");
  hash.update(readFileSync(join(root, file)));
  hash.update("\0");
}
const info = { sources: hash.digest("hex"), files: files.length };
writeFileSync(join(root, "../app/console/static/build.json"), JSON.stringify(info, null, 2) + "\n");
console.log("build.json", info);
