//! HMAC-SHA256 signing in the exact formats Better Auth uses: signed cookies
//! (`value.base64std(mac)` with padding) and URL-safe MACs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, message: &[u8]) -> HmacSha256 {
    mac_with_key(secret.as_bytes(), message)
}

fn mac_with_key(key: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(message);
    m
}

/// Raw HMAC-SHA256 of `message` keyed by raw bytes.
#[must_use]
pub fn hmac_sha256_key(key: &[u8], message: &[u8]) -> [u8; 32] {
    mac_with_key(key, message).finalize().into_bytes().into()
}

/// Raw HMAC-SHA256 of `message` keyed by the UTF-8 bytes of `secret`.
#[must_use]
pub fn hmac_sha256(secret: &str, message: &[u8]) -> [u8; 32] {
    mac(secret, message).finalize().into_bytes().into()
}

/// `value.signature`, where the signature is standard base64 with padding (always 44 characters).
/// This is the cookie value before percent-encoding.
#[must_use]
pub fn sign_cookie_value(secret: &str, value: &str) -> String {
    format!(
        "{value}.{}",
        STANDARD.encode(hmac_sha256(secret, value.as_bytes()))
    )
}

/// Checks a `value.signature` string (already percent-decoded) and returns the value.
/// Follows better-call: split at the last `.`, the signature must be 44 characters ending in `=`.
#[must_use]
pub fn verify_cookie_value<'a>(secret: &str, signed: &'a str) -> Option<&'a str> {
    let (value, signature) = signed.rsplit_once('.')?;
    if signature.len() != 44 || !signature.ends_with('=') {
        return None;
    }
    let raw = STANDARD.decode(signature).ok()?;
    mac(secret, value.as_bytes()).verify_slice(&raw).ok()?;
    Some(value)
}

/// Like [`verify_cookie_value`] but accepting the signature in either base64 alphabet, with or
/// without padding: the bearer plugin's rule for `Authorization: Bearer token.sig`.
#[must_use]
pub fn verify_lenient<'a>(secret: &str, signed: &'a str) -> Option<&'a str> {
    use base64::alphabet::{STANDARD as PLAIN, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const PADDING_OPTIONAL: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const EITHER: [GeneralPurpose; 2] = [
        GeneralPurpose::new(&PLAIN, PADDING_OPTIONAL),
        GeneralPurpose::new(&URL_SAFE, PADDING_OPTIONAL),
    ];
    let (value, signature) = signed.rsplit_once('.')?;
    let raw = EITHER.iter().find_map(|engine| engine.decode(signature).ok())?;
    mac(secret, value.as_bytes()).verify_slice(&raw).ok()?;
    Some(value)
}

/// HMAC-SHA256 as unpadded base64url.
#[must_use]
pub fn hmac_b64url(secret: &str, message: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(secret, message))
}

/// SHA-256 as unpadded base64url (Better Auth's hashed identifiers and API keys).
#[must_use]
pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-secret-12345678901234567890";
    const TOKEN: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";

    #[test]
    fn matches_better_calls_test_vector() {
        // ../shared/spec/better-auth-core.md §11, computed with better-call 1.4.0.
        assert_eq!(
            sign_cookie_value(SECRET, TOKEN),
            "abcdefghijklmnopqrstuvwxyzABCDEF.QmaNojtZSUlZhDy0KckVS/NKGUOtxYFA44h2iQBuCz4="
        );
    }

    #[test]
    fn verifies_its_own_signature_and_rejects_tampering() {
        let signed = sign_cookie_value(SECRET, TOKEN);
        assert_eq!(verify_cookie_value(SECRET, &signed), Some(TOKEN));
        assert_eq!(verify_cookie_value("another-secret", &signed), None);
        let tampered = signed.replacen('a', "b", 1);
        assert_eq!(verify_cookie_value(SECRET, &tampered), None);
        assert_eq!(verify_cookie_value(SECRET, TOKEN), None);
    }

    #[test]
    fn lenient_form_accepts_url_alphabet_without_padding() {
        let signed = sign_cookie_value(SECRET, TOKEN);
        let url_form = signed
            .replace('/', "_")
            .replace('+', "-")
            .trim_end_matches('=')
            .to_owned();
        assert_eq!(verify_lenient(SECRET, &url_form), Some(TOKEN));
        assert_eq!(verify_cookie_value(SECRET, &url_form), None);
    }
}
