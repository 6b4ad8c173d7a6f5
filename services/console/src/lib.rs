//! The hosted pages: sign-in and its companions, the account page, the organization console and
//! the platform admin, served by the `castellan` binary at the root of its port.
//!
//! The pages are server-rendered shells (maud) with a little script that calls the same
//! `/api/auth` endpoints the official client calls, from the same origin. So every action is
//! decided exactly as over the API (casbin, the session's active organization, the origin check
//! that makes the API CSRF-safe), and the pages add no second path to the data. What the server
//! decides here is only what to show: which sign-in methods are configured, whether a visitor
//! is signed in (to send them to the right page), and the theme.

mod assets;
mod qr;
mod views;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::{AuthState, MaybeSession};

pub use views::PAGES;

/// Registers the pages and their assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/sign-in", web::get().to(sign_in))
        .route("/sign-up", web::get().to(sign_up))
        .route("/forgot-password", web::get().to(forgot_password))
        .route("/reset-password", web::get().to(reset_password))
        .route("/two-factor", web::get().to(two_factor))
        .route("/verify-email", web::get().to(verify_email))
        .route("/accept-invitation/{id}", web::get().to(accept_invitation))
        .route("/account", web::get().to(account))
        .route("/organization", web::get().to(organization))
        .route("/admin", web::get().to(admin))
        .route("/sso-setup", web::get().to(sso_setup))
        .route("/assets/{name}", web::get().to(assets::serve))
        .route("/qr", web::post().to(qr::svg));
}

/// The first value of a query parameter (later duplicates are ignored, never an error: a page
/// always renders).
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where to go after signing in: the `callbackURL` when the deployment trusts it (a path on
/// this origin or a trusted origin, as the API checks it), else the account page.
fn next_url(req: &HttpRequest, state: &AuthState) -> String {
    query_param(req, "callbackURL")
        .filter(|v| v.len() <= 2048 && !castellan_domain::has_control(v))
        .filter(|v| state.origins.trusts_callback(v))
        .unwrap_or_else(|| "/account".to_owned())
}

/// A page: HTML that is never cached (it may show who is signed in), never framed, runs only
/// this origin's scripts, and leaks no URL (reset tokens) through `Referer`.
fn page(markup: maud::Markup) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string());
    page_headers(res.headers_mut());
    res
}

fn page_headers(headers: &mut actix_web::http::header::HeaderMap) {
    let set = |h: &mut actix_web::http::header::HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data: blob:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
}

fn redirect(to: &str) -> HttpResponse {
    let mut res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish();
    page_headers(res.headers_mut());
    res
}

/// A page for signed-in visitors; others go to the sign-in page, which brings them back here.
fn signed_in_page(
    current: MaybeSession,
    back_to: &str,
    render: impl FnOnce(&castellan_session::AuthSession) -> maud::Markup,
) -> HttpResponse {
    match current.session {
        Some(session) => page(render(&session)),
        None => {
            let back: String = url::form_urlencoded::byte_serialize(back_to.as_bytes()).collect();
            redirect(&format!("/sign-in?callbackURL={back}"))
        }
    }
}

async fn home(current: MaybeSession) -> HttpResponse {
    redirect(if current.session.is_some() {
        "/account"
    } else {
        "/sign-in"
    })
}

async fn sign_in(state: web::Data<AuthState>, req: HttpRequest, current: MaybeSession) -> HttpResponse {
    let next = next_url(&req, &state);
    if current.session.is_some() && query_param(&req, "error").is_none() {
        return redirect(&next);
    }
    page(views::sign_in(&views::Chrome::new(&state, None), &next))
}

async fn sign_up(state: web::Data<AuthState>, req: HttpRequest) -> HttpResponse {
    page(views::sign_up(
        &views::Chrome::new(&state, None),
        &next_url(&req, &state),
    ))
}

async fn forgot_password(state: web::Data<AuthState>) -> HttpResponse {
    page(views::forgot_password(&views::Chrome::new(&state, None)))
}

async fn reset_password(state: web::Data<AuthState>) -> HttpResponse {
    page(views::reset_password(&views::Chrome::new(&state, None)))
}

async fn two_factor(state: web::Data<AuthState>, req: HttpRequest) -> HttpResponse {
    page(views::two_factor(
        &views::Chrome::new(&state, None),
        &next_url(&req, &state),
    ))
}

async fn verify_email(state: web::Data<AuthState>, current: MaybeSession) -> HttpResponse {
    let session = current.session;
    page(views::verify_email(&views::Chrome::new(&state, session.as_ref())))
}

async fn accept_invitation(
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or_default();
    signed_in_page(current, req.path(), |session| {
        views::accept_invitation(&views::Chrome::new(&state, Some(session)), id)
    })
}

async fn account(state: web::Data<AuthState>, current: MaybeSession) -> HttpResponse {
    signed_in_page(current, "/account", |session| {
        views::account(&views::Chrome::new(&state, Some(session)), session)
    })
}

async fn organization(state: web::Data<AuthState>, current: MaybeSession) -> HttpResponse {
    signed_in_page(current, "/organization", |session| {
        views::organization(&views::Chrome::new(&state, Some(session)))
    })
}

async fn admin(state: web::Data<AuthState>, current: MaybeSession) -> HttpResponse {
    signed_in_page(current, "/admin", |session| {
        views::admin(&views::Chrome::new(&state, Some(session)))
    })
}

/// The setup portal needs no account: the setup link (or the session it opened) is the
/// credential, checked by the API on every step.
async fn sso_setup(state: web::Data<AuthState>) -> HttpResponse {
    page(views::sso_setup(&views::Chrome::new(&state, None)))
}
