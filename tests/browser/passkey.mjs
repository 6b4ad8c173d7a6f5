// Passkeys in a real browser: Debian's Chromium with the DevTools virtual authenticator (CTAP2,
// resident keys, user verification), on a page of the auth server's own origin that uses the
// official `passkeyClient` from @better-auth/passkey. A new user signs up, registers a passkey,
// signs out, signs in with the passkey without naming themselves (discoverable), and deletes it;
// the deleted passkey then signs no one in. Prints one JSON line of what the page saw; saves
// screenshots.
import { build } from "esbuild";
import { chromium } from "playwright-core";

const origin = process.env.PAGE_ORIGIN; // http://localhost:<castellan port>
const shots = process.env.SCREENSHOT_DIR;
const prefix = process.env.SHOT_PREFIX || "";

// The page's script: the official client, bundled for the browser.
const bundled = await build({
  stdin: {
    contents: `
      import { createAuthClient } from "better-auth/client";
      import { passkeyClient } from "@better-auth/passkey/client";
      window.authClient = createAuthClient({ baseURL: location.origin + "/api/auth", plugins: [passkeyClient()] });
    `,
    resolveDir: process.cwd(),
  },
  bundle: true,
  format: "iife",
  write: false,
});
const script = bundled.outputFiles[0].text;
const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Passkeys</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}</style></head>
<body><h1>Passkeys with Castellan</h1><p>The official passkeyClient against ${origin}/api/auth.</p>
<pre id="out">loading…</pre><script>${script}</script></body></html>`;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const seen = {};
try {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // The page itself is served here, on the auth server's origin; every API call is real.
  await page.route(`${origin}/passkey-test`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }),
  );
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${origin}/passkey-test`);
  const show = (text) => page.evaluate((t) => (document.getElementById("out").textContent = t), text);

  const email = `passkey-${Math.random().toString(16).slice(2)}@e2e.test`;
  seen.expectedEmail = email;
  seen.signUp = await page.evaluate(async (email) => {
    const r = await window.authClient.signUp.email({ email, password: "Correct-Horse-7-battery", name: "Passkey User" });
    return { error: r.error, userId: r.data?.user?.id ?? null };
  }, email);

  seen.register = await page.evaluate(async () => {
    const r = await window.authClient.passkey.addPasskey({ name: "Chromium" });
    return { error: r.error, name: r.data?.name ?? null, credentialID: r.data?.credentialID ?? null };
  });
  seen.listed = await page.evaluate(async () => (await window.authClient.passkey.listUserPasskeys()).data);
  // The stored COSE key's first bytes name its type: a4 01 01 is an OKP (Ed25519) map.
  seen.keyType = seen.listed?.[0]?.publicKey?.startsWith("pAEB") ? "OKP" : "EC2/RSA";
  const creds = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  seen.authenticatorCredentials = creds.credentials.map((c) => ({ isResidentCredential: c.isResidentCredential, rpId: c.rpId, signCount: c.signCount }));
  await show(JSON.stringify({ registered: seen.register, listed: seen.listed }, null, 2));
  await page.screenshot({ path: `${shots}/${prefix}passkey-registered.png`, fullPage: true });

  await page.evaluate(async () => window.authClient.signOut());
  seen.afterSignOut = await page.evaluate(async () => (await window.authClient.getSession()).data);

  seen.signIn = await page.evaluate(async () => {
    const r = await window.authClient.signIn.passkey();
    return { error: r.error, email: r.data?.user?.email ?? null };
  });
  seen.session = await page.evaluate(async () => {
    const s = (await window.authClient.getSession()).data;
    return s && { email: s.user.email, authMethod: s.session.authMethod ?? null };
  });
  await show(JSON.stringify({ signedInWithPasskey: seen.signIn, session: seen.session }, null, 2));
  await page.screenshot({ path: `${shots}/${prefix}passkey-signed-in.png`, fullPage: true });

  seen.deleted = await page.evaluate(async (id) => {
    const r = await window.authClient.passkey.deletePasskey({ id });
    return { error: r.error, data: r.data };
  }, seen.listed?.[0]?.id);
  seen.listedAfterDelete = await page.evaluate(async () => (await window.authClient.passkey.listUserPasskeys()).data);
  await page.evaluate(async () => window.authClient.signOut());
  // The authenticator still holds the credential; the server no longer knows it.
  seen.signInAfterDelete = await page.evaluate(async () => {
    const r = await window.authClient.signIn.passkey();
    return { error: r.error && { status: r.error.status, code: r.error.code }, data: r.data };
  });
  await show(JSON.stringify({ deleted: seen.deleted, signInAfterDelete: seen.signInAfterDelete }, null, 2));
  await page.screenshot({ path: `${shots}/${prefix}passkey-deleted.png`, fullPage: true });
} catch (e) {
  seen.failure = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
