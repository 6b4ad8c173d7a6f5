//! Route table. Paths are relative to the base path (`/api/auth`) and are Better Auth's.

mod account;
mod admin;
mod api_keys;
mod credentials;
mod email;
mod email_otp;
mod jwt;
mod magic_link;
mod misc;
mod passkey;
mod password_reset;
mod sessions;
mod social;
pub(crate) mod two_factor;

use castellan_http::routes::Routes;
pub(crate) use castellan_http::validate::validated;

pub const SIGN_UP_EMAIL: &str = "/sign-up/email";
pub const SIGN_IN_EMAIL: &str = "/sign-in/email";
pub const SIGN_OUT: &str = "/sign-out";
pub const GET_SESSION: &str = "/get-session";
pub const LIST_SESSIONS: &str = "/list-sessions";
pub const REVOKE_SESSION: &str = "/revoke-session";
pub const REVOKE_SESSIONS: &str = "/revoke-sessions";
pub const REVOKE_OTHER_SESSIONS: &str = "/revoke-other-sessions";
pub const UPDATE_USER: &str = "/update-user";
pub const CHANGE_PASSWORD: &str = "/change-password";
pub const VERIFY_PASSWORD: &str = "/verify-password";
pub const CHANGE_EMAIL: &str = "/change-email";
pub const DELETE_USER: &str = "/delete-user";
pub const DELETE_USER_CALLBACK: &str = "/delete-user/callback";
pub const LIST_ACCOUNTS: &str = "/list-accounts";
pub const REQUEST_PASSWORD_RESET: &str = "/request-password-reset";
pub const RESET_PASSWORD: &str = "/reset-password";
pub const RESET_PASSWORD_CALLBACK: &str = "/reset-password/{token}";
pub const SEND_VERIFICATION_EMAIL: &str = "/send-verification-email";
pub const VERIFY_EMAIL: &str = "/verify-email";
pub const TOKEN: &str = "/token";
pub const JWKS: &str = "/jwks";
pub const OK: &str = "/ok";
pub const READY: &str = "/ready";
pub const ERROR: &str = "/error";
pub const OPEN_API: &str = "/open-api/generate-schema";
pub const REFERENCE: &str = "/reference";

pub fn configure(routes: &mut Routes<'_>) {
    routes
        .shared(|_| castellan_oauth::RelyingParty::new())
        .post("/sign-in/social", social::sign_in_social)
        .get("/callback/{provider}", social::callback)
        .post("/callback/{provider}", social::callback_post)
        .post("/link-social", social::link_social)
        .post("/unlink-account", social::unlink_account)
        .post("/get-access-token", social::get_access_token)
        .post("/refresh-token", social::refresh_token)
        .get("/account-info", social::account_info)
        .post("/sign-in/oauth2", social::sign_in_oauth2)
        .post("/sign-in/magic-link", magic_link::sign_in)
        .get("/magic-link/verify", magic_link::verify)
        .post(email_otp::SEND_VERIFICATION_OTP, email_otp::send_verification_otp)
        .post(
            email_otp::CHECK_VERIFICATION_OTP,
            email_otp::check_verification_otp,
        )
        .post(email_otp::VERIFY_EMAIL, email_otp::verify_email)
        .post(email_otp::SIGN_IN, email_otp::sign_in)
        .post(
            email_otp::REQUEST_PASSWORD_RESET,
            email_otp::request_password_reset,
        )
        .post(email_otp::FORGET_PASSWORD, email_otp::request_password_reset)
        .post(email_otp::RESET_PASSWORD, email_otp::reset_password)
        .post(email_otp::REQUEST_EMAIL_CHANGE, email_otp::request_email_change)
        .post(email_otp::CHANGE_EMAIL, email_otp::change_email)
        .get(
            "/passkey/generate-register-options",
            passkey::generate_register_options,
        )
        .post("/passkey/verify-registration", passkey::verify_registration)
        .get(
            "/passkey/generate-authenticate-options",
            passkey::generate_authenticate_options,
        )
        .post(
            "/passkey/generate-authenticate-options",
            passkey::generate_authenticate_options,
        )
        .post("/passkey/verify-authentication", passkey::verify_authentication)
        .get("/passkey/list-user-passkeys", passkey::list_user_passkeys)
        .post("/passkey/delete-passkey", passkey::delete_passkey)
        .post("/passkey/update-passkey", passkey::update_passkey)
        .get("/oauth2/callback/{provider}", social::oauth2_callback)
        .post("/oauth2/link", social::oauth2_link)
        .post(SIGN_UP_EMAIL, credentials::sign_up)
        .post(SIGN_IN_EMAIL, credentials::sign_in)
        .post("/sign-in/break-glass", credentials::break_glass_sign_in)
        .post(SIGN_OUT, credentials::sign_out)
        .get(GET_SESSION, sessions::get_session)
        .post(GET_SESSION, sessions::post_get_session)
        .get(LIST_SESSIONS, sessions::list_sessions)
        .post(REVOKE_SESSION, sessions::revoke_session)
        .post(REVOKE_SESSIONS, sessions::revoke_sessions)
        .post(REVOKE_OTHER_SESSIONS, sessions::revoke_other_sessions)
        .post(UPDATE_USER, account::update_user)
        .post(CHANGE_PASSWORD, credentials::change_password)
        .post(VERIFY_PASSWORD, credentials::verify_password)
        .post(CHANGE_EMAIL, email::change_email)
        .post(DELETE_USER, account::delete_user)
        .get(DELETE_USER_CALLBACK, account::delete_user_callback)
        .get(LIST_ACCOUNTS, account::list_accounts)
        .post(REQUEST_PASSWORD_RESET, password_reset::request)
        .post(RESET_PASSWORD, password_reset::reset)
        .get(RESET_PASSWORD_CALLBACK, password_reset::landing)
        .post(SEND_VERIFICATION_EMAIL, email::send_verification_email)
        .get(VERIFY_EMAIL, email::verify_email)
        .get(TOKEN, jwt::token)
        .get(JWKS, jwt::jwks)
        .post("/api-key/create", api_keys::create)
        .get("/api-key/get", api_keys::get)
        .post("/api-key/update", api_keys::update)
        .post("/api-key/delete", api_keys::delete)
        .get("/api-key/list", api_keys::list)
        .post("/api-key/verify", api_keys::verify)
        .post("/two-factor/enable", two_factor::enable)
        .post("/two-factor/disable", two_factor::disable)
        .post("/two-factor/get-totp-uri", two_factor::get_totp_uri)
        .post(
            "/two-factor/generate-backup-codes",
            two_factor::generate_backup_codes,
        )
        .post("/two-factor/verify-totp", two_factor::verify_totp)
        .post("/two-factor/verify-backup-code", two_factor::verify_backup_code)
        .post("/two-factor/send-otp", two_factor::send_otp)
        .post("/two-factor/verify-otp", two_factor::verify_otp)
        .get("/admin/list-users", admin::list_users)
        .get("/admin/get-user", admin::get_user)
        .post("/admin/create-user", admin::create_user)
        .post("/admin/update-user", admin::update_user)
        .post("/admin/set-role", admin::set_role)
        .post("/admin/set-user-password", admin::set_user_password)
        .post("/admin/ban-user", admin::ban_user)
        .post("/admin/unban-user", admin::unban_user)
        .post("/admin/list-user-sessions", admin::list_user_sessions)
        .post("/admin/revoke-user-session", admin::revoke_user_session)
        .post("/admin/revoke-user-sessions", admin::revoke_user_sessions)
        .post("/admin/remove-user", admin::remove_user)
        .post("/admin/impersonate-user", admin::impersonate_user)
        .post("/admin/stop-impersonating", admin::stop_impersonating)
        .post("/admin/has-permission", admin::has_permission)
        .get("/admin/audit-log", admin::audit_log)
        .get("/admin/audit-log/verify", admin::verify_audit_log)
        .get(OK, misc::ok)
        .get(READY, misc::ready)
        .get(ERROR, misc::error_page)
        .get(OPEN_API, misc::open_api)
        .get(REFERENCE, misc::reference);
}

/// `url` with `?error=CODE` (or `&error=CODE`) appended: how link endpoints report failure.
fn with_error(url: &str, code: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}error={code}")
}

impl castellan_http::FromRegistered for crate::domain::IdentityService {
    fn build(req: &actix_web::HttpRequest) -> Result<Self, castellan_http::ApiError> {
        use castellan_http::state::registered;
        let http = registered::<castellan_http::AuthState>(req)?;
        Ok(Self::new(
            http.db.clone(),
            http.sessions.clone(),
            http.passwords.clone(),
            registered::<castellan_mail::Outbox>(req)?.get_ref().clone(),
            http.settings.clone(),
            http.clock.clone(),
            registered::<castellan_authz::Authorizer>(req)?.into_inner(),
        ))
    }
}
