//! TOTP exactly as Better Auth's two-factor plugin does it (RFC 6238 over RFC 4226), computed by
//! `totp-rs`: the HMAC key is the UTF-8 bytes of a 32-character secret string (not
//! base32-decoded), SHA-1, six digits, 30-second steps, one step of tolerance either side. The
//! `otpauth://` URI carries the base32 (RFC 4648, unpadded) of those bytes.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::encoding::{form_component, uri_component};

/// Better Auth's `generateRandomString` alphabet for TOTP secrets.
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
pub const DIGITS: u8 = 6;
pub const PERIOD: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW: u16 = 1;
/// How long a code can stay acceptable after it was first accepted: its own step and the
/// tolerated steps either side.
pub const ACCEPTANCE_WINDOW_SECS: u64 = PERIOD * (2 * SKEW as u64 + 1);

#[must_use]
pub fn generate_secret() -> String {
    crate::random::random_string(32, SECRET_ALPHABET)
}

/// The generator for `secret`; `None` for a secret shorter than RFC 4226's 128 bits, which
/// Castellan never issues (so it fails closed).
fn totp(secret: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(PERIOD)
        .with_secret(secret.as_bytes().to_vec())
        .build()
        .ok()
}

/// The code of time step `counter` (RFC 4226 HOTP with the step as counter).
#[must_use]
pub fn hotp(secret: &str, counter: u64) -> Option<String> {
    Some(totp(secret)?.generate(counter.checked_mul(PERIOD)?).to_string())
}

/// The time step whose code `code` is, if it is the code of `now_secs`'s step or of the step
/// before or after. Callers must accept each step only once per user (RFC 6238 §5.2).
#[must_use]
pub fn verify(secret: &str, code: &str, now_secs: i64) -> Option<u64> {
    let now = u64::try_from(now_secs).ok()?;
    totp(secret)?.check(code.trim(), now)
}

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&digits=6&period=30`: the label as
/// `encodeURIComponent` writes it, the query form-encoded, as Better Auth builds it.
#[must_use]
pub fn uri(secret: &str, issuer: &str, account: &str) -> String {
    let base32 = Secret::from(secret.as_bytes().to_vec()).to_base32();
    format!(
        "otpauth://totp/{}:{}?secret={base32}&issuer={}&digits={DIGITS}&period={PERIOD}",
        uri_component(issuer),
        uri_component(account),
        form_component(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_better_auths_test_vectors() {
        // ../shared/spec/better-auth-core.md §11.
        let secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
        assert_eq!(hotp(secret, 1).as_deref(), Some("581710"));
        assert_eq!(
            uri(secret, "Better Auth", "a@b.co"),
            "otpauth://totp/Better%20Auth:a%40b.co?secret=IFBEGRCFIZDUQSKKJNGE2TSPKBIVEU2UKVLFOWCZLIYDCMRTGQ2Q&issuer=Better+Auth&digits=6&period=30"
        );
    }

    #[test]
    fn rfc_4226_vectors_and_the_window() {
        // RFC 4226 appendix D, secret "12345678901234567890".
        let secret = "12345678901234567890";
        assert_eq!(hotp(secret, 0).as_deref(), Some("755224"));
        assert_eq!(hotp(secret, 9).as_deref(), Some("520489"));
        let now: i64 = 1_000_000_000;
        let step = now as u64 / PERIOD;
        let code = |s: u64| hotp(secret, s).unwrap();
        assert_eq!(verify(secret, &code(step), now), Some(step));
        assert_eq!(verify(secret, &code(step - 1), now), Some(step - 1));
        assert_eq!(verify(secret, &code(step + 1), now), Some(step + 1));
        assert_eq!(verify(secret, &code(step - 2), now), None);
        assert_eq!(verify(secret, "", now), None);
        assert_eq!(verify(secret, &code(step), -1), None);
        assert_eq!(
            verify("too-short", "000000", now),
            None,
            "a short secret fails closed"
        );
    }
}
