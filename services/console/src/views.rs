//! The pages' markup. Each page names itself in `<body data-page>`, and `app.js` wires the
//! forms of that page to the API; everything here renders without data from the database
//! beyond the signed-in user, so a page costs one session lookup.

use castellan_http::AuthState;
use castellan_session::AuthSession;
use maud::{DOCTYPE, Markup, html};

/// Every page's path, for the tests that walk them all (screenshots, accessibility, headers).
pub const PAGES: &[&str] = &[
    "/sign-in",
    "/sign-up",
    "/forgot-password",
    "/reset-password",
    "/two-factor",
    "/verify-email",
    "/account",
    "/organization",
    "/admin",
    "/sso-setup",
];

/// What every page shows around its content: the deployment's name and logo, and who is signed
/// in.
pub struct Chrome<'a> {
    app_name: &'a str,
    logo_url: Option<&'a str>,
    api: &'a str,
    user: Option<&'a AuthSession>,
    magic_link: bool,
    social: Vec<&'a str>,
}

impl<'a> Chrome<'a> {
    pub fn new(state: &'a AuthState, user: Option<&'a AuthSession>) -> Self {
        let settings = &state.settings;
        Self {
            app_name: &settings.app_name,
            logo_url: settings.hosted_pages.logo_url.as_deref(),
            api: &settings.base_path,
            user,
            magic_link: settings.magic_link.enabled,
            social: settings.social.providers.iter().map(|p| p.id.as_str()).collect(),
        }
    }

    fn is_admin(&self) -> bool {
        self.user
            .and_then(|s| s.user.role.as_deref())
            .is_some_and(|roles| roles.split(',').any(|r| r.trim() == "admin"))
    }
}

fn layout(chrome: &Chrome<'_>, page: &str, title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (chrome.app_name) }
                link rel="stylesheet" href="/assets/app.css";
                link rel="stylesheet" href="/assets/theme.css";
                script type="module" src="/assets/app.js" {}
            }
            body data-page=(page) data-api=(chrome.api) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" {
                        @if let Some(logo) = chrome.logo_url {
                            img src=(logo) alt="" height="28";
                        }
                        span { (chrome.app_name) }
                    }
                    @if let Some(session) = chrome.user {
                        nav aria-label="Main" {
                            a href="/account" { "Account" }
                            a href="/organization" { "Organization" }
                            @if chrome.is_admin() {
                                a href="/admin" { "Admin" }
                            }
                            button.link type="button" id="sign-out" { "Sign out" }
                        }
                        @if session.session.impersonated_by.is_some() {
                            p.banner role="status" {
                                "You are acting as " (session.user.email) ". "
                                button.link type="button" id="stop-impersonating" { "Stop impersonating" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// An input with its label (every field has one, for screen readers and bigger click targets).
fn field(label: &str, name: &str, kind: &str, autocomplete: &str) -> Markup {
    field_as(&format!("f-{name}"), label, name, kind, autocomplete)
}

/// [`field`] with its own id, for a page with two fields of one name (in different forms).
fn field_as(id: &str, label: &str, name: &str, kind: &str, autocomplete: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) autocomplete=(autocomplete) required;
        }
    }
}

/// [`field_as`] that may stay empty (a field shown only for one choice of a form).
fn optional_field(id: &str, label: &str, name: &str, kind: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) autocomplete="off";
        }
    }
}

/// Where a form's failure (or success) is announced.
fn status() -> Markup {
    html! { p.status role="status" aria-live="polite" {} }
}

fn card(chrome: &Chrome<'_>, page: &str, title: &str, content: &Markup) -> Markup {
    layout(
        chrome,
        page,
        title,
        &html! {
            section.card.narrow aria-labelledby="page-title" {
                h1 id="page-title" { (title) }
                (content)
            }
        },
    )
}

pub fn sign_in(chrome: &Chrome<'_>, next: &str) -> Markup {
    card(
        chrome,
        "sign-in",
        "Sign in",
        &html! {
            p.notice id="notice" role="status" hidden {}
            form id="sign-in-form" data-next=(next) {
                (field("Email", "email", "email", "username"))
                (field("Password", "password", "password", "current-password"))
                div.check {
                    input id="f-remember" name="rememberMe" type="checkbox" checked;
                    label for="f-remember" { "Keep me signed in" }
                }
                (status())
                button type="submit" { "Sign in" }
            }
            p { a href="/forgot-password" { "Forgot your password?" } }
            div id="passkey-sign-in" data-next=(next) hidden {
                button.secondary type="button" id="passkey-button" { "Sign in with a passkey" }
                p.status id="passkey-status" role="status" aria-live="polite" {}
            }
            @if chrome.magic_link {
                form id="magic-link-form" data-next=(next) {
                    h2 { "Or get a sign-in link" }
                    (field_as("f-link-email", "Email for the link", "email", "email", "email"))
                    (status())
                    button.secondary type="submit" { "Email me a link" }
                }
            }
            @if !chrome.social.is_empty() {
                h2 { "Or continue with" }
                ul.buttons {
                    @for provider in &chrome.social {
                        li { button.secondary type="button" data-provider=(provider) data-next=(next) { (provider) } }
                    }
                }
                p.status id="social-status" role="status" aria-live="polite" {}
            }
            form id="sso-form" data-next=(next) {
                h2 { "Single sign-on" }
                (field_as("f-sso-email", "Work email", "email", "email", "email"))
                (status())
                button.secondary type="submit" { "Continue with SSO" }
            }
            p { "New here? " a href={ "/sign-up?callbackURL=" (urlencode(next)) } { "Create an account" } }
        },
    )
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub fn sign_up(chrome: &Chrome<'_>, next: &str) -> Markup {
    card(
        chrome,
        "sign-up",
        "Create your account",
        &html! {
            form id="sign-up-form" data-next=(next) {
                (field("Name", "name", "text", "name"))
                (field("Email", "email", "email", "email"))
                (field("Password", "password", "password", "new-password"))
                (field("Repeat the password", "confirm", "password", "new-password"))
                (status())
                button type="submit" { "Create account" }
            }
            p { "Already have an account? " a href="/sign-in" { "Sign in" } }
        },
    )
}

pub fn forgot_password(chrome: &Chrome<'_>) -> Markup {
    card(
        chrome,
        "forgot-password",
        "Reset your password",
        &html! {
            p { "We will email you a link to choose a new password." }
            form id="forgot-form" {
                (field("Email", "email", "email", "email"))
                (status())
                button type="submit" { "Send the link" }
            }
            p { a href="/sign-in" { "Back to sign in" } }
        },
    )
}

pub fn reset_password(chrome: &Chrome<'_>) -> Markup {
    card(
        chrome,
        "reset-password",
        "Choose a new password",
        &html! {
            form id="reset-form" {
                (field("New password", "newPassword", "password", "new-password"))
                (field("Repeat the password", "confirm", "password", "new-password"))
                (status())
                button type="submit" { "Set the password" }
            }
        },
    )
}

pub fn two_factor(chrome: &Chrome<'_>, next: &str) -> Markup {
    card(
        chrome,
        "two-factor",
        "Two-factor verification",
        &html! {
            form id="totp-form" data-next=(next) {
                div.field {
                    label for="f-code" { "Code from your authenticator app" }
                    input id="f-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9]{6}" maxlength="6" required;
                }
                div.check {
                    input id="f-trust" name="trustDevice" type="checkbox";
                    label for="f-trust" { "Trust this device for 30 days" }
                }
                (status())
                button type="submit" { "Verify" }
            }
            details {
                summary { "Use a backup code instead" }
                form id="backup-code-form" data-next=(next) {
                    (field_as("f-backup-code", "Backup code", "code", "text", "off"))
                    (status())
                    button.secondary type="submit" { "Verify the backup code" }
                }
            }
        },
    )
}

pub fn verify_email(chrome: &Chrome<'_>) -> Markup {
    card(
        chrome,
        "verify-email",
        "Verify your email",
        &html! {
            p id="notice" role="status" { "We sent you a link. Open it to confirm your address." }
            form id="resend-form" {
                (field("Email", "email", "email", "email"))
                (status())
                button.secondary type="submit" { "Send the link again" }
            }
            p { a href="/sign-in" { "Back to sign in" } }
        },
    )
}

pub fn accept_invitation(chrome: &Chrome<'_>, id: &str) -> Markup {
    card(
        chrome,
        "accept-invitation",
        "Invitation",
        &html! {
            div id="invitation" data-id=(id) {
                p id="invitation-text" role="status" aria-live="polite" { "Loading the invitation…" }
            }
            div.actions {
                button type="button" id="accept" { "Accept" }
                button.secondary type="button" id="reject" { "Decline" }
            }
            (status())
        },
    )
}

fn section(id: &str, title: &str, content: &Markup) -> Markup {
    html! {
        section.card id=(id) aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } { (title) }
            (content)
        }
    }
}

/// A table whose body the script fills; `columns` are its headings.
fn table(id: &str, caption: &str, columns: &[&str]) -> Markup {
    html! {
        // Focusable, so a keyboard user can scroll a wide table on a phone.
        div.table-wrap tabindex="0" role="region" aria-label=(caption) {
            table id=(id) {
                caption.visually-hidden { (caption) }
                thead { tr { @for c in columns { th scope="col" { (c) } } } }
                tbody {}
            }
        }
    }
}

pub fn account(chrome: &Chrome<'_>, session: &AuthSession) -> Markup {
    let user = &session.user;
    let two_factor = user.two_factor_enabled.unwrap_or(false);
    layout(
        chrome,
        "account",
        "Your account",
        &html! {
            h1 { "Your account" }
            (section("profile", "Profile", &html! {
                form id="profile-form" {
                    div.field {
                        label for="f-name" { "Name" }
                        input id="f-name" name="name" type="text" autocomplete="name" value=(user.name) required;
                    }
                    (status())
                    button type="submit" { "Save" }
                }
                form id="email-form" {
                    p { "Email: " strong id="current-email" { (user.email) }
                        @if user.email_verified { " (verified)" } @else { " (not verified)" } }
                    (field("New email", "newEmail", "email", "email"))
                    (status())
                    button.secondary type="submit" { "Change email" }
                }
            }))
            (section("password", "Password", &html! {
                form id="password-form" {
                    (field("Current password", "currentPassword", "password", "current-password"))
                    (field("New password", "newPassword", "password", "new-password"))
                    div.check {
                        input id="f-revoke" name="revokeOtherSessions" type="checkbox";
                        label for="f-revoke" { "Sign out my other sessions" }
                    }
                    (status())
                    button type="submit" { "Change password" }
                }
            }))
            (section("two-factor", "Two-factor authentication", &html! {
                p id="two-factor-state" data-enabled=(two_factor) {
                    @if two_factor { "On: signing in asks for a code from your authenticator app." }
                    @else { "Off." }
                }
                form id="two-factor-enable-form" hidden[two_factor] {
                    (field_as("f-enable-password", "Your password", "password", "password", "current-password"))
                    (status())
                    button type="submit" { "Set up two-factor" }
                }
                div id="two-factor-enrol" hidden {
                    p { "Scan this code with your authenticator app, then enter the code it shows." }
                    img id="totp-qr" alt="QR code to add this account to an authenticator app" width="200" height="200";
                    p { "Or enter this key by hand: " code id="totp-secret" {} }
                    form id="two-factor-verify-form" {
                        div.field {
                            label for="f-enrol-code" { "Code" }
                            input id="f-enrol-code" name="code" type="text" inputmode="numeric"
                                autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required;
                        }
                        (status())
                        button type="submit" { "Turn on two-factor" }
                    }
                }
                div id="backup-codes" hidden {
                    h3 { "Backup codes" }
                    p { "Each code signs you in once if you lose your device. Keep them somewhere safe: they are shown only now." }
                    ul.codes id="backup-code-list" {}
                }
                form id="two-factor-disable-form" hidden[!two_factor] {
                    (field_as("f-disable-password", "Your password", "password", "password", "current-password"))
                    (status())
                    button.danger type="submit" { "Turn off two-factor" }
                }
            }))
            (section("passkeys", "Passkeys", &html! {
                p { "Sign in with your fingerprint, face or device PIN instead of a password." }
                form id="passkey-form" {
                    (field_as("f-passkey-name", "Passkey name", "name", "text", "off"))
                    (status())
                    button type="submit" { "Add a passkey" }
                }
                (table("passkey-table", "Your passkeys", &["Name", "Added", ""]))
            }))
            (section("sessions", "Sessions and devices", &html! {
                (table("session-table", "Your sessions", &["Device", "IP address", "Signed in", ""]))
                (status())
            }))
            (section("accounts", "Linked accounts", &html! {
                (table("account-table", "Sign-in methods linked to you", &["Provider", "Since"]))
            }))
            (section("api-keys", "API keys", &html! {
                form id="api-key-form" {
                    (field_as("f-key-name", "Key name", "name", "text", "off"))
                    (status())
                    button type="submit" { "Create key" }
                }
                p id="new-api-key" hidden {
                    "Your new key (shown once): " code {}
                }
                (table("api-key-table", "Your API keys", &["Name", "Starts with", "Created", ""]))
            }))
        },
    )
}

pub fn organization(chrome: &Chrome<'_>) -> Markup {
    layout(
        chrome,
        "organization",
        "Organization",
        &html! {
            h1 id="org-title" { "Organization" }
            (section("orgs", "Your organizations", &html! {
                div.field {
                    label for="f-active-org" { "Active organization" }
                    select id="f-active-org" {}
                }
                form id="create-org-form" {
                    h3 { "New organization" }
                    (field("Name", "name", "text", "organization"))
                    div.field {
                        label for="f-slug" { "Slug (used in URLs; made from the name when empty)" }
                        input id="f-slug" name="slug" type="text" autocomplete="off" pattern="[a-z0-9-]+";
                    }
                    (status())
                    button type="submit" { "Create" }
                }
            }))
            div id="org-console" hidden {
                (section("members", "Members", &html! {
                    (table("member-table", "Members and their roles", &["Name", "Email", "Role", ""]))
                    (status())
                }))
                (section("invitations", "Invitations", &html! {
                    form id="invite-form" {
                        (field("Email", "email", "email", "off"))
                        div.field {
                            label for="f-invite-role" { "Role" }
                            select id="f-invite-role" name="role" {
                                option value="member" { "member" }
                                option value="admin" { "admin" }
                                option value="owner" { "owner" }
                            }
                        }
                        (status())
                        button type="submit" { "Invite" }
                    }
                    (table("invitation-table", "Pending invitations", &["Email", "Role", "Expires", ""]))
                }))
                (section("teams", "Teams", &html! {
                    form id="team-form" {
                        (field_as("f-team-name", "Team name", "name", "text", "off"))
                        (status())
                        button type="submit" { "Create team" }
                    }
                    (table("team-table", "Teams", &["Name", "Created", ""]))
                }))
                (section("roles", "Custom roles", &html! {
                    form id="role-form" {
                        (field("Role name", "role", "text", "off"))
                        fieldset.permissions {
                            legend { "Permissions" }
                            @for (resource, actions) in castellan_authz::permissions::STATEMENTS {
                                div.resource {
                                    span.resource-name { (resource) }
                                    @for action in actions {
                                        @let id = format!("p-{resource}-{action}");
                                        span.check {
                                            input id=(id) type="checkbox" name="permission" value={ (resource) ":" (action) };
                                            label for=(id) { (action) }
                                        }
                                    }
                                }
                            }
                        }
                        (status())
                        button type="submit" { "Create role" }
                    }
                    (table("role-table", "Custom roles", &["Role", "Permissions", ""]))
                }))
                (section("sso", "SSO connections", &html! {
                    (table("sso-table", "SSO connections", &["Provider", "Domain", "Protocol", "Domain verified"]))
                    form id="setup-link-form" {
                        h3 { "Let your customer's IT admin set it up" }
                        p { "A setup link walks them through connecting their identity provider, without an account here. It works once and expires." }
                        (status())
                        button type="submit" { "Create a setup link" }
                    }
                    div.field id="setup-link" hidden {
                        label for="f-setup-link" { "Setup link (send it to the IT admin)" }
                        input id="f-setup-link" type="text" readonly;
                    }
                }))
                (section("webhooks", "Webhooks", &html! {
                    form id="webhook-form" {
                        (field_as("f-webhook-url", "Endpoint URL (https)", "url", "url", "off"))
                        (optional_field("f-webhook-description", "Description", "description", "text"))
                        (status())
                        button type="submit" { "Add endpoint" }
                    }
                    p id="new-webhook-secret" hidden {
                        "Signing secret (shown once): " code {}
                    }
                    (table("webhook-table", "Webhook endpoints", &["URL", "Events", "State", ""]))
                }))
                (section("audit", "Audit log", &html! {
                    p.status id="audit-chain" role="status" {}
                    (table("audit-table", "Audit log, newest first", &["#", "When", "Action", "Actor", "Target", "Details"]))
                }))
            }
        },
    )
}

pub fn admin(chrome: &Chrome<'_>) -> Markup {
    layout(
        chrome,
        "admin",
        "Platform admin",
        &html! {
            h1 { "Platform admin" }
            (section("users", "Users", &html! {
                form id="user-search-form" role="search" {
                    div.field {
                        label for="f-search" { "Search by email" }
                        input id="f-search" name="searchValue" type="search" autocomplete="off";
                    }
                    button type="submit" { "Search" }
                }
                div.field {
                    label for="f-reason" { "Reason (recorded for bans and impersonation)" }
                    input id="f-reason" name="reason" type="text" autocomplete="off";
                }
                (status())
                (table("user-table", "Users", &["Name", "Email", "Role", "Status", ""]))
            }))
            (section("user-sessions", "Sessions of the selected user", &html! {
                p id="user-sessions-for" {}
                (table("user-session-table", "Sessions", &["Device", "IP address", "Signed in", ""]))
            }))
            (section("platform-audit", "Platform audit log", &html! {
                p.status id="platform-audit-chain" role="status" {}
                (table("platform-audit-table", "Platform audit log, newest first", &["#", "When", "Action", "Actor", "Target", "Details"]))
            }))
        },
    )
}

/// The SSO setup portal: the wizard an IT admin walks through from a setup link.
pub fn sso_setup(chrome: &Chrome<'_>) -> Markup {
    layout(
        chrome,
        "sso-setup",
        "Set up single sign-on",
        &html! {
            h1 { "Set up single sign-on" }
            p id="setup-intro" role="status" aria-live="polite" { "Opening your setup link…" }
            div id="setup-steps" hidden {
                (section("step-protocol", "1. Your identity provider", &html! {
                    fieldset.choices {
                        legend { "How does your identity provider sign people in?" }
                        div.check {
                            input id="p-oidc" type="radio" name="protocol" value="oidc" checked;
                            label for="p-oidc" { "OpenID Connect (Okta, Entra ID, Google Workspace, Auth0, Keycloak…)" }
                        }
                        div.check {
                            input id="p-saml" type="radio" name="protocol" value="saml";
                            label for="p-saml" { "SAML 2.0 (ADFS, Okta, Entra ID, OneLogin, PingFederate…)" }
                        }
                    }
                }))
                (section("step-values", "2. Values for your identity provider", &html! {
                    p { "Create an application in your identity provider and give it these values." }
                    dl.values data-protocol="oidc" {
                        dt { "Redirect URI (sign-in redirect URL)" }
                        dd { code id="v-redirect-uri" {} }
                    }
                    dl.values data-protocol="saml" hidden {
                        dt { "ACS URL (single sign-on URL)" }
                        dd { code id="v-acs-url" {} }
                        dt { "Entity ID (audience)" }
                        dd { code id="v-entity-id" {} }
                        dt { "Service provider metadata" }
                        dd { a id="v-metadata-download" href="/api/auth/sso/setup/sp-metadata" download="sp-metadata.xml" { "Download sp-metadata.xml" } }
                    }
                }))
                (section("step-connection", "3. Connect it", &html! {
                    form id="setup-connection-form" {
                        (field_as("f-domain", "Your email domain (e.g. example.com)", "domain", "text", "off"))
                        div data-protocol="oidc" {
                            (optional_field("f-issuer", "Issuer URL", "issuer", "url"))
                            (optional_field("f-client-id", "Client ID", "clientId", "text"))
                            (optional_field("f-client-secret", "Client secret", "clientSecret", "password"))
                        }
                        div data-protocol="saml" hidden {
                            div.field {
                                label for="f-metadata-file" { "IdP metadata file" }
                                input id="f-metadata-file" type="file" accept=".xml,application/xml,text/xml";
                            }
                            div.field {
                                label for="f-metadata-xml" { "Or paste the IdP metadata XML" }
                                textarea id="f-metadata-xml" name="metadataXml" rows="6" spellcheck="false" {}
                            }
                            (optional_field("f-metadata-url", "Or its URL", "metadataUrl", "url"))
                        }
                        div.field {
                            label for="f-role-mapping" { "Map groups to roles (one per line: group = role)" }
                            textarea id="f-role-mapping" name="roleMapping" rows="3" spellcheck="false" placeholder="admins = admin" {}
                        }
                        (status())
                        button type="submit" { "Save the connection" }
                    }
                }))
                (section("step-domain", "4. Verify your domain", &html! {
                    p id="domain-state" { "Save the connection first." }
                    dl.values id="domain-record" hidden {
                        dt { "TXT record name" }
                        dd { code id="v-txt-name" {} }
                        dt { "TXT record value" }
                        dd { code id="v-txt-value" {} }
                    }
                    form id="setup-domain-form" {
                        (status())
                        button.secondary type="submit" { "Check the DNS record" }
                    }
                }))
                (section("step-test", "5. Test a sign-in", &html! {
                    p { "Sign in through your identity provider once. Nobody is signed in here: we only show what your provider sent." }
                    p id="test-outcome" role="status" aria-live="polite" {}
                    form id="setup-test-form" {
                        (status())
                        button.secondary type="submit" { "Test sign-in" }
                    }
                }))
                (section("step-enable", "6. Turn it on", &html! {
                    form id="setup-enable-form" {
                        (status())
                        button type="submit" { "Turn on single sign-on" }
                    }
                }))
            }
        },
    )
}
