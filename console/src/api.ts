// The console's only way to the server: the public GraphQL API at /graphql.
const TOKEN_KEY = "ordergraph.token";

/** The token lives for this tab's session only; never in a cookie the API would accept. */
export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export interface InputError {
  field: string;
  code: string;
  message: string;
}

/** A GraphQL error (or a refused request), with its stable code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }
  get isConflict(): boolean {
    return this.code === "CONFLICT";
  }
}

export type Vars = Record<string, unknown>;

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

async function send(init: RequestInit, headers: Record<string, string> = {}): Promise<any> {
  const secret = token.get();
  const response = await fetch("/graphql", {
    ...init,
    method: "POST",
    headers: {
      accept: "application/json",
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      ...headers,
    },
  });
  let body: Body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status}.`, "HTTP_" + response.status);
  }
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR", first.extensions?.field);
  }
  if (!response.ok) {
    throw new ApiError(`The server answered ${response.status}.`, "HTTP_" + response.status);
  }
  return body.data;
}

/** Runs one operation; GraphQL errors become an ApiError. */
export function gql<T = any>(query: string, variables: Vars = {}): Promise<T> {
  return send(
    { body: JSON.stringify({ query, variables }) },
    { "content-type": "application/json" },
  );
}

/** One file with an operation, as the GraphQL multipart request spec says. */
export function upload<T = any>(query: string, variables: Vars, file: File): Promise<T> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", file, file.name);
  // Uploads need a header no cross-site form can send (the server's CSRF check).
  return send({ body: form }, { "apollo-require-preflight": "true" });
}

/** Field -> message, from a payload's `errors`. */
export function byField(errors: InputError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const error of errors) out[error.field] = error.message;
  return out;
}
