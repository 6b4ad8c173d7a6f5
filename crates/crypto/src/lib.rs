//! Cryptographic building blocks shared by every service: random identifiers, Better Auth's
//! signed-cookie format, password hashing (argon2id, with Better Auth's scrypt hashes still
//! verified), HS256 tokens and digests. Nothing here does I/O.

pub mod eddsa;
pub mod encoding;
pub mod jwt;
pub mod keyring;
pub mod password;
pub mod random;
pub mod signing;
pub mod symmetric;
pub mod totp;

pub use password::{PasswordCheck, PasswordHasherConfig};
