//! HTTP plumbing shared by every Castellan service: the error shape, cookies, body and session
//! extractors, origin checks, rate limiting, the shared state and the server bootstrap.

pub mod bearer;
pub mod body;
pub mod client;
pub mod cookies;
pub mod cors;
pub mod error;
pub mod guard;
pub mod origin;
pub mod platform;
pub mod rate_limit;
pub mod respond;
pub mod routes;
pub mod session;
pub mod state;
pub mod validate;

pub use body::{Body, CredentialForm, JsonOnly};
pub use error::ApiError;
pub use platform::{Application, Mount};
pub use session::MaybeSession;
pub use state::AuthState;
pub use validate::Fields;
