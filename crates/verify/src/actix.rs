//! actix-web extractors (feature `actix`): register a [`Verifier`] as `web::Data`, then take
//! [`SignedIn`] (a session, from the cookie or a bearer token) or [`Jwt`] (a JWT from
//! `Authorization: Bearer`) in a handler. A refusal answers 401, 403 or 503 with a JSON body
//! `{code, message}`.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use castellan_verify::Verifier;
//! use castellan_verify::actix::{Jwt, SignedIn};
//!
//! async fn me(signed_in: SignedIn) -> String {
//!     format!("{} in {:?}", signed_in.0.user.email, signed_in.0.session.active_organization_id)
//! }
//!
//! async fn api(jwt: Jwt) -> String {
//!     jwt.0.sub
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = web::Data::new(Verifier::new("https://auth.example.com/api/auth").unwrap());
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(verifier.clone())
//!         .route("/me", web::get().to(me))
//!         .route("/api", web::get().to(api))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, COOKIE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;

use crate::{Claims, Presented, Verifier, VerifyError};

impl ResponseError for VerifyError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "code": self.code(), "message": self.to_string() }))
    }
}

fn presented(req: &HttpRequest) -> Option<Presented> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    Presented::from_headers(header(AUTHORIZATION), header(COOKIE))
}

fn verifier(req: &HttpRequest) -> Result<web::Data<Verifier>, VerifyError> {
    req.app_data::<web::Data<Verifier>>().cloned().ok_or_else(|| {
        VerifyError::Config("no castellan_verify::Verifier registered as web::Data".to_owned())
    })
}

/// A session Castellan confirmed.
pub struct SignedIn(pub crate::SignedIn);

impl FromRequest for SignedIn {
    type Error = VerifyError;
    type Future = LocalBoxFuture<'static, Result<Self, VerifyError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = verifier(req).map(|v| (v, presented(req)));
        Box::pin(async move {
            let (verifier, presented) = found?;
            Presented::signed_in(presented, &verifier).await.map(Self)
        })
    }
}

/// A verified JWT from `Authorization: Bearer`.
pub struct Jwt(pub Claims);

impl FromRequest for Jwt {
    type Error = VerifyError;
    type Future = LocalBoxFuture<'static, Result<Self, VerifyError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = verifier(req).map(|v| (v, presented(req)));
        Box::pin(async move {
            let (verifier, presented) = found?;
            Presented::jwt(presented, &verifier).await.map(Self)
        })
    }
}
