//! Route table. Paths are relative to the base path (`/api/auth`) and are Better Auth's.

mod account;
mod admin;
mod api_keys;
mod credentials;
mod email;
mod jwt;
mod misc;
mod password_reset;
mod sessions;
pub(crate) mod two_factor;

use actix_web::web;
use castellan_http::ApiError;

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
pub const ERROR: &str = "/error";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(SIGN_UP_EMAIL, web::post().to(credentials::sign_up))
        .route(SIGN_IN_EMAIL, web::post().to(credentials::sign_in))
        .route(SIGN_OUT, web::post().to(credentials::sign_out))
        .route(GET_SESSION, web::get().to(sessions::get_session))
        .route(GET_SESSION, web::post().to(sessions::post_get_session))
        .route(LIST_SESSIONS, web::get().to(sessions::list_sessions))
        .route(REVOKE_SESSION, web::post().to(sessions::revoke_session))
        .route(REVOKE_SESSIONS, web::post().to(sessions::revoke_sessions))
        .route(
            REVOKE_OTHER_SESSIONS,
            web::post().to(sessions::revoke_other_sessions),
        )
        .route(UPDATE_USER, web::post().to(account::update_user))
        .route(CHANGE_PASSWORD, web::post().to(credentials::change_password))
        .route(VERIFY_PASSWORD, web::post().to(credentials::verify_password))
        .route(CHANGE_EMAIL, web::post().to(email::change_email))
        .route(DELETE_USER, web::post().to(account::delete_user))
        .route(DELETE_USER_CALLBACK, web::get().to(account::delete_user_callback))
        .route(LIST_ACCOUNTS, web::get().to(account::list_accounts))
        .route(REQUEST_PASSWORD_RESET, web::post().to(password_reset::request))
        .route(RESET_PASSWORD, web::post().to(password_reset::reset))
        .route(RESET_PASSWORD_CALLBACK, web::get().to(password_reset::landing))
        .route(
            SEND_VERIFICATION_EMAIL,
            web::post().to(email::send_verification_email),
        )
        .route(VERIFY_EMAIL, web::get().to(email::verify_email))
        .route(TOKEN, web::get().to(jwt::token))
        .route(JWKS, web::get().to(jwt::jwks))
        .route("/api-key/create", web::post().to(api_keys::create))
        .route("/api-key/get", web::get().to(api_keys::get))
        .route("/api-key/update", web::post().to(api_keys::update))
        .route("/api-key/delete", web::post().to(api_keys::delete))
        .route("/api-key/list", web::get().to(api_keys::list))
        .route("/two-factor/enable", web::post().to(two_factor::enable))
        .route("/two-factor/disable", web::post().to(two_factor::disable))
        .route(
            "/two-factor/get-totp-uri",
            web::post().to(two_factor::get_totp_uri),
        )
        .route(
            "/two-factor/generate-backup-codes",
            web::post().to(two_factor::generate_backup_codes),
        )
        .route("/two-factor/verify-totp", web::post().to(two_factor::verify_totp))
        .route(
            "/two-factor/verify-backup-code",
            web::post().to(two_factor::verify_backup_code),
        )
        .route("/two-factor/send-otp", web::post().to(two_factor::send_otp))
        .route("/two-factor/verify-otp", web::post().to(two_factor::verify_otp))
        .route("/admin/list-users", web::get().to(admin::list_users))
        .route("/admin/get-user", web::get().to(admin::get_user))
        .route("/admin/create-user", web::post().to(admin::create_user))
        .route("/admin/update-user", web::post().to(admin::update_user))
        .route("/admin/set-role", web::post().to(admin::set_role))
        .route(
            "/admin/set-user-password",
            web::post().to(admin::set_user_password),
        )
        .route("/admin/ban-user", web::post().to(admin::ban_user))
        .route("/admin/unban-user", web::post().to(admin::unban_user))
        .route(
            "/admin/list-user-sessions",
            web::post().to(admin::list_user_sessions),
        )
        .route(
            "/admin/revoke-user-session",
            web::post().to(admin::revoke_user_session),
        )
        .route(
            "/admin/revoke-user-sessions",
            web::post().to(admin::revoke_user_sessions),
        )
        .route("/admin/remove-user", web::post().to(admin::remove_user))
        .route("/admin/impersonate-user", web::post().to(admin::impersonate_user))
        .route(
            "/admin/stop-impersonating",
            web::post().to(admin::stop_impersonating),
        )
        .route("/admin/has-permission", web::post().to(admin::has_permission))
        .route(OK, web::get().to(misc::ok))
        .route(ERROR, web::get().to(misc::error_page));
}

/// A field the validator already vouched for. `None` here means the validator and the handler
/// disagree, which is a bug, reported as a 500 rather than a panic.
fn validated<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal(&"a validated field was missing"))
}

/// `url` with `?error=CODE` (or `&error=CODE`) appended: how link endpoints report failure.
fn with_error(url: &str, code: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}error={code}")
}

fn redirect(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}
