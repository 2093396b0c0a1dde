// Drives the console (/admin) and GraphiQL (/graphql) in Debian's Chromium with
// Playwright, against a running server. Used by tests/console/test_browser.py.
//
//   node console_e2e.mjs <scenario>    env: BASE_URL, ADMIN_TOKEN, USER_TOKEN, SHOTS, CHROMIUM
//
// Prints one JSON line per check: {"kind": "check", "name", "ok", "detail"}, then
// {"kind": "done", "external": [...urls outside loopback]}. Every host but the server's
// is blocked, and every request to one is recorded. On failure it saves a screenshot to
// SHOTS/<scenario>-failure.png and exits 1.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const ADMIN = process.env.ADMIN_TOKEN;
const USER = process.env.USER_TOKEN;
const SHOTS = process.env.SHOTS;
const LAPTOP = { width: 1366, height: 800 };
const TABLET = { width: 820, height: 1180 };
const WAIT = 15_000;

const external = [];
const problems = [];
let failed = false;

function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function check(name, ok, detail = null) {
  emit({ kind: "check", name, ok: Boolean(ok), detail });
  if (!ok) {
    failed = true;
    throw new Error(`check failed: ${name} ${JSON.stringify(detail)}`);
  }
}

/** A GraphQL call from outside the browser: "another client". */
async function api(token, query, variables = {}) {
  const response = await fetch(`${BASE}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function newPage(browser, viewport = LAPTOP) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const origin = new URL(BASE);
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === origin.hostname || url.protocol === "data:" || url.protocol === "blob:") {
      return route.fallback();
    }
    external.push(url.href);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("websocket", (ws) => {
    if (new URL(ws.url()).hostname !== origin.hostname) external.push(ws.url());
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource: the server responded/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  page.setDefaultTimeout(WAIT);
  return page;
}

async function signIn(page, token = ADMIN, path = "orders") {
  await page.goto(`${BASE}/admin/${path}`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Console" }).waitFor();
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

const rows = (page) => page.locator("main table tbody tr");

async function loadAll(page) {
  // Scrolls to the end of the table until every page is in (infinite scroll).
  for (let i = 0; i < 100; i++) {
    const more = page.locator(".more");
    if (/All \d+ shown|^$/.test((await more.innerText()).trim())) return;
    await page.locator(".sentinel").scrollIntoViewIfNeeded();
    await page.waitForTimeout(150);
  }
}

const ORDER = `query($id: ID!) { order(id: $id) { id status version } }`;

const scenarios = {
  async signin(browser) {
    const page = await newPage(browser);
    await page.goto(`${BASE}/admin`);
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = await page.locator("#token-error").innerText();
    check("a bad token is refused with the reason", /token|credential|invalid/i.test(error), error);
    await page.getByLabel("API token").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await rows(page).first().waitFor();
    check("signed in, the orders table shows", (await rows(page).count()) > 0);
    check("the token is not in a cookie", (await page.context().cookies()).length === 0);
    const stored = await page.evaluate(() => sessionStorage.getItem("ordergraph.token"));
    check("the token is kept in sessionStorage", stored === ADMIN);
    await page.reload();
    await rows(page).first().waitFor();
    check("a reload keeps the session", await page.getByRole("button", { name: "Sign out" }).isVisible());
    await shot(page, "orders-laptop");
  },

  async orders(browser) {
    const page = await newPage(browser);
    await signIn(page);
    await rows(page).first().waitFor();
    await page.getByRole("button", { name: /^Total/ }).click();
    await page.waitForURL(/sort=TOTAL%3AASC|sort=TOTAL:ASC/);
    await page.getByRole("checkbox", { name: "paid" }).check();
    await page.waitForURL(/status=PAID/);
    await page.getByRole("checkbox", { name: "pending" }).check();
    await page.getByRole("checkbox", { name: "Count all" }).check();
    await page.waitForURL(/count=1/);
    await page.getByTestId("total").waitFor();
    await loadAll(page);
    const ids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    const totals = await rows(page).evaluateAll((trs) => trs.map((tr) => Number(tr.cells[3].innerText)));
    const statuses = await page.locator("main select.status").evaluateAll((s) => s.map((e) => e.value));
    const total = Number((await page.getByTestId("total").innerText()).match(/\d+/)[0]);
    check("more than one page was scrolled through", ids.length > 25, ids.length);
    check("no order is shown twice", new Set(ids).size === ids.length, ids.length);
    check("every order of the total is shown", ids.length === total, { shown: ids.length, total });
    check("sorted by total, ascending", totals.every((t, i) => i === 0 || totals[i - 1] <= t), totals.slice(0, 5));
    check("filtered to PAID and PENDING", statuses.every((s) => s === "PAID" || s === "PENDING"), [...new Set(statuses)]);
    const truth = await api(ADMIN, `{ orders(filter: {status: [PAID, PENDING]}) { totalCount } }`);
    check("the count is the API's", truth.orders.totalCount === total, truth.orders.totalCount);
    // The view lives in the URL: a reload (or a shared link) shows the same.
    await page.reload();
    await page.getByTestId("total").waitFor();
    check("the filter survives a reload", await page.getByRole("checkbox", { name: "paid" }).isChecked());
    await shot(page, "orders-filtered-laptop");
  },

  async status(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "orders?status=PENDING");
    await rows(page).first().waitFor();
    const [first, second] = await rows(page).evaluateAll((trs) => trs.slice(0, 2).map((tr) => tr.dataset.id));
    // An optimistic change that sticks: the row shows PAID before the server answers.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await page.route(`${BASE}/graphql`, async (route) => {
      if (/UpdateOrderStatus/.test(route.request().postData() ?? "")) await held;
      return route.fallback();
    });
    const select = (id) => page.locator(`tr[data-id="${id}"] select.status`);
    await select(first).selectOption("PAID");
    check("the new status shows at once (optimistic)", (await select(first).inputValue()) === "PAID");
    check("the row is marked as saving", await page.locator(`tr[data-id="${first}"].pending`).count() === 1);
    release();
    await page.locator(`tr[data-id="${first}"]:not(.pending)`).waitFor();
    check("it sticks once the server answers", (await select(first).inputValue()) === "PAID");
    const saved = await api(ADMIN, ORDER, { id: first });
    check("the server has it", saved.order.status === "PAID", saved.order);
    await page.unroute(`${BASE}/graphql`);

    // A refused change: another client moves the order first, so our expectedVersion is stale.
    await page.route(`${BASE}/graphql`, async (route) => {
      if (/UpdateOrderStatus/.test(route.request().postData() ?? "")) {
        const { order } = await api(ADMIN, ORDER, { id: second });
        await api(ADMIN, `mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) { errors { code } } }`,
          { input: { id: second, status: "CANCELLED", expectedVersion: order.version } });
      }
      return route.fallback();
    });
    await select(second).selectOption("PAID");
    const alert = page.getByRole("alert").filter({ hasText: "changed by someone else" });
    await alert.waitFor();
    check("CONFLICT is shown as changed by someone else", true, await alert.innerText());
    await shot(page, "orders-conflict-laptop");
    // The live feed may already show the other client's CANCELLED; the point is that our PAID is gone.
    check("the optimistic PAID is rolled back", (await select(second).inputValue()) !== "PAID", await select(second).inputValue());
    await page.getByRole("button", { name: "Reload order" }).click();
    await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] select.status`)?.value === "CANCELLED", second);
    check("Reload shows the other client's change", (await select(second).inputValue()) === "CANCELLED");
  },

  async product_form(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "products/new");
    const taken = (await api(ADMIN, `{ products(first: 1) { edges { node { sku } } } }`)).products.edges[0].node.sku;
    let requests = 0;
    page.on("request", (request) => /CreateProduct/.test(request.postData() ?? "") && requests++);
    await page.getByLabel("SKU").fill(taken);
    await page.getByLabel("Name").fill("x".repeat(101));
    await page.getByLabel("Price").fill("12.345");
    await page.getByRole("button", { name: "Create product" }).click();
    const priceError = await page.locator("#field-price-error").innerText();
    check("a price with three decimals is refused before sending", /two decimals/.test(priceError), priceError);
    check("a name over 100 characters too", /at most 100/.test(await page.locator("#field-name-error").innerText()));
    check("nothing was sent", requests === 0, requests);
    await page.getByLabel("Name").fill("Console test lamp");
    await page.getByLabel("Price").fill("12.34");
    await page.getByRole("button", { name: "Create product" }).click();
    const skuError = page.locator("#field-sku-error");
    await skuError.waitFor();
    check("the server's SKU_TAKEN shows next to the SKU", /another product/i.test(await skuError.innerText()), await skuError.innerText());
    check("the field is marked invalid", (await page.getByLabel("SKU").getAttribute("aria-invalid")) === "true");
    check("it was the server that said so", requests === 1, requests);
    await shot(page, "product-form-error-laptop");
    await page.setViewportSize(TABLET);
    await shot(page, "product-form-error-tablet");
    const sku = `CONSOLE-${process.pid}-${Date.now() % 100000}`;
    await page.getByLabel("SKU").fill(sku.toLowerCase());
    await page.getByRole("button", { name: "Create product" }).click();
    await page.getByRole("heading", { name: `Product ${sku}` }).waitFor();
    check("a fixed form creates the product", true);
    // An edit sends expectedVersion; someone else's edit in between is a conflict.
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    const { product } = await api(ADMIN, `query($id: ID!) { product(id: $id) { version } }`, { id });
    await api(ADMIN, `mutation($input: UpdateProductInput!) { updateProduct(input: $input) { errors { code } } }`,
      { input: { id, expectedVersion: product.version, stock: 7 } });
    await page.getByLabel("Name").fill("Console test lamp, renamed");
    await page.getByRole("button", { name: "Save changes" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "changed by someone else" });
    await alert.waitFor();
    check("an edit over someone else's is a conflict", true);
    await page.getByRole("button", { name: /Reload/ }).click();
    await page.waitForFunction(() => document.querySelector("#field-stock")?.value === "7");
    check("reload shows their stock", (await page.getByLabel("Stock").inputValue()) === "7");
  },

  async stock(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "products?sort=SKU:ASC");
    await rows(page).first().waitFor();
    const [first, second] = await rows(page).evaluateAll((trs) => trs.slice(0, 2).map((tr) => tr.dataset.id));
    const stock = (id) => page.locator(`tr[data-id="${id}"] input.stock`);
    const PRODUCT = `query($id: ID!) { product(id: $id) { stock version } }`;
    await stock(first).fill("5");
    await stock(first).press("Enter");
    const saved = await (async () => {
      for (let i = 0; i < 50; i++) {
        const { product } = await api(ADMIN, PRODUCT, { id: first });
        if (product.stock === 5) return product;
        await page.waitForTimeout(100);
      }
      return null;
    })();
    check("a stock edit is saved", saved !== null && (await stock(first).inputValue()) === "5");
    // Someone else changes the product between our read and our write: CONFLICT.
    const before = await stock(second).inputValue();
    await page.route(`${BASE}/graphql`, async (route) => {
      if (/SetStock/.test(route.request().postData() ?? "")) {
        const { product } = await api(ADMIN, PRODUCT, { id: second });
        await api(ADMIN, `mutation($input: UpdateProductInput!) { updateProduct(input: $input) { errors { code } } }`,
          { input: { id: second, expectedVersion: product.version, name: `Renamed ${Date.now()}` } });
      }
      return route.fallback();
    });
    await stock(second).fill("77");
    await stock(second).press("Enter");
    const alert = page.getByRole("alert").filter({ hasText: "changed by someone else" });
    await alert.waitFor();
    check("a refused stock edit says changed by someone else", true, await alert.innerText());
    check("and the stock goes back", (await stock(second).inputValue()) === before, await stock(second).inputValue());
    const { product } = await api(ADMIN, PRODUCT, { id: second });
    check("nothing was written", String(product.stock) === before, product.stock);
  },

  async users(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "users");
    await rows(page).first().waitFor();
    const email = await page.getByLabel("Email contains");
    await email.fill("user000021");
    await email.press("Enter");
    await page.waitForURL(/email=user000021/);
    await page.waitForFunction(() => document.querySelectorAll("main table tbody tr").length === 1);
    check("the users table filters by email", true);
    await page.getByRole("link", { name: "user000021@example.com" }).click();
    await page.getByRole("heading", { name: "user000021@example.com" }).waitFor();
    await page.getByLabel("Name").fill("");
    await page.getByRole("button", { name: "Save changes" }).click();
    check("an empty name is refused next to the field", /Required/.test(await page.locator("#field-name-error").innerText()));
    await page.getByLabel("Name").fill("Renamed In Console");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
    const [data] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export personal data (JSON)" }).click(),
    ]);
    const exported = JSON.parse(readFileSync(await data.path(), "utf8"));
    check("the personal data export downloads as JSON", JSON.stringify(exported).includes("user000021@example.com"));
    await page.getByRole("button", { name: "Erase personal data…" }).click();
    const erase = page.getByRole("button", { name: "Erase for good" });
    check("erasing waits for the typed confirmation", await erase.isDisabled());
    await page.getByLabel("Email address").fill("user000021@example.com");
    await shot(page, "user-erase-laptop");
    await erase.click();
    await page.getByRole("status").filter({ hasText: "Erased" }).waitFor();
    const heading = await page.getByRole("heading", { level: 1 }).innerText();
    check("the user is erased (pseudonymous now)", !heading.includes("user000021"), heading);
  },

  async user_form(browser) {
    // The create-user form: the client's checks mirror the server's (email, 1 to 100
    // characters), and refuse before sending; the server's EMAIL_TAKEN shows by the email.
    const page = await newPage(browser);
    const sent = [];
    page.on("request", (request) => {
      if (/CreateUser/.test(request.postData() ?? "")) sent.push(request.postDataJSON().variables.input);
    });
    await signIn(page, ADMIN, "users");
    await page.getByRole("link", { name: "New user" }).click();
    await page.getByRole("heading", { name: "New user" }).waitFor();
    const email = page.getByLabel("Email");
    const name = page.getByLabel("Name");
    const create = page.getByRole("button", { name: "Create user" });
    await email.fill("not-an-email");
    await name.fill("n".repeat(101));
    await create.click();
    const emailError = page.locator("#field-email-error");
    const nameError = page.locator("#field-name-error");
    await emailError.waitFor();
    check("a malformed email is refused next to the field", /email address/i.test(await emailError.innerText()), await emailError.innerText());
    check("a 101-character name is refused next to the field", /at most 100/.test(await nameError.innerText()), await nameError.innerText());
    check("the errors are tied to their inputs", (await email.getAttribute("aria-invalid")) === "true" &&
      (await email.getAttribute("aria-describedby")).includes("field-email-error"));
    await name.fill("   ");
    await create.click();
    check("a blank name is refused too", /Required/.test(await nameError.innerText()), await nameError.innerText());
    check("nothing was sent while the client's checks fail", sent.length === 0, sent);
    await shot(page, "user-create-errors-laptop");

    const taken = "user000007@example.com";
    await email.fill(taken.toUpperCase());
    await name.fill("Someone Else");
    await create.click();
    await page.locator("#field-email-error", { hasText: "Another user has this email." }).waitFor();
    check("the server's EMAIL_TAKEN shows next to the email", sent.length === 1, sent);
    check("the name has no error then", (await nameError.count()) === 0);
    const { users } = await api(ADMIN, `query($f: UserFilter) { users(first: 5, filter: $f) { totalCount } }`, { f: { email: "user000007@" } });
    check("and no second user was written", users.totalCount === 1, users.totalCount);

    // The limits are the server's: 100 characters pass, and the email is trimmed and lowercased.
    const fresh = `New.Person.${Date.now()}@Example.com`;
    await email.fill(`  ${fresh}  `);
    await name.fill("N".repeat(100));
    await create.click();
    await page.getByRole("heading", { name: fresh.toLowerCase() }).waitFor();
    check("a valid user is created and opened", page.url().includes("/admin/users/"), page.url());
    const made = await api(ADMIN, `query($f: UserFilter) { users(first: 1, filter: $f) { edges { node { email name } } } }`,
      { f: { email: fresh.toLowerCase() } });
    const node = made.users.edges[0]?.node;
    check("the server stored it trimmed and lowercased, with the 100-character name",
      node?.email === fresh.toLowerCase() && node?.name.length === 100, node?.email);
  },

  async audit(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "audit");
    await rows(page).first().waitFor();
    const wanted = await rows(page).first().locator("td").nth(1).innerText();
    const action = page.getByLabel("Action");
    await action.fill(wanted);
    await action.press("Enter");
    await page.waitForURL(/action=/);
    await page.waitForFunction((wanted) => [...document.querySelectorAll("main table tbody tr")].length > 0 &&
      [...document.querySelectorAll("main table tbody tr td:nth-child(2)")].every((td) => td.innerText === wanted), wanted);
    check("the audit trail filters by action", true);
    await page.getByRole("button", { name: /^When/ }).click();
    await page.waitForURL(/sort=OCCURRED_AT%3AASC|sort=OCCURRED_AT:ASC/);
    await page.getByRole("columnheader", { name: /When/ }).and(page.locator('[aria-sort="ascending"]')).waitFor();
    await rows(page).first().waitFor();
    check("and sorts by occurredAt", (await rows(page).count()) > 0);
    await shot(page, "audit-laptop");
  },

  async search(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "products");
    await rows(page).first().waitFor();
    const box = page.getByRole("combobox", { name: "Search products" });
    await box.pressSequentially("chairs", { delay: 40 });
    const options = page.getByRole("listbox", { name: "Suggestions" }).getByRole("option");
    await options.first().waitFor();
    const texts = await options.allInnerTexts();
    check("the stemmed word finds a chair", texts.length > 0 && texts.every((t) => /chair/i.test(t)), texts);
    const marks = await page.locator(".suggestions mark").allInnerTexts();
    check("the match is highlighted", marks.some((m) => /^chair$/i.test(m)), marks);
    await shot(page, "products-search-laptop");
    await box.press("Enter");
    await page.waitForURL(/q=chairs/);
    await page.getByRole("list", { name: "Active filters" }).waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll("main table tbody tr")].length > 0 &&
      [...document.querySelectorAll("main table tbody tr td:nth-child(2)")].every((td) => /chair/i.test(td.textContent)));
    check("the table is filtered by the search, shown as a chip", true);
    await page.getByLabel("Availability").selectOption("in");
    await page.getByRole("button", { name: "Remove filter: in stock" }).waitFor();
    check("another filter is another chip", (await page.locator(".chips li").count()) === 2);
    await page.setViewportSize(TABLET);
    await shot(page, "products-search-tablet");
    await page.getByRole("button", { name: /Remove filter: matches/ }).click();
    await page.waitForURL((url) => !url.search.includes("q="));
    check("removing the chip removes the filter", (await page.locator(".chips li").count()) === 1);
    // Keyboard: arrows pick a suggestion, Enter opens it.
    await box.fill("");
    await box.pressSequentially("kettles", { delay: 40 });
    await options.first().waitFor();
    await box.press("ArrowDown");
    await box.press("Enter");
    await page.getByRole("heading", { name: /^Product SKU-/ }).waitFor();
    check("a suggestion opens from the keyboard", /kettle/i.test(await page.getByLabel("Name").inputValue()));
  },

  async export(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "orders?status=SHIPPED,DELIVERED&sort=TOTAL:ASC");
    await rows(page).first().waitFor();
    await loadAll(page);
    const table = await rows(page).evaluateAll((trs) => trs.map((tr) => [tr.dataset.id, tr.cells[3].innerText]));
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "CSV" }).click(),
    ]);
    const text = readFileSync(await download.path(), "utf8").trim().split("\n");
    const header = text[0].split(",").map((h) => h.replace(/"/g, ""));
    const body = text.slice(1).map((line) => line.split(",").map((c) => c.replace(/"/g, "")));
    const idAt = header.indexOf("id");
    const totalAt = header.indexOf("total");
    const csv = body.map((cells) => [cells[idAt], Number(cells[totalAt]).toFixed(2)]);
    check("the CSV has the table's rows, in its order", JSON.stringify(csv) === JSON.stringify(table),
      { csv: csv.length, table: table.length, first: [csv[0], table[0]] });
    const [pdf] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "PDF" }).first().click()]);
    check("the PDF report downloads", readFileSync(await pdf.path()).subarray(0, 5).toString() === "%PDF-");
    const [invoice] = await Promise.all([
      page.waitForEvent("download"),
      rows(page).first().getByRole("button", { name: "PDF" }).click(),
    ]);
    check("an order's invoice downloads", readFileSync(await invoice.path()).subarray(0, 5).toString() === "%PDF-",
      invoice.suggestedFilename());
  },

  async export_json(browser) {
    // JSON of the current view: the same filter (statuses, a total range) and the same order.
    const page = await newPage(browser);
    await signIn(page, ADMIN, "orders?status=PAID,CANCELLED&min=10&sort=TOTAL:DESC");
    await rows(page).first().waitFor();
    await loadAll(page);
    const table = await rows(page).evaluateAll((trs) => trs.map((tr) =>
      [tr.dataset.id, tr.cells[3].innerText, tr.querySelector("select.status").value]));
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "JSON" }).click(),
    ]);
    const records = JSON.parse(readFileSync(await download.path(), "utf8"));
    const json = records.map((r) => [r.id, Number(r.total).toFixed(2), r.status]);
    check("the JSON export is a list of records", Array.isArray(records) && records.length > 25, records.length);
    check("the JSON has the table's rows, in its order", JSON.stringify(json) === JSON.stringify(table),
      { json: json.length, table: table.length, first: [json[0], table[0]] });
    check("every record matches the view's filter",
      records.every((r) => ["PAID", "CANCELLED"].includes(r.status) && Number(r.total) >= 10));
    check("sorted by total, descending", json.every((r, i) => i === 0 || Number(json[i - 1][1]) >= Number(r[1])));

    // Products under a full-text search, sorted by price: the search is the server's own.
    await page.goto(`${BASE}/admin/products?q=chairs&sort=PRICE:DESC`);
    await page.getByRole("list", { name: "Active filters" }).waitFor();
    await rows(page).first().waitFor();
    await loadAll(page);
    const shown = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    const [products] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "JSON" }).click(),
    ]);
    const items = JSON.parse(readFileSync(await products.path(), "utf8"));
    check("the products JSON has the searched table's rows, in its order",
      shown.length > 0 && JSON.stringify(items.map((p) => p.id)) === JSON.stringify(shown), { json: items.length, shown: shown.length });
  },

  async import(browser) {
    const page = await newPage(browser);
    await signIn(page, ADMIN, "import");
    const file = join(process.env.TMPDIR ?? "/tmp", `console-import-${process.pid}.csv`);
    writeFileSync(file, "sku,name,price,stock\nIMP-OK-1,Imported lamp,10.00,3\nIMP-BAD-2,Bad price lamp,1.234,1\nIMP-OK-3,Imported mug,2.50,9\n");
    await page.getByLabel("CSV file", { exact: true }).setInputFiles(file);
    await page.getByLabel("Write the good rows, list the bad ones").check();
    await page.getByRole("button", { name: "Import" }).click();
    const problems = page.getByRole("table", { name: "Problems, by line" });
    await problems.waitFor();
    const cells = await problems.locator("tbody tr").first().locator("td").allInnerTexts();
    check("the bad row is listed with its line number", cells[0] === "3" && cells[1] === "price", cells);
    const status = await page.getByRole("status").innerText();
    check("the good rows were written (REJECT_FAILED_ROWS)", /2 created/.test(status) && /1 failed/.test(status), status);
    await shot(page, "import-laptop");
  },

  async live(browser) {
    const page = await newPage(browser);
    await signIn(page);
    await rows(page).first().waitFor();
    await page.locator(".live-live").waitFor();
    const { products } = await api(ADMIN, `{ products(first: 1, filter: {inStock: true}) { edges { node { id } } } }`);
    const started = Date.now();
    const { placeOrder } = await api(USER, `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } errors { code } } }`,
      { input: { items: [{ productId: products.edges[0].node.id, quantity: 1 }], idempotencyKey: `console-${Date.now()}` } });
    const id = placeOrder.order.id;
    await page.locator(`main tr[data-id="${id}"]`).waitFor();
    const inTable = Date.now() - started;
    await page.locator(".feed li", { hasText: "New order from" }).first().waitFor();
    const inFeed = Date.now() - started;
    emit({ kind: "figure", name: "order placed elsewhere -> console table, ms", value: inTable });
    emit({ kind: "figure", name: "order placed elsewhere -> console feed, ms", value: inFeed });
    const placed = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    const { orders } = await api(ADMIN, `{ orders(first: ${placed.length}) { edges { node { id } } } }`);
    check("another client's order appears in the table, in its place (newest first)",
      JSON.stringify(placed) === JSON.stringify(orders.edges.map((e) => e.node.id)), placed.indexOf(id));
    // Another client's status change changes the row in place.
    const { order } = await api(ADMIN, ORDER, { id });
    await api(ADMIN, `mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) { errors { code } } }`,
      { input: { id, status: "PAID", expectedVersion: order.version } });
    await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] select.status`)?.value === "PAID", id);
    check("a status changed elsewhere changes the row in place", true);
    await shot(page, "orders-live-laptop");
    await page.setViewportSize(TABLET);
    await shot(page, "orders-tablet");
  },

  async live_filter(browser) {
    // Another client moves a row out of a filtered, sorted view: it leaves the table and
    // totalCount follows; a price changed elsewhere moves a row to its place in the order.
    const page = await newPage(browser);
    const shownTotal = async () => Number((await page.getByTestId("total").innerText()).match(/(\d+) in all/)[1]);
    await signIn(page, ADMIN, "orders?status=PENDING&sort=TOTAL:ASC&count=1");
    await page.getByTestId("total").waitFor();
    await page.locator(".live-live").waitFor();
    const total = await shownTotal();
    const [id, next] = await rows(page).evaluateAll((trs) => trs.slice(0, 2).map((tr) => tr.dataset.id));
    const { order } = await api(ADMIN, ORDER, { id });
    await api(ADMIN, `mutation($input: UpdateOrderStatusInput!) { updateOrderStatus(input: $input) { errors { code } } }`,
      { input: { id, status: "PAID", expectedVersion: order.version } });
    await page.locator(`main tr[data-id="${id}"]`).waitFor({ state: "detached" });
    check("an order paid elsewhere leaves the pending view", true);
    await page.waitForFunction((want) => document.querySelector("[data-testid=total]")?.innerText.includes(`${want} in all`), total - 1);
    check("and totalCount goes down by one", (await shownTotal()) === total - 1, { before: total, after: await shownTotal() });
    const first = await rows(page).first().getAttribute("data-id");
    check("the rest keep their order (the next row is first now)", first === next, { first, next });
    const { orders } = await api(ADMIN, `{ orders(first: 1, filter: {status: [PENDING]}, orderBy: {field: TOTAL, direction: ASC}) { totalCount } }`);
    check("the count shown is the server's", orders.totalCount === (await shownTotal()), orders.totalCount);

    const PRODUCT = `query($id: ID!) { product(id: $id) { stock version price } }`;
    const UPDATE = `mutation($input: UpdateProductInput!) { updateProduct(input: $input) { errors { code message } } }`;
    await page.goto(`${BASE}/admin/products?stock=in&sort=PRICE:ASC&count=1`);
    await page.getByTestId("total").waitFor();
    await page.locator(".live-live").waitFor();
    const inStock = await shownTotal();
    const ids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    const soldOut = ids[0];
    const before = (await api(ADMIN, PRODUCT, { id: soldOut })).product;
    await api(ADMIN, UPDATE, { input: { id: soldOut, stock: 0, expectedVersion: before.version } });
    await page.locator(`main tr[data-id="${soldOut}"]`).waitFor({ state: "detached" });
    check("a product sold out elsewhere leaves the in-stock view", true);
    await page.waitForFunction((want) => document.querySelector("[data-testid=total]")?.innerText.includes(`${want} in all`), inStock - 1);
    check("and its totalCount goes down by one", (await shownTotal()) === inStock - 1);
    const moved = ids[3];
    const priced = (await api(ADMIN, PRODUCT, { id: moved })).product;
    await api(ADMIN, UPDATE, { input: { id: moved, price: "0.01", expectedVersion: priced.version } });
    await page.waitForFunction((id) => document.querySelector("main table tbody tr")?.dataset.id === id, moved);
    const shown = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    check("a price cut elsewhere moves the row to the top of the price-sorted view",
      shown[0] === moved && shown.filter((x) => x === moved).length === 1, shown.slice(0, 4));
    const { products } = await api(ADMIN, `{ products(first: ${shown.length}, filter: {inStock: true}, orderBy: {field: PRICE, direction: ASC}) { edges { node { id } } } }`);
    check("the view is the server's, row for row", JSON.stringify(shown) === JSON.stringify(products.edges.map((e) => e.node.id)),
      { shown: shown.length });
    await shot(page, "products-live-filter-laptop");
  },

  async resume(browser) {
    // The socket drops; an order placed meanwhile still arrives: the console resubscribes
    // with `after` set to the last cursor it saw, and the server replays what it missed.
    const page = await newPage(browser);
    let down = false;
    const sockets = [];
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      if (down) return ws.close({ code: 1011, reason: "test: down" });
      sockets.push(ws);
      ws.connectToServer();
    });
    await signIn(page);
    await rows(page).first().waitFor();
    await page.locator(".live-live").waitFor();
    const { products } = await api(ADMIN, `{ products(first: 1, filter: {inStock: true}) { edges { node { id } } } }`);
    const place = async () => (await api(USER, `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }`,
      { input: { items: [{ productId: products.edges[0].node.id, quantity: 1 }], idempotencyKey: `resume-${Math.random()}` } })).placeOrder.order.id;
    const feedOrders = page.locator(".feed li", { hasText: "New order from" });
    await place();
    await feedOrders.first().waitFor();
    down = true;
    for (const ws of sockets) await ws.close({ code: 1011, reason: "test: dropped" });
    await page.locator(".live-reconnecting").waitFor();
    const missed = await place();
    await page.waitForTimeout(300);
    check("while down, the order is not shown", (await feedOrders.count()) === 1);
    down = false;
    await feedOrders.nth(1).waitFor();
    check("the feed is live again", await page.locator(".live-live").isVisible());
    check("the missed order is in the feed once", (await feedOrders.count()) === 2, missed);
    check("after reconnecting, the missed order arrives (resumed with after)", true);
  },

  async graphiql(browser) {
    const page = await newPage(browser);
    await signIn(page);
    await page.getByRole("link", { name: "GraphiQL" }).click();
    await page.waitForURL(/\/graphql$/);
    await page.locator(".graphiql-container").waitFor();
    await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
    await page.locator(".graphiql-editor-tool .CodeMirror").first().waitFor({ state: "attached" });
    const headers = await page.evaluate(() =>
      [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")].map((e) => e.CodeMirror.getValue()).join("\n"));
    check("the headers editor holds the console's token", headers.includes(`Bearer ${ADMIN}`), headers.slice(0, 40));
    const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
    await editor.click();
    await page.evaluate(() => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ viewer { email role } }"));
    await page.getByRole("button", { name: /Execute query/i }).click();
    await page.waitForFunction(() => document.querySelector(".result-window")?.innerText.includes("admin@example.com"));
    check("a query typed into GraphiQL returns data", true);
    check("the explorer plugin is there", (await page.getByRole("button", { name: /GraphiQL Explorer|Explorer/ }).count()) > 0);
    await shot(page, "graphiql-laptop");
  },
};

const names = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let page = null;
try {
  for (const name of names) {
    const scenario = scenarios[name];
    if (!scenario) throw new Error(`no scenario ${name}`);
    await scenario(browser);
  }
} catch (error) {
  failed = true;
  emit({ kind: "error", message: String(error?.stack ?? error) });
  for (const context of browser.contexts()) {
    for (page of context.pages()) {
      if (SHOTS) await page.screenshot({ path: join(SHOTS, `${names.join("-")}-failure.png`) }).catch(() => {});
    }
  }
} finally {
  emit({ kind: "done", external, problems });
  await browser.close();
}
process.exit(failed ? 1 : 0);
