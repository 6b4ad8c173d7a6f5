// Social sign-in through the OFFICIAL Better Auth client (better-auth 1.7.25, from the
// conformance suite this file is copied next to): signIn.social, the provider's redirects, the
// callback, getSession, listAccounts, linkSocial and unlinkAccount. The provider is the OIDC peer
// in auto-login mode as a Google-shaped provider. Prints `PASS <name>` or `FAIL <name>: reason`.

import fs from "node:fs";
import { createAuthClient } from "better-auth/client";
import { emailOTPClient, magicLinkClient } from "better-auth/client/plugins";
import { AUTH_URL, CookieJar, eq, makeClient, makeFetch, ok, randomClientIp } from "./lib.mjs";

/** The user's browser at the provider: its own cookies, redirects followed until Castellan. */
async function atProvider(url) {
  const fetchAtIdp = makeFetch({ jar: new CookieJar(), origin: null });
  for (let i = 0; i < 12; i++) {
    if (url.startsWith(AUTH_URL)) return url;
    const res = await fetchAtIdp(url);
    const next = res.headers.get("location");
    if (!next) throw new Error(`no redirect from ${url}: ${res.status}`);
    url = new URL(next, url).toString();
  }
  throw new Error(`the provider never sent the browser back: ${url}`);
}

async function signInSocial() {
  const c = makeClient();
  const started = await c.client.signIn.social({
    provider: "google",
    callbackURL: "/dashboard",
    newUserCallbackURL: "/welcome",
    disableRedirect: true,
  });
  ok(!started.error, `signIn.social failed: ${JSON.stringify(started.error)}`);
  eq(started.data.redirect, false, "redirect with disableRedirect");
  ok(started.data.url.includes("code_challenge_method=S256"), "PKCE S256 in the authorization URL");
  ok(c.jar.names().some((n) => n.endsWith(".state")), "state cookie set");

  const back = await atProvider(started.data.url);
  const landed = await c.fetch(back);
  eq(landed.status, 302, "callback status");
  eq(landed.headers.get("location"), "/welcome", "a new user lands on newUserCallbackURL");

  const session = await c.client.getSession();
  eq(session.data?.user?.email, "alice@example.com", "session user");
  eq(session.data?.user?.emailVerified, true, "verified by the provider");

  const accounts = await c.client.listAccounts();
  eq(accounts.data?.length, 1, "one linked account");
  eq(accounts.data[0].providerId, "google", "providerId");
  eq(accounts.data[0].accountId, "alice-0001", "the provider's subject");

  const unlinkLast = await c.client.unlinkAccount({ accountId: accounts.data[0].id });
  eq(unlinkLast.error?.code, "FAILED_TO_UNLINK_LAST_ACCOUNT", "the last account stays");

  const token = await c.client.getAccessToken({ accountId: accounts.data[0].id });
  ok(typeof token.data?.accessToken === "string" && token.data.accessToken.length > 0, `getAccessToken: ${JSON.stringify(token.error)}`);

  const again = makeClient();
  const second = await again.client.signIn.social({ provider: "google", callbackURL: "/dashboard", disableRedirect: true });
  const landedAgain = await again.fetch(await atProvider(second.data.url));
  eq(landedAgain.headers.get("location"), "/dashboard", "a returning user lands on callbackURL");
  eq((await again.client.getSession()).data?.user?.id, session.data.user.id, "the same user");

  const missing = await c.client.signIn.social({ provider: "nope", callbackURL: "/dashboard" });
  eq(missing.error?.status, 404, "unknown provider");
  eq(missing.error?.code, "PROVIDER_NOT_FOUND", "unknown provider code");
}

/** A browser's client with `plugin`, from its own client address. */
function pluginClient(plugin) {
  const customFetchImpl = makeFetch({ jar: new CookieJar(), ip: randomClientIp() });
  return createAuthClient({
    baseURL: AUTH_URL,
    disableDefaultFetchPlugins: true,
    fetchOptions: { customFetchImpl },
    plugins: [plugin],
  });
}

/** The newest mail in the dev mailbox matching `wanted`, waiting for the outbox to send it. */
async function mailed(wanted, what) {
  for (let i = 0; i < 100; i++) {
    const lines = fs.existsSync(process.env.MAIL_LOG) ? fs.readFileSync(process.env.MAIL_LOG, "utf8").split("\n") : [];
    const mail = lines.filter(Boolean).map((l) => JSON.parse(l)).filter(wanted).pop();
    if (mail) return mail;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} was not mailed`);
}

/** magicLinkClient: the mailed link (read from the dev mailbox) signs in, once. */
async function signInMagicLink() {
  const client = pluginClient(magicLinkClient());
  const email = `magic-${Date.now()}@client.test`;
  const sent = await client.signIn.magicLink({ email, callbackURL: "/dashboard" });
  eq(sent.data?.status, true, `signIn.magicLink: ${JSON.stringify(sent.error)}`);
  const link = await mailed((m) => m.kind === "magic-link" && m.to === email, "the link");
  const verified = await client.magicLink.verify({ query: { token: link.token } });
  eq(verified.data?.user?.email, email, `magicLink.verify: ${JSON.stringify(verified.error)}`);
  eq((await client.getSession()).data?.user?.emailVerified, true, "signed in, verified");
  const again = await client.magicLink.verify({ query: { token: link.token } });
  ok(!again.data?.user, "a link works once");
}

/** emailOTPClient: a mailed code signs up and in, once; another resets the password. */
async function signInEmailOtp() {
  const client = pluginClient(emailOTPClient());
  const email = `otp-${Date.now()}@client.test`;
  const codeFor = (type) => mailed((m) => m.kind === "email-otp" && m.to === email && m.type === type, `a ${type} code`);
  const sent = await client.emailOtp.sendVerificationOtp({ email, type: "sign-in" });
  eq(sent.data?.success, true, `emailOtp.sendVerificationOtp: ${JSON.stringify(sent.error)}`);
  const { otp } = await codeFor("sign-in");
  ok(/^[0-9]{6}$/.test(otp), `a six-digit code: ${otp}`);
  const checked = await client.emailOtp.checkVerificationOtp({ email, type: "sign-in", otp });
  eq(checked.error?.code, "USER_NOT_FOUND", "checking a valid code for a new address");
  const wrong = await client.signIn.emailOtp({ email, otp: otp === "000000" ? "111111" : "000000" });
  eq(wrong.error?.code, "INVALID_OTP", "a wrong code");
  const signedIn = await client.signIn.emailOtp({ email, otp, name: "Otp User" });
  eq(signedIn.data?.user?.email, email, `signIn.emailOtp: ${JSON.stringify(signedIn.error)}`);
  const session = await client.getSession();
  eq(session.data?.user?.name, "Otp User", "the new user's name");
  eq(session.data?.user?.emailVerified, true, "signed up verified");
  const reused = await client.signIn.emailOtp({ email, otp });
  eq(reused.error?.code, "INVALID_OTP", "a code works once");

  const reset = pluginClient(emailOTPClient());
  eq((await reset.emailOtp.requestPasswordReset({ email })).data?.success, true, "emailOtp.requestPasswordReset");
  const resetCode = (await codeFor("forget-password")).otp;
  const done = await reset.emailOtp.resetPassword({ email, otp: resetCode, password: "a-new-password-123" });
  eq(done.data?.success, true, `emailOtp.resetPassword: ${JSON.stringify(done.error)}`);
  eq((await client.getSession()).data, null, "the reset ended the old session");
  const withPassword = await reset.signIn.email({ email, password: "a-new-password-123" });
  eq(withPassword.data?.user?.email, email, `signIn.email with the new password: ${JSON.stringify(withPassword.error)}`);
}

for (const [name, scenario] of [["social-sign-in", signInSocial], ["magic-link", signInMagicLink], ["email-otp", signInEmailOtp]]) {
  try {
    await scenario();
    console.log(`PASS ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    process.exitCode = 1;
  }
}
