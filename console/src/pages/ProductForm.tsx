import { useEffect, useState } from "react";
import { ApiError, byField, gql } from "../api";
import { collect, lengthError, moneyError, skuError, stockError, type Errors } from "../checks";
import { Field } from "../components/Field";
import { linkProps, navigate } from "../router";
import { PRODUCT_FIELDS, type Product } from "./Products";

const PRODUCT = `query Product($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
const CREATE = `
  mutation CreateProduct($input: CreateProductInput!) {
    createProduct(input: $input) { product { ${PRODUCT_FIELDS} } errors { field code message } }
  }`;
const UPDATE = `
  mutation UpdateProduct($input: UpdateProductInput!) {
    updateProduct(input: $input) { product { ${PRODUCT_FIELDS} } errors { field code message } }
  }`;

type Draft = { sku: string; name: string; description: string; price: string; stock: string };
const EMPTY: Draft = { sku: "", name: "", description: "", price: "", stock: "0" };

function draftOf(product: Product): Draft {
  return { ...product, stock: String(product.stock) };
}

export function ProductForm({ id }: { id: string | null }) {
  const [product, setProduct] = useState<Product | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [errors, setErrors] = useState<Errors>({});
  const [message, setMessage] = useState<{ text: string; conflict?: boolean; ok?: boolean } | null>(null);
  const [saving, setSaving] = useState(false);

  const load = async () => {
    if (!id) return;
    const data = await gql(PRODUCT, { id });
    if (!data.product) {
      setMessage({ text: "There is no such product." });
      return;
    }
    setProduct(data.product);
    setDraft(draftOf(data.product));
    setErrors({});
    setMessage(null);
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  const set = (field: keyof Draft) => (event: { target: { value: string } }) =>
    setDraft({ ...draft, [field]: event.target.value });

  const submit = async (event: { preventDefault(): void }) => {
    event.preventDefault();
    setMessage(null);
    const found = collect({
      sku: skuError(draft.sku),
      name: lengthError(draft.name, 1, 100),
      description: draft.description.length > 5000 ? "Use at most 5000 characters." : null,
      price: moneyError(draft.price),
      stock: stockError(draft.stock),
    });
    setErrors(found);
    if (Object.keys(found).length) return;
    const values = {
      sku: draft.sku.trim().toUpperCase(),
      name: draft.name.trim(),
      description: draft.description,
      price: draft.price.trim(),
      stock: Number(draft.stock),
    };
    setSaving(true);
    try {
      if (product) {
        // Only what changed, at the version this form was loaded from.
        const changes: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(values))
          if (value !== (product as unknown as Record<string, unknown>)[key]) changes[key] = value;
        const data = await gql(UPDATE, {
          input: { id: product.id, expectedVersion: product.version, ...changes },
        });
        const payload = data.updateProduct;
        if (payload.errors.length) setErrors(byField(payload.errors));
        else {
          setProduct(payload.product);
          setDraft(draftOf(payload.product));
          setMessage({ text: "Saved.", ok: true });
        }
      } else {
        const data = await gql(CREATE, { input: values });
        const payload = data.createProduct;
        if (payload.errors.length) setErrors(byField(payload.errors));
        else navigate(`products/${encodeURIComponent(payload.product.id)}?created=1`);
      }
    } catch (exc) {
      const error = exc as ApiError;
      setMessage(
        error.isConflict
          ? { text: "This product was changed by someone else since you opened it.", conflict: true }
          : { text: error.message },
      );
    } finally {
      setSaving(false);
    }
  };

  return (
    <section aria-labelledby="product-title">
      <p>
        <a {...linkProps("products")}>← Products</a>
      </p>
      <h1 id="product-title">{product ? `Product ${product.sku}` : id ? "Product" : "New product"}</h1>
      {message && (
        <div role={message.ok ? "status" : "alert"} className={message.ok ? "notice ok" : "notice conflict"}>
          {message.text}{" "}
          {message.conflict && (
            <button type="button" onClick={() => void load()}>
              Reload (your edits are lost)
            </button>
          )}
        </div>
      )}
      <form className="form" onSubmit={(event) => void submit(event)} noValidate>
        <Field name="sku" label="SKU" value={draft.sku} onChange={set("sku")} error={errors.sku}
          hint="2-40 of A-Z, 0-9 and dashes; unique." maxLength={40} />
        <Field name="name" label="Name" value={draft.name} onChange={set("name")} error={errors.name}
          hint="1 to 100 characters." />
        <Field name="description" label="Description" multiline value={draft.description}
          onChange={set("description") as never} error={errors.description} />
        <Field name="price" label="Price" inputMode="decimal" value={draft.price} onChange={set("price")}
          error={errors.price} hint="Two decimals at most, e.g. 19.99." />
        <Field name="stock" label="Stock" inputMode="numeric" value={draft.stock} onChange={set("stock")}
          error={errors.stock} />
        <div className="actions">
          <button type="submit" className="primary" disabled={saving}>
            {product ? "Save changes" : "Create product"}
          </button>
          {product && <span className="version">version {product.version}</span>}
        </div>
      </form>
    </section>
  );
}
