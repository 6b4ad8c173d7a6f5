// The self-service SSO setup portal in Debian's Chromium: an organization owner creates a setup
// link in the console; the customer's IT admin, with no account, opens it, reads the values for
// their IdP, describes the IdP (OIDC: issuer and client; SAML: the metadata XML), publishes the
// TXT record (a dnsmasq started here plays their DNS), tests a login at the real IdP and turns
// the connection on. Then an employee signs in through it from the sign-in page and lands in the
// organization with the role their IdP group maps to. Prints one JSON line of what was seen.
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const origin = process.env.ORIGIN;
const shots = process.env.SCREENSHOT_DIR;
const protocol = process.env.PROTOCOL; // oidc | saml
const idp = process.env.IDP; // the OIDC issuer, or the SAML IdP's base URL
const dnsPort = process.env.DNS_PORT;
const password = "Correct-Horse-7-battery";
const tag = Math.random().toString(16).slice(2, 8);

const seen = { protocol, accessibility: {} };
let current = null;
let dns = null;

async function audit(page, name) {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) })));
  seen.accessibility[name] = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

async function shot(page, name) {
  await page.waitForLoadState("networkidle");
  await audit(page, name);
  await page.screenshot({ path: `${shots}/sso-setup-${protocol}-${name}-desktop.png`, fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/sso-setup-${protocol}-${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}

// dnsmasq serving the one TXT record the wizard asks for, as the IT admin's DNS would.
async function publish(name, value) {
  dns = spawn("/usr/sbin/dnsmasq", [
    "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", "--conf-file=/dev/null", "--pid-file=",
    "--bind-interfaces", "--listen-address=127.0.0.1", `--port=${dnsPort}`, `--txt-record=${name},${value}`,
  ], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 500));
}

// Signs in at the IdP's own login page, as the person at the keyboard would.
async function idpLogin(page) {
  if (protocol === "oidc") {
    await page.waitForSelector("form#login");
    await page.fill("form#login input[name=email]", "alice@example.com");
    await page.fill("form#login input[name=password]", "alice-password");
    await page.click("form#login button[type=submit]");
    const consent = await page.waitForSelector("form#consent", { timeout: 5000 }).catch(() => null);
    if (consent) await page.click("form#consent button[type=submit]");
  } else {
    await page.waitForSelector("form#login");
    await page.fill("form#login input[name=username]", "alice");
    await page.fill("form#login input[name=password]", "alice-password");
    await page.click("form#login button[type=submit]");
  }
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const newPage = async () => {
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  current = await ctx.newPage();
  return current;
};
try {
  // The owner: an account, an organization, and a setup link from the console.
  const owner = await newPage();
  await owner.goto(`${origin}/sign-up`);
  await owner.getByLabel("Name").fill("Olivia Owner");
  await owner.getByLabel("Email").fill(`owner-${tag}@saas.test`);
  await owner.getByLabel("Password", { exact: true }).fill(password);
  await owner.getByLabel("Repeat the password").fill(password);
  await owner.getByRole("button", { name: "Create account" }).click();
  await owner.waitForURL(/\/account$/);
  await owner.goto(`${origin}/organization`);
  await owner.getByLabel("Name", { exact: true }).fill("Example Corp");
  await owner.getByRole("button", { name: "Create", exact: true }).click();
  await owner.locator("#org-console").waitFor({ state: "visible" });
  await owner.getByRole("button", { name: "Create a setup link" }).click();
  await owner.locator("#setup-link").waitFor({ state: "visible" });
  const link = await owner.locator("#f-setup-link").inputValue();
  seen.linkCarriesTokenInFragment = new URL(link).pathname === "/sso-setup" && new URL(link).hash.length > 20;

  // The IT admin: no account, just the link.
  const admin = await newPage();
  await admin.goto(link);
  await admin.locator("#setup-steps").waitFor({ state: "visible" });
  seen.addressBarAfterOpening = new URL(admin.url()).hash;
  seen.intro = await admin.locator("#setup-intro").textContent();
  await admin.check(`#p-${protocol}`);
  seen.values = protocol === "oidc"
    ? { redirectUri: await admin.locator("#v-redirect-uri").textContent() }
    : {
      acsUrl: await admin.locator("#v-acs-url").textContent(),
      entityId: await admin.locator("#v-entity-id").textContent(),
      // What the download link gives, before the connection exists.
      metadata: await admin.evaluate(async () => (await fetch(document.getElementById("v-metadata-download").href)).text()),
    };
  await shot(admin, "values");

  await admin.getByLabel("Your email domain").fill("example.com");
  if (protocol === "oidc") {
    await admin.getByLabel("Issuer URL").fill(idp);
    await admin.getByLabel("Client ID").fill("castellan-test");
    await admin.getByLabel("Client secret").fill("castellan-test-secret");
  } else {
    const metadata = await (await fetch(`${idp}/metadata`)).text();
    await admin.getByLabel("Or paste the IdP metadata XML").fill(metadata);
  }
  await admin.getByLabel("Map groups to roles").fill("admins = admin");
  await admin.getByRole("button", { name: "Save the connection" }).click();
  await admin.locator("#domain-record").waitFor({ state: "visible" });
  const txtName = await admin.locator("#v-txt-name").textContent();
  const txtValue = await admin.locator("#v-txt-value").textContent();
  seen.txtName = txtName;

  // Before the record exists the check fails, and says so.
  await admin.getByRole("button", { name: "Check the DNS record" }).click();
  seen.checkBeforePublishing = (await admin.locator("#setup-domain-form .status.error").textContent()).slice(0, 40);
  await publish(txtName, txtValue);
  await admin.getByRole("button", { name: "Check the DNS record" }).click();
  await admin.waitForFunction(() => document.getElementById("domain-state").textContent.startsWith("Verified"));
  seen.domainState = await admin.locator("#domain-state").textContent();
  seen.enableBeforeTest = await admin.getByRole("button", { name: "Turn on single sign-on" }).isDisabled();

  // Before it is on, the connection signs no one in.
  const early = await admin.evaluate(async () => (await fetch("/api/auth/sign-in/sso", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "alice@example.com", callbackURL: "/account" }),
  })).status);
  seen.signInBeforeEnable = early;

  await admin.getByRole("button", { name: "Test sign-in" }).click();
  await idpLogin(admin);
  await admin.waitForURL(/\/sso-setup/);
  await admin.waitForFunction(() => /Test (passed|failed)/.test(document.getElementById("test-outcome").textContent));
  seen.testOutcome = await admin.locator("#test-outcome").textContent();
  seen.itAdminSignedIn = await admin.evaluate(async () => (await (await fetch("/api/auth/get-session")).json()));
  await shot(admin, "tested");
  await admin.getByRole("button", { name: "Turn on single sign-on" }).click();
  await admin.waitForFunction(() => document.getElementById("setup-intro").textContent.startsWith("Single sign-on is on"));
  seen.enabled = await admin.locator("#setup-intro").textContent();

  // The link was single-use: opening it again is refused.
  const again = await newPage();
  await again.goto(link);
  await again.waitForFunction(() => !document.getElementById("setup-intro").textContent.startsWith("Opening"));
  seen.linkAgain = await again.locator("#setup-intro").textContent();

  // An employee signs in through the new connection from the hosted sign-in page.
  const employee = await newPage();
  await employee.goto(`${origin}/sign-in`);
  await employee.getByLabel("Work email").fill("alice@example.com");
  await employee.getByRole("button", { name: "Continue with SSO" }).click();
  await idpLogin(employee);
  await employee.waitForURL(/\/account$/);
  seen.employeeEmail = await employee.locator("#current-email").textContent();
  await employee.goto(`${origin}/organization`);
  await employee.locator("#org-console").waitFor({ state: "visible" });
  await employee.waitForFunction(() => document.querySelectorAll("#member-table tbody select").length >= 2);
  seen.employeeOrg = await employee.locator("#org-title").textContent();
  seen.employeeRole = await employee.evaluate(() => {
    for (const row of document.querySelectorAll("#member-table tbody tr")) {
      if (row.cells[1].textContent === "alice@example.com") return row.querySelector("select").value;
    }
    return null;
  });
  await owner.reload();
  await owner.waitForFunction(() => document.querySelectorAll("#sso-table tbody tr td").length >= 4);
  seen.consoleConnections = await owner.locator("#sso-table tbody tr").allTextContents();
  await owner.waitForFunction(() => document.querySelectorAll("#audit-table tbody tr").length >= 6);
  seen.auditActions = await owner.locator("#audit-table tbody tr td:nth-child(3)").allTextContents();
} catch (e) {
  seen.failure = String(e && e.stack ? e.stack : e);
  if (current) {
    seen.failedAt = current.url();
    seen.statusLines = await current.locator(".status").allTextContents().catch(() => []);
    await current.screenshot({ path: `${shots}/sso-setup-${protocol}-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  if (dns) dns.kill();
  await browser.close();
}
console.log(JSON.stringify(seen));
