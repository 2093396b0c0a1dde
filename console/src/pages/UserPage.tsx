import { useEffect, useState } from "react";
import { ApiError, byField, gql } from "../api";
import { collect, emailError, lengthError, type Errors } from "../checks";
import { download } from "../components/ExportButtons";
import { Field } from "../components/Field";
import { linkProps, navigate } from "../router";
import { USER_FIELDS, type User } from "./Users";

const USER = `query User($id: ID!) { user(id: $id) { ${USER_FIELDS} orderStats { count totalSpent lastOrderAt } } }`;
const CREATE = `
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) { user { ${USER_FIELDS} } errors { field code message } }
  }`;
const UPDATE = `
  mutation UpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) { user { ${USER_FIELDS} } errors { field code message } }
  }`;
const EXPORT = `
  mutation ExportUserData($input: ExportUserDataInput!) {
    exportUserData(input: $input) { url expiresAt errors { field code message } }
  }`;
const ERASE = `
  mutation EraseUser($input: EraseUserInput!) {
    eraseUser(input: $input) { user { ${USER_FIELDS} } errors { field code message } }
  }`;

type Draft = { email: string; name: string; role: string };

export function UserPage({ id }: { id: string | null }) {
  const [user, setUser] = useState<User | null>(null);
  const [draft, setDraft] = useState<Draft>({ email: "", name: "", role: "USER" });
  const [errors, setErrors] = useState<Errors>({});
  const [message, setMessage] = useState<{ text: string; conflict?: boolean; ok?: boolean } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [confirmText, setConfirmText] = useState("");

  const load = async () => {
    if (!id) return;
    const data = await gql(USER, { id });
    if (!data.user) return setMessage({ text: "There is no such user you may see." });
    setUser(data.user);
    setDraft({ email: data.user.email, name: data.user.name, role: data.user.role });
    setErrors({});
    setMessage(null);
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  const submit = async (event: { preventDefault(): void }) => {
    event.preventDefault();
    setMessage(null);
    const found = collect({ email: emailError(draft.email), name: lengthError(draft.name, 1, 100) });
    setErrors(found);
    if (Object.keys(found).length) return;
    const values = { email: draft.email.trim(), name: draft.name.trim(), role: draft.role };
    try {
      if (user) {
        const changes: Record<string, unknown> = {};
        if (values.email.toLowerCase() !== user.email) changes.email = values.email;
        if (values.name !== user.name) changes.name = values.name;
        if (values.role !== user.role) changes.role = values.role;
        const data = await gql(UPDATE, { input: { id: user.id, expectedVersion: user.version, ...changes } });
        const payload = data.updateUser;
        if (payload.errors.length) return setErrors(byField(payload.errors));
        setUser({ ...user, ...payload.user });
        setMessage({ text: "Saved.", ok: true });
      } else {
        const data = await gql(CREATE, { input: values });
        const payload = data.createUser;
        if (payload.errors.length) return setErrors(byField(payload.errors));
        navigate(`users/${encodeURIComponent(payload.user.id)}`);
      }
    } catch (exc) {
      const error = exc as ApiError;
      setMessage(
        error.isConflict
          ? { text: "This user was changed by someone else since you opened the page.", conflict: true }
          : { text: error.message },
      );
    }
  };

  const exportData = async () => {
    if (!user) return;
    const data = await gql(EXPORT, { input: { id: user.id } });
    const payload = data.exportUserData;
    if (payload.url) download(payload.url);
    else setMessage({ text: payload.errors[0].message });
  };

  const erase = async () => {
    if (!user) return;
    try {
      const data = await gql(ERASE, { input: { id: user.id } });
      const payload = data.eraseUser;
      if (payload.errors.length) return setMessage({ text: payload.errors[0].message });
      setConfirming(false);
      setConfirmText("");
      setUser({ ...user, ...payload.user });
      setDraft({ email: payload.user.email, name: payload.user.name, role: payload.user.role });
      setMessage({ text: "Erased: the account is now pseudonymous; its orders are kept.", ok: true });
    } catch (exc) {
      setMessage({ text: (exc as Error).message });
    }
  };

  const set = (field: keyof Draft) => (event: { target: { value: string } }) =>
    setDraft({ ...draft, [field]: event.target.value });

  return (
    <section aria-labelledby="user-title">
      <p>
        <a {...linkProps("users")}>← Users</a>
      </p>
      <h1 id="user-title">{user ? user.email : id ? "User" : "New user"}</h1>
      {message && (
        <div role={message.ok ? "status" : "alert"} className={message.ok ? "notice ok" : "notice conflict"}>
          {message.text}{" "}
          {message.conflict && (
            <button type="button" onClick={() => void load()}>
              Reload
            </button>
          )}
        </div>
      )}
      {user?.orderStats && (
        <p className="stats">
          {user.orderStats.count} orders · {user.orderStats.totalSpent} spent ·{" "}
          <a {...linkProps(`audit?entity=${encodeURIComponent(user.id)}`)}>history</a>
        </p>
      )}
      <form className="form" onSubmit={(event) => void submit(event)} noValidate>
        <Field name="email" label="Email" type="email" value={draft.email} onChange={set("email")} error={errors.email} />
        <Field name="name" label="Name" value={draft.name} onChange={set("name")} error={errors.name}
          hint="1 to 100 characters." />
        <div className="field">
          <label htmlFor="field-role">Role</label>
          <select id="field-role" value={draft.role} onChange={set("role")}>
            <option value="USER">user</option>
            <option value="ADMIN">admin</option>
          </select>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            {user ? "Save changes" : "Create user"}
          </button>
        </div>
      </form>
      {user && (
        <section className="privacy" aria-labelledby="privacy-title">
          <h2 id="privacy-title">Privacy</h2>
          <p>Download everything stored about this person, or erase their personal data.</p>
          <div className="actions">
            <button type="button" onClick={() => void exportData()}>
              Export personal data (JSON)
            </button>
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Erase personal data…
            </button>
          </div>
          {confirming && (
            <div role="dialog" aria-modal="false" aria-labelledby="erase-title" className="confirm">
              <h3 id="erase-title">Erase {user.email}?</h3>
              <p>
                Their email and name become a pseudonym, their orders stay under it, and every
                credential stops working. This cannot be undone. Type the email address to confirm.
              </p>
              <label htmlFor="erase-confirm">Email address</label>
              <input id="erase-confirm" value={confirmText} autoFocus onChange={(e) => setConfirmText(e.target.value)} />
              <div className="actions">
                <button type="button" className="danger" disabled={confirmText.trim().toLowerCase() !== user.email}
                  onClick={() => void erase()}>
                  Erase for good
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </div>
            </div>
          )}
        </section>
      )}
    </section>
  );
}
