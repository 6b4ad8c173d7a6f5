//! Value rules the services' domains share, free of HTTP and storage, so a domain can validate
//! what it is given, and say why it refuses, without reaching into the web layer.

pub mod domains;
pub mod email;
pub mod network;
pub mod origins;
pub mod refusal;

pub use email::{MAX_EMAIL_LEN, is_valid_email};
pub use refusal::{Kind, Refusal};

/// Whether `s` holds a character no header, path segment or query value may carry: C0 controls
/// and DEL.
#[must_use]
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_control())
}
