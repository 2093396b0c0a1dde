// Downloads of the current view (same filter, same order) through the API's export links.
import { useState } from "react";
import { gql } from "../api";

const CREATE_EXPORT_LINK = `
  mutation CreateExportLink($input: CreateExportLinkInput!) {
    createExportLink(input: $input) { url errors { field code message } }
  }`;

interface Props {
  kind: "ORDERS" | "ORDER_LINES" | "USERS" | "PRODUCTS";
  filter: Record<string, unknown> | null;
  orderBy: Record<string, unknown> | null;
  formats?: ("CSV" | "JSON" | "PDF")[];
}

export function download(url: string) {
  // A signed, single-use link: it needs no Authorization header.
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = "";
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

export function ExportButtons({ kind, filter, orderBy, formats = ["CSV", "JSON"] }: Props) {
  const [error, setError] = useState<string | null>(null);
  const run = async (format: string) => {
    setError(null);
    try {
      const data = await gql(CREATE_EXPORT_LINK, { input: { kind, format, filter, orderBy } });
      const payload = data.createExportLink;
      if (payload.errors.length) setError(payload.errors[0].message);
      else download(payload.url);
    } catch (exc) {
      setError((exc as Error).message);
    }
  };
  return (
    <div className="exports" role="group" aria-label="Export this view">
      <span className="label">Export</span>
      {formats.map((format) => (
        <button key={format} type="button" onClick={() => void run(format)}>
          {format}
        </button>
      ))}
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </div>
  );
}
