// A single-page app on another origin (same site, another port) uses Castellan with
// credentialed fetches, as the official client does. A second page on an origin Castellan does
// not trust tries the same. Prints one JSON line with what each page saw; saves screenshots.
import http from "node:http";
import { chromium } from "playwright-core";

const api = process.env.API;
const trustedPort = Number(process.env.PAGE_PORT);
const untrustedPort = Number(process.env.UNTRUSTED_PAGE_PORT);
const shots = process.env.SCREENSHOT_DIR;
const prefix = process.env.SHOT_PREFIX || "";

const page = (title) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style></head>
<body><h1>${title}</h1><p>Calls ${api} with credentials.</p><pre id="out">running…</pre></body></html>`;

function serve(port, title) {
  const server = http.createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page(title));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function scenario(ctx, url, shot) {
  const tab = await ctx.newPage();
  await tab.goto(url);
  const seen = await tab.evaluate(async (api) => {
    const out = {};
    const email = `cors-${Math.random().toString(16).slice(2)}@e2e.test`;
    try {
      const r = await fetch(`${api}/sign-up/email`, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "Correct-Horse-7-battery", name: "Cors" }),
      });
      out.signUpStatus = r.status;
      out.bearerReadable = Boolean(r.headers.get("set-auth-token"));
      const s = await fetch(`${api}/get-session`, { credentials: "include" });
      out.sessionEmail = (await s.json())?.user?.email ?? null;
      out.jwtReadable = Boolean(s.headers.get("set-auth-jwt"));
      out.expectedEmail = email;
    } catch (e) {
      out.error = String(e);
    }
    try {
      await fetch(`${api}/get-session`, { credentials: "include", headers: { "x-not-allowed": "1" } });
      out.disallowedHeaderBlocked = false;
    } catch {
      out.disallowedHeaderBlocked = true;
    }
    document.getElementById("out").textContent = JSON.stringify(out, null, 2);
    return out;
  }, api);
  await tab.screenshot({ path: `${shots}/${prefix}${shot}` });
  await tab.close();
  return seen;
}

const servers = [await serve(trustedPort, "Trusted app"), await serve(untrustedPort, "Untrusted app")];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const ctx = await browser.newContext();
  const trusted = await scenario(ctx, `http://127.0.0.1:${trustedPort}/`, "cors-trusted.png");
  const untrusted = await scenario(ctx, `http://127.0.0.1:${untrustedPort}/`, "cors-untrusted.png");
  console.log(JSON.stringify({ trusted, untrusted }));
} finally {
  await browser.close();
  for (const s of servers) s.close();
}
