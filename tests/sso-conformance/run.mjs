// The official Better Auth client with ssoClient() against a Castellan server, in the style of
// ../../../shared/conformance: an org owner registers an OIDC and a SAML connection and proves
// the domain with a DNS TXT record; employees sign in with signIn.sso() through real IdPs.
//
// env: BASE_URL (Castellan origin), OIDC_ISSUER, SAML_BASE_URL (the peers in ../shared/peers),
//      DNS_PORT (the port Castellan's SSO_DNS_SERVER names; this script serves it with dnsmasq),
//      DNSMASQ (default /usr/sbin/dnsmasq).
// Last line: `N passed, M failed`; exit code 1 on any failure.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import dgram from "node:dgram";
import { createAuthClient } from "better-auth/client";
import { organizationClient } from "better-auth/client/plugins";
import { ssoClient } from "@better-auth/sso/client";

const ORIGIN = (process.env.BASE_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const AUTH_URL = `${ORIGIN}/api/auth`;
const OIDC_ISSUER = process.env.OIDC_ISSUER;
const SAML_BASE_URL = process.env.SAML_BASE_URL;
const DNS_PORT = Number(process.env.DNS_PORT);
const DNSMASQ = process.env.DNSMASQ || "/usr/sbin/dnsmasq";

class Jar {
  constructor() {
    this.cookies = new Map();
  }
  store(lines) {
    for (const line of lines || []) {
      const [first, ...attrs] = line.split(";").map((s) => s.trim());
      const i = first.indexOf("=");
      const [name, value] = [first.slice(0, i), first.slice(i + 1)];
      const gone = value === "" || attrs.some((a) => /^max-age=0$/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/** A browser tab: cookies kept, redirects not followed, its own client address. */
function browserFetch(jar) {
  const b = crypto.randomBytes(3);
  const ip = `198.${18 + (b[0] & 1)}.${b[1]}.${(b[2] % 254) + 1}`;
  return async (input, init = {}) => {
    const isReq = input instanceof Request;
    const url = isReq ? input.url : String(input);
    const headers = new Headers(init.headers || (isReq ? input.headers : undefined));
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    headers.set("origin", ORIGIN);
    headers.set("x-forwarded-for", ip);
    const method = init.method || (isReq ? input.method : "GET");
    let body = init.body;
    if (isReq && body === undefined && method !== "GET") body = await input.text();
    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    jar.store(res.headers.getSetCookie());
    return res;
  };
}

function client() {
  const jar = new Jar();
  const customFetchImpl = browserFetch(jar);
  const auth = createAuthClient({
    baseURL: AUTH_URL,
    disableDefaultFetchPlugins: true,
    fetchOptions: { customFetchImpl },
    plugins: [organizationClient(), ssoClient()],
  });
  return { auth, jar, fetch: customFetchImpl };
}

function ok(cond, msg) {
  if (!cond) throw new Error(msg);
}
function data(res, what) {
  ok(res && !res.error, `${what}: ${res?.error?.status} ${JSON.stringify(res?.error)}`);
  return res.data;
}

/** The IdP side of the browser: its own cookies, redirects read one at a time. */
async function idpWalk(start, until, step) {
  const jar = new Jar();
  const get = async (url, init = {}) => {
    const res = await fetch(url, { ...init, headers: { ...(init.headers || {}), cookie: jar.header() }, redirect: "manual" });
    jar.store(res.headers.getSetCookie());
    return res;
  };
  let url = start;
  for (let i = 0; i < 12; i++) {
    if (until(url)) return url;
    url = await step(url, get);
  }
  throw new Error(`the IdP never sent the browser back: ${url}`);
}

async function oidcLogin(authorizeUrl, email, password) {
  return idpWalk(authorizeUrl, (u) => u.includes("/sso/callback/"), async (url, get) => {
    let res;
    if (url.includes("/interaction/")) {
      const page = await (await get(url)).text();
      res = page.includes('id="login"')
        ? await get(`${url}/login`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ email, password }).toString(),
          })
        : await get(`${url}/confirm`, { method: "POST" });
    } else {
      res = await get(url);
    }
    const loc = res.headers.get("location");
    ok(loc, `no redirect from ${url} (${res.status})`);
    return new URL(loc, url).toString();
  });
}

/** dnsmasq serving the TXT records, on the port Castellan asks. */
async function serveDns(records) {
  const args = [
    "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null",
    "--pid-file=", "--bind-interfaces", "--listen-address=127.0.0.1", `--port=${DNS_PORT}`,
    ...records.map(([name, text]) => `--txt-record=${name},${text}`),
  ];
  const child = spawn(DNSMASQ, args, { stdio: "ignore" });
  // Ready once it answers a query (binding the port to probe it could steal it).
  const query = Buffer.from([0x43, 0x41, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
  for (let i = 0; i < 200; i++) {
    const answered = await new Promise((resolve) => {
      const probe = dgram.createSocket("udp4");
      const done = (v) => { clearTimeout(timer); probe.close(); resolve(v); };
      const timer = setTimeout(() => done(false), 50);
      probe.on("message", () => done(true));
      probe.on("error", () => done(false));
      probe.send(query, DNS_PORT, "127.0.0.1");
    });
    if (answered) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

const ctx = {};
const scenarios = {
  async "register-connections-and-verify-domain"() {
    const owner = client();
    const email = `owner-${crypto.randomBytes(4).toString("hex")}@example.com`;
    data(await owner.auth.signUp.email({ email, password: "Owner-password-123", name: "Owner" }), "sign-up");
    const org = data(await owner.auth.organization.create({ name: "Acme", slug: `acme-${crypto.randomBytes(4).toString("hex")}` }), "create org");
    ctx.owner = owner;
    ctx.org = org;

    const oidc = data(await owner.auth.sso.register({
      providerId: "conformance-oidc",
      issuer: OIDC_ISSUER,
      domain: "example.com",
      organizationId: org.id,
      oidcConfig: { clientId: "castellan-test", clientSecret: "castellan-test-secret", scopes: ["openid", "email", "profile", "groups"] },
    }), "register OIDC");
    ok(oidc.domainVerified === false, "a new connection's domain is unverified");
    ok(typeof oidc.domainVerificationToken === "string" && oidc.domainVerificationToken.length === 24, "a 24-character token");
    ok(oidc.redirectURI === `${AUTH_URL}/sso/callback/conformance-oidc`, `redirectURI ${oidc.redirectURI}`);

    const metadata = await (await fetch(`${SAML_BASE_URL}/metadata`)).text();
    const saml = data(await owner.auth.sso.register({
      providerId: "conformance-saml",
      issuer: `${ORIGIN}/sp/conformance-saml`,
      domain: "example.com",
      organizationId: org.id,
      samlConfig: {
        entryPoint: `${SAML_BASE_URL}/sso/redirect`,
        callbackUrl: `${ORIGIN}/dashboard`,
        idpMetadata: { metadata },
      },
    }), "register SAML");

    const again = data(await owner.auth.sso.requestDomainVerification({ providerId: "conformance-oidc" }), "request-domain-verification");
    ok(again.domainVerificationToken === oidc.domainVerificationToken, "the pending token is returned again");

    const label = (id) => `_better-auth-token-${id}`;
    const dns = await serveDns([
      [`${label("conformance-oidc")}.example.com`, `${label("conformance-oidc")}=${oidc.domainVerificationToken}`],
      [`${label("conformance-saml")}.example.com`, saml.domainVerificationToken],
    ]);
    try {
      for (const providerId of ["conformance-oidc", "conformance-saml"]) {
        const res = await owner.auth.sso.verifyDomain({ providerId });
        ok(!res.error, `verify-domain ${providerId}: ${JSON.stringify(res.error)}`);
      }
    } finally {
      dns.kill();
    }
    const { providers } = data(await owner.auth.sso.providers(), "providers");
    ok(providers.length === 2 && providers.every((p) => p.domainVerified === true), `providers ${JSON.stringify(providers)}`);
    const one = data(await owner.auth.sso.getProvider({ query: { providerId: "conformance-oidc" } }), "get-provider");
    ok(one.type === "oidc" && one.oidcConfig.clientIdLastFour === "****test", `get-provider ${JSON.stringify(one)}`);
  },

  async "oidc-login-with-signIn.sso"() {
    ok(ctx.org, "needs the registered connections");
    const alice = client();
    const started = data(await alice.auth.signIn.sso({ email: "alice@example.com", callbackURL: "/dashboard" }), "signIn.sso");
    ok(started.redirect === true && started.url.startsWith(`${OIDC_ISSUER}/auth?`), `url ${started.url}`);
    const callback = await oidcLogin(started.url, "alice@example.com", "alice-password");
    const res = await alice.fetch(callback);
    ok(res.status === 302 && res.headers.get("location") === "/dashboard", `callback ${res.status} ${res.headers.get("location")}`);
    const session = data(await alice.auth.getSession(), "get-session");
    ok(session?.user?.email === "alice@example.com", `session ${JSON.stringify(session)}`);
    const members = data(await ctx.owner.auth.organization.listMembers({ query: { organizationId: ctx.org.id } }), "list-members");
    ok(members.members.some((m) => m.user.email === "alice@example.com" && m.role === "member"), "alice joined the organization");
  },

  async "saml-login-with-signIn.sso"() {
    ok(ctx.org, "needs the registered connections");
    const bob = client();
    const started = data(await bob.auth.signIn.sso({ providerId: "conformance-saml", callbackURL: "/dashboard" }), "signIn.sso");
    ok(started.url.startsWith(`${SAML_BASE_URL}/sso/redirect?SAMLRequest=`), `url ${started.url}`);
    const idp = await (await fetch(`${started.url}&user=bob&format=json`)).json();
    const res = await bob.fetch(idp.acs_url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ SAMLResponse: idp.SAMLResponse, RelayState: idp.RelayState }).toString(),
    });
    ok(res.status === 302 && res.headers.get("location") === "/dashboard", `acs ${res.status} ${res.headers.get("location")}`);
    const session = data(await bob.auth.getSession(), "get-session");
    ok(session?.user?.email === "bob@example.com", `session ${JSON.stringify(session)}`);
  },

  async "manage-connections"() {
    ok(ctx.org, "needs the registered connections");
    const updated = data(await ctx.owner.auth.sso.updateProvider({ providerId: "conformance-oidc", oidcConfig: { scopes: ["openid", "email"] } }), "update-provider");
    ok(JSON.stringify(updated.oidcConfig.scopes) === '["openid","email"]', `scopes ${JSON.stringify(updated.oidcConfig)}`);
    const outsider = client();
    data(await outsider.auth.signUp.email({ email: `x-${crypto.randomBytes(4).toString("hex")}@other.test`, password: "Outsider-password-1", name: "X" }), "sign-up");
    const denied = await outsider.auth.sso.getProvider({ query: { providerId: "conformance-oidc" } });
    ok(denied.error?.status === 403, `an outsider gets 403, got ${JSON.stringify(denied.error)}`);
    data(await ctx.owner.auth.sso.deleteProvider({ providerId: "conformance-saml" }), "delete-provider");
    const { providers } = data(await ctx.owner.auth.sso.providers(), "providers");
    ok(providers.map((p) => p.providerId).join() === "conformance-oidc", `left ${JSON.stringify(providers)}`);
  },
};

let passed = 0;
let failed = 0;
for (const [name, run] of Object.entries(scenarios)) {
  try {
    await run();
    passed++;
    console.log(`PASS ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
