// The hosted pages in Debian's Chromium, as people use them: a new user signs up, verifies the
// address from the dev mailbox, signs in, turns on two-factor by scanning the QR code (decoded
// from a screenshot of it), signs in again with a code, creates an organization and invites a
// colleague, who signs up and accepts; an admin bans the colleague and impersonates the first
// user. Every main page is screenshot at desktop and phone widths and checked with axe-core.
// Prints one JSON line of what the pages showed.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import jsQR from "jsqr";
import { PNG } from "pngjs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const origin = process.env.ORIGIN;
const mailLog = process.env.MAIL_LOG;
const shots = process.env.SCREENSHOT_DIR;
const adminEmail = process.env.ADMIN_EMAIL;
const password = "Correct-Horse-7-battery";
const tag = Math.random().toString(16).slice(2, 8);
const alice = `alice-${tag}@e2e.test`;
const bob = `bob-${tag}@e2e.test`;

const seen = { accessibility: {}, screenshots: [] };
let current = null; // the page being driven, for the failure report

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The newest mail of `kind` to `to` in the dev mailbox, waiting for it to be written.
async function mail(kind, to) {
  for (let i = 0; i < 100; i++) {
    let lines = [];
    try {
      lines = readFileSync(mailLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    } catch {}
    const found = lines.filter((m) => m.kind === kind && m.to === to).pop();
    if (found) return found;
    await sleep(100);
  }
  throw new Error(`no ${kind} mail to ${to}`);
}

function totp(uri, stepsAhead) {
  const secret = new URL(uri).searchParams.get("secret");
  return execFileSync("oathtool", ["--totp", "-b", secret, "-N", `now + ${stepsAhead * 30} seconds`]).toString().trim();
}

// axe-core on the page as it is now: the violations that are serious or critical. The context
// bypasses CSP only so axe's own script can be injected.
async function audit(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  seen.accessibility[name] = result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

// Desktop and phone screenshots, and the accessibility check, of the page as it is.
async function capture(page, name) {
  await page.waitForLoadState("networkidle");
  await audit(page, name);
  const desktop = page.viewportSize();
  await page.screenshot({ path: `${shots}/console-${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/console-${name}-phone.png`, fullPage: true });
  await page.setViewportSize(desktop);
  seen.screenshots.push(name);
}

async function status(page, selector) {
  const el = page.locator(selector);
  await el.waitFor({ state: "visible" });
  return (await el.textContent()).trim();
}

async function signUp(page, name, email) {
  await page.goto(`${origin}/sign-up`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/verify-email/);
}

async function signIn(page, email, next) {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  if (next) await page.waitForURL(next);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const newPage = async () => {
    const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    current = await ctx.newPage();
    return current;
  };
  const page = await newPage();

  // The front door: the root sends a visitor to sign in.
  await page.goto(`${origin}/`);
  seen.rootLandsOn = new URL(page.url()).pathname;
  await capture(page, "sign-in");

  // Sign up, then the address must be verified before signing in.
  await page.goto(`${origin}/sign-up`);
  await capture(page, "sign-up");
  await signUp(page, "Alice Example", alice);
  seen.afterSignUp = new URL(page.url()).pathname;
  await capture(page, "verify-email");
  // Signing in before opening the link leads back to the verification page.
  await page.goto(`${origin}/sign-in`);
  await signIn(page, alice, /\/verify-email/);
  seen.unverifiedSignInLandsOn = new URL(page.url()).pathname;
  seen.unverifiedEmailPrefilled = (await page.getByLabel("Email", { exact: true }).inputValue()) === alice;
  const verification = await mail("verification", alice);
  await page.goto(verification.url);
  seen.afterVerificationLink = new URL(page.url()).pathname;
  await signIn(page, alice, /\/account$/);
  seen.accountEmail = await page.locator("#current-email").textContent();
  seen.accountVerified = (await page.locator("#profile").textContent()).includes("(verified)");

  // Two-factor: the QR code on the page is what an authenticator app scans.
  await page.locator("#f-enable-password").fill(password);
  await page.getByRole("button", { name: "Set up two-factor" }).click();
  const qr = page.locator("#totp-qr");
  await qr.waitFor({ state: "visible" });
  await page.waitForFunction(() => document.getElementById("totp-qr").naturalWidth > 0);
  const png = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  seen.qrScheme = decoded ? new URL(decoded.data).protocol : null;
  seen.qrMatchesManualKey = decoded ? new URL(decoded.data).searchParams.get("secret") === (await page.locator("#totp-secret").textContent()) : false;
  const uri = decoded.data;
  await page.getByLabel("Code", { exact: true }).fill(totp(uri, 0));
  await page.getByRole("button", { name: "Turn on two-factor" }).click();
  await page.locator("#backup-codes").waitFor({ state: "visible" });
  seen.backupCodes = await page.locator("#backup-code-list li").count();
  seen.twoFactorState = await page.locator("#two-factor-state").getAttribute("data-enabled");
  await capture(page, "account");

  // Signing in again asks for a code.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in/);
  await signIn(page, alice, /\/two-factor/);
  await capture(page, "two-factor");
  await page.getByLabel("Code from your authenticator app").fill(totp(uri, 1));
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await page.waitForURL(/\/account$/);
  seen.signedInWithTotp = true;

  // An organization, and an invitation to a colleague.
  await page.getByRole("link", { name: "Organization" }).click();
  await page.waitForURL(/\/organization$/);
  await page.getByLabel("Name", { exact: true }).fill("Acme Widgets");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.locator("#org-console").waitFor({ state: "visible" });
  seen.orgTitle = await page.locator("#org-title").textContent();
  await page.locator("#invite-form").getByLabel("Email").fill(bob);
  await page.locator("#invite-form").getByLabel("Role").selectOption("admin");
  await page.getByRole("button", { name: "Invite" }).click();
  seen.inviteStatus = await status(page, "#invite-form .status");
  seen.pendingInvitations = await page.locator("#invitation-table tbody tr").allTextContents();
  await page.locator("#team-form").getByLabel("Team name").fill("Platform");
  await page.getByRole("button", { name: "Create team" }).click();
  seen.teamStatus = await status(page, "#team-form .status");
  await page.locator("#role-form").getByLabel("Role name").fill("auditor");
  await page.locator("#p-audit-read").check();
  await page.getByRole("button", { name: "Create role" }).click();
  seen.roleStatus = await status(page, "#role-form .status");
  await page.locator("#webhook-form").getByLabel("Endpoint URL (https)").fill("https://hooks.acme.example/castellan");
  await page.getByRole("button", { name: "Add endpoint" }).click();
  seen.webhookStatus = await status(page, "#webhook-form .status");
  seen.webhookSecretShown = (await page.locator("#new-webhook-secret code").textContent()).startsWith("whsec_");
  seen.webhooks = await page.locator("#webhook-table tbody tr td:first-child").allTextContents();
  await page.waitForFunction(() => document.querySelectorAll("#audit-table tbody tr").length >= 3);
  seen.auditChain = await page.locator("#audit-chain").textContent();
  seen.auditRows = await page.locator("#audit-table tbody tr").count();
  await capture(page, "organization");

  // The colleague: the invitation link asks them to sign in first, then brings them back.
  const bobPage = await newPage();
  await signUp(bobPage, "Bob Colleague", bob);
  await bobPage.goto((await mail("verification", bob)).url);
  const invitation = await mail("invitation", bob);
  await bobPage.goto(invitation.url);
  seen.invitationLinkLandsOn = new URL(bobPage.url()).pathname;
  await signIn(bobPage, bob, /\/accept-invitation\//);
  await bobPage.waitForFunction(() => !document.getElementById("invitation-text").textContent.startsWith("Loading"));
  seen.invitationText = await bobPage.locator("#invitation-text").textContent();
  await capture(bobPage, "accept-invitation");
  await bobPage.getByRole("button", { name: "Accept" }).click();
  await bobPage.waitForURL(/\/organization$/);
  await bobPage.locator("#org-console").waitFor({ state: "visible" });
  seen.bobSeesOrg = await bobPage.locator("#org-title").textContent();
  await bobPage.waitForFunction(() => document.querySelectorAll("#member-table tbody tr").length >= 2);
  seen.membersSeenByBob = (await bobPage.locator("#member-table tbody tr td:nth-child(2)").allTextContents()).sort();

  // The admin: ban the colleague, impersonate Alice, and come back.
  const adminPage = await newPage();
  await adminPage.goto(`${origin}/sign-in?callbackURL=%2Fadmin`);
  await signIn(adminPage, adminEmail, /\/admin$/);
  await adminPage.getByLabel("Search by email").fill(bob);
  await adminPage.getByRole("button", { name: "Search" }).click();
  await adminPage.waitForFunction((b) => document.querySelector("#user-table tbody").textContent.includes(b), bob);
  await adminPage.getByLabel("Reason (recorded for bans and impersonation)").fill("Support ticket 4521");
  await adminPage.getByRole("button", { name: `Ban ${bob}` }).click();
  await adminPage.waitForFunction(() => document.querySelector("#user-table tbody").textContent.includes("banned"));
  seen.bobStatusAfterBan = await adminPage.locator("#user-table tbody tr td:nth-child(4)").first().textContent();
  await adminPage.waitForFunction(() => document.querySelector("#platform-audit-table tbody").textContent.includes("admin.ban"));
  seen.platformAuditChain = await adminPage.locator("#platform-audit-chain").textContent();
  seen.platformAuditFirst = await adminPage.locator("#platform-audit-table tbody tr").first().textContent();
  await capture(adminPage, "admin");
  // The ban ends the colleague's session: their next page load goes to sign-in.
  await bobPage.goto(`${origin}/organization`);
  seen.bannedColleagueLandsOn = new URL(bobPage.url()).pathname;

  await adminPage.getByLabel("Search by email").fill(alice);
  await adminPage.getByRole("button", { name: "Search" }).click();
  await adminPage.waitForFunction((a) => document.querySelector("#user-table tbody").textContent.includes(a), alice);
  await adminPage.getByRole("button", { name: `Impersonate ${alice}` }).click();
  await adminPage.waitForURL(/\/account$/);
  seen.impersonationBanner = (await adminPage.locator(".banner").textContent()).trim();
  seen.impersonatedEmail = await adminPage.locator("#current-email").textContent();
  await adminPage.getByRole("button", { name: "Stop impersonating" }).click();
  await adminPage.waitForURL(/\/admin$/);
  seen.backToAdmin = true;

  // Keyboard: from the top of the sign-in page, Tab reaches the skip link, then the form.
  const keys = await newPage();
  await keys.goto(`${origin}/sign-in`);
  await keys.keyboard.press("Tab");
  seen.firstTab = await keys.evaluate(() => document.activeElement.textContent.trim());
  await keys.keyboard.press("Tab");
  await keys.keyboard.press("Tab");
  seen.thirdTab = await keys.evaluate(() => document.activeElement.id);
} catch (e) {
  seen.failure = String(e && e.stack ? e.stack : e);
  if (current) {
    seen.failedAt = current.url();
    seen.statusLines = await current.locator(".status").allTextContents().catch(() => []);
    await current.screenshot({ path: `${shots}/console-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
