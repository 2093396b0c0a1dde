import { useState } from "react";
import { upload } from "../api";

const IMPORT = (kind: "Products" | "Users") => `
  mutation Import($file: Upload!, $mode: ImportMode!, $errorPolicy: ErrorPolicy!, $dryRun: Boolean!) {
    import${kind}(file: $file, mode: $mode, errorPolicy: $errorPolicy, dryRun: $dryRun) {
      created updated unchanged failed dryRun written
      errors { line column code message }
    }
  }`;

interface Result {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  dryRun: boolean;
  written: boolean;
  errors: { line: number | null; column: string | null; code: string; message: string }[];
}

const POLICIES = [
  ["REJECT_EVERYTHING", "Any bad row: write nothing"],
  ["REJECT_FAILED_ROWS", "Write the good rows, list the bad ones"],
  ["IGNORE_FAILED", "Write the good rows, only count the bad ones"],
] as const;

export function ImportPage() {
  const [kind, setKind] = useState<"Products" | "Users">("Products");
  const [mode, setMode] = useState("INSERT");
  const [policy, setPolicy] = useState("REJECT_EVERYTHING");
  const [dryRun, setDryRun] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: { preventDefault(): void }) => {
    event.preventDefault();
    if (!file) return setError("Choose a CSV file first.");
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const data = await upload(IMPORT(kind), { mode, errorPolicy: policy, dryRun }, file);
      setResult(data[`import${kind}`]);
    } catch (exc) {
      setError((exc as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="import-title">
      <h1 id="import-title">Import a CSV file</h1>
      <form className="form" onSubmit={(event) => void submit(event)}>
        <fieldset>
          <legend>What the file holds</legend>
          {(["Products", "Users"] as const).map((value) => (
            <label key={value} className="check">
              <input type="radio" name="kind" checked={kind === value} onChange={() => setKind(value)} />
              {value}
              <small>{value === "Products" ? " (sku, name, price[, description, stock])" : " (email, name[, role])"}</small>
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor="import-file">CSV file</label>
          <input id="import-file" type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
        <fieldset>
          <legend>Rows whose key exists</legend>
          <label className="check">
            <input type="radio" name="mode" checked={mode === "INSERT"} onChange={() => setMode("INSERT")} />
            are errors (insert only)
          </label>
          <label className="check">
            <input type="radio" name="mode" checked={mode === "UPSERT"} onChange={() => setMode("UPSERT")} />
            update the stored one (upsert)
          </label>
        </fieldset>
        <fieldset>
          <legend>Error policy</legend>
          {POLICIES.map(([value, label]) => (
            <label key={value} className="check">
              <input type="radio" name="policy" value={value} checked={policy === value} onChange={() => setPolicy(value)} />
              {label}
            </label>
          ))}
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} />
          Dry run: check only, write nothing
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Importing…" : "Import"}
          </button>
        </div>
      </form>
      {error && <p role="alert" className="notice conflict">{error}</p>}
      {result && (
        <section aria-labelledby="result-title" className="import-result">
          <h2 id="result-title">{result.written ? "Imported" : "Nothing was written"}</h2>
          <p role="status">
            {result.created} created · {result.updated} updated · {result.unchanged} unchanged · {result.failed} failed
            {result.dryRun ? " (dry run)" : ""}
          </p>
          {result.errors.length > 0 && (
            <table>
              <caption>Problems, by line</caption>
              <thead>
                <tr><th scope="col">Line</th><th scope="col">Column</th><th scope="col">Code</th><th scope="col">Problem</th></tr>
              </thead>
              <tbody>
                {result.errors.map((row, index) => (
                  <tr key={index} className="row-error">
                    <td className="num">{row.line ?? "file"}</td>
                    <td>{row.column ?? ""}</td>
                    <td><code>{row.code}</code></td>
                    <td>{row.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </section>
  );
}
