// Client-side checks that mirror the server's (app/services/validation.py, products.py):
// they save a round trip; the server still decides, and its payload errors are shown too.
export type Errors = Record<string, string>;

export function lengthError(value: string, min: number, max: number): string | null {
  const length = value.trim().length;
  if (length < min) return min === 1 ? "Required." : `Use at least ${min} characters.`;
  if (length > max) return `Use at most ${max} characters (now ${length}).`;
  return null;
}

export function moneyError(value: string): string | null {
  if (!/^\d+(\.\d{1,2})?$/.test(value.trim()))
    return "An amount of at least 0 with at most two decimals, e.g. 19.99.";
  return null;
}

export function skuError(value: string): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{1,39}$/.test(value.trim()))
    return "2 to 40 of A-Z, 0-9 and dashes, starting with a letter or digit.";
  return null;
}

export function stockError(value: string): string | null {
  const stock = Number(value);
  if (!/^\d+$/.test(value.trim()) || stock > 1_000_000_000) return "A whole number, 0 or more.";
  return null;
}

export function emailError(value: string): string | null {
  const email = value.trim();
  if (email.length > 254) return "Use at most 254 characters.";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return "An email address, like name@example.com.";
  return null;
}

export function collect(checks: Record<string, string | null>): Errors {
  const out: Errors = {};
  for (const [field, error] of Object.entries(checks)) if (error) out[field] = error;
  return out;
}
