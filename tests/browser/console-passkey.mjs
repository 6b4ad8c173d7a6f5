// Passkeys on the hosted pages, in Debian's Chromium with the DevTools virtual authenticator: a
// new user adds a passkey on the account page, signs out, and signs back in with the sign-in
// page's passkey button, naming no one. Prints one JSON line of what the pages showed.
import { chromium } from "playwright-core";

const origin = process.env.ORIGIN; // http://localhost:<port>: WebAuthn refuses IP addresses
const email = `passkey-${Math.random().toString(16).slice(2, 8)}@e2e.test`;
const seen = {};
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
let page;
try {
  const ctx = await browser.newContext();
  page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await page.goto(`${origin}/sign-up`);
  await page.getByLabel("Name").fill("Pat Passkey");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("Correct-Horse-7-battery");
  await page.getByLabel("Repeat the password").fill("Correct-Horse-7-battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/account$/);
  await page.getByLabel("Passkey name").fill("Laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.locator("#passkey-form .status.ok").waitFor();
  seen.added = await page.locator("#passkey-form .status").textContent();
  seen.listed = await page.locator("#passkey-table tbody tr td:first-child").allTextContents();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in/);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL(/\/account$/);
  seen.signedInAs = await page.locator("#current-email").textContent();
  seen.expected = email;
} catch (e) {
  seen.failure = String(e && e.stack ? e.stack : e);
  if (page) seen.statusLines = await page.locator(".status").allTextContents().catch(() => []);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
