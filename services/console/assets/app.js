// Castellan's hosted pages: each form calls the same /api/auth endpoint the official client
// calls, from this origin (the API's origin check is the CSRF defence). Data from the API is
// only ever written with textContent, never parsed as HTML.

const API = document.body.dataset.api || "/api/auth";

async function api(path, body, method) {
  const init = { method: method || (body === undefined ? "GET" : "POST"), credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch {
    return { ok: false, status: 0, data: null, error: { message: "The server could not be reached. Try again." } };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return { ok: true, status: res.status, data, error: null };
  const message = (data && (data.message || data.code)) || `The request failed (${res.status}).`;
  return { ok: false, status: res.status, data, error: { code: data && data.code, message } };
}

function say(el, text, kind) {
  if (!el) return;
  el.textContent = text || "";
  el.classList.remove("error", "ok");
  if (kind) el.classList.add(kind);
}

function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit") continue;
    if (el.type === "checkbox") {
      if (el.name === "permission") continue;
      out[el.name] = el.checked;
    } else {
      out[el.name] = el.value;
    }
  }
  return out;
}

// Runs `action(values, form)` on submit with the button disabled; an error it returns (or
// throws) is announced in the form's status line.
function onSubmit(id, action) {
  const form = document.getElementById(id);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const status = form.querySelector(".status");
    say(status, "");
    if (button) button.disabled = true;
    try {
      const message = await action(values(form), form);
      if (message && message.error) say(status, message.error, "error");
      else if (message && message.ok) say(status, message.ok, "ok");
    } catch (e) {
      say(status, String(e && e.message ? e.message : e), "error");
    } finally {
      if (button) button.disabled = false;
    }
  });
}

function failed(r) {
  return { error: r.error.message };
}

function go(url) {
  window.location.assign(url);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function buttonCell(row, label, action, kind) {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = kind || "secondary";
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await action(b);
    } finally {
      b.disabled = false;
    }
  });
  td.appendChild(b);
  row.appendChild(td);
  return b;
}

function fill(tableId, items, render, empty) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren();
  if (!items || items.length === 0) {
    const row = body.insertRow();
    const td = cell(row, empty || "Nothing yet.");
    td.colSpan = document.querySelectorAll(`#${tableId} thead th`).length;
    return;
  }
  for (const item of items) render(body.insertRow(), item);
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

function device(ua) {
  if (!ua) return "Unknown device";
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

const params = new URLSearchParams(window.location.search);

// Better Auth redirects back with ?error=CODE when a link was bad or expired.
function showLinkError() {
  const error = params.get("error");
  const notice = document.getElementById("notice");
  if (!error || !notice) return;
  const known = {
    INVALID_TOKEN: "That link is not valid or has expired. Ask for a new one.",
    TOKEN_EXPIRED: "That link has expired. Ask for a new one.",
    invalid_token: "That link is not valid or has expired. Ask for a new one.",
  };
  notice.hidden = false;
  notice.classList.add("status", "error");
  notice.textContent = known[error] || `Something went wrong (${error.slice(0, 80)}).`;
}

// An audit log (the organization's or the platform's): its newest entries, and whether its hash
// chain holds (`{valid, entries, brokenAtSeq}` from `<path>/verify`).
async function showAuditLog(path, tableId, chainId) {
  const chain = document.getElementById(chainId);
  const [page, verified] = await Promise.all([api(`${path}?limit=50`), api(`${path}/verify`)]);
  if (!page.ok) {
    say(chain, page.error.message, "error");
    fill(tableId, [], () => {}, "Not available to your role.");
    return;
  }
  if (verified.ok) {
    const v = verified.data;
    say(chain, v.valid ? `Chain verified: ${v.entries} entries, no gap or alteration.` : `Chain broken at entry ${v.brokenAtSeq}.`, v.valid ? "ok" : "error");
  }
  fill(tableId, page.data.entries, (row, e) => {
    cell(row, e.seq);
    cell(row, when(e.createdAt));
    cell(row, e.action);
    cell(row, e.actorId);
    cell(row, [e.targetType, e.targetId].filter(Boolean).join(" "));
    cell(row, e.details && e.details.reason ? `reason: ${e.details.reason}` : "");
  }, "No entries yet.");
}

// "group = role" lines to an object; blank lines ignored.
function roleMapping(text) {
  const out = {};
  for (const line of (text || "").split("\n")) {
    const [group, role] = line.split("=").map((x) => (x || "").trim());
    if (group && role) out[group] = role;
  }
  return out;
}

// WebAuthn through the browser's own JSON helpers (no base64url code of ours to get wrong).
const webauthn = typeof PublicKeyCredential !== "undefined"
  && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
  && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";

const pages = {
  "sign-in"() {
    showLinkError();
    onSubmit("sign-in-form", async (v, form) => {
      const next = form.dataset.next;
      const r = await api("/sign-in/email", { email: v.email, password: v.password, rememberMe: v.rememberMe, callbackURL: next });
      if (!r.ok) {
        // The verification page says what to do and can send the link again.
        if (r.error.code === "EMAIL_NOT_VERIFIED") return go(`/verify-email?email=${encodeURIComponent(v.email)}`);
        return failed(r);
      }
      if (r.data && r.data.twoFactorRedirect) return go(`/two-factor?callbackURL=${encodeURIComponent(next)}`);
      go(next);
    });
    const passkey = document.getElementById("passkey-sign-in");
    if (webauthn && passkey) {
      passkey.hidden = false;
      document.getElementById("passkey-button").addEventListener("click", async () => {
        const status = document.getElementById("passkey-status");
        say(status, "");
        const options = await api("/passkey/generate-authenticate-options");
        if (!options.ok) return say(status, options.error.message, "error");
        let credential;
        try {
          credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.data) });
        } catch {
          return say(status, "No passkey was used.", "error");
        }
        const r = await api("/passkey/verify-authentication", { response: credential.toJSON() });
        if (!r.ok) return say(status, r.error.message, "error");
        go(passkey.dataset.next);
      });
    }
    onSubmit("magic-link-form", async (v, form) => {
      const r = await api("/sign-in/magic-link", { email: v.email, callbackURL: form.dataset.next });
      return r.ok ? { ok: "Check your inbox for the sign-in link." } : failed(r);
    });
    onSubmit("sso-form", async (v, form) => {
      const r = await api("/sign-in/sso", { email: v.email, callbackURL: form.dataset.next });
      if (!r.ok) return failed(r);
      go(r.data.url);
    });
    for (const b of document.querySelectorAll("button[data-provider]")) {
      b.addEventListener("click", async () => {
        const r = await api("/sign-in/social", { provider: b.dataset.provider, callbackURL: b.dataset.next });
        if (r.ok && r.data.url) go(r.data.url);
        else say(document.getElementById("social-status"), r.error ? r.error.message : "", "error");
      });
    }
  },

  "sign-up"() {
    onSubmit("sign-up-form", async (v, form) => {
      if (v.password !== v.confirm) return { error: "The two passwords differ." };
      const next = form.dataset.next;
      const r = await api("/sign-up/email", { name: v.name, email: v.email, password: v.password, callbackURL: next });
      if (!r.ok) return failed(r);
      if (r.data && r.data.token) return go(next);
      go(`/verify-email?email=${encodeURIComponent(v.email)}`);
    });
  },

  "verify-email"() {
    const email = document.getElementById("f-email");
    if (email && params.get("email")) email.value = params.get("email");
    onSubmit("resend-form", async (v) => {
      const r = await api("/send-verification-email", { email: v.email, callbackURL: "/account" });
      return r.ok ? { ok: "Sent. Check your inbox." } : failed(r);
    });
  },

  "forgot-password"() {
    onSubmit("forgot-form", async (v) => {
      const r = await api("/request-password-reset", { email: v.email, redirectTo: `${location.origin}/reset-password` });
      return r.ok ? { ok: "If that address has an account, a link is on its way." } : failed(r);
    });
  },

  "reset-password"() {
    const token = params.get("token");
    const status = document.querySelector("#reset-form .status");
    if (!token) say(status, params.get("error") ? "That link is not valid or has expired. Ask for a new one." : "This page needs the link from the email.", "error");
    onSubmit("reset-form", async (v) => {
      if (v.newPassword !== v.confirm) return { error: "The two passwords differ." };
      const r = await api("/reset-password", { newPassword: v.newPassword, token });
      if (!r.ok) return failed(r);
      go("/sign-in");
    });
  },

  "two-factor"() {
    onSubmit("totp-form", async (v, form) => {
      const r = await api("/two-factor/verify-totp", { code: v.code.trim(), trustDevice: v.trustDevice });
      if (!r.ok) return failed(r);
      go(form.dataset.next);
    });
    onSubmit("backup-code-form", async (v, form) => {
      const r = await api("/two-factor/verify-backup-code", { code: v.code.trim() });
      if (!r.ok) return failed(r);
      go(form.dataset.next);
    });
  },

  "accept-invitation"() {
    const id = document.getElementById("invitation").dataset.id;
    const text = document.getElementById("invitation-text");
    const status = document.querySelector("main .status");
    api(`/organization/get-invitation?id=${encodeURIComponent(id)}`).then((r) => {
      if (!r.ok) {
        text.textContent = `This invitation cannot be used: ${r.error.message}`;
        for (const b of document.querySelectorAll(".actions button")) b.disabled = true;
        return;
      }
      const i = r.data;
      text.textContent = `${i.inviterEmail || "Someone"} invited you to join ${i.organizationName || "an organization"} as ${i.role}.`;
    });
    const answer = (path, then) => async () => {
      const r = await api(path, { invitationId: id });
      if (!r.ok) return say(status, r.error.message, "error");
      then(r.data);
    };
    document.getElementById("accept").addEventListener("click", answer("/organization/accept-invitation", async (data) => {
      const orgId = data && data.member && data.member.organizationId;
      if (orgId) await api("/organization/set-active", { organizationId: orgId });
      go("/organization");
    }));
    document.getElementById("reject").addEventListener("click", answer("/organization/reject-invitation", () => {
      say(status, "Invitation declined.", "ok");
    }));
  },

  account() {
    onSubmit("profile-form", async (v) => {
      const r = await api("/update-user", { name: v.name });
      return r.ok ? { ok: "Saved." } : failed(r);
    });
    onSubmit("email-form", async (v) => {
      const r = await api("/change-email", { newEmail: v.newEmail, callbackURL: "/account" });
      return r.ok ? { ok: "Check the new address (or your current one) for a confirmation link." } : failed(r);
    });
    onSubmit("password-form", async (v, form) => {
      const r = await api("/change-password", v);
      if (!r.ok) return failed(r);
      form.reset();
      return { ok: "Password changed." };
    });
    onSubmit("two-factor-enable-form", async (v, form) => {
      const r = await api("/two-factor/enable", { password: v.password });
      if (!r.ok) return failed(r);
      form.reset();
      form.hidden = true;
      const uri = r.data.totpURI;
      const qr = await fetch("/qr", { method: "POST", body: uri, headers: { "content-type": "text/plain" } });
      document.getElementById("totp-qr").src = URL.createObjectURL(await qr.blob());
      document.getElementById("totp-secret").textContent = new URL(uri).searchParams.get("secret");
      document.getElementById("two-factor-enrol").hidden = false;
      const list = document.getElementById("backup-code-list");
      list.replaceChildren(...(r.data.backupCodes || []).map((c) => {
        const li = document.createElement("li");
        li.textContent = c;
        return li;
      }));
      document.getElementById("f-enrol-code").focus();
    });
    onSubmit("two-factor-verify-form", async (v) => {
      const r = await api("/two-factor/verify-totp", { code: v.code.trim() });
      if (!r.ok) return failed(r);
      document.getElementById("two-factor-enrol").hidden = true;
      document.getElementById("backup-codes").hidden = false;
      document.getElementById("two-factor-disable-form").hidden = false;
      const state = document.getElementById("two-factor-state");
      state.textContent = "On: signing in asks for a code from your authenticator app.";
      state.dataset.enabled = "true";
    });
    onSubmit("two-factor-disable-form", async (v, form) => {
      const r = await api("/two-factor/disable", { password: v.password });
      if (!r.ok) return failed(r);
      form.reset();
      form.hidden = true;
      document.getElementById("two-factor-enable-form").hidden = false;
      document.getElementById("backup-codes").hidden = true;
      const state = document.getElementById("two-factor-state");
      state.textContent = "Off.";
      state.dataset.enabled = "false";
    });

    const loadSessions = async () => {
      const [list, current] = await Promise.all([api("/list-sessions"), api("/get-session")]);
      const mine = current.ok && current.data ? current.data.session.id : null;
      fill("session-table", list.ok ? list.data : [], (row, s) => {
        cell(row, device(s.userAgent) + (s.id === mine ? " (this device)" : ""));
        cell(row, s.ipAddress);
        cell(row, when(s.createdAt));
        if (s.id === mine) cell(row, "");
        else buttonCell(row, "Revoke", async () => {
          const r = await api("/revoke-session", { token: s.token });
          say(document.querySelector("#sessions .status"), r.ok ? "Session revoked." : r.error.message, r.ok ? "ok" : "error");
          loadSessions();
        });
      });
    };
    loadSessions();

    api("/list-accounts").then((r) => {
      fill("account-table", r.ok ? r.data : [], (row, a) => {
        cell(row, a.providerId === "credential" ? "Email and password" : a.providerId);
        cell(row, when(a.createdAt));
      });
    });

    const loadPasskeys = async () => {
      const r = await api("/passkey/list-user-passkeys");
      fill("passkey-table", r.ok ? r.data : [], (row, p) => {
        cell(row, p.name || "Passkey");
        cell(row, when(p.createdAt));
        buttonCell(row, "Delete", async () => {
          await api("/passkey/delete-passkey", { id: p.id });
          loadPasskeys();
        }, "danger");
      }, "No passkeys.");
    };
    loadPasskeys();
    onSubmit("passkey-form", async (v, form) => {
      if (!webauthn) return { error: "This browser cannot create passkeys." };
      const options = await api("/passkey/generate-register-options");
      if (!options.ok) return failed(options);
      let credential;
      try {
        credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.data) });
      } catch {
        return { error: "The passkey was not created." };
      }
      const r = await api("/passkey/verify-registration", { response: credential.toJSON(), name: v.name });
      if (!r.ok) return failed(r);
      form.reset();
      await loadPasskeys();
      return { ok: "Passkey added." };
    });

    const loadKeys = async () => {
      const r = await api("/api-key/list");
      fill("api-key-table", r.ok ? r.data.apiKeys : [], (row, k) => {
        cell(row, k.name);
        cell(row, k.start ? `${k.start}…` : "");
        cell(row, when(k.createdAt));
        buttonCell(row, "Delete", async () => {
          await api("/api-key/delete", { keyId: k.id });
          loadKeys();
        }, "danger");
      }, "No API keys.");
    };
    loadKeys();
    onSubmit("api-key-form", async (v, form) => {
      const r = await api("/api-key/create", { name: v.name });
      if (!r.ok) return failed(r);
      form.reset();
      const shown = document.getElementById("new-api-key");
      shown.querySelector("code").textContent = r.data.key;
      shown.hidden = false;
      loadKeys();
    });
  },

  organization() {
    const select = document.getElementById("f-active-org");
    const consoleEl = document.getElementById("org-console");
    let active = null;

    const loadOrgs = async () => {
      const [orgs, session] = await Promise.all([api("/organization/list"), api("/get-session")]);
      let activeId = session.ok && session.data ? session.data.session.activeOrganizationId : null;
      // With one organization there is nothing to choose: open it.
      if (!activeId && orgs.ok && orgs.data.length === 1) {
        const set = await api("/organization/set-active", { organizationId: orgs.data[0].id });
        if (set.ok) activeId = orgs.data[0].id;
      }
      select.replaceChildren();
      const none = new Option("Choose an organization", "");
      select.add(none);
      for (const o of orgs.ok ? orgs.data : []) select.add(new Option(o.name, o.id, false, o.id === activeId));
      if (activeId) await loadConsole();
      else consoleEl.hidden = true;
    };

    select.addEventListener("change", async () => {
      await api("/organization/set-active", { organizationId: select.value || null });
      loadOrgs();
    });

    onSubmit("create-org-form", async (v, form) => {
      const slug = (v.slug || v.name).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
      const r = await api("/organization/create", { name: v.name, slug });
      if (!r.ok) return failed(r);
      form.reset();
      await api("/organization/set-active", { organizationId: r.data.id });
      await loadOrgs();
      return { ok: `Created ${r.data.name}.` };
    });

    const membersStatus = () => document.querySelector("#members .status");

    const loadConsole = async () => {
      const r = await api("/organization/get-full-organization");
      if (!r.ok || !r.data) {
        consoleEl.hidden = true;
        return;
      }
      active = r.data;
      consoleEl.hidden = false;
      document.getElementById("org-title").textContent = active.name;
      fill("member-table", active.members, (row, m) => {
        cell(row, m.user && m.user.name);
        cell(row, m.user && m.user.email);
        const td = document.createElement("td");
        const roleSelect = document.createElement("select");
        roleSelect.setAttribute("aria-label", `Role of ${m.user ? m.user.email : "member"}`);
        for (const role of ["member", "admin", "owner"]) roleSelect.add(new Option(role, role, false, m.role === role));
        if (!["member", "admin", "owner"].includes(m.role)) roleSelect.add(new Option(m.role, m.role, false, true));
        roleSelect.addEventListener("change", async () => {
          const u = await api("/organization/update-member-role", { memberId: m.id, role: roleSelect.value });
          say(membersStatus(), u.ok ? "Role changed." : u.error.message, u.ok ? "ok" : "error");
          loadConsole();
        });
        td.appendChild(roleSelect);
        row.appendChild(td);
        buttonCell(row, "Remove", async () => {
          const u = await api("/organization/remove-member", { memberIdOrEmail: m.id });
          say(membersStatus(), u.ok ? "Member removed." : u.error.message, u.ok ? "ok" : "error");
          loadConsole();
        }, "danger");
      });
      fill("invitation-table", (active.invitations || []).filter((i) => i.status === "pending"), (row, i) => {
        cell(row, i.email);
        cell(row, i.role);
        cell(row, when(i.expiresAt));
        buttonCell(row, "Cancel", async () => {
          await api("/organization/cancel-invitation", { invitationId: i.id });
          loadConsole();
        });
      }, "No pending invitations.");
      loadTeams();
      loadRoles();
      loadSso();
      loadWebhooks();
      loadAudit();
    };

    const loadWebhooks = async () => {
      const r = await api(`/webhook/list?organizationId=${encodeURIComponent(active.id)}`);
      fill("webhook-table", r.ok ? r.data : [], (row, w) => {
        cell(row, w.url);
        cell(row, w.eventTypes && w.eventTypes.length ? w.eventTypes.join(", ") : "all events");
        cell(row, w.enabled ? "enabled" : `disabled${w.disabledReason ? `: ${w.disabledReason}` : ""}`);
        buttonCell(row, "Delete", async () => {
          const u = await api("/webhook/delete", { webhookId: w.id, organizationId: active.id });
          say(document.querySelector("#webhook-form .status"), u.ok ? "Endpoint deleted." : u.error.message, u.ok ? "ok" : "error");
          loadWebhooks();
        }, "danger");
      }, r.ok ? "No endpoints." : r.error.message);
    };

    const loadTeams = async () => {
      const r = await api("/organization/list-teams");
      fill("team-table", r.ok ? r.data : [], (row, t) => {
        cell(row, t.name);
        cell(row, when(t.createdAt));
        buttonCell(row, "Delete", async () => {
          const u = await api("/organization/remove-team", { teamId: t.id });
          say(document.querySelector("#team-form .status"), u.ok ? "Team deleted." : u.error.message, u.ok ? "ok" : "error");
          loadTeams();
        }, "danger");
      }, r.ok ? "No teams." : r.error.message);
    };

    const loadRoles = async () => {
      const r = await api("/organization/list-roles");
      fill("role-table", r.ok ? r.data : [], (row, role) => {
        cell(row, role.role);
        cell(row, Object.entries(role.permission || {}).map(([k, acts]) => `${k}: ${acts.join(", ")}`).join("; "));
        buttonCell(row, "Delete", async () => {
          const u = await api("/organization/delete-role", { roleId: role.id });
          say(document.querySelector("#role-form .status"), u.ok ? "Role deleted." : u.error.message, u.ok ? "ok" : "error");
          loadRoles();
        }, "danger");
      }, r.ok ? "No custom roles." : r.error.message);
    };

    const loadSso = async () => {
      const r = await api("/sso/providers");
      const mine = r.ok ? r.data.providers.filter((p) => p.organizationId === active.id) : [];
      fill("sso-table", mine, (row, p) => {
        cell(row, p.providerId);
        cell(row, p.domain);
        cell(row, p.type);
        cell(row, p.domainVerified ? "yes" : "no");
      }, r.ok ? "No SSO connections." : r.error.message);
    };

    const loadAudit = () => showAuditLog("/organization/audit-log", "audit-table", "audit-chain");

    onSubmit("setup-link-form", async () => {
      const r = await api("/sso/setup-link", {});
      if (!r.ok) return failed(r);
      document.getElementById("setup-link").hidden = false;
      const input = document.getElementById("f-setup-link");
      input.value = r.data.url;
      input.select();
      return { ok: `Valid once, until ${when(r.data.expiresAt)}.` };
    });
    onSubmit("invite-form", async (v, form) => {
      const r = await api("/organization/invite-member", { email: v.email, role: v.role });
      if (!r.ok) return failed(r);
      form.reset();
      await loadConsole();
      return { ok: `Invitation sent to ${r.data.email}.` };
    });
    onSubmit("webhook-form", async (v, form) => {
      const r = await api("/webhook/create", { url: v.url.trim(), description: v.description || undefined, organizationId: active.id });
      if (!r.ok) return failed(r);
      form.reset();
      const shown = document.getElementById("new-webhook-secret");
      shown.querySelector("code").textContent = r.data.secret;
      shown.hidden = false;
      await Promise.all([loadWebhooks(), loadAudit()]);
      return { ok: "Endpoint added." };
    });
    onSubmit("team-form", async (v, form) => {
      const r = await api("/organization/create-team", { name: v.name });
      if (!r.ok) return failed(r);
      form.reset();
      await Promise.all([loadTeams(), loadAudit()]);
      return { ok: "Team created." };
    });
    onSubmit("role-form", async (v, form) => {
      const permission = {};
      for (const box of form.querySelectorAll("input[name=permission]:checked")) {
        const [resource, action] = box.value.split(":");
        (permission[resource] ||= []).push(action);
      }
      if (Object.keys(permission).length === 0) return { error: "Pick at least one permission." };
      const r = await api("/organization/create-role", { role: v.role, permission });
      if (!r.ok) return failed(r);
      form.reset();
      await Promise.all([loadRoles(), loadAudit()]);
      return { ok: "Role created." };
    });

    loadOrgs();
  },

  "sso-setup"() {
    const intro = document.getElementById("setup-intro");
    const steps = document.getElementById("setup-steps");
    const protocol = () => document.querySelector("input[name=protocol]:checked").value;
    const showProtocol = () => {
      for (const el of document.querySelectorAll("[data-protocol]")) el.hidden = el.dataset.protocol !== protocol();
    };
    for (const radio of document.querySelectorAll("input[name=protocol]")) radio.addEventListener("change", showProtocol);

    const render = (s) => {
      steps.hidden = false;
      intro.classList.remove("error");
      intro.textContent = `Connect ${s.organizationName} to your identity provider. This link works until ${when(s.expiresAt)}.`;
      document.getElementById("v-redirect-uri").textContent = s.oidcRedirectUri;
      document.getElementById("v-acs-url").textContent = s.samlAcsUrl;
      document.getElementById("v-entity-id").textContent = s.samlEntityId;
      document.getElementById("v-metadata-download").href = `${API}/sso/setup/sp-metadata`;
      if (s.protocol) {
        document.getElementById(`p-${s.protocol}`).checked = true;
        showProtocol();
      }
      if (s.domain) document.getElementById("f-domain").value = s.domain;
      if (s.issuer && s.protocol === "oidc") document.getElementById("f-issuer").value = s.issuer;
      const mapping = Object.entries(s.roleMapping || {}).map(([g, r]) => `${g} = ${r}`).join("\n");
      if (mapping) document.getElementById("f-role-mapping").value = mapping;
      const domainState = document.getElementById("domain-state");
      const record = document.getElementById("domain-record");
      if (!s.domain) {
        domainState.textContent = "Save the connection first.";
        record.hidden = true;
      } else if (s.domainVerified) {
        domainState.textContent = `Verified: you control ${s.domain}.`;
        record.hidden = true;
      } else if (!s.domainVerificationRequired) {
        domainState.textContent = "This deployment does not ask for domain verification.";
        record.hidden = true;
      } else {
        domainState.textContent = `Publish this TXT record in the DNS of ${s.domain}, then check it.`;
        record.hidden = !s.domainRecord;
        if (s.domainRecord) {
          document.getElementById("v-txt-name").textContent = s.domainRecord[0];
          document.getElementById("v-txt-value").textContent = s.domainRecord[1];
        }
      }
      const outcome = document.getElementById("test-outcome");
      const t = s.test;
      outcome.className = t ? (t.passed ? "status ok" : "status error") : "";
      outcome.textContent = !t
        ? "Not tested yet."
        : t.passed
          ? `Test passed: ${t.name} <${t.email}> signed in${t.groups.length ? `, groups ${t.groups.join(", ")}` : ""}; they would get the role ${t.role}.`
          : `Test failed: ${t.error}`;
      document.querySelector("#setup-enable-form button").disabled = !s.ready;
    };
    const refuse = (r) => {
      steps.hidden = true;
      intro.textContent = r.error.message;
      intro.className = "status error";
    };

    const start = async () => {
      const token = location.hash.slice(1);
      let r;
      if (token) {
        // The token leaves the address bar (and history) as soon as it is used.
        history.replaceState(null, "", location.pathname);
        r = await api("/sso/setup/open", { token });
      } else {
        r = await api("/sso/setup");
      }
      if (!r.ok) return refuse(r);
      render(r.data);
    };
    start();

    document.getElementById("f-metadata-file").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      if (file) document.getElementById("f-metadata-xml").value = await file.text();
    });
    onSubmit("setup-connection-form", async (v) => {
      const body = { protocol: protocol(), domain: v.domain.trim(), roleMapping: roleMapping(v.roleMapping) };
      if (body.protocol === "oidc") Object.assign(body, { issuer: v.issuer.trim(), clientId: v.clientId.trim(), clientSecret: v.clientSecret });
      else Object.assign(body, { metadataXml: v.metadataXml, metadataUrl: v.metadataUrl.trim() || undefined });
      const r = await api("/sso/setup/connection", body);
      if (!r.ok) return failed(r);
      render(r.data);
      return { ok: "Saved." };
    });
    onSubmit("setup-domain-form", async () => {
      const r = await api("/sso/setup/verify-domain", {});
      if (!r.ok) return failed(r);
      render(r.data);
      return { ok: "Domain verified." };
    });
    onSubmit("setup-test-form", async () => {
      const r = await api("/sso/setup/test", {});
      if (!r.ok) return failed(r);
      go(r.data.url);
    });
    onSubmit("setup-enable-form", async () => {
      const r = await api("/sso/setup/enable", {});
      if (!r.ok) return failed(r);
      steps.hidden = true;
      intro.className = "status ok";
      intro.textContent = `Single sign-on is on (connection ${r.data.providerId}). People at your domain can now sign in with it.`;
    });
  },

  admin() {
    const status = document.querySelector("#users .status");
    const reason = () => document.getElementById("f-reason").value.trim();
    const search = async (value) => {
      const q = new URLSearchParams({ limit: "50", sortBy: "createdAt", sortDirection: "desc" });
      if (value) {
        q.set("searchValue", value);
        q.set("searchField", "email");
        q.set("searchOperator", "contains");
      }
      const r = await api(`/admin/list-users?${q}`);
      if (!r.ok) return say(status, r.error.message, "error");
      fill("user-table", r.data.users, (row, u) => {
        cell(row, u.name);
        cell(row, u.email);
        cell(row, u.role);
        cell(row, u.banned ? `banned${u.banReason ? `: ${u.banReason}` : ""}` : "active");
        const td = document.createElement("td");
        td.className = "actions";
        const act = (label, fn, kind) => {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = label;
          b.className = kind || "secondary";
          b.setAttribute("aria-label", `${label} ${u.email}`);
          b.addEventListener("click", fn);
          td.appendChild(b);
        };
        if (u.banned) act("Unban", async () => report(await api("/admin/unban-user", { userId: u.id }), "Unbanned."));
        else act("Ban", async () => report(await api("/admin/ban-user", { userId: u.id, banReason: reason() || undefined }), "Banned."), "danger");
        act("Sessions", () => sessions(u));
        act("Impersonate", async () => {
          const r = await api("/admin/impersonate-user", { userId: u.id, reason: reason() || undefined });
          if (!r.ok) return say(status, r.error.message, "error");
          go("/account");
        });
        row.appendChild(td);
      }, "No users match.");
    };
    const report = (r, done) => {
      say(status, r.ok ? done : r.error.message, r.ok ? "ok" : "error");
      search(document.getElementById("f-search").value.trim());
      loadAudit();
    };
    const sessions = async (u) => {
      document.getElementById("user-sessions-for").textContent = `Sessions of ${u.email}`;
      const r = await api("/admin/list-user-sessions", { userId: u.id });
      fill("user-session-table", r.ok ? r.data.sessions : [], (row, s) => {
        cell(row, device(s.userAgent));
        cell(row, s.ipAddress);
        cell(row, when(s.createdAt));
        buttonCell(row, "Revoke", async () => {
          await api("/admin/revoke-user-session", { sessionToken: s.token });
          sessions(u);
        }, "danger");
      }, r.ok ? "No sessions." : r.error.message);
    };
    const loadAudit = () => showAuditLog("/admin/audit-log", "platform-audit-table", "platform-audit-chain");
    onSubmit("user-search-form", async (v) => search(v.searchValue.trim()));
    search("");
    loadAudit();
  },
};

document.getElementById("sign-out")?.addEventListener("click", async () => {
  await api("/sign-out", {});
  go("/sign-in");
});
document.getElementById("stop-impersonating")?.addEventListener("click", async () => {
  await api("/admin/stop-impersonating", {});
  go("/admin");
});

const page = pages[document.body.dataset.page];
if (page) page();
