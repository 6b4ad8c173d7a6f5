//! HTTP plumbing shared by every Castellan service: the error shape, cookies, body and session
//! extractors, origin checks, rate limiting, the route table and the shared state. Starting a server is
//! `castellan_platform`.

pub mod bearer;
pub mod body;
pub mod client;
pub mod cookie_cache;
pub mod cookies;
pub mod cors;
pub mod error;
pub mod guard;
pub mod openapi;
pub mod origin;
pub mod rate_limit;
pub mod request_id;
pub mod respond;
pub mod routes;
pub mod session;
pub mod state;
pub mod validate;

pub use body::{Body, CredentialForm, JsonOnly};
pub use error::ApiError;
pub use routes::Mount;
pub use session::MaybeSession;
pub use state::{AuthState, FromRegistered, Service};
pub use validate::Fields;
