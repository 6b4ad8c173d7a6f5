// The built app in Debian's Chromium (playwright-core): sign up, create and switch organizations,
// read the member's role through the fetch wrapper, survive a reload, and, once the session is
// revoked elsewhere, see the wrapper retry once after a refresh and land on the sign-in page.
// Env: FRONTEND_URL, AUTH_URL, SCREENSHOTS (a directory). Prints PASS/FAIL lines.
import { chromium } from "playwright-core";

const FRONT = process.env.FRONTEND_URL;
const AUTH = process.env.AUTH_URL;
const SHOTS = process.env.SCREENSHOTS;
const email = `react-${Date.now()}@example.test`;
const password = "react-example-password";

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const calls = [];
  page.on("response", (r) => {
    if (r.url().startsWith(AUTH)) calls.push(`${r.status()} ${new URL(r.url()).pathname.replace(/^\/api\/auth/, "")}`);
  });

  await page.goto(FRONT);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/react-sign-in.png` });
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByTestId("who").filter({ hasText: email }).waitFor();

  for (const name of ["Acme", "Globex"]) {
    await page.getByLabel("New organization").fill(name);
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByTestId("active").filter({ hasText: `Active: ${name}` }).waitFor();
  }
  await page.getByLabel("Organization", { exact: true }).selectOption({ label: "Acme" });
  await page.getByTestId("active").filter({ hasText: "Active: Acme" }).waitFor();
  await page.getByRole("button", { name: "My role here" }).click();
  await page.getByTestId("role").filter({ hasText: "owner" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/react-dashboard.png` });
  console.log("PASS sign-up, organizations and the switcher");

  await page.reload();
  await page.getByTestId("active").filter({ hasText: "Active: Acme" }).waitFor();
  console.log("PASS the session survives a reload");

  // Another device signs in and revokes this browser's session.
  const signIn = await fetch(`${AUTH}/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: new URL(AUTH).origin },
    body: JSON.stringify({ email, password }),
  });
  check(signIn.ok, `sign-in elsewhere: ${signIn.status}`);
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const revoke = await fetch(`${AUTH}/revoke-other-sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: new URL(AUTH).origin, cookie },
    body: "{}",
  });
  check(revoke.ok, `revoke-other-sessions: ${revoke.status}`);

  calls.length = 0;
  await page.getByRole("button", { name: "My role here" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  const wanted = ["401 /organization/get-active-member", "200 /get-session", "401 /organization/get-active-member"];
  check(JSON.stringify(calls.slice(0, 3)) === JSON.stringify(wanted), `the wrapper's calls: ${JSON.stringify(calls)}`);
  console.log("PASS a 401 is retried once after a refresh, then the app signs in again");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("who").filter({ hasText: email }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  console.log("PASS sign-in and sign-out");
} catch (e) {
  console.log(`FAIL ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
