//! Password hashing. New hashes are argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Hashes written by Better Auth (`saltHex:keyHex`, scrypt N=16384 r=16 p=1, 64-byte key, the
//! 32-character hex salt used as ASCII bytes, password NFKC-normalised) are verified too, and
//! reported as needing an upgrade.
//!
//! These functions are CPU-bound (tens of milliseconds): callers run them off the async executor.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// OWASP's argon2id recommendation (Password Storage Cheat Sheet): m=19 MiB, t=2, p=1.
const ARGON2_M_COST_KIB: u32 = 19 * 1024;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hashing,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Mismatch,
    Match,
    /// Correct, but stored in an older format or with weaker parameters: rehash and store.
    MatchNeedsRehash,
}

impl PasswordCheck {
    #[must_use]
    pub fn is_match(self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

/// Hashes and verifies passwords; holds a decoy hash so that unknown accounts cost as much as
/// known ones.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    decoy: String,
}

impl std::fmt::Debug for PasswordHasherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasherConfig").finish_non_exhaustive()
    }
}

fn argon2() -> Argon2<'static> {
    // These constants are within argon2's bounds, so `new` cannot fail.
    let params =
        Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None).unwrap_or_else(|_| unreachable!());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasherConfig {
    /// Builds the hasher, computing one decoy hash (one hash's worth of CPU).
    ///
    /// # Errors
    /// Only if argon2 itself fails.
    pub fn new() -> Result<Self, PasswordError> {
        let decoy = hash(&crate::random::alphanumeric(32))?;
        Ok(Self { decoy })
    }

    /// Spends the time of one verification without a stored hash: the answer for an unknown
    /// account must take as long as a wrong password.
    pub fn burn_verification(&self, password: &str) {
        let _ = verify(password, &self.decoy);
    }
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
///
/// # Errors
/// Only if argon2 itself fails.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Checks `password` against a stored argon2 PHC string or a Better Auth scrypt hash.
/// Anything unrecognised is a mismatch: fail closed.
#[must_use]
pub fn verify(password: &str, stored: &str) -> PasswordCheck {
    if stored.starts_with('$') {
        verify_argon2(password, stored)
    } else {
        verify_better_auth_scrypt(password, stored)
    }
}

fn verify_argon2(password: &str, stored: &str) -> PasswordCheck {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return PasswordCheck::Mismatch;
    };
    if argon2().verify_password(password.as_bytes(), &parsed).is_err() {
        return PasswordCheck::Mismatch;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(ARGON2_M_COST_KIB)
        && parsed.params.get_decimal("t") == Some(ARGON2_T_COST)
        && parsed.params.get_decimal("p") == Some(ARGON2_P_COST);
    if current {
        PasswordCheck::Match
    } else {
        PasswordCheck::MatchNeedsRehash
    }
}

fn verify_better_auth_scrypt(password: &str, stored: &str) -> PasswordCheck {
    let Some((salt, key_hex)) = stored.split_once(':') else {
        return PasswordCheck::Mismatch;
    };
    let Ok(expected) = hex::decode(key_hex) else {
        return PasswordCheck::Mismatch;
    };
    if expected.len() != 64 {
        return PasswordCheck::Mismatch;
    }
    let normalized: String = password.nfkc().collect();
    let Ok(params) = scrypt::Params::new(14, 16, 1) else {
        return PasswordCheck::Mismatch;
    };
    let mut key = [0u8; 64];
    if scrypt::scrypt(normalized.as_bytes(), salt.as_bytes(), &params, &mut key).is_err() {
        return PasswordCheck::Mismatch;
    }
    if bool::from(key.as_slice().ct_eq(expected.as_slice())) {
        PasswordCheck::MatchNeedsRehash
    } else {
        PasswordCheck::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify("correct horse", &h), PasswordCheck::Match);
        assert_eq!(verify("wrong horse", &h), PasswordCheck::Mismatch);
    }

    #[test]
    fn better_auth_scrypt_test_vector_verifies_and_asks_for_upgrade() {
        // ../shared/spec/better-auth-core.md §11, computed with @better-auth/utils 0.4.2.
        let stored = "00112233445566778899aabbccddeeff:e0e498353e79321de2209bc13aaa1ecc177c039024c23312ad8f25cfa11a7156b77935ee0e176cc3cadc42862d901cc1cacabd229d0a0b28e198925f1fda4f32";
        assert_eq!(verify("test123456", stored), PasswordCheck::MatchNeedsRehash);
        assert_eq!(verify("test1234567", stored), PasswordCheck::Mismatch);
    }

    #[test]
    fn weaker_argon2_parameters_ask_for_upgrade() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw-12345")
        .unwrap()
        .to_string();
        assert_eq!(verify("pw-12345", &weak), PasswordCheck::MatchNeedsRehash);
    }

    #[test]
    fn garbage_never_matches() {
        for stored in ["", ":", "nothex:zz", "$argon2id$garbage", "abc:00"] {
            assert_eq!(verify("anything", stored), PasswordCheck::Mismatch, "{stored}");
        }
    }
}
